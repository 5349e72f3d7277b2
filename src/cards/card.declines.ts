/**
 * Why a card may not be used for a sale. A decline is a business answer (HTTP 200 with
 * status "declined"), not an error; each carries a stable code and its ISO 8583 action code.
 */
export interface DeclineSpec {
  readonly iso: string;
  readonly zh: string;
  readonly en: string;
}

export const CARD_DECLINES = {
  CARD_UNKNOWN: { iso: '111', zh: '卡号无效', en: 'Invalid card number' },
  CARD_NOT_ACTIVE: { iso: '125', zh: '卡未启用', en: 'Card is not active yet' },
  CARD_NOT_YET_USABLE: { iso: '125', zh: '补办的卡在挂失等待期满后方可加油', en: 'A replacement card can buy fuel once the loss waiting period has passed' },
  CARD_FROZEN: { iso: '119', zh: '卡已冻结', en: 'Card is frozen' },
  CARD_LOST: { iso: '208', zh: '卡已挂失', en: 'Card was reported lost' },
  CARD_REPLACED: { iso: '208', zh: '卡已补换，旧卡失效', en: 'Card was replaced and is no longer valid' },
  CARD_CLOSED: { iso: '119', zh: '卡已销户', en: 'Card is closed' },
  CARD_NOT_FOR_SALE: { iso: '119', zh: '主卡不能直接加油，请使用副卡', en: 'A master card cannot buy fuel; use a sub card' },
  MASTER_CARD_FROZEN: { iso: '119', zh: '主卡已冻结，副卡暂停使用', en: 'The master card is frozen, so its sub cards are suspended' },
  PIN_WRONG: { iso: '117', zh: '密码错误', en: 'Wrong PIN' },
  PIN_TRIES_EXCEEDED: { iso: '106', zh: '密码错误次数超限，已锁定', en: 'PIN tries exceeded; PIN locked' },
  GRADE_NOT_ALLOWED: { iso: '119', zh: '此卡不允许加该油品', en: 'This card may not buy this fuel grade' },
  GOODS_NOT_ALLOWED: { iso: '119', zh: '此卡仅限加油，不能购买便利店商品', en: 'This card is restricted to fuel: store goods are refused' },
  CARD_IN_ARREARS: { iso: '119', zh: '卡账户欠款（脱机或超时交易透支），请先充值还款', en: 'The card’s account is in arrears (an offline or late sale overdrew it); recharge to repay first' },
  LIMIT_SALE_AMOUNT: { iso: '121', zh: '超过单笔金额限额', en: 'Exceeds the per-sale amount limit' },
  LIMIT_SALE_VOLUME: { iso: '121', zh: '超过单笔加油量限额', en: 'Exceeds the per-sale volume limit' },
  LIMIT_FILL_INTERVAL: { iso: '123', zh: '距上次加油时间过短', en: 'Too soon after the previous fill' },
  LIMIT_DAY_AMOUNT: { iso: '121', zh: '超过日累计金额限额', en: 'Exceeds the daily amount limit' },
  LIMIT_DAY_VOLUME: { iso: '121', zh: '超过日累计加油量限额', en: 'Exceeds the daily volume limit' },
  LIMIT_DAY_FILLS: { iso: '123', zh: '超过日加油次数限制', en: 'Exceeds the daily number of fills' },
  LIMIT_WEEK_AMOUNT: { iso: '121', zh: '超过周累计金额限额', en: 'Exceeds the weekly amount limit' },
  LIMIT_WEEK_VOLUME: { iso: '121', zh: '超过周累计加油量限额', en: 'Exceeds the weekly volume limit' },
  LIMIT_WEEK_FILLS: { iso: '123', zh: '超过周加油次数限制', en: 'Exceeds the weekly number of fills' },
  LIMIT_MONTH_AMOUNT: { iso: '121', zh: '超过月累计金额限额', en: 'Exceeds the monthly amount limit' },
  LIMIT_MONTH_VOLUME: { iso: '121', zh: '超过月累计加油量限额', en: 'Exceeds the monthly volume limit' },
  LIMIT_MONTH_FILLS: { iso: '123', zh: '超过月加油次数限制', en: 'Exceeds the monthly number of fills' },
} as const satisfies Record<string, DeclineSpec>;

export type CardDecline = keyof typeof CARD_DECLINES;
