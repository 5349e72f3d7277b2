/**
 * `npx tsx bench/risk-sale.ts` (register as `npm run bench -- risk-sale`): what the risk gate adds
 * to a sale. The server runs in this process against a throw-away database; each sample is one
 * whole sale transaction (decideSale + debits + commit, as POST /pos/sales runs it) timed from
 * begin to commit, with the gate on and off in alternation so both see the same machine load.
 * Each card sells at most twice (once per mode) so the velocity rules stay quiet: this measures
 * the gate's cost on the common path, not the cost of opening cases.
 * Settings: BENCH_RISK_SALE_CARDS (300), BENCH_KEEP_DB=1, DATABASE_URL. Results: bench/results/risk-sale-latest.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, loadConfig, migrate, openDb } from '../src/platform/index.js';
import { buildServer } from '../src/server.js';
import { ensureAdmin } from '../src/staff/index.js';
import { configureRiskGate, decideSale } from '../src/sales/index.js';
import { createBenchDatabase } from './lib/database.js';
import { percentile } from './lib/http-load.js';
import { REPO_ROOT } from './lib/server.js';
import { Api, BENCH_PIN, createStations, fund, issueCards } from './lib/setup.js';

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const ADMIN_PASSWORD = 'bench-admin-password';

interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function summarise(ms: number[]): Stats {
  const s = Float64Array.from(ms).sort();
  return { n: s.length, p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99), max: s[s.length - 1] ?? NaN };
}

export async function runRiskSaleBench(): Promise<void> {
  const cardsN = Number(process.env.BENCH_RISK_SALE_CARDS ?? 300);
  const bdb = await createBenchDatabase({ keep: process.env.BENCH_KEEP_DB === '1' });
  log(`risk-sale bench: ${bdb.description}`);
  await migrate(bdb.url);
  const handle = openDb(bdb.url, 8);
  const config = loadConfig({ ...process.env, DATABASE_URL: bdb.url, LOG_LEVEL: 'silent', PORT: '0', FUELCARD_DEMO: 'off' });
  const logger = createLogger('silent');
  await ensureAdmin(handle.db, ADMIN_PASSWORD);
  const { app, deps } = await buildServer({ db: handle.db, config, logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const api = new Api(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
  try {
    await api.login('admin', ADMIN_PASSWORD);
    const [station] = await createStations(api, 1);
    const cards = await issueCards(api, cardsN, () => {});
    await fund(api, cards, 1_000_000, () => {});
    const terminal = { id: station!.http.terminalId, stationId: station!.id };
    const sale = async (cardNo: string): Promise<number> => {
      const req = { cardNo, pin: BENCH_PIN, grade: '92#', volumeMl: 40_000, unitPrice: 750, amount: 30_000, nozzle: 1 };
      const t0 = process.hrtime.bigint();
      const answer = await handle.db.transaction().execute(async (trx) => {
        const d = await decideSale(trx, deps, terminal, req);
        await d.debit?.(trx);
        return d.answer;
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (answer.status !== 'approved') throw new Error(`bench sale declined: ${answer.declineCode}`);
      return ms;
    };
    // Warm-up: caches, JIT, prepared plans.
    for (const c of cards.slice(0, 10)) await sale(c);
    const on: number[] = [];
    const off: number[] = [];
    for (const [i, c] of cards.slice(10).entries()) {
      const first = i % 2 === 0;
      for (const enabled of first ? [true, false] : [false, true]) {
        const restore = configureRiskGate({ enabled });
        try {
          (enabled ? on : off).push(await sale(c));
        } finally {
          restore();
        }
      }
    }
    const a = summarise(off);
    const b = summarise(on);
    const row = (label: string, s: Stats) => `| ${label} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p95.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(2)} |`;
    const report = [
      '# Risk gate in the sale path: latency (bench/risk-sale.ts)',
      '',
      `${new Date().toISOString()}, ${bdb.description}. One sale transaction (decideSale + debits + commit), ms.`,
      '',
      '| sale | n | p50 | p95 | p99 | max |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      row('without the risk gate', a),
      row('with the risk gate', b),
      '',
      `Added by the gate: p50 ${(b.p50 - a.p50).toFixed(2)} ms, p99 ${(b.p99 - a.p99).toFixed(2)} ms.`,
      '',
    ].join('\n');
    const out = path.join(REPO_ROOT, 'bench/results/risk-sale-latest.md');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, report);
    process.stdout.write(report);
  } finally {
    await app.close();
    await handle.close();
    await bdb.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runRiskSaleBench().catch((err: unknown) => {
    log(String(err instanceof Error ? err.stack : err));
    process.exit(1);
  });
}
