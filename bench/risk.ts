/**
 * `npm run bench -- risk` (or `npx tsx bench/risk.ts`): the risk engine's latency.
 *  1. evaluate() alone, on realistic contexts (a typical card; a busy one with the loader's full
 *     200 recent sales), 100 000 evaluations each after a warm-up: p50 / p99 / max in µs.
 *  2. loadRiskContext() against a real database seeded with a few thousand cards and 90 days of
 *     their sales (and one hot card with thousands): p50 / p99 in µs per context.
 * Issue 7 asks for "p99 well under a millisecond for the engine itself"; the loader is measured
 * separately because it is what the sale's transaction waits for. Results: bench/results/risk-latest.md.
 * Settings (environment): BENCH_RISK_EVALUATIONS (100000), BENCH_RISK_CARDS (2000),
 * BENCH_RISK_SALES_PER_CARD (90), BENCH_RISK_LOADS (3000), BENCH_KEEP_DB=1, DATABASE_URL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { migrate, openDb } from '../src/platform/index.js';
import { DEFAULT_PARAM_SET, evaluate, loadRiskContext, type PastSale, type RiskContext } from '../src/risk/index.js';
import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { percentile } from './lib/http-load.js';
import { REPO_ROOT } from './lib/server.js';

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got "${raw}"`);
  return n;
}

/** A deterministic generator, so two runs build the same contexts. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOUR = 3_600_000;

/** A fleet card with a vehicle, a daytime history, a few sales today and some top-ups: every rule has work. */
function realisticContext(recentCount: number, seed: number): RiskContext {
  const r = rng(seed);
  const at = Date.UTC(2026, 2, 10, 6, 0, 0);
  const recent: PastSale[] = Array.from({ length: recentCount }, (_, i) => ({
    at: at - Math.round(((i + 1) * 24 * HOUR) / (recentCount + 1)),
    stationId: 1 + Math.floor(r() * 5),
    lat: 31.2 + r() * 0.2,
    lng: 121.4 + r() * 0.2,
    terminalId: `T0000000${1 + Math.floor(r() * 5)}`,
    amount: 20_000 + Math.floor(r() * 30_000),
    volumeMl: 25_000 + Math.floor(r() * 20_000),
    grade: '0#',
    status: r() < 0.9 ? 'approved' : 'declined',
    declineCode: null,
  }));
  for (const s of recent) if (s.status === 'declined') s.declineCode = r() < 0.5 ? 'PIN_WRONG' : 'LIMIT_DAY_AMOUNT';
  const hourCounts = Array.from({ length: 24 }, (_, h) => (h >= 7 && h < 21 ? 4 + Math.floor(r() * 4) : 0));
  return {
    sale: { cardId: 1, amount: 35_000, volumeMl: 45_000, grade: '0#', stationId: 2, terminalId: 'T00000002', at, localHour: 14, channel: 'online' },
    station: { id: 2, lat: 31.25, lng: 121.45, flagged: null },
    card: { id: 1, kind: 'sub', masterCardId: 9, customerId: null, createdAt: at - 400 * 24 * HOUR },
    recent,
    recentWindowMs: 24 * HOUR,
    usage: { day: { amount: 60_000, volumeMl: 80_000, fills: 2 }, week: { amount: 250_000, volumeMl: 330_000, fills: 8 }, month: { amount: 900_000, volumeMl: 1_200_000, fills: 30 } },
    stats: { days: 90, count: hourCounts.reduce((a, b) => a + b, 0), mean: 32_000, sd: 8_000, p95: 48_000, hourCounts },
    moneyMoves: Array.from({ length: 6 }, (_, i) => ({ at: at - (i + 1) * 5 * 24 * HOUR, kind: i % 3 === 2 ? ('refund' as const) : ('recharge' as const), amount: 200_000 })),
    vehicle: { plate: '沪A12345', tankCapacityMl: 150_000, grades: ['0#', '-10#'] },
    silenced: [],
  };
}

interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

function summarise(samplesNs: Float64Array): Stats {
  const us = Float64Array.from(samplesNs, (x) => x / 1000).sort();
  return { n: us.length, p50: percentile(us, 0.5), p99: percentile(us, 0.99), max: us[us.length - 1] ?? NaN };
}

function benchEvaluate(label: string, ctx: RiskContext, n: number): Stats & { label: string; outcome: string } {
  let outcome = '';
  for (let i = 0; i < 10_000; i++) outcome = evaluate(DEFAULT_PARAM_SET, ctx).outcome; // warm-up: let the JIT settle
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const d = evaluate(DEFAULT_PARAM_SET, ctx);
    samples[i] = Number(process.hrtime.bigint() - t0);
    if (d.hits.length > 1000) outcome = 'impossible'; // keeps the result alive
  }
  return { label, outcome, ...summarise(samples) };
}

async function seed(url: string, cards: number, salesPerCard: number): Promise<{ stationIds: number[]; hotCardId: number; cardIds: number[] }> {
  const h = openDb(url, 2);
  try {
    const { sql } = await import('kysely');
    const db = h.db;
    const acct = await sql<{ id: number }>`insert into ledger_accounts (kind, name) values ('station_settlement', 'bench settlement') returning id`.execute(db);
    const stations = await sql<{ id: number }>`
      insert into stations (code, name, address, lat, lng, settlement_account_id)
      select 'RB' || i, '基准站 ' || i, '上海', 31.0 + (i % 10) * 0.05, 121.2 + (i / 10) * 0.05, ${acct.rows[0]!.id}::bigint
      from generate_series(1, 20) i returning id`.execute(db);
    const stationIds = stations.rows.map((s) => s.id);
    await sql`insert into terminals (id, station_id, secret_enc) select 'T' || lpad(n::text, 8, '0'), s.id, 'x'
      from (select id, row_number() over (order by id) n from stations) s`.execute(db);
    const cardRows = await sql<{ id: number }>`
      insert into cards (card_no, kind, status, pin_verify, pin_subject)
      select '6' || lpad(i::text, 18, '0'), 'anonymous', 'active', 'x', 'x' from generate_series(1, ${cards + 1}::int) i returning id`.execute(db);
    const cardIds = cardRows.rows.map((c) => c.id);
    const hotCardId = cardIds[0]!;
    // Sales spread over 90 days, one in ten declined (half of those a wrong PIN); the hot card 20 × as many.
    await sql`
      insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status, approval_code, decline_code, business_day, created_at)
      select gen_random_uuid(), c.id, '6000****0000', t.station_id, t.id, 1, '92#', v.amount, 1000, v.amount,
             case when v.k % 10 = 0 then 'declined' else 'approved' end,
             case when v.k % 10 = 0 then null else '000000' end,
             case when v.k % 10 = 0 then (case when v.k % 20 = 0 then 'PIN_WRONG' else 'LIMIT_DAY_AMOUNT' end) end,
             (v.at at time zone 'Asia/Shanghai')::date, v.at
      from cards c
      cross join lateral generate_series(1, case when c.id = ${hotCardId}::bigint then ${salesPerCard * 20}::int else ${salesPerCard}::int end) g(n)
      cross join lateral (select g.n as k, 5000 + ((c.id * 7919 + g.n * 104729) % 45000) as amount,
                                 now() - make_interval(secs => ((c.id * 31 + g.n::bigint * 86400 * 90 / ${salesPerCard}::int) % (90 * 86400))) as at) v
      join terminals t on t.id = 'T' || lpad((1 + (c.id + g.n) % 20)::text, 8, '0')`.execute(db);
    await sql`insert into card_usage_daily (card_id, day, amount, volume_ml, fills)
      select card_id, business_day, sum(amount), sum(volume_ml), count(*) from sales where status = 'approved' and business_day >= current_date - 31
      group by card_id, business_day`.execute(db);
    await sql`analyze`.execute(db);
    return { stationIds, hotCardId, cardIds: cardIds.slice(1) };
  } finally {
    await h.close();
  }
}

async function benchLoader(url: string, cardIds: number[], stationIds: number[], loads: number, hot: boolean): Promise<Stats> {
  const h = openDb(url, 2);
  try {
    const r = rng(hot ? 11 : 7);
    const terminal = (await (await import('kysely')).sql<{ id: string; station_id: number }>`select id, station_id from terminals order by id limit 1`.execute(h.db)).rows[0]!;
    const once = async () => {
      const cardId = cardIds[Math.floor(r() * cardIds.length)]!;
      // In a transaction, as in the sale path (there, after the card's lock).
      return h.db.transaction().execute((trx) =>
        loadRiskContext(trx, { cardId, amount: 30_000, volumeMl: 30_000, grade: '92#', stationId: stationIds[0]!, terminalId: terminal.id, at: new Date(), channel: 'online', timeZone: 'Asia/Shanghai' }),
      );
    };
    for (let i = 0; i < Math.min(200, loads); i++) await once();
    const samples = new Float64Array(loads);
    for (let i = 0; i < loads; i++) {
      const t0 = process.hrtime.bigint();
      const ctx = await once();
      samples[i] = Number(process.hrtime.bigint() - t0);
      if (!ctx) throw new Error('loader found no card');
    }
    return summarise(samples);
  } finally {
    await h.close();
  }
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

export async function runRiskBench(): Promise<number> {
  const evaluations = intEnv('BENCH_RISK_EVALUATIONS', 100_000, 1_000, 10_000_000);
  const cards = intEnv('BENCH_RISK_CARDS', 2_000, 10, 1_000_000);
  const salesPerCard = intEnv('BENCH_RISK_SALES_PER_CARD', 90, 1, 10_000);
  const loads = intEnv('BENCH_RISK_LOADS', 3_000, 100, 1_000_000);
  const lines: string[] = [];
  const started = new Date();
  const engine = [benchEvaluate('typical card (8 recent sales)', realisticContext(8, 1), evaluations), benchEvaluate('busy card (200 recent sales, the loader’s cap)', realisticContext(200, 2), evaluations)];
  for (const e of engine) log(`risk bench: evaluate, ${e.label}: p50 ${fmt(e.p50)} µs, p99 ${fmt(e.p99)} µs, max ${fmt(e.max)} µs (${e.n} runs, outcome ${e.outcome})`);
  let db: BenchDatabase | null = null;
  let loader: Array<Stats & { label: string }> = [];
  let failed = false;
  try {
    db = await createBenchDatabase({ keep: process.env.BENCH_KEEP_DB === '1' });
    log(`risk bench: database: ${db.description}`);
    await migrate(db.url);
    const t0 = Date.now();
    const s = await seed(db.url, cards, salesPerCard);
    log(`risk bench: seeded ${cards} cards × ${salesPerCard} sales (hot card × 20) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    loader = [
      { label: `random card of ${cards} (${salesPerCard} sales in 90 days)`, ...(await benchLoader(db.url, s.cardIds, s.stationIds, loads, false)) },
      { label: `hot card (${salesPerCard * 20} sales in 90 days)`, ...(await benchLoader(db.url, [s.hotCardId], s.stationIds, Math.min(loads, 1000), true)) },
    ];
    for (const l of loader) log(`risk bench: loadRiskContext, ${l.label}: p50 ${fmt(l.p50)} µs, p99 ${fmt(l.p99)} µs (${l.n} loads)`);
  } catch (err) {
    failed = true;
    log(`risk bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await db?.drop();
  }
  lines.push(`# Risk engine benchmark`, '', `${started.toISOString()} · Node ${process.version} · ${os.cpus().length} CPU · ${os.cpus()[0]?.model ?? ''}`, '');
  lines.push('| what | runs | p50 µs | p99 µs | max µs |', '| --- | ---: | ---: | ---: | ---: |');
  for (const e of engine) lines.push(`| evaluate: ${e.label} | ${e.n} | ${fmt(e.p50)} | ${fmt(e.p99)} | ${fmt(e.max)} |`);
  for (const l of loader) lines.push(`| loadRiskContext: ${l.label} | ${l.n} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.max)} |`);
  lines.push('');
  const md = lines.join('\n');
  process.stdout.write(`${md}\n`);
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'risk-latest.md'), md);
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runRiskBench().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(String(err));
      process.exit(1);
    },
  );
}
