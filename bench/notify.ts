/**
 * `npm run bench -- notify` (or `npx tsx bench/notify.ts`): the money-in hot path. A provider's
 * payment notification arrives at POST /api/v1/payments/notify/<channel> for an order the server
 * created, is verified (signature, decryption), applied (order → credited, ledger transfer,
 * receipt) and answered. The real server runs in its own process with its sandbox providers; the
 * bench pays the orders on the sandboxes' payer pages over HTTP, as a payer would, and each pay
 * call returns once the server has answered the notification. Beside it, the verification alone,
 * in-process, per channel: how much of a payment is crypto. See bench/README.md ("Payment notifications").
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../src/platform/index.js';
import type { OnlineChannel, PaymentChannel, ChannelOptions } from '../src/payments/channel.js';
import type { SandboxNotification } from '../src/payments/sandbox.js';
import { createWechatChannel, createWechatSandbox } from '../src/payments/channels/wechat/index.js';
import { createAlipayChannel, createAlipaySandbox } from '../src/payments/channels/alipay/index.js';
import { createUnionPayChannel, createUnionPaySandbox } from '../src/payments/channels/unionpay/index.js';
import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { REPO_ROOT, startServer, type RunningServer } from './lib/server.js';
import { percentile } from './lib/http-load.js';
import { processCpuSeconds } from './lib/cpu.js';
import { Api, issueCards } from './lib/setup.js';

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const CHANNELS: readonly OnlineChannel[] = ['wechat', 'alipay', 'unionpay'];
/** A pay call whose notification is not answered in this time means the server is stuck, not slow. */
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Orders are 1.00–9.99 元: an anonymous card may hold at most FUELCARD_ANONYMOUS_BALANCE_CAP_FEN
 * (1 000 元 by default) counting open orders, so each card takes this many orders and no more.
 */
const MIN_AMOUNT = 100;
const MAX_AMOUNT = 999;
const ORDERS_PER_CARD = 90;

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got "${raw}"`);
  return n;
}

function listEnv<T extends string>(name: string, dflt: string, parse: (s: string) => T): T[] {
  return (process.env[name] || dflt).split(',').map((s) => parse(s.trim()));
}

/** A deterministic generator, so two runs ask for the same amounts. */
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

async function pool<T>(items: readonly T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/* ── Orders and cards ─────────────────────────────────────────────────────────────────────────── */

interface BenchOrder {
  orderNo: string;
  channel: OnlineChannel;
  cardNo: string;
  amount: number;
  /** The sandbox payer page (path on the server): its 确认支付 button posts to itself. */
  payPath: string;
}

class Cards {
  private readonly slots: Array<{ cardNo: string; used: number }> = [];
  /** What each card must hold at the end: the sum of its orders, every one of them paid once. */
  readonly expected = new Map<string, number>();
  issued = 0;
  constructor(private readonly api: Api) {}

  /** The cards for `n` more orders, issuing new ones through the API when the ones we have are full. */
  async take(n: number): Promise<string[]> {
    const free = this.slots.reduce((s, c) => s + ORDERS_PER_CARD - c.used, 0);
    if (free < n) {
      const more = await issueCards(this.api, Math.ceil((n - free) / ORDERS_PER_CARD), () => {});
      for (const cardNo of more) this.slots.push({ cardNo, used: 0 });
      this.issued += more.length;
    }
    const out: string[] = [];
    for (const c of this.slots) {
      while (c.used < ORDERS_PER_CARD && out.length < n) {
        c.used += 1;
        out.push(c.cardNo);
      }
      if (out.length === n) break;
    }
    return out;
  }
}

/** The wording of the payer button each sandbox's form sends (its value of `action`). */
const PAY_ACTION: Record<OnlineChannel, string> = { wechat: 'notify', alipay: 'pay', unionpay: 'pay' };

async function createOrders(api: Api, cards: Cards, channel: OnlineChannel, n: number, amounts: () => number): Promise<{ orders: BenchOrder[]; seconds: number }> {
  const t0 = performance.now();
  const cardNos = await cards.take(n);
  const orders: BenchOrder[] = new Array<BenchOrder>(n);
  await pool([...cardNos.keys()], 8, async (i) => {
    const cardNo = cardNos[i]!;
    const amount = amounts();
    const o = await api.call<{ orderNo: string; status: string; payload: { sandboxUrl?: string } }>('POST', '/api/v1/recharge-orders', { cardNo, amount, channel });
    if (o.status !== 'paying' || !o.payload.sandboxUrl) throw new Error(`order ${o.orderNo} (${channel}) is ${o.status} without a sandbox page: are the sandbox providers running?`);
    const u = new URL(o.payload.sandboxUrl);
    orders[i] = { orderNo: o.orderNo, channel, cardNo, amount, payPath: u.pathname + u.search };
    cards.expected.set(cardNo, (cards.expected.get(cardNo) ?? 0) + amount);
  });
  return { orders, seconds: (performance.now() - t0) / 1000 };
}

/* ── Paying: the measured path ────────────────────────────────────────────────────────────────── */

/**
 * The merchant's answer to the notification, as the sandbox's result page reports it. Each page
 * says it in its own words; the answer the provider expects is WeChat 204, Alipay 200 `success`,
 * UnionPay 200 `ok`.
 */
function merchantAnswer(channel: OnlineChannel, page: string): { ok: boolean; what: string } {
  if (channel === 'wechat') {
    const m = /商户应答 HTTP (\d+)/.exec(page);
    return m ? { ok: m[1] === '204', what: `notify ${m[1]}` } : { ok: false, what: 'no notification sent' };
  }
  if (channel === 'alipay') {
    const m = /已通知商户（(\d+) ([^）]*)）/.exec(page);
    return m ? { ok: m[1] === '200' && m[2]!.trim() === 'success', what: `notify ${m[1]} ${m[2]!.trim()}`.trim() } : { ok: false, what: 'no notification sent' };
  }
  const m = /已通知商户（HTTP ([^）]+)）/.exec(page);
  return m ? { ok: m[1] === '200', what: `notify ${m[1]}` } : { ok: false, what: 'no notification sent' };
}

function postForm(agent: http.Agent, base: URL, pathName: string, form: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        agent,
        hostname: base.hostname,
        port: base.port,
        path: pathName,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    r.on('error', reject);
    r.end(form);
  });
}

interface PayRun {
  /** Orders paid and their notification answered as accepted. */
  paid: number;
  errors: number;
  errorsByKind: Record<string, number>;
  /** Orders not taken before the time ran out (paid afterwards, unmeasured). */
  leftover: BenchOrder[];
  /** From the first send to the last answer. */
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  /** The stock of orders ran out before the time did. */
  ranOut: boolean;
}

async function payOrders(baseUrl: string, orders: readonly BenchOrder[], clients: number, seconds: number): Promise<PayRun> {
  const base = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  const latencies: number[] = [];
  const run: PayRun = { paid: 0, errors: 0, errorsByKind: {}, leftover: [], seconds: 0, perSecond: 0, p50: NaN, p95: NaN, p99: NaN, ranOut: false };
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let lastDone = started;
  const client = async () => {
    while (performance.now() < deadline && next < orders.length) {
      const o = orders[next++]!;
      const t0 = performance.now();
      let kind: string | null = null;
      try {
        const res = await postForm(agent, base, o.payPath, `action=${PAY_ACTION[o.channel]}`);
        if (res.status !== 200) kind = `pay page ${res.status}`;
        else {
          const a = merchantAnswer(o.channel, res.body);
          if (!a.ok) kind = a.what;
        }
      } catch (err) {
        kind = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      }
      const t1 = performance.now();
      lastDone = t1;
      if (kind === null) {
        run.paid += 1;
        latencies.push(t1 - t0);
      } else {
        run.errors += 1;
        run.errorsByKind[kind] = (run.errorsByKind[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  agent.destroy();
  run.ranOut = next >= orders.length && lastDone < deadline;
  run.leftover = orders.slice(next);
  const sorted = Float64Array.from(latencies).sort();
  run.seconds = (lastDone - started) / 1000;
  run.perSecond = run.seconds > 0 ? run.paid / run.seconds : NaN;
  run.p50 = percentile(sorted, 0.5);
  run.p95 = percentile(sorted, 0.95);
  run.p99 = percentile(sorted, 0.99);
  return run;
}

/* ── Crypto alone, in-process ─────────────────────────────────────────────────────────────────── */

interface CryptoResult {
  channel: OnlineChannel;
  /** Sandbox side: sign (+ encrypt for WeChat) a payment notification. */
  signPerSecond: number;
  signMs: number;
  /** Platform side: adapter.verifyNotification (signature, certificate chain for UnionPay, time window, decryption for WeChat). */
  verifyPerSecond: number;
  verifyMs: number;
  refused: number;
}

/**
 * Each sandbox built here with a publicUrl nobody listens on: building and verifying a
 * notification needs no network. The adapters are the ones the server uses on the sandbox.
 */
function inProcessPair(channel: OnlineChannel): { adapter: PaymentChannel; build: (i: number) => SandboxNotification } {
  const logger = createLogger('silent');
  const sandboxOptions = { publicUrl: () => 'http://127.0.0.1:9', logger };
  const opts: ChannelOptions = { sandbox: true, timeoutMs: 1000, logger };
  const r = rng(20261201);
  const amount = () => MIN_AMOUNT + Math.floor(r() * (MAX_AMOUNT - MIN_AMOUNT + 1));
  if (channel === 'wechat') {
    const sb = createWechatSandbox(sandboxOptions);
    // WeChat's sandbox builds a notification for any order number (as if its trade existed).
    const orderNos = Array.from({ length: 50 }, (_, i) => `P2026120100${String(i).padStart(9, '0')}`);
    return { adapter: createWechatChannel(sb.merchant, opts), build: (i) => sb.buildPaymentNotification(orderNos[i % orderNos.length]!, { amount: amount() }) };
  }
  if (channel === 'alipay') {
    const sb = createAlipaySandbox(sandboxOptions);
    const orderNos = Array.from({ length: 50 }, () => sb.addStrayPayment({ amount: amount() }).orderNo);
    return { adapter: createAlipayChannel(sb.merchant, opts), build: (i) => sb.buildPaymentNotification(orderNos[i % orderNos.length]!) };
  }
  const sb = createUnionPaySandbox(sandboxOptions);
  const orderNos = Array.from({ length: 50 }, () => sb.addStrayPayment({ amount: amount() }).orderNo);
  return { adapter: createUnionPayChannel(sb.merchant, opts), build: (i) => sb.buildPaymentNotification(orderNos[i % orderNos.length]!) };
}

/**
 * The best of `rounds` rounds of `seconds` each, for each side: on a shared machine the fastest
 * round is the nearest to what the work itself costs, which is what this figure is for.
 */
async function measureCrypto(channel: OnlineChannel, seconds: number, rounds: number): Promise<CryptoResult> {
  const { adapter, build } = inProcessPair(channel);
  // Warm the code paths (and any key parsing the adapter caches) before timing.
  for (let i = 0; i < 50; i++) {
    const n = build(i);
    await adapter.verifyNotification({ headers: lowerCase(n.headers), body: n.body, now: new Date() });
  }
  let signMs = Infinity;
  let verifyMs = Infinity;
  let refused = 0;
  for (let round = 0; round < rounds; round++) {
    const built: SandboxNotification[] = [];
    let t0 = performance.now();
    let end = t0 + seconds * 1000;
    while (performance.now() < end) built.push(build(built.length));
    signMs = Math.min(signMs, (performance.now() - t0) / built.length);
    const raws = built.map((n) => ({ headers: lowerCase(n.headers), body: n.body }));
    let verified = 0;
    t0 = performance.now();
    end = t0 + seconds * 1000;
    while (performance.now() < end) {
      const raw = raws[verified % raws.length]!;
      const v = await adapter.verifyNotification({ ...raw, now: new Date() });
      if (!v.ok || v.notification.kind !== 'payment' || v.notification.payment.status !== 'paid') refused += 1;
      verified += 1;
    }
    verifyMs = Math.min(verifyMs, (performance.now() - t0) / verified);
  }
  return { channel, signPerSecond: 1000 / signMs, signMs, verifyPerSecond: 1000 / verifyMs, verifyMs, refused };
}

/** The notify route hands the adapter lower-case header names (Node's), as the server does. */
function lowerCase(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/* ── Checking what the server did ─────────────────────────────────────────────────────────────── */

interface OrderRow {
  orderNo: string;
  channel: string;
  status: string;
  amount: number;
  paidAmount: number | null;
  receiptNo: string | null;
}

interface Verification {
  ok: boolean;
  lines: string[];
}

async function verifyRun(api: Api, orders: readonly BenchOrder[], cards: Cards, sampleDetails: number): Promise<Verification> {
  const lines: string[] = [];
  let ok = true;
  const fail = (msg: string) => {
    ok = false;
    lines.push(`- FAILED: ${msg}`);
  };
  // Every order the server has, page by page: ours must all be credited, for their amount, with a receipt.
  const seen = new Map<string, OrderRow>();
  let cursor: string | null = null;
  do {
    const q: string = `/api/v1/recharge-orders?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page: { items: OrderRow[]; nextCursor: string | null } = await api.call('GET', q);
    for (const o of page.items) seen.set(o.orderNo, o);
    cursor = page.nextCursor;
  } while (cursor);
  for (const channel of CHANNELS) {
    const mine = orders.filter((o) => o.channel === channel);
    const byStatus: Record<string, number> = {};
    let wrong = 0;
    for (const o of mine) {
      const s = seen.get(o.orderNo);
      const status = s?.status ?? 'missing';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (!s || s.status !== 'credited' || s.paidAmount !== o.amount || !s.receiptNo) wrong += 1;
    }
    const statuses = Object.entries(byStatus).map(([k, v]) => `${v} ${k}`).join(', ');
    lines.push(`- ${channel}: ${mine.length} orders created through the API — ${statuses}`);
    if (wrong > 0) fail(`${channel}: ${wrong} orders not credited for their amount with a receipt`);
  }
  if (seen.size !== orders.length) fail(`the server lists ${seen.size} orders, the bench created ${orders.length}`);

  // A second credit of an order would show in its card's balance: each card holds exactly its orders' sum.
  let balanceWrong = 0;
  await pool([...cards.expected.entries()], 8, async ([cardNo, expected]) => {
    const c = await api.call<{ balance: number }>('GET', `/api/v1/cards/${cardNo}`);
    if (c.balance !== expected) balanceWrong += 1;
  });
  lines.push(`- ${cards.expected.size} cards: ${cards.expected.size - balanceWrong} hold exactly the sum of their orders`);
  if (balanceWrong > 0) fail(`${balanceWrong} cards hold another balance than the sum of their orders (an order credited twice, or not at all)`);

  // A sample of orders in detail: one applied notification, one credit event each.
  const r = rng(99);
  const sample = Array.from({ length: Math.min(sampleDetails, orders.length) }, () => orders[Math.floor(r() * orders.length)]!);
  let detailWrong = 0;
  await pool(sample, 4, async (o) => {
    const d = await api.call<{ events: Array<{ toStatus: string }>; notifications: Array<{ outcome: string; verified: boolean }> }>('GET', `/api/v1/recharge-orders/${o.orderNo}`);
    const applied = d.notifications.filter((n) => n.verified && n.outcome === 'applied').length;
    const credits = d.events.filter((e) => e.toStatus === 'credited').length;
    if (applied !== 1 || credits !== 1) detailWrong += 1;
  });
  lines.push(`- ${sample.length} orders read in detail: ${sample.length - detailWrong} with exactly one applied notification and one credit`);
  if (detailWrong > 0) fail(`${detailWrong} sampled orders without exactly one applied notification and one credit`);

  const ledger = await api.call<{ ok: boolean; accounts: number; transfers: number; problems: unknown[] }>('GET', '/api/v1/ledger/verify');
  lines.push(`- GET /api/v1/ledger/verify: ${ledger.ok ? 'ok' : 'NOT OK'} — ${ledger.accounts} accounts, ${ledger.transfers} transfers`);
  if (!ledger.ok) fail(`ledger: ${JSON.stringify(ledger.problems).slice(0, 500)}`);
  return { ok, lines };
}

/* ── The run ──────────────────────────────────────────────────────────────────────────────────── */

interface Cell {
  channel: OnlineChannel;
  clients: number;
  run: PayRun;
  /** Server process CPU per paid order (it does the sandbox's side too: page, signing, sending). */
  serverCpuMs: number | null;
  stock: number;
}

const fmt = (n: number | null, d = 1) => (n !== null && Number.isFinite(n) ? n.toFixed(d) : '—');
const cellHeader =
  '| channel | clients | payments | payments/s | p50 ms | p95 ms | p99 ms | server CPU ms / payment | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|';
const cellRow = (c: Cell) =>
  `| ${c.channel} | ${c.clients} | ${c.run.paid} | ${fmt(c.run.perSecond, 0)} | ${fmt(c.run.p50)} | ${fmt(c.run.p95)} | ${fmt(c.run.p99)} | ${fmt(c.serverCpuMs)} | ${c.run.errors} |`;
const cryptoHeader =
  '| channel | sandbox signs/s | sign ms | verifications/s | verify ms | sign + verify ms | server CPU ms / payment (1 client) | crypto share of it |\n|---|---:|---:|---:|---:|---:|---:|---:|';

function cryptoRow(c: CryptoResult, cells: readonly Cell[]): string {
  const single = cells.find((x) => x.channel === c.channel && x.clients === Math.min(...cells.filter((y) => y.channel === c.channel).map((y) => y.clients)));
  const cpu = single?.serverCpuMs ?? null;
  const both = c.signMs + c.verifyMs;
  return `| ${c.channel} | ${fmt(c.signPerSecond, 0)} | ${fmt(c.signMs, 2)} | ${fmt(c.verifyPerSecond, 0)} | ${fmt(c.verifyMs, 2)} | ${fmt(both, 2)} | ${fmt(cpu)} | ${cpu ? `${fmt((100 * both) / cpu, 0)} %` : '—'} |`;
}

function commandLine(): string {
  const env = ['DATABASE_URL', 'BENCH_SECONDS', 'BENCH_WARMUP_SECONDS', 'BENCH_CLIENTS', 'BENCH_NOTIFY_CHANNELS', 'BENCH_NOTIFY_CRYPTO_SECONDS', 'BENCH_NOTIFY_MAX_ORDERS']
    .filter((k) => process.env[k])
    .map((k) => (k === 'DATABASE_URL' ? 'DATABASE_URL=…' : `${k}=${process.env[k]}`));
  return [...env, 'npm run bench -- notify'].join(' ');
}

export async function runNotifyBench(): Promise<number> {
  const seconds = intEnv('BENCH_SECONDS', 5, 1, 3600);
  const warmup = intEnv('BENCH_WARMUP_SECONDS', 2, 0, 600);
  const cryptoSeconds = intEnv('BENCH_NOTIFY_CRYPTO_SECONDS', 1, 1, 600);
  const maxOrders = intEnv('BENCH_NOTIFY_MAX_ORDERS', 3000, 10, 100_000);
  const clientCounts = listEnv('BENCH_CLIENTS', '1,4,16', (c) => {
    if (!/^\d+$/.test(c) || Number(c) < 1 || Number(c) > 256) throw new Error(`BENCH_CLIENTS entries must be integers 1..256, got "${c}"`);
    return c;
  }).map(Number);
  const channels = listEnv('BENCH_NOTIFY_CHANNELS', CHANNELS.join(','), (c) => {
    if (!(CHANNELS as readonly string[]).includes(c)) throw new Error(`BENCH_NOTIFY_CHANNELS entries must be among ${CHANNELS.join(', ')}, got "${c}"`);
    return c as OnlineChannel;
  });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-notify-bench-'));
  let db: BenchDatabase | null = null;
  let server: RunningServer | null = null;
  let failed = false;
  const started = new Date();
  const t0 = performance.now();
  try {
    // 1. Crypto alone, before the server runs, so it has the machine to itself.
    const crypto: CryptoResult[] = [];
    for (const channel of channels) {
      const c = await measureCrypto(channel, cryptoSeconds, 3);
      crypto.push(c);
      log(`notify bench: ${channel} in-process: ${c.signPerSecond.toFixed(0)} signs/s, ${c.verifyPerSecond.toFixed(0)} verifications/s${c.refused ? `, ${c.refused} REFUSED` : ''}`);
      if (c.refused > 0) failed = true;
    }

    // 2. The real server with its sandbox providers: development keys (no FUELCARD_* secrets from
    // this shell), no merchant credentials, no public URL, so every online channel runs on its
    // sandbox and the sandboxes notify this very server.
    for (const k of Object.keys(process.env)) if (k.startsWith('FUELCARD_')) delete process.env[k];
    db = await createBenchDatabase({ keep: process.env.BENCH_KEEP_DB === '1' });
    log(`notify bench: database: ${db.description}`);
    const adminPassword = randomBytes(18).toString('base64url');
    server = await startServer({ databaseUrl: db.url, adminPassword, logLevel: process.env.BENCH_SERVER_LOG_LEVEL || 'warn', poolSize: 16, logFile: path.join(workDir, 'server.log') });
    const api = new Api(server.baseUrl);
    await api.login('admin', adminPassword);
    const serverPid = server.pid;
    const cards = new Cards(api);
    const r = rng(20261201);
    const amounts = () => MIN_AMOUNT + Math.floor(r() * (MAX_AMOUNT - MIN_AMOUNT + 1));
    const allOrders: BenchOrder[] = [];
    let created = 0;
    let createSeconds = 0;
    const make = async (channel: OnlineChannel, n: number): Promise<BenchOrder[]> => {
      const { orders, seconds: s } = await createOrders(api, cards, channel, n, amounts);
      allOrders.push(...orders);
      created += n;
      createSeconds += s;
      return orders;
    };
    const drain = async (leftover: BenchOrder[]): Promise<number> => {
      if (leftover.length === 0) return 0;
      const d = await payOrders(server!.baseUrl, leftover, 16, 3600);
      return d.errors;
    };

    // 3. Per channel: a warm-up that also says how fast this channel goes, then the cells. Each
    // cell gets a stock of orders created beforehand (creating them is not what is measured),
    // sized from the fastest rate seen so far; orders left when the time is up are paid afterwards,
    // unmeasured, so that every order ends credited and can be checked.
    const cells: Cell[] = [];
    let unmeasuredErrors = 0;
    process.stdout.write(`\n${cellHeader}\n`);
    for (const channel of channels) {
      let best = 0;
      if (warmup > 0) {
        const stock = await make(channel, Math.min(maxOrders, 60));
        const w = await payOrders(server.baseUrl, stock, 4, warmup);
        unmeasuredErrors += w.errors + (await drain(w.leftover));
        if (w.errors > 0) log(`notify bench: ${channel} warm-up errors: ${JSON.stringify(w.errorsByKind)}`);
        best = w.perSecond;
      }
      for (const clients of clientCounts) {
        const guess = best > 0 ? best : 50;
        const stock = await make(channel, Math.min(maxOrders, Math.ceil(guess * seconds * 1.2) + 2 * clients));
        const cpu0 = processCpuSeconds(serverPid);
        const run = await payOrders(server.baseUrl, stock, clients, seconds);
        const cpu1 = processCpuSeconds(serverPid);
        const cell: Cell = { channel, clients, run, stock: stock.length, serverCpuMs: cpu0 !== null && cpu1 !== null && run.paid > 0 ? ((cpu1 - cpu0) * 1000) / run.paid : null };
        cells.push(cell);
        process.stdout.write(`${cellRow(cell)}\n`);
        if (run.errorsByKind.TIMEOUT) throw new Error(`the server stopped answering at ${clients} clients on ${channel}: ${run.errorsByKind.TIMEOUT} payments unanswered after ${REQUEST_TIMEOUT_MS / 1000} s`);
        best = Math.max(best, run.perSecond);
        unmeasuredErrors += await drain(run.leftover);
      }
    }
    log(`notify bench: ${created} orders on ${cards.issued} cards created through the API in ${createSeconds.toFixed(1)} s (${(created / createSeconds).toFixed(0)} orders/s, not measured above)`);

    // 4. Did every order get credited exactly once, and does the ledger balance?
    const verification = await verifyRun(api, allOrders, cards, 30);
    if (!verification.ok) failed = true;
    const cellErrors = cells.reduce((s, c) => s + c.run.errors, 0);
    if (cellErrors + unmeasuredErrors > 0) failed = true;
    process.stdout.write(`\n${cryptoHeader}\n${crypto.map((c) => cryptoRow(c, cells)).join('\n')}\n\n${verification.lines.join('\n')}\n`);

    const cpus = os.cpus();
    const notes = cells
      .filter((c) => c.run.errors > 0 || c.run.ranOut)
      .map((c) => `- ${c.channel} × ${c.clients}: ${c.run.ranOut ? `the stock of ${c.stock} orders ran out after ${c.run.seconds.toFixed(1)} s (rate over that window)` : ''}${c.run.errors > 0 ? ` errors ${JSON.stringify(c.run.errorsByKind)}` : ''}`);
    const md = [
      '# Payment notification benchmark — latest run',
      '',
      `- When: ${started.toISOString()}; command: \`${commandLine()}\`; took ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}; load average (1 min) ${os.loadavg()[0]!.toFixed(2)} at end`,
      `- Database: ${db.description}`,
      `- Server: src/main.ts in its own process, development keys, sandbox providers for ${channels.join(', ')}; LOG_LEVEL ${process.env.BENCH_SERVER_LOG_LEVEL || 'warn'}`,
      `- Load: closed loop, one payment in flight per client: POST /sandbox/<channel>/pay/<token> (the payer page's 确认支付), which returns once the server answered the sandbox's notification; ${warmup} s warm-up per channel, then ${seconds} s per cell`,
      `- Orders: ${created} (1.00–9.99 元) on ${cards.issued} anonymous cards, created through POST /api/v1/recharge-orders before each cell (${(created / createSeconds).toFixed(0)} orders/s, not measured)`,
      '',
      '## End to end (HTTP)',
      '',
      cellHeader,
      ...cells.map(cellRow),
      '',
      ...(notes.length ? [...notes, ''] : []),
      `## Crypto alone (in-process, one core; best of 3 rounds of ${cryptoSeconds} s per side)`,
      '',
      cryptoHeader,
      ...crypto.map((c) => cryptoRow(c, cells)),
      '',
      '## Checks',
      '',
      ...verification.lines,
      ...(unmeasuredErrors > 0 ? [`- FAILED: ${unmeasuredErrors} errors paying warm-up and leftover orders`] : []),
      '',
    ].join('\n');
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'notify-latest.md'), md);
    log(`notify bench: written ${path.relative(process.cwd(), path.join(dir, 'notify-latest.md'))} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    if (failed) log(`notify bench: FAILED checks or errors — see above; server log kept in ${server.logFile}`);
    return failed ? 1 : 0;
  } catch (err) {
    failed = true;
    log(`notify bench: failed: ${err instanceof Error ? err.message : String(err)}`);
    if (server) log(`notify bench: server log kept in ${server.logFile}`);
    return 1;
  } finally {
    await server?.stop().catch((e: unknown) => log(`notify bench: stopping the server failed: ${String(e)}`));
    await db?.drop().catch((e: unknown) => log(`notify bench: dropping the database failed: ${String(e)}`));
    if (!failed) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runNotifyBench().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`notify bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
