/**
 * Everything the benchmark can be told, from the environment, checked once. A typo in a
 * setting stops the run at once instead of silently benchmarking the default.
 */
export interface BenchSettings {
  /** Measured seconds per cell (one workload × one client count × HTTP or pgbench). */
  seconds: number;
  /** Unmeasured seconds before each HTTP cell (JIT, connection pools, caches). */
  warmupSeconds: number;
  clients: number[];
  cards: number;
  stations: number;
  workloads: Array<'many' | 'hot'>;
  /** pgbench protocol: prepared (named statements, the database's best case) or extended (what node-postgres sends). */
  pgbenchMode: 'prepared' | 'extended';
  pgbenchPath: string;
  /** Log level of the server under test; per-request info logs cost CPU the sale path does not need. */
  serverLogLevel: string;
  serverPoolSize: number;
  keepDatabase: boolean;
}

export class SettingsError extends Error {}

function int(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw)) throw new SettingsError(`${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new SettingsError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function list(name: string, dflt: string): string[] {
  return (process.env[name] || dflt)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadSettings(): BenchSettings {
  const clients = list('BENCH_CLIENTS', '4,16,64').map((c) => {
    if (!/^\d+$/.test(c) || Number(c) < 1 || Number(c) > 256) throw new SettingsError(`BENCH_CLIENTS entries must be integers 1..256, got "${c}"`);
    return Number(c);
  });
  const workloads = list('BENCH_WORKLOADS', 'many,hot').map((w) => {
    if (w !== 'many' && w !== 'hot') throw new SettingsError(`BENCH_WORKLOADS entries must be "many" or "hot", got "${w}"`);
    return w;
  });
  const mode = process.env.BENCH_PGBENCH_MODE || 'prepared';
  if (mode !== 'prepared' && mode !== 'extended') throw new SettingsError(`BENCH_PGBENCH_MODE must be prepared or extended, got "${mode}"`);
  return {
    seconds: int('BENCH_SECONDS', 10, 1, 3600),
    warmupSeconds: int('BENCH_WARMUP_SECONDS', 2, 0, 600),
    clients,
    cards: int('BENCH_CARDS', 2000, 10, 200_000),
    stations: int('BENCH_STATIONS', 1, 1, 500),
    workloads,
    pgbenchMode: mode,
    pgbenchPath: process.env.BENCH_PGBENCH || 'pgbench',
    serverLogLevel: process.env.BENCH_SERVER_LOG_LEVEL || 'warn',
    serverPoolSize: int('BENCH_SERVER_POOL', 16, 1, 200),
    keepDatabase: process.env.BENCH_KEEP_DB === '1',
  };
}
