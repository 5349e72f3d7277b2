import { sql } from 'kysely';
import type { Config } from '../platform/index.js';
import { businessDay, isAppError, startOfNextBusinessDay, systemActor } from '../platform/index.js';
import type { StatementChannel } from '../payments/index.js';
import { runReconciliation, type ReconDeps } from './reconciliation.service.js';

/** Channels whose statements the job downloads (bank statements are imported by finance). */
export const FETCHED_CHANNELS = ['wechat', 'alipay', 'unionpay'] as const satisfies readonly StatementChannel[];
/** Between two attempts of one channel's day (a statement not ready, a provider down). */
export const RETRY_MS = 30 * 60_000;
const TICK_MS = 60_000;

/**
 * What the T+1 job should do at `now`: reconcile yesterday (the operator's time zone), once
 * today's reconJobTime has passed. Pure, so the schedule is tested without waiting for it.
 */
export function dueReconciliations(now: Date, config: Pick<Config, 'timeZone' | 'reconJobTime'>): { billDate: string; dueAt: Date; due: boolean } {
  const tz = config.timeZone;
  const nextMidnight = startOfNextBusinessDay(now, tz);
  // 25 h before the next midnight is always in yesterday: the midnight after it is today's.
  const todayMidnight = startOfNextBusinessDay(new Date(nextMidnight.getTime() - 25 * 3_600_000), tz);
  const [hh, mm] = config.reconJobTime.split(':').map(Number) as [number, number];
  const dueAt = new Date(todayMidnight.getTime() + (hh * 60 + mm) * 60_000);
  const billDate = businessDay(new Date(todayMidnight.getTime() - 1), tz);
  return { billDate, dueAt, due: now.getTime() >= dueAt.getTime() };
}

/** One pass of the job: every fetchable channel whose yesterday has no finished run, not tried in the last 30 min. */
export async function reconciliationTick(deps: ReconDeps, now: Date, lastTry: Map<string, number>): Promise<Array<{ channel: StatementChannel; outcome: string }>> {
  const { billDate, due } = dueReconciliations(now, deps.config);
  if (!due) return [];
  const out: Array<{ channel: StatementChannel; outcome: string }> = [];
  for (const channel of FETCHED_CHANNELS) {
    const adapter = deps.payments.channels.get(channel);
    if (!adapter || typeof adapter.fetchStatement !== 'function' || typeof adapter.parseStatement !== 'function') continue;
    const key = `${channel}|${billDate}`;
    const last = lastTry.get(key);
    if (last !== undefined && now.getTime() - last < RETRY_MS) continue;
    const done = await sql`select 1 from recon_runs where channel = ${channel} and bill_date = ${billDate}::date and status = 'done' limit 1`.execute(deps.db);
    if (done.rows.length > 0) continue;
    lastTry.set(key, now.getTime());
    try {
      const run = await runReconciliation(deps, systemActor, { channel, billDate, source: 'job', fetch: true });
      out.push({ channel, outcome: `run ${run.id}` });
    } catch (err) {
      const code = isAppError(err) ? err.code : 'INTERNAL';
      if (code === 'PAYMENT_STATEMENT_NOT_READY') deps.logger.info({ channel, billDate }, 'statement not ready yet; retrying later');
      else deps.logger.error({ err, channel, billDate }, 'reconciliation job failed; retrying later');
      out.push({ channel, outcome: code });
    }
  }
  return out;
}

/** The T+1 job (started by src/main.ts). Returns a stop function. */
export function startReconciliationJobs(deps: ReconDeps): () => void {
  const lastTry = new Map<string, number>();
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await reconciliationTick(deps, new Date(), lastTry);
    } catch (err) {
      deps.logger.error({ err }, 'reconciliation job tick failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
