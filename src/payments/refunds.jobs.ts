import { sql } from 'kysely';
import type { PaymentsDeps } from './orders.service.js';
import { payOutCardCloseRefunds, queryRefundNow, sendRefundToChannel } from './refunds.service.js';

/** How long a refund may wait on its first answer before the job asks again (the request itself may take up to the provider timeout). */
export const REFUND_RETRY_AFTER_MS = 60_000;

/**
 * One pass of the refund jobs (started every 60 s by startPaymentJobs): start card-close payouts,
 * send again refunds whose channel could not be reached, and ask online channels about refunds
 * still processing (a notification that never came). Bank and cash payouts wait for finance.
 */
export async function runRefundJobs(deps: PaymentsDeps, opts: { olderThanMs?: number; limit?: number } = {}): Promise<void> {
  const olderThan = opts.olderThanMs ?? REFUND_RETRY_AFTER_MS;
  const limit = opts.limit ?? 50;
  await payOutCardCloseRefunds(deps, limit);
  const due = await sql<{ refund_no: string; status: string }>`select refund_no, status from payment_refunds
    where status in ('requested','processing') and updated_at < now() - ${olderThan} * interval '1 millisecond'
      and (status = 'requested' or channel in ('wechat','alipay','unionpay'))
    order by updated_at limit ${limit}`.execute(deps.db);
  for (const r of due.rows) {
    try {
      if (r.status === 'requested') await sendRefundToChannel(deps, r.refund_no, 'job');
      else await queryRefundNow(deps, r.refund_no, 'job');
    } catch (err) {
      deps.logger.warn({ err, refundNo: r.refund_no }, 'refund job: could not ask the channel');
    }
  }
}
