import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiResponse } from './server.js';
import type { ApiClient } from './fuel.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A port nobody listens on right now (the server cannot report PORT=0 back to us). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ChildServer extends ApiClient {
  proc: ChildProcess;
  port: number;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | string>;
  output(): string;
  login(username: string, password: string): Promise<string>;
  token: string | null;
}

/**
 * The real server (src/main.ts) as its own process, on a given database. It runs as
 * `node --import tsx src/main.ts` — the same as `npx tsx src/main.ts` but one process,
 * so a SIGKILL really kills the server and not only a launcher in front of it.
 */
export async function startChildServer(opts: { databaseUrl: string; adminPassword: string; port?: number; env?: Record<string, string> }): Promise<ChildServer> {
  const port = opts.port ?? (await freePort());
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      FUELCARD_DEMO: 'off',
      // The crash tests exercise the API; the pages are built once by npm test, never by a child.
      FUELCARD_WEB_BUILD: 'never',
      FUELCARD_ADMIN_PASSWORD: opts.adminPassword,
      LOG_LEVEL: 'warn',
      // A free port for the ISO 8583 terminal host: children run beside each other and beside npm start.
      FUELCARD_POS_PORT: '0',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let done = false;
  void exited.then(() => (done = true));
  for (;;) {
    if (done) throw new Error(`server exited during start:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not become ready:\n${out}`);
    }
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const child: ChildServer = {
    proc,
    port,
    baseUrl,
    exited,
    token: null,
    output: () => out,
    async api<T = any>(method: string, p: string, o: { role?: unknown; token?: string; body?: unknown; headers?: Record<string, string>; idempotencyKey?: string } = {}): Promise<ApiResponse<T>> {
      const headers: Record<string, string> = { ...o.headers };
      const token = o.token ?? (o.role === null ? undefined : (child.token ?? undefined));
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
      let payload: string | undefined;
      if (o.body !== undefined) {
        payload = JSON.stringify(o.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(baseUrl + p, { method, headers, body: payload });
      const text = await res.text();
      let body: any = text;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body, headers: res.headers };
    },
    async login(username, password) {
      const r = await child.api('POST', '/api/v1/auth/login', { role: null, body: { username, password } });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
  };
  return child;
}

/** Stops a child if it still runs (test clean-up). */
export async function killChild(child: ChildServer | undefined): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGKILL');
  await child.exited;
}
