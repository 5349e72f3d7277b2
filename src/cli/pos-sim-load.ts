import { randomInt } from 'node:crypto';
import { newTerminalRef, TerminalUnreachable, type TerminalClient, type TerminalResponse } from './terminal-client.js';
import { fuelAt, type NozzleInfo, type Sim } from './pos-sim-core.js';

/**
 * Load: N terminals' worth of concurrent clients (one signed client, many requests in flight)
 * running mixed flows for S seconds. Counts what the forecourt would see: approvals per second,
 * latency of each request, declines by code, and errors by code.
 */

export interface LoadOptions {
  clients: number;
  durationS: number;
  cards: string[];
}

type Flow = 'sale' | 'preauth' | 'void' | 'reversal';
const WEIGHTS: Record<Flow, number> = { sale: 6, preauth: 2, void: 1, reversal: 1 };

export interface LoadReport {
  clients: number;
  durationS: number;
  elapsedS: number;
  requests: number;
  approvals: number;
  approvalsPerS: number;
  requestsPerS: number;
  latencyMs: { p50: number; p95: number; max: number };
  flows: Record<string, number>;
  declinesByCode: Record<string, number>;
  errorsByCode: Record<string, number>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

class Counters {
  latencies: number[] = [];
  approvals = 0;
  flows: Record<string, number> = {};
  declines: Record<string, number> = {};
  errors: Record<string, number> = {};
  /** 5xx answers and lost connections: the run fails on any. */
  fatal = 0;

  /** Counts one answer; returns its body when it was not an error. */
  take(r: TerminalResponse): any {
    this.latencies.push(r.ms);
    if (r.error) {
      if (r.status >= 500) this.fatal++;
      this.errors[r.error.code] = (this.errors[r.error.code] ?? 0) + 1;
      return null;
    }
    return r.body;
  }

  answer(a: { status?: string; declineCode?: string } | null): boolean {
    if (!a) return false;
    if (a.status === 'approved') {
      this.approvals++;
      return true;
    }
    if (a.status === 'declined' && a.declineCode) this.declines[a.declineCode] = (this.declines[a.declineCode] ?? 0) + 1;
    return false;
  }
}

async function runFlow(client: TerminalClient, flow: Flow, card: string, pin: string, nozzle: NozzleInfo & { unitPrice: number }, c: Counters): Promise<void> {
  const amount = randomInt(500, 3_001);
  if (flow === 'preauth') {
    const auth = c.take(await client.post('/api/v1/pos/authorisations', { cardNo: card, pin, nozzle: nozzle.nozzle, mode: 'preauth', amount: 5_000 }, newTerminalRef()));
    if (!auth || auth.status !== 'approved') {
      c.answer(auth);
      return;
    }
    const fuel = fuelAt(nozzle, Math.min(amount, auth.heldAmount));
    c.answer(c.take(await client.post(`/api/v1/pos/authorisations/${auth.authorisationId}/completion`, { volumeMl: fuel.volumeMl, unitPrice: fuel.unitPrice, amount: fuel.amount }, newTerminalRef())));
    return;
  }
  const fuel = fuelAt(nozzle, amount);
  const ref = newTerminalRef();
  const sale = c.take(await client.post('/api/v1/pos/sales', { cardNo: card, pin, ...fuel }, ref));
  const approved = c.answer(sale);
  if (!approved) return;
  if (flow === 'void') c.take(await client.post(`/api/v1/pos/sales/${sale.saleId}/void`, { cashier: 'pos-sim-load' }, newTerminalRef()));
  if (flow === 'reversal') c.take(await client.post('/api/v1/pos/reversals', { originalRef: ref, reason: 'customer_cancel' }, newTerminalRef()));
}

export async function loadScenario(sim: Sim, o: LoadOptions): Promise<LoadReport> {
  sim.heading('负载测试', 'load');
  const fc = await sim.loadForecourt();
  const priced = fc.nozzles.filter((n): n is NozzleInfo & { unitPrice: number } => n.unitPrice !== null);
  const chosen = await sim.nozzle();
  const nozzles = sim.opts.nozzle !== undefined ? [chosen] : priced;

  // Only the flows this server offers: a route it lacks answers ROUTE_NOT_FOUND before anything else.
  const offered: Flow[] = ['sale'];
  if (await sim.has('POST', '/api/v1/pos/authorisations')) offered.push('preauth');
  if (await sim.has('POST', '/api/v1/pos/sales/00000000-0000-4000-8000-000000000000/void')) offered.push('void');
  if (await sim.has('POST', '/api/v1/pos/reversals')) offered.push('reversal');
  const bag = offered.flatMap((f) => Array<Flow>(WEIGHTS[f]).fill(f));
  sim.say(`  ${o.clients} 个并发客户端 concurrent clients × ${o.durationS} s，卡 cards ${o.cards.length}，流程 flows ${offered.join(', ')}`);

  const c = new Counters();
  const started = performance.now();
  const deadline = started + o.durationS * 1000;
  const worker = async (i: number) => {
    // Each client keeps to its own nozzle where there are enough, so pre-auths do not collide.
    const nozzle = nozzles[i % nozzles.length]!;
    for (let n = 0; performance.now() < deadline && !sim.io.signal?.aborted; n++) {
      const flow = bag[randomInt(0, bag.length)]!;
      c.flows[flow] = (c.flows[flow] ?? 0) + 1;
      try {
        await runFlow(sim.client, flow, o.cards[(i + n) % o.cards.length]!, sim.opts.pin, nozzle, c);
      } catch (err) {
        if (!(err instanceof TerminalUnreachable)) throw err;
        c.errors.UNREACHABLE = (c.errors.UNREACHABLE ?? 0) + 1;
        c.fatal++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => worker(i)));
  const elapsedS = (performance.now() - started) / 1000;
  const sorted = [...c.latencies].sort((a, b) => a - b);
  const report: LoadReport = {
    clients: o.clients,
    durationS: o.durationS,
    elapsedS: round(elapsedS, 2),
    requests: sorted.length,
    approvals: c.approvals,
    approvalsPerS: round(c.approvals / elapsedS, 1),
    requestsPerS: round(sorted.length / elapsedS, 1),
    latencyMs: { p50: round(percentile(sorted, 50), 1), p95: round(percentile(sorted, 95), 1), max: round(sorted[sorted.length - 1] ?? 0, 1) },
    flows: c.flows,
    declinesByCode: c.declines,
    errorsByCode: c.errors,
  };
  const byCode = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '—';
  sim.say(`  用时 elapsed ${report.elapsedS} s；请求 requests ${report.requests} (${report.requestsPerS}/s)`);
  sim.say(`  批准 approvals ${report.approvals} (${report.approvalsPerS}/s)`);
  sim.say(`  延迟 latency p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, max ${report.latencyMs.max} ms`);
  sim.say(`  流程 flows: ${byCode(report.flows)}`);
  sim.say(`  拒绝 declines: ${byCode(report.declinesByCode)}`);
  sim.say(`  错误 errors: ${byCode(report.errorsByCode)}`);
  // Server failures and lost connections fail the run; business declines and 4xx refusals are counted, not fatal.
  sim.record({ step: 'load', ok: report.approvals > 0 && c.fatal === 0, ...report });
  return report;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
