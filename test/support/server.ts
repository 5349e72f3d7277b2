import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { App, Config, Role, RouteInfo } from '../../src/platform/index.js';
import { createLogger, loadConfig, ROLES } from '../../src/platform/index.js';
import { buildServer, type Deps } from '../../src/server.js';
import { createStaff, ensureAdmin } from '../../src/staff/index.js';
import { verifyLedger, type VerifyReport } from '../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const ADMIN_PASSWORD = 'admin-test-password';
export const STAFF_PASSWORD = 'staff-test-password';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestServer {
  baseUrl: string;
  app: App;
  deps: Deps;
  db: TestDatabase;
  config: Config;
  /** Every route the server registered, with its access rule. */
  routes: RouteInfo[];
  /** A bearer token for a staff user of each role. */
  tokens: Record<Role, string>;
  /** JSON request as a staff role (or anonymous with role null). */
  api<T = any>(method: string, path: string, opts?: { role?: Role | null; token?: string; body?: unknown; headers?: Record<string, string>; idempotencyKey?: string }): Promise<ApiResponse<T>>;
  verify(): Promise<VerifyReport>;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDatabase(16);
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', PORT: '0', ...env });
  const logger = createLogger('silent');
  await ensureAdmin(db.db, ADMIN_PASSWORD);
  // FUELCARD_WEB_OUT: pages built elsewhere (vite's outDir), so parallel work need not rebuild web/dist.
  const { app, deps, routes } = await buildServer({ db: db.db, config, logger, pool: db.pool, webDistDir: process.env.FUELCARD_WEB_OUT || undefined });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;

  const raw = async (method: string, path: string, init: { body?: unknown; headers?: Record<string, string> }) => {
    const headers: Record<string, string> = { ...init.headers };
    let payload: string | undefined;
    if (init.body !== undefined) {
      payload = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body: payload });
    const text = await res.text();
    let body: any = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      /* non-JSON (metrics, docs) */
    }
    return { status: res.status, body, headers: res.headers };
  };

  const login = async (username: string, password: string) => {
    const r = await raw('POST', '/api/v1/auth/login', { body: { username, password } });
    if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token as string;
  };

  const tokens = {} as Record<Role, string>;
  tokens.admin = await login('admin', ADMIN_PASSWORD);
  const system = { staffId: null, name: 'test', role: 'system' as const, ip: null, requestId: null };
  for (const role of ROLES) {
    if (role === 'admin') continue;
    const username = `t_${role}`;
    await createStaff(db.db, system, { username, password: STAFF_PASSWORD, role });
    tokens[role] = await login(username, STAFF_PASSWORD);
  }

  return {
    baseUrl,
    app,
    deps,
    routes,
    db,
    config,
    tokens,
    async api(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const token = opts.token ?? (opts.role === null ? undefined : tokens[opts.role ?? 'admin']);
      if (token) headers.authorization = `Bearer ${token}`;
      if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
      return raw(method, path, { body: opts.body, headers });
    },
    verify: () => verifyLedger(db.db),
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** Signs terminal requests exactly as docs/terminals.md describes. */
export function signTerminalRequest(
  terminal: { terminalId: string; secret: string },
  method: string,
  path: string,
  body: string,
  opts: { timestamp?: number; nonce?: string } = {},
): Record<string, string> {
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? randomUUID();
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const signature = createHmac('sha256', terminal.secret).update(`${method}\n${path}\n${ts}\n${nonce}\n${bodyHash}`).digest('hex');
  return {
    'x-terminal-id': terminal.terminalId,
    'x-timestamp': ts,
    'x-nonce': nonce,
    'x-signature': signature,
    'content-type': 'application/json',
  };
}

export async function terminalPost(
  server: TestServer,
  terminal: { terminalId: string; secret: string },
  path: string,
  body: unknown,
  opts: { idempotencyKey?: string; timestamp?: number; nonce?: string } = {},
): Promise<ApiResponse> {
  const payload = JSON.stringify(body);
  const headers = signTerminalRequest(terminal, 'POST', path, payload, opts);
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  const res = await fetch(server.baseUrl + path, { method: 'POST', headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}
