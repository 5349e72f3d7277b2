import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Executor, FieldCipher } from '../platform/index.js';
import { enqueueMessage } from '../messaging/index.js';
import type { Resolution } from './cases.queries.js';

/**
 * Messages of the case module. The holder's texts are zh-CN first, then English, as every SMS of
 * the platform; the card is named by its last four digits only (an SMS is not a safe channel).
 */

export interface NotifyDeps {
  cipher: FieldCipher;
  logger?: Pick<Logger, 'error'>;
}

/**
 * The phone that hears about the card: its customer's, or for a sub card without its own customer
 * the master card's customer's. Null for an anonymous card or a phone under a retired key.
 */
export async function holderPhone(db: Executor, deps: NotifyDeps, cardId: number): Promise<{ phone: string; last4: string } | null> {
  const r = await sql<{ card_no: string; phone_enc: string | null }>`
    select c.card_no, coalesce(own.phone_enc, mc.phone_enc) as phone_enc
    from cards c
    left join customers own on own.id = c.customer_id
    left join cards m on m.id = c.master_card_id
    left join customers mc on mc.id = m.customer_id
    where c.id = ${cardId}`.execute(db);
  const row = r.rows[0];
  if (!row || !row.phone_enc) return null;
  try {
    return { phone: deps.cipher.decrypt(row.phone_enc), last4: row.card_no.slice(-4) };
  } catch (err) {
    deps.logger?.error({ err, cardId }, 'case notice: customer phone cannot be decrypted');
    return null;
  }
}

export type HolderNotice = 'frozen' | 'held' | { resolution: Resolution };

const RESOLUTION_TEXT: Record<Resolution, { zh: string; en: string }> = {
  released: { zh: '经人工审核已放行，您可以继续使用', en: 'has been reviewed and released; you may use it again' },
  false_positive: { zh: '经人工审核为误判，已放行，给您带来不便深表歉意', en: 'was stopped in error and has been released; we apologise' },
  confirmed_fraud: { zh: '经人工审核发现异常交易，已冻结，请携身份证件到营业厅办理', en: 'showed fraudulent use and is frozen; please visit a service desk with your ID' },
  card_blocked: { zh: '因安全原因已挂失停用，请携身份证件到营业厅补卡', en: 'has been blocked for your safety; please visit a service desk with your ID to replace it' },
  reversed: { zh: '的可疑交易已冲正，款项已退回卡内', en: 'had suspicious sales reversed; the money is back on the card' },
  no_action: { zh: '的风控审核已完成，无需您处理', en: 'has been reviewed; nothing is needed from you' },
};

export function holderText(last4: string, notice: HolderNotice): string {
  if (notice === 'frozen') {
    return (
      `【加油卡】您尾号 ${last4} 的加油卡因风险控制已被临时冻结，我们将尽快人工审核。如非本人操作请致电客服；您可在网上营业厅查看原因并申诉。` +
      ` / Fuel card ending ${last4} was frozen by our fraud checks; a person will review it. You can see why and appeal in the portal.`
    );
  }
  if (notice === 'held') {
    return (
      `【加油卡】您尾号 ${last4} 的加油卡有一笔交易需人工审核，审核完成前暂缓加油。您可在网上营业厅查看原因。` +
      ` / A sale on fuel card ending ${last4} is held for a person to review. You can see why in the portal.`
    );
  }
  const t = RESOLUTION_TEXT[notice.resolution];
  return `【加油卡】您尾号 ${last4} 的加油卡${t.zh}。 / Fuel card ending ${last4} ${t.en}.`;
}

/** Queue a message to the card's holder in the caller's transaction. Returns the message id, or null when there is no phone. */
export async function notifyHolder(trx: Executor, deps: NotifyDeps, cardId: number, notice: HolderNotice): Promise<number | null> {
  const to = await holderPhone(trx, deps, cardId);
  if (!to) return null;
  const template = notice === 'frozen' ? 'cases.holder_frozen' : notice === 'held' ? 'cases.holder_held' : 'cases.holder_resolution';
  return enqueueMessage(trx, deps.cipher, { to: to.phone, template, text: holderText(to.last4, notice) });
}
