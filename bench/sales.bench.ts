/**
 * `npm run bench`: sale authorisations per second over HTTP (signed terminal requests to the
 * real server in its own process) beside pgbench running the same SQL on the same database,
 * for many cards and for one hot card, at a few client counts. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadSettings, SettingsError, type BenchSettings } from './lib/settings.js';
import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { REPO_ROOT, startServer, type RunningServer } from './lib/server.js';
import { Api, BENCH_PIN, createStations, fund, issueCards, LOAD_TEST_QUIET_RULES, quietRiskRulesForLoad, type BenchStation } from './lib/setup.js';
import { MAX_VOLUME_ML, MIN_VOLUME_ML, REQUEST_TIMEOUT_MS, runHttpLoad, UNIT_PRICE } from './lib/http-load.js';
import { findPgbench, runPgbench } from './lib/pgbench.js';
import { cpuShare, parentPid, postgresCpuSeconds, processCpuSeconds } from './lib/cpu.js';
import { cellNotes, tableHeader, tableRow, type Cell } from './lib/report.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
/** A generous guess at the combined sale rate, only to fund the cards so that they do not run dry. */
const FUNDING_RATE_GUESS = 6000;
const AVG_AMOUNT_FEN = Math.round((((MIN_VOLUME_ML + MAX_VOLUME_ML) / 2) * UNIT_PRICE) / 1000);
const MAX_AMOUNT_FEN = Math.round((MAX_VOLUME_ML * UNIT_PRICE) / 1000);

const log = (msg: string) => process.stderr.write(`${msg}\n`);

async function countSales(client: pg.Client, terminalIds: string[]): Promise<{ approved: number; declined: number }> {
  const r = await client.query<{ status: string; n: string }>(`select status, count(*) n from sales where terminal_id = any($1) group by status`, [terminalIds]);
  const get = (s: string) => Number(r.rows.find((x) => x.status === s)?.n ?? 0);
  return { approved: get('approved'), declined: get('declined') };
}

async function prepareLookupTables(client: pg.Client, cards: string[], hot: string, stations: BenchStation[]): Promise<void> {
  // Lets pgbench turn its random numbers into real card numbers and terminals (see pgbench/sale.sql).
  await client.query('create table bench_cards (i int primary key, card_no text not null)');
  await client.query('insert into bench_cards select i - 1, c from unnest($1::text[]) with ordinality as t(c, i)', [[hot, ...cards]]);
  await client.query('create table bench_terminals (i int primary key, terminal_id text not null, station_id bigint not null, settle bigint not null)');
  for (const [i, s] of stations.entries()) {
    await client.query('insert into bench_terminals values ($1, $2, $3, $4)', [i + 1, s.pgbenchTerminalId, s.id, s.settlementAccountId]);
  }
  await client.query('analyze');
}

/**
 * Requests that time out mean the server stopped answering (in the runs so far: every pool
 * connection held by a sale transaction waiting for another pool connection). Nothing
 * after that would measure anything, so the run stops with what the server says about its pool.
 */
async function stalled(baseUrl: string, timeouts: number, clients: number): Promise<never> {
  let pool: string;
  try {
    const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
    pool = text
      .split('\n')
      .filter((l) => l.startsWith('fuelcard_db_pool_connections{'))
      .map((l) => l.replace('fuelcard_db_pool_connections', ''))
      .join(' ');
  } catch {
    pool = 'no answer from /metrics either';
  }
  throw new Error(
    `服务器停止响应 / the server stalled at ${clients} clients: ${timeouts} sales unanswered after ${REQUEST_TIMEOUT_MS / 1000} s; DB pool ${pool}. ` +
      'See bench/README.md ("If the server stalls").',
  );
}

function describeMachine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}`;
}

function commandLine(): string {
  const env: string[] = [];
  if (process.env.DATABASE_URL) env.push('DATABASE_URL=…');
  for (const k of ['BENCH_SECONDS', 'BENCH_WARMUP_SECONDS', 'BENCH_CLIENTS', 'BENCH_CARDS', 'BENCH_STATIONS', 'BENCH_WORKLOADS', 'BENCH_PGBENCH_MODE', 'BENCH_SERVER_LOG_LEVEL', 'BENCH_SERVER_POOL']) {
    if (process.env[k]) env.push(`${k}=${process.env[k]}`);
  }
  return [...env, 'npm run bench'].join(' ');
}

async function main(): Promise<number> {
  let settings: BenchSettings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) {
      log(`bench: 设置无效 / invalid setting: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const pgbench = findPgbench(settings.pgbenchPath);
  if (!pgbench) {
    log('bench: 未找到 pgbench，跳过数据库对照列 / pgbench not found (PATH, BENCH_PGBENCH, /usr/lib/postgresql/*/bin): the pgbench columns are skipped');
  }
  const cellCount = settings.workloads.length * settings.clients.length;
  const estimate = cellCount * (settings.seconds * (pgbench ? 2 : 1) + settings.warmupSeconds);
  log(`bench: ${cellCount} cells × (${settings.seconds}s HTTP + ${pgbench ? `${settings.seconds}s pgbench + ` : ''}${settings.warmupSeconds}s warm-up) ≈ ${Math.ceil(estimate / 60)} min plus set-up`);

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-bench-run-'));
  let db: BenchDatabase | null = null;
  let server: RunningServer | null = null;
  let client: pg.Client | null = null;
  let failed = false;
  const started = new Date();
  const loadBefore = os.loadavg()[0]!;
  try {
    db = await createBenchDatabase({ keep: settings.keepDatabase });
    log(`bench: database: ${db.description}`);
    const adminPassword = randomBytes(18).toString('base64url');
    server = await startServer({ databaseUrl: db.url, adminPassword, logLevel: settings.serverLogLevel, poolSize: settings.serverPoolSize, logFile: path.join(workDir, 'server.log') });
    log(`bench: server pid ${server.pid} at ${server.baseUrl} (log level ${settings.serverLogLevel}, pool ${settings.serverPoolSize})`);

    const api = new Api(server.baseUrl);
    await api.login('admin', adminPassword);
    const quiet = await quietRiskRulesForLoad(api, server.baseUrl);
    log(`bench: risk parameter version #${quiet} published: ${LOAD_TEST_QUIET_RULES.join(', ')} off for the load (the gate still runs)`);
    const t0 = Date.now();
    const stations = await createStations(api, settings.stations);
    let issued = 0;
    const all = await issueCards(api, settings.cards + 1, () => {
      if (++issued % 500 === 0) log(`bench: issued ${issued} cards`);
    });
    const [hot, ...cards] = all as [string, ...string[]];
    const cellsPerWorkload = settings.clients.length * (pgbench ? 2 : 1);
    const salesPerWorkload = cellsPerWorkload * (settings.seconds + settings.warmupSeconds) * FUNDING_RATE_GUESS;
    const perCard = settings.workloads.includes('many') ? Math.ceil((salesPerWorkload / settings.cards) * 3) * MAX_AMOUNT_FEN : 0;
    const hotFunds = settings.workloads.includes('hot') ? Math.ceil(salesPerWorkload * 1.5) * AVG_AMOUNT_FEN : 0;
    if (perCard > 0) await fund(api, cards, perCard, () => {});
    if (hotFunds > 0) await fund(api, [hot], hotFunds, () => {});
    log(`bench: set-up: ${settings.stations} station(s), ${settings.cards} cards + 1 hot card, funded ¥${(perCard / 100).toLocaleString()} each and ¥${(hotFunds / 100).toLocaleString()} hot, in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await prepareLookupTables(client, cards, hot, stations);
    const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const postmaster = parentPid(backend);
    const serverPid = server.pid;
    const counters = {
      server: () => processCpuSeconds(serverPid),
      postgres: () => (postmaster === null ? null : postgresCpuSeconds(postmaster)),
      loadgen: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      },
    };
    const httpTerminals = stations.map((s) => s.http);
    const httpTerminalIds = httpTerminals.map((t) => t.terminalId);
    const pgbenchTerminalIds = stations.map((s) => s.pgbenchTerminalId);

    const cells: Cell[] = [];
    process.stdout.write(`\n${tableHeader()}\n`);
    for (const workload of settings.workloads) {
      const pickCard = workload === 'hot' ? () => hot : () => cards[Math.floor(Math.random() * cards.length)]!;
      for (const clients of settings.clients) {
        const load = { baseUrl: server.baseUrl, terminals: httpTerminals, pickCard, pin: BENCH_PIN, clients };
        if (settings.warmupSeconds > 0) {
          const warm = await runHttpLoad({ ...load, seconds: settings.warmupSeconds });
          if (warm.errorsByKind.TIMEOUT) await stalled(server.baseUrl, warm.errorsByKind.TIMEOUT, clients);
        }
        const before = await countSales(client, httpTerminalIds);
        const http = await cpuShare([counters.server, counters.postgres, counters.loadgen], () => runHttpLoad({ ...load, seconds: settings.seconds }));
        const after = await countSales(client, httpTerminalIds);
        if (http.result.errors > 0) log(`bench: ${workload} × ${clients}: HTTP errors ${JSON.stringify(http.result.errorsByKind)}`);
        if (http.result.errorsByKind.TIMEOUT) await stalled(server.baseUrl, http.result.errorsByKind.TIMEOUT, clients);

        let pgb: Cell['pgbench'] = null;
        let pgbCpu: number | null = null;
        if (pgbench) {
          const pb0 = await countSales(client, pgbenchTerminalIds);
          const run = await cpuShare([counters.postgres], () =>
            runPgbench({
              pgbench: pgbench.path,
              url: db!.url,
              clients,
              seconds: settings.seconds,
              mode: settings.pgbenchMode,
              vars: { lo: workload === 'hot' ? 0 : 1, hi: workload === 'hot' ? 0 : cards.length, nterm: stations.length, price: UNIT_PRICE },
              workDir,
              label: `${workload}_c${clients}`,
            }),
          );
          const pb1 = await countSales(client, pgbenchTerminalIds);
          pgb = { ...run.result, approved: pb1.approved - pb0.approved, declined: pb1.declined - pb0.declined };
          pgbCpu = run.shares[0] ?? null;
        }
        const cell: Cell = {
          workload,
          clients,
          http: http.result,
          httpCpu: { server: http.shares[0] ?? null, postgres: http.shares[1] ?? null, loadgen: http.shares[2] ?? null },
          httpRecorded: { approved: after.approved - before.approved, declined: after.declined - before.declined },
          pgbench: pgb,
          pgbenchCpu: { postgres: pgbCpu },
        };
        cells.push(cell);
        process.stdout.write(`${tableRow(cell)}\n`);
      }
    }

    const verify = await api.call<{ ok: boolean; accounts: number; transfers: number; problems: unknown[] }>('GET', '/api/v1/ledger/verify');
    const totals = await client.query<{ n: string }>('select count(*) n from sales');
    const notes = cells.flatMap(cellNotes);
    const summary = [
      '',
      `Ledger after the run (GET /api/v1/ledger/verify): ${verify.ok ? 'ok' : 'NOT OK'} — ${verify.accounts} accounts, ${verify.transfers} transfers, ${totals.rows[0]?.n} sales rows.`,
      ...(notes.length ? ['', 'Notes:', ...notes.map((n) => `- ${n}`)] : []),
    ];
    process.stdout.write(`${summary.join('\n')}\n`);

    const md = [
      '# Sale authorisation benchmark — latest run',
      '',
      `- When: ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s in all)`,
      `- Command: \`${commandLine()}\``,
      `- Machine: ${describeMachine()}; Node ${process.version}; load average (1 min) ${loadBefore.toFixed(2)} at start, ${os.loadavg()[0]!.toFixed(2)} at end`,
      `- Database: ${db.description}`,
      `- pgbench: ${pgbench ? `${pgbench.version}, -M ${settings.pgbenchMode}, -j min(clients, 2), script bench/pgbench/sale.sql` : 'not found — skipped'}`,
      `- Server: src/main.ts in its own process, LOG_LEVEL=${settings.serverLogLevel}, FUELCARD_DB_POOL=${settings.serverPoolSize}; ${settings.stations} station(s), ${settings.cards} cards + 1 hot card`,
      `- Each cell: ${settings.warmupSeconds} s HTTP warm-up (not counted), then ${settings.seconds} s HTTP, then ${settings.seconds} s pgbench; closed loop, one request in flight per client`,
      `- Sale: 92# at ${UNIT_PRICE} fen/L, ${MIN_VOLUME_ML / 1000}–${MAX_VOLUME_ML / 1000} L, PIN checked, Idempotency-Key on every request`,
      '- CPU columns: share of one core over the cell (the machine has ' + os.cpus().length + '); "CPU PG" counts every backend of the server, including other databases\' if any are busy',
      '',
      tableHeader(),
      ...cells.map(tableRow),
      ...summary,
      '',
    ].join('\n');
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), md);
    log(`bench: written ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'latest.md'))}`);
    if (!verify.ok) failed = true;
    return verify.ok ? 0 : 1;
  } catch (err) {
    failed = true;
    log(`bench: failed: ${err instanceof Error ? err.message : String(err)}`);
    if (server) log(`bench: server log kept in ${server.logFile}`);
    return 1;
  } finally {
    await client?.end().catch(() => {});
    await server?.stop().catch((e: unknown) => log(`bench: stopping the server failed: ${String(e)}`));
    await db?.drop().catch((e: unknown) => log(`bench: dropping the database failed: ${String(e)}`));
    if (!failed) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

// `npm run bench -- finder` runs the station finder's benchmark instead (bench/finder.ts);
// `npm run bench -- notify` the payment notifications' (bench/notify.ts); `npm run bench -- iso` ISO 8583
// authorisations beside the HTTP terminal API (bench/pos-iso.ts); `npm run bench -- risk` the risk engine's
// evaluate and context-loader latency (bench/risk.ts); `npm run bench -- risk-sale` what the risk gate adds
// to a whole sale (bench/risk-sale.ts).
const suite = process.argv[2] ?? 'sales';
if (suite !== 'sales' && suite !== 'finder' && suite !== 'notify' && suite !== 'iso' && suite !== 'risk' && suite !== 'risk-sale') {
  log(`bench: 未知的基准 / unknown benchmark "${suite}" (sales | finder | notify | iso | risk | risk-sale)`);
  process.exit(2);
}
(suite === 'finder'
  ? import('./finder.js').then((m) => m.runFinderBench())
  : suite === 'notify'
    ? import('./notify.js').then((m) => m.runNotifyBench())
    : suite === 'iso'
      ? import('./pos-iso.js').then((m) => m.runIsoBench())
    : suite === 'risk'
      ? import('./risk.js').then((m) => m.runRiskBench())
    : suite === 'risk-sale'
      ? import('./risk-sale.js').then((m) => m.runRiskSaleBench()).then(() => 0)
    : main()
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
