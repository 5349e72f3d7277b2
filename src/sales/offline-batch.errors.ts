import { defineErrors } from '../platform/index.js';
import type { DeclineSpec } from '../cards/index.js';

/** Refusals of an offline upload as a whole (nothing of the batch is posted). */
export const offlineError = defineErrors('offline', {
  OFFLINE_BATCH_CONFLICT: {
    status: 409,
    iso: '913',
    zh: '该批次号已上送过不同的交易',
    en: 'This batch number was already uploaded with different sales: use a new batch number',
  },
  OFFLINE_BATCH_NOT_FOUND: { status: 404, iso: '902', zh: '脱机批次不存在', en: 'Offline batch not found' },
  OFFLINE_HOTLIST_VERSION_INVALID: { status: 400, iso: '904', zh: '黑名单版本号不正确', en: 'hotlistVersion must be a non-negative integer' },
});

/**
 * Why one sale of a batch was not posted (the rest of the batch goes on). A result, not an
 * error: each carries a stable code and its ISO 8583 action code, like a decline.
 */
export const OFFLINE_REJECTS = {
  OFFLINE_CARD_UNKNOWN: { iso: '111', zh: '卡号不存在', en: 'No card has this number' },
  OFFLINE_AMOUNT_MISMATCH: { iso: '110', zh: '金额与油量、单价不符', en: 'amount is not volumeMl × unitPrice / 1000 to the fen' },
  OFFLINE_GRADE_UNKNOWN: { iso: '902', zh: '油品不存在', en: 'Unknown fuel grade' },
  OFFLINE_TIME_OUT_OF_RANGE: {
    iso: '902',
    zh: '交易时间超出范围（晚于当前时间或早于 7 天前）',
    en: 'occurredAt is in the future (beyond the clock skew) or more than 7 days ago',
  },
  OFFLINE_SALE_REVERSED: { iso: '902', zh: '该笔脱机交易已被冲正', en: 'A reversal of this offline sale was recorded first' },
  OFFLINE_SEQ_CONFLICT: {
    iso: '913',
    zh: '该流水号已上送过内容不同的交易',
    en: 'This sequence number was already posted for a different sale (card, amount, volume, grade, nozzle, time or approval code differ)',
  },
} as const satisfies Record<string, DeclineSpec>;

export type OfflineReject = keyof typeof OFFLINE_REJECTS;
