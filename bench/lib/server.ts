import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/platform/index.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningServer {
  baseUrl: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * The real server in its own process, as `npm start` runs it (tsx's loader on src/main.ts),
 * but with node as the direct child so the pid we measure CPU of is the server itself.
 */
export async function startServer(opts: {
  databaseUrl: string;
  adminPassword: string;
  logLevel: string;
  poolSize: number;
  logFile: string;
}): Promise<RunningServer> {
  const port = await freePort();
  const out = fs.openSync(opts.logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl,
      FUELCARD_DEMO: 'off',
      FUELCARD_ADMIN_PASSWORD: opts.adminPassword,
      FUELCARD_DB_POOL: String(opts.poolSize),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: opts.logLevel,
      // The ISO 8583 terminal host on a free port, so a bench runs beside npm start.
      FUELCARD_POS_PORT: '0',
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : null);
      if (signal) fs.appendFileSync(opts.logFile, `\n[bench] server killed by ${signal}\n`);
      else fs.appendFileSync(opts.logFile, `\n[bench] server exited with code ${code}\n`);
      resolve();
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`the server exited during start (code ${exited}):\n${tail(opts.logFile)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not become ready in 90 s:\n${tail(opts.logFile)}`);
    }
    try {
      const r = await fetch(`${baseUrl}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    pid: child.pid!,
    logFile: opts.logFile,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
