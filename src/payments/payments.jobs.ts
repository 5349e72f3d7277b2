import { sql } from 'kysely';
import { closeOpenOrder, type PaymentsDeps } from './orders.service.js';
import { runRefundJobs } from './refunds.jobs.js';

export interface CloseRun {
  /** Orders closed (expired, nothing paid). */
  closed: number;
  /** Orders the channel had been paid for after all (credited, or left 'paid' for staff). */
  paid: number;
  /** Orders left open because the channel could not be asked or refused to close: the next run tries again. */
  failed: number;
}

/**
 * Orders past their expiry still waiting for the payer: online ones are first asked about at
 * the channel (a payment whose notification never arrived is credited), then closed at the
 * provider and here; bank transfer orders just close (a transfer arriving later is still
 * matched by finance). One order at a time, each in its own transactions: a provider that
 * does not answer leaves that order for the next run and holds no lock meanwhile.
 */
export async function closeExpiredOrders(deps: PaymentsDeps, limit = 100): Promise<CloseRun> {
  const due = await sql<{ order_no: string }>`select order_no from recharge_orders
    where status in ('created', 'paying') and expires_at <= now() order by expires_at limit ${limit}`.execute(deps.db);
  const run: CloseRun = { closed: 0, paid: 0, failed: 0 };
  for (const { order_no } of due.rows) {
    try {
      const o = await closeOpenOrder(deps, order_no, 'job', 'expired');
      if (o.status === 'closed' || o.status === 'failed') run.closed++;
      else if (o.status === 'paid' || o.status === 'credited' || o.status === 'refunded') run.paid++;
      else run.failed++;
    } catch (err) {
      run.failed++;
      deps.logger.warn({ err, orderNo: order_no }, 'closing an expired recharge order failed; retried next run');
    }
  }
  return run;
}

/**
 * The payments module's background work, every `everyMs` (default 60 s): expired orders, and the
 * refunds module's jobs (card-close payouts, refunds still processing). Returns a stop function
 * that waits for the run under way.
 */
export function startPaymentJobs(deps: PaymentsDeps, opts: { everyMs?: number } = {}): () => Promise<void> {
  let stopped = false;
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (stopped || running) return;
    running = (async () => {
      try {
        const r = await closeExpiredOrders(deps);
        if (r.closed + r.paid + r.failed > 0) deps.logger.info(r, 'expired recharge orders');
      } catch (err) {
        deps.logger.error({ err }, 'closing expired recharge orders failed');
      }
      try {
        await runRefundJobs(deps);
      } catch (err) {
        deps.logger.error({ err }, 'refund jobs failed');
      }
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, opts.everyMs ?? 60_000);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
