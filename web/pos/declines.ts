import { pickLang, type Lang } from '../shared/i18n';

interface Explanation {
  reason: { zh: string; en: string };
  advice: { zh: string; en: string };
}

const LIMIT_ADVICE = {
  zh: '此卡已达到限额。请顾客减少加油量或金额，或改用其他卡、其他方式付款；限额可由持卡单位在营业厅调整。',
  en: 'The card has reached a limit. Ask the customer to buy less, or pay with another card or method; the card owner can have limits changed at the service counter.',
};
const FILLS_ADVICE = {
  zh: '此卡加油次数已达上限。请顾客改用其他卡或其他方式付款。',
  en: 'The card has used up its number of fills. Ask the customer to pay with another card or method.',
};
const SERVICE_COUNTER = {
  zh: '请顾客到营业厅或联系客服处理，本次改用其他方式付款。',
  en: 'Send the customer to the service counter or customer service; take another payment method for this fill.',
};

/**
 * Decline codes (docs/errors.md, "Sale decline codes") in words a cashier can read out, with what
 * to do next. A code not listed here falls back to the server's own message.
 */
export const DECLINES: Record<string, Explanation> = {
  CARD_UNKNOWN: {
    reason: { zh: '卡号无效', en: 'Invalid card number' },
    advice: { zh: '请核对卡号后重新输入；如仍无效，请顾客改用其他卡或其他方式付款。', en: 'Check the card number and enter it again; if it is still refused, ask for another card or payment method.' },
  },
  CARD_NOT_ACTIVE: {
    reason: { zh: '卡未启用', en: 'The card is not active yet' },
    advice: { zh: '此卡尚未激活，请顾客到营业厅办理激活，本次改用其他方式付款。', en: 'The card has not been activated; the customer can activate it at the service counter. Take another payment method.' },
  },
  CARD_NOT_YET_USABLE: {
    reason: { zh: '补办的新卡尚在挂失等待期，暂不能加油', en: 'This replacement card cannot buy fuel until the loss waiting period has passed' },
    advice: { zh: '等待期满后即可使用，本次请改用其他方式付款。', en: 'It can be used once the waiting period is over; take another payment method this time.' },
  },
  CARD_FROZEN: { reason: { zh: '卡已冻结', en: 'The card is frozen' }, advice: SERVICE_COUNTER },
  CARD_LOST: {
    reason: { zh: '卡片已挂失', en: 'The card has been reported lost' },
    advice: {
      zh: '此卡已挂失，不能使用。请勿归还卡片给非持卡人；请持卡人本人到营业厅处理，本次改用其他方式付款。',
      en: 'This card was reported lost and cannot be used. Do not hand it back to anyone but the cardholder; the cardholder should go to the service counter. Take another payment method.',
    },
  },
  CARD_REPLACED: {
    reason: { zh: '此卡已补换，旧卡已失效', en: 'The card was replaced; this old card is no longer valid' },
    advice: { zh: '请顾客使用补办后的新卡。', en: 'Ask the customer for the replacement card.' },
  },
  CARD_CLOSED: {
    reason: { zh: '卡已销户', en: 'The card is closed' },
    advice: { zh: '此卡已注销，不能再使用。请顾客改用其他卡或其他方式付款。', en: 'The card is closed for good. Ask for another card or payment method.' },
  },
  CARD_NOT_FOR_SALE: {
    reason: { zh: '主卡不能直接加油', en: 'A master card cannot buy fuel' },
    advice: { zh: '请顾客使用其名下的副卡加油。', en: 'Ask the customer for one of the sub cards of this master card.' },
  },
  MASTER_CARD_FROZEN: {
    reason: { zh: '主卡已冻结，副卡暂停使用', en: 'The master card is frozen, so its sub cards are suspended' },
    advice: { zh: '请持卡单位到营业厅处理主卡，本次改用其他方式付款。', en: 'The card owner must sort out the master card at the service counter; take another payment method.' },
  },
  PIN_WRONG: {
    reason: { zh: '密码错误', en: 'Wrong PIN' },
    advice: { zh: '请顾客重新输入密码。多次输错后卡片会被锁定。', en: 'Ask the customer to enter the PIN again. Too many wrong tries lock the card.' },
  },
  PIN_TRIES_EXCEEDED: {
    reason: { zh: '密码错误次数过多，已锁定', en: 'Too many wrong PINs: the PIN is locked' },
    advice: { zh: '请持卡人本人到营业厅重置密码，本次改用其他方式付款。', en: 'The cardholder must have the PIN reset at the service counter; take another payment method.' },
  },
  GRADE_NOT_ALLOWED: {
    reason: { zh: '此卡不允许加该油品', en: 'This card may not buy this fuel grade' },
    advice: { zh: '请确认油枪和油品是否正确；此卡只能加指定油品，可改加允许的油品或改用其他方式付款。', en: 'Check the nozzle and grade; this card is limited to certain grades. Use an allowed grade or another payment method.' },
  },
  LIMIT_SALE_AMOUNT: { reason: { zh: '超过单笔金额限额', en: 'More than the card allows in one sale (amount)' }, advice: LIMIT_ADVICE },
  LIMIT_SALE_VOLUME: { reason: { zh: '超过单笔加油量限额', en: 'More than the card allows in one sale (volume)' }, advice: LIMIT_ADVICE },
  LIMIT_FILL_INTERVAL: {
    reason: { zh: '距上次加油时间过短', en: 'Too soon after the previous fill' },
    advice: { zh: '此卡两次加油之间需间隔一段时间，请稍后再试或改用其他方式付款。', en: 'The card needs a pause between fills; try later or take another payment method.' },
  },
  LIMIT_DAY_AMOUNT: { reason: { zh: '超过当日累计金额限额', en: 'Over the daily amount limit' }, advice: LIMIT_ADVICE },
  LIMIT_DAY_VOLUME: { reason: { zh: '超过当日累计加油量限额', en: 'Over the daily volume limit' }, advice: LIMIT_ADVICE },
  LIMIT_DAY_FILLS: { reason: { zh: '超过当日加油次数限制', en: 'Over the daily number of fills' }, advice: FILLS_ADVICE },
  LIMIT_WEEK_AMOUNT: { reason: { zh: '超过本周累计金额限额', en: 'Over the weekly amount limit' }, advice: LIMIT_ADVICE },
  LIMIT_WEEK_VOLUME: { reason: { zh: '超过本周累计加油量限额', en: 'Over the weekly volume limit' }, advice: LIMIT_ADVICE },
  LIMIT_WEEK_FILLS: { reason: { zh: '超过本周加油次数限制', en: 'Over the weekly number of fills' }, advice: FILLS_ADVICE },
  LIMIT_MONTH_AMOUNT: { reason: { zh: '超过本月累计金额限额', en: 'Over the monthly amount limit' }, advice: LIMIT_ADVICE },
  LIMIT_MONTH_VOLUME: { reason: { zh: '超过本月累计加油量限额', en: 'Over the monthly volume limit' }, advice: LIMIT_ADVICE },
  LIMIT_MONTH_FILLS: { reason: { zh: '超过本月加油次数限制', en: 'Over the monthly number of fills' }, advice: FILLS_ADVICE },
  INSUFFICIENT_FUNDS: {
    reason: { zh: '卡内余额不足', en: 'Not enough balance on the card' },
    advice: { zh: '请按卡内余额减少加油金额，或请顾客先充值、改用其他方式付款。', en: 'Sell no more than the balance, or ask the customer to top up or pay another way.' },
  },
};

const FALLBACK_ADVICE = {
  zh: '本次交易未扣款。请将原因告知顾客，改用其他卡或其他方式付款。',
  en: 'Nothing was charged. Tell the customer the reason and take another card or payment method.',
};

/** The reason and advice to show for a decline, in the chosen language; unknown codes use the server's message. */
export function explainDecline(code: string | undefined, serverMessage: string | undefined, lang: Lang): { reason: string; advice: string } {
  const known = code ? DECLINES[code] : undefined;
  const pick = (t: { zh: string; en: string }) => (lang === 'en' ? t.en : t.zh);
  if (known) return { reason: pick(known.reason), advice: pick(known.advice) };
  const fromServer = serverMessage ? pickLang(serverMessage, lang) : '';
  return { reason: fromServer || code || pick({ zh: '交易被拒绝', en: 'Declined' }), advice: pick(FALLBACK_ADVICE) };
}
