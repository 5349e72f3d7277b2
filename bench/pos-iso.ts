/**
 * `npm run bench -- iso`: pump pre-authorisations per second over ISO 8583 (the terminal host on
 * TCP: 1100 pre-auth + 1420 reversal, MACed, PIN block under the session key) beside the HTTP
 * terminal API (POST /api/v1/pos/authorisations + POST /api/v1/pos/reversals, signed), against the
 * same server process and database, in the same run. Each authorisation is reversed at once, so
 * the cards never run dry and the ledger is left as it was. See bench/README.md ("ISO 8583 vs HTTP").
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, SettingsError, type BenchSettings } from './lib/settings.js';
import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { REPO_ROOT, startServer, type RunningServer } from './lib/server.js';
import { Api, BENCH_PIN, createStations, fund, issueCards } from './lib/setup.js';
import { runHttpAuthPairs, type PairLoadResult } from './lib/auth-pairs.js';
import { posCrypto, posHost } from '../src/pos-gateway/index.js';
import pg from 'pg';
import { cpuShare, parentPid, postgresCpuSeconds, processCpuSeconds } from './lib/cpu.js';
import { IsoLink, IsoTerminalState } from '../src/cli/pos-sim-iso-terminal.js';
import { EXPECTED_LOAD_ACTIONS, runIsoLoad, type IsoLoadResult } from '../src/cli/pos-sim-iso-load.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** The pre-authorisation asked for (fen); every one is reversed, so only the funding must cover the ones in flight. */
const AUTH_AMOUNT = 10_000;
const UNIT_PRICE = 789;

function intList(name: string, dflt: string, min: number, max: number): number[] {
  return (process.env[name] || dflt).split(',').map((s) => {
    const t = s.trim();
    if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) throw new SettingsError(`${name} entries must be integers ${min}..${max}, got "${t}"`);
    return Number(t);
  });
}

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new SettingsError(`${name} must be an integer ${min}..${max}, got "${raw}"`);
  return Number(raw);
}

/** The server prints "Terminal host  tcp://localhost:<port>" with its banner, right after it is ready. */
async function terminalHostPort(logFile: string): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = /Terminal host\s+tcp:\/\/[^:\s]+:(\d+)/.exec(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
    if (m) return Number(m[1]);
    if (Date.now() > deadline) throw new Error('the server printed no "Terminal host tcp://…" line: is FUELCARD_POS_PORT off?');
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Ceremony {
  isoTerminalId: string;
  tmk: { components: Array<{ hex: string }> };
  initialMacKey: { encryptedUnderTmk: string; kcv: string };
}

/**
 * One ISO terminal per ISO client: the key ceremony through the staff API, then a sign-on as the
 * PIN pad does it (the session keys arrive in the 1814). One per client because the host's
 * exactly-once journal takes a bounded number of new requests per terminal per window.
 */
async function isoTerminals(api: Api, stationId: number, count: number, timeZone: string, port: number): Promise<IsoTerminalState[]> {
  const out: IsoTerminalState[] = [];
  for (let i = 0; i < count; i++) {
    const t = await api.call<{ terminalId: string }>('POST', `/api/v1/stations/${stationId}/terminals`);
    const c = await api.call<Ceremony>('POST', `/api/v1/terminals/${t.terminalId}/iso-keys`, { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0 });
    const [a, b] = c.tmk.components.map((x) => Buffer.from(x.hex, 'hex')) as [Buffer, Buffer];
    const tmk = Buffer.from(a.map((x, j) => x ^ b[j]!));
    const tak = posCrypto.unwrapKeyChecked('tdes', tmk, 'tdes', Buffer.from(c.initialMacKey.encryptedUnderTmk, 'hex'), Buffer.from(c.initialMacKey.kcv, 'hex'), 'ecb');
    const state = new IsoTerminalState({ isoTerminalId: c.isoTerminalId, algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', timeZone, timeoutMs: 15_000 }, tmk, tak);
    const link = await IsoLink.open(state, '127.0.0.1', port, 'binary2');
    try {
      await link.deliverKeys(posHost.NETWORK_FUNCTION.signOn);
    } finally {
      link.close();
    }
    out.push(state);
  }
  return out;
}

interface Row {
  protocol: 'ISO 8583' | 'HTTP';
  clients: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  approved: number;
  authorisations: number;
  errors: number;
  /** Share of one core over the measured window: the server process, PostgreSQL, this load generator. */
  cpu: { server: number | null; postgres: number | null; loadgen: number | null };
  /** Answers that are not an approval or the reversal's acceptance, and errors by kind. */
  notes: string[];
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : 'n/a');
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

type Cpu = Row['cpu'];

function isoRow(clients: number, r: IsoLoadResult, cpu: Cpu): Row {
  const unexpected = Object.entries(r.actions).filter(([k]) => !EXPECTED_LOAD_ACTIONS.has(k));
  return {
    protocol: 'ISO 8583',
    clients,
    perSecond: r.perSecond,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    approved: r.approved,
    authorisations: r.authorisations,
    errors: r.errors + unexpected.reduce((n, [, c]) => n + c, 0),
    cpu,
    notes: [...unexpected.map(([k, n]) => `answer ${k} ${posHost.ACTION_CODE_MEANINGS[k.split(' ')[1] ?? ''] ?? ''} ×${n}`), ...Object.entries(r.errorsByKind).map(([k, n]) => `${k} ×${n}`)],
  };
}

function httpRow(clients: number, r: PairLoadResult, cpu: Cpu): Row {
  const unexpected = Object.entries(r.outcomes).filter(([k]) => k !== 'authorisation approved' && k !== 'reversal 400');
  return {
    protocol: 'HTTP',
    clients,
    perSecond: r.perSecond,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    approved: r.approved,
    authorisations: r.authorisations,
    errors: r.errors + unexpected.reduce((n, [, c]) => n + c, 0),
    cpu,
    notes: [...unexpected.map(([k, n]) => `${k} ×${n}`), ...Object.entries(r.errorsByKind).map(([k, n]) => `${k} ×${n}`)],
  };
}

const HEADER = [
  '| protocol | clients | authorisations/s | p50 ms | p99 ms | approved / answered | errors | CPU server | server CPU ms / authorisation | CPU PG | CPU load gen |',
  '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
].join('\n');
const pct = (n: number | null) => (n === null || !Number.isFinite(n) ? 'n/a' : `${Math.round(n * 100)}%`);
const line = (r: Row) =>
  `| ${r.protocol} | ${r.clients} | ${f0(r.perSecond)} | ${f1(r.p50Ms)} | ${f1(r.p99Ms)} | ${f0(r.approved)} / ${f0(r.authorisations)} | ${f0(r.errors)} | ${pct(r.cpu.server)} | ${r.cpu.server === null || r.perSecond === 0 ? 'n/a' : f1((r.cpu.server * 1000) / r.perSecond)} | ${pct(r.cpu.postgres)} | ${pct(r.cpu.loadgen)} |`;

export async function runIsoBench(): Promise<number> {
  let settings: BenchSettings;
  let clientCounts: number[];
  let cardCount: number;
  try {
    settings = loadSettings();
    // 2 × clients nozzles, numbered 1..99.
    clientCounts = intList('BENCH_ISO_CLIENTS', '4,16', 1, 49);
    cardCount = intEnv('BENCH_ISO_CARDS', 200, 1, 20_000);
  } catch (err) {
    if (err instanceof SettingsError) {
      log(`bench: 设置无效 / invalid setting: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const maxClients = Math.max(...clientCounts);
  log(`bench iso: ${clientCounts.length} client counts × 2 protocols × (${settings.warmupSeconds}s warm-up + ${settings.seconds}s) plus set-up`);

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-bench-iso-'));
  let db: BenchDatabase | null = null;
  let server: RunningServer | null = null;
  let client: pg.Client | null = null;
  let failed = false;
  const started = new Date();
  try {
    db = await createBenchDatabase({ keep: settings.keepDatabase });
    log(`bench iso: database: ${db.description}`);
    const adminPassword = randomBytes(18).toString('base64url');
    server = await startServer({ databaseUrl: db.url, adminPassword, logLevel: settings.serverLogLevel, poolSize: settings.serverPoolSize, logFile: path.join(workDir, 'server.log') });
    const isoPort = await terminalHostPort(server.logFile);
    log(`bench iso: server pid ${server.pid} at ${server.baseUrl}, terminal host tcp://127.0.0.1:${isoPort}`);

    const api = new Api(server.baseUrl);
    await api.login('admin', adminPassword);
    const t0 = Date.now();
    const [station] = await createStations(api, 1);
    // ISO clients sell on nozzles 1..n, HTTP clients on n+1..2n: a hold left by either never blocks the other.
    const isoNozzles = Array.from({ length: maxClients }, (_, i) => i + 1);
    const httpNozzles = Array.from({ length: maxClients }, (_, i) => maxClients + i + 1);
    await api.call('PUT', `/api/v1/stations/${station!.id}/nozzles`, { items: [...isoNozzles, ...httpNozzles].map((nozzle) => ({ nozzle, grade: '92#' })) });
    const cards = await issueCards(api, cardCount, () => {});
    await fund(api, cards, AUTH_AMOUNT * 100, () => {});
    // DE 12 in the station's zone, as the server reads it (config.timeZone).
    const timeZone = process.env.FUELCARD_TZ || 'Asia/Shanghai';
    const terminals = await isoTerminals(api, station!.id, maxClients, timeZone, isoPort);
    log(`bench iso: set-up: 1 station, ${2 * maxClients} nozzles, ${maxClients} ISO terminals keyed and signed on, 1 HTTP terminal, ${cardCount} cards, in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    // CPU counters as in sales.bench.ts: the server's own pid, the PostgreSQL server's processes, this process.
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const backend = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const postmaster = parentPid(backend);
    const serverPid = server.pid;
    const counters = [
      () => processCpuSeconds(serverPid),
      () => (postmaster === null ? null : postgresCpuSeconds(postmaster)),
      () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1e6;
      },
    ];
    const measured = async <T>(work: () => Promise<T>): Promise<{ result: T; cpu: Cpu }> => {
      const { result, shares } = await cpuShare(counters, work);
      return { result, cpu: { server: shares[0] ?? null, postgres: shares[1] ?? null, loadgen: shares[2] ?? null } };
    };

    const rows: Row[] = [];
    process.stdout.write(`\n${HEADER}\n`);
    for (const clients of clientCounts) {
      const iso = (seconds: number) =>
        runIsoLoad({
          host: '127.0.0.1',
          port: isoPort,
          framing: 'binary2',
          terminals: terminals.slice(0, clients),
          clients,
          seconds,
          cards,
          pin: BENCH_PIN,
          nozzles: isoNozzles,
          amount: AUTH_AMOUNT,
          unitPrice: UNIT_PRICE,
          product: '92',
          second: 'reversal',
        });
      const http = (seconds: number) =>
        runHttpAuthPairs({ baseUrl: server!.baseUrl, terminal: station!.http, cards, pin: BENCH_PIN, nozzles: httpNozzles, amount: AUTH_AMOUNT, clients, seconds });
      if (settings.warmupSeconds > 0) await iso(settings.warmupSeconds);
      const isoRun = await measured(() => iso(settings.seconds));
      const isoRes = isoRow(clients, isoRun.result, isoRun.cpu);
      rows.push(isoRes);
      process.stdout.write(`${line(isoRes)}\n`);
      if (settings.warmupSeconds > 0) await http(settings.warmupSeconds);
      const httpRun = await measured(() => http(settings.seconds));
      const httpRes = httpRow(clients, httpRun.result, httpRun.cpu);
      rows.push(httpRes);
      process.stdout.write(`${line(httpRes)}\n`);
    }

    const verify = await api.call<{ ok: boolean; accounts: number; transfers: number }>('GET', '/api/v1/ledger/verify');
    const notes = rows.filter((r) => r.notes.length > 0).map((r) => `${r.protocol}, ${r.clients} clients: ${r.notes.join('; ')}`);
    const ratios = clientCounts.map((c) => {
      const i = rows.find((r) => r.protocol === 'ISO 8583' && r.clients === c)!;
      const h = rows.find((r) => r.protocol === 'HTTP' && r.clients === c)!;
      return `${c} clients: ISO ÷ HTTP = ${(i.perSecond / h.perSecond).toFixed(2)}`;
    });
    const summary = [
      '',
      ratios.join('; '),
      `Ledger after the run (GET /api/v1/ledger/verify): ${verify.ok ? 'ok' : 'NOT OK'} — ${verify.accounts} accounts, ${verify.transfers} transfers.`,
      ...(notes.length ? ['', 'Notes:', ...notes.map((n) => `- ${n}`)] : []),
    ];
    process.stdout.write(`${summary.join('\n')}\n`);
    const cpus = os.cpus();
    const md = [
      '# Pre-authorisations over ISO 8583 and over HTTP — latest run',
      '',
      `- When: ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s in all)`,
      `- Command: \`BENCH_SECONDS=${settings.seconds} BENCH_WARMUP_SECONDS=${settings.warmupSeconds} BENCH_ISO_CLIENTS=${clientCounts.join(',')} npm run bench -- iso\``,
      `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM; Node ${process.version}`,
      `- Database: ${db.description}`,
      `- Server: src/main.ts in its own process (HTTP API and terminal host together), LOG_LEVEL=${settings.serverLogLevel}, FUELCARD_DB_POOL=${settings.serverPoolSize}`,
      `- Each cell: ${settings.warmupSeconds} s warm-up (not counted), then ${settings.seconds} s; closed loop, one request in flight per client; a pre-authorisation of ¥${AUTH_AMOUNT / 100} with the PIN, then its reversal`,
      '- ISO 8583: one TCP connection and one keyed terminal (TDES, retail MAC, PIN block format 0) per client, 1100 fc 101 + 1420 fc 400; latency of the 1100 alone',
      '- HTTP: keep-alive connections, one terminal, signed requests with an Idempotency-Key; latency of the POST /pos/authorisations alone',
      `- CPU columns: share of one core over the cell (the machine has ${cpus.length}); "server CPU ms / authorisation" is the server process's CPU per authorisation pair (both messages)`,
      '',
      HEADER,
      ...rows.map(line),
      ...summary,
      '',
    ].join('\n');
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, 'iso-latest.md'), md);
    log(`bench iso: written ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'iso-latest.md'))}`);
    if (!verify.ok) failed = true;
    return verify.ok ? 0 : 1;
  } catch (err) {
    failed = true;
    log(`bench iso: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (server) log(`bench iso: server log kept in ${server.logFile}`);
    return 1;
  } finally {
    await client?.end().catch(() => {});
    await server?.stop().catch((e: unknown) => log(`bench iso: stopping the server failed: ${String(e)}`));
    await db?.drop().catch((e: unknown) => log(`bench iso: dropping the database failed: ${String(e)}`));
    if (!failed) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runIsoBench().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`bench iso: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
