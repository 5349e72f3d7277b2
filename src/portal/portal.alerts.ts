import { sql } from 'kysely';
import type { Logger } from 'pino';
import { enqueueMessage, kickMessageDispatcher } from '../messaging/index.js';
import { prunePortalAuth, type PortalDeps } from './portal.auth.js';

/**
 * Sales commit in an order slightly different from their timestamps (each takes its time when
 * it locks the card, and commits a moment later): every run re-reads this much before the
 * watermark, and the sent-alerts table keeps a sale from alerting twice.
 */
const OVERLAP_MS = 5 * 60_000;
const BATCH = 500;

const yuan = (fen: number) => (fen / 100).toFixed(2);

/**
 * Low-balance alerts, off the sale path: reads the approved sales since the watermark on cards
 * with an alert, and for each sale that took the card's available total (sales.balance_after
 * is that total after the sale) from >= a threshold to < it, queues one message to the phone
 * that set the threshold — if that phone may still see the card (it is the phone of the card's
 * customer or, for a sub card, of the master card's customer). One transaction per run,
 * serialised across processes by the watermark row: the messages, the sent marks and the new
 * watermark commit together.
 */
export async function runLowBalanceAlerts(deps: Pick<PortalDeps, 'db' | 'cipher'> & { logger?: Logger }): Promise<{ sent: number }> {
  const sent = await deps.db.transaction().execute(async (trx) => {
    const wm = await sql<{ last_at: Date; upto: Date }>`select last_at, clock_timestamp() as upto from portal_alert_watermark where id = 1 for update`.execute(trx);
    const mark = wm.rows[0];
    if (!mark) throw new Error('portal_alert_watermark has no row (migration 010 not applied?)');
    const rows = await sql<{
      sale_id: string;
      card_id: number;
      amount: number;
      balance_after: number;
      created_at: Date;
      low_balance: number;
      phone_bidx: string;
      card_no: string;
      phone_enc: string | null;
    }>`
      select s.id as sale_id, s.card_id, s.amount, s.balance_after, s.created_at, a.low_balance, a.phone_bidx, c.card_no,
        (select cu.phone_enc from customers cu
          where cu.phone_bidx = a.phone_bidx
            and (cu.id = c.customer_id or cu.id = (select m.customer_id from cards m where m.id = c.master_card_id))
          order by cu.id limit 1) as phone_enc
      from portal_card_alerts a
      join sales s on s.card_id = a.card_id
      join cards c on c.id = s.card_id
      where s.status = 'approved' and s.balance_after is not null
        and s.created_at > ${mark.last_at}::timestamptz - ${OVERLAP_MS} * interval '1 millisecond'
        and s.created_at <= ${mark.upto}::timestamptz
        and s.created_at >= a.updated_at
        and s.balance_after < a.low_balance and s.balance_after + s.amount >= a.low_balance
        and not exists (select 1 from portal_alerts_sent x where x.sale_id = s.id and x.phone_bidx = a.phone_bidx)
      order by s.created_at, s.id
      limit ${BATCH}`.execute(trx);
    let queued = 0;
    for (const row of rows.rows) {
      const last4 = row.card_no.slice(-4);
      const handled = (messageId: number | null) => sql`insert into portal_alerts_sent (sale_id, phone_bidx, card_id, low_balance, message_id)
        values (${row.sale_id}, ${row.phone_bidx}, ${row.card_id}, ${row.low_balance}, ${messageId})`.execute(trx);
      // The phone no longer sees the card (a changed phone, a sub card moved): no message.
      if (row.phone_enc === null) {
        await handled(null);
        continue;
      }
      let to: string;
      try {
        to = deps.cipher.decrypt(row.phone_enc);
      } catch (err) {
        // A phone under a key no longer configured: marked as handled, so it cannot stall the job.
        deps.logger?.error({ err, saleId: row.sale_id }, 'low-balance alert: customer phone cannot be decrypted');
        await handled(null);
        continue;
      }
      const messageId = await enqueueMessage(trx, deps.cipher, {
        to,
        template: 'portal.low_balance',
        text:
          `【加油卡】您尾号 ${last4} 的加油卡可用余额为 ¥${yuan(row.balance_after)}，已低于您设置的提醒金额 ¥${yuan(row.low_balance)}，请及时充值。` +
          ` / Fuel card ending ${last4}: ¥${yuan(row.balance_after)} available, below your alert of ¥${yuan(row.low_balance)}. Please top up.`,
      });
      await handled(messageId);
      queued++;
    }
    // A full batch stops at its last sale; otherwise everything up to `upto` has been read.
    const through = rows.rows.length === BATCH ? rows.rows[rows.rows.length - 1]!.created_at : mark.upto;
    await sql`update portal_alert_watermark set last_at = greatest(last_at, ${through}::timestamptz) where id = 1`.execute(trx);
    return queued;
  });
  if (sent > 0) kickMessageDispatcher();
  return { sent };
}

export async function prunePortalAlerts(deps: Pick<PortalDeps, 'db'>): Promise<void> {
  await sql`delete from portal_alerts_sent where created_at < now() - interval '30 days'`.execute(deps.db);
}

/**
 * The portal's background work: low-balance alerts every `alertEveryMs` (default 15 s) and
 * hourly pruning of spent codes, ended sessions and old alert marks. Returns a stop function
 * that waits for the run under way.
 */
export function startPortalJobs(deps: PortalDeps, opts: { alertEveryMs?: number } = {}): () => Promise<void> {
  let stopped = false;
  let alerting: Promise<unknown> | null = null;
  let pruning: Promise<unknown> | null = null;
  const alerts = () => {
    if (stopped || alerting) return;
    alerting = runLowBalanceAlerts(deps)
      .catch((err: unknown) => deps.logger.error({ err }, 'low-balance alerts failed'))
      .finally(() => {
        alerting = null;
      });
  };
  const prune = () => {
    if (stopped || pruning) return;
    pruning = Promise.all([prunePortalAuth(deps.db), prunePortalAlerts(deps)])
      .catch((err: unknown) => deps.logger.error({ err }, 'portal pruning failed'))
      .finally(() => {
        pruning = null;
      });
  };
  const timers = [setInterval(alerts, opts.alertEveryMs ?? 15_000), setInterval(prune, 3_600_000)];
  alerts();
  return async () => {
    stopped = true;
    for (const t of timers) clearInterval(t);
    await Promise.all([alerting, pruning]);
  };
}
