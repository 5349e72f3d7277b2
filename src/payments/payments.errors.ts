import { defineErrors } from '../platform/index.js';

/**
 * The closed set of the payments module: recharge orders, channel notifications, refunds,
 * incoming bank transfers and channel statements. A channel's own refusal carries its code and
 * message in details (channelCode, channelMessage), never as our code.
 */
export const paymentsError = defineErrors('payments', {
  RECHARGE_NOT_ALLOWED: { status: 409, iso: '119', zh: '当前卡状态不允许充值', en: 'The card cannot be recharged in its current state' },
  RECHARGE_REFERENCE_REQUIRED: { status: 400, iso: '904', zh: '银行转账充值必须填写银行流水号', en: 'A bank transfer recharge needs the bank reference' },
  RECHARGE_REFERENCE_USED: { status: 409, iso: '913', zh: '该银行流水号已入账', en: 'This bank reference was already credited' },
  RECHARGE_ACCOUNT_NOT_LINKED: { status: 409, iso: '119', zh: '账户未关联到此卡', en: 'The account is not linked to this card' },

  // ── Recharge orders ──
  PAYMENT_ORDER_NOT_FOUND: { status: 404, iso: '902', zh: '充值订单不存在', en: 'Recharge order not found' },
  PAYMENT_ORDER_STATE: { status: 409, iso: '902', zh: '充值订单当前状态不允许此操作', en: 'The recharge order’s state does not allow this' },
  PAYMENT_ORDER_LIMIT: { status: 422, iso: '121', zh: '超过单笔充值限额', en: 'The amount exceeds the per-order top-up limit' },
  PAYMENT_DAY_LIMIT: { status: 422, iso: '121', zh: '超过该卡当日充值限额', en: 'The card’s top-up limit for the day would be exceeded' },
  PAYMENT_BALANCE_CAP: { status: 422, iso: '121', zh: '充值后余额将超过该卡余额上限', en: 'The card’s balance would exceed its cap' },
  PAYMENT_METHOD_NOT_SUPPORTED: { status: 422, iso: '902', zh: '该支付渠道不支持此支付方式', en: 'The channel does not offer this payment method' },
  PAYMENT_CHANNEL_DISABLED: { status: 409, iso: '119', zh: '该支付渠道未开通', en: 'The payment channel is not enabled' },
  PAYMENT_CHANNEL_UNAVAILABLE: { status: 502, iso: '912', zh: '支付渠道暂不可用，请稍后再试', en: 'The payment channel could not be reached; try again later' },
  PAYMENT_CHANNEL_REJECTED: { status: 502, iso: '909', zh: '支付渠道拒绝了请求', en: 'The payment channel refused the request' },
  PAYMENT_CHANNEL_RESPONSE_INVALID: { status: 502, iso: '916', zh: '支付渠道应答验签失败或格式错误', en: 'The payment channel’s answer failed verification or was malformed' },

  // ── Notifications from the channels (异步通知) ──
  PAYMENT_NOTIFY_MALFORMED: { status: 400, iso: '904', zh: '支付通知格式错误', en: 'The payment notification is malformed' },
  PAYMENT_NOTIFY_SIGNATURE_INVALID: { status: 401, iso: '916', zh: '支付通知签名无效', en: 'The payment notification’s signature is not valid' },
  PAYMENT_NOTIFY_STALE: { status: 401, iso: '916', zh: '支付通知时间戳超出允许范围', en: 'The payment notification’s timestamp is outside the allowed window' },
  PAYMENT_NOTIFY_DECRYPT_FAILED: { status: 400, iso: '916', zh: '支付通知解密失败', en: 'The payment notification could not be decrypted' },
  PAYMENT_NOTIFY_MERCHANT_MISMATCH: { status: 400, iso: '119', zh: '支付通知的商户号或应用号不符', en: 'The notification is for another merchant or app' },
  PAYMENT_NOTIFY_AMOUNT_MISMATCH: { status: 400, iso: '110', zh: '支付通知金额与订单不符', en: 'The notified amount differs from the order' },
  PAYMENT_NOTIFY_UNKNOWN_ORDER: { status: 404, iso: '902', zh: '支付通知对应的订单不存在', en: 'The notification names an order the platform does not have' },
  PAYMENT_NOTIFY_REPLAYED: { status: 409, iso: '913', zh: '重放的支付通知', en: 'The notification was replayed' },

  // ── Refunds (退款) ──
  PAYMENT_REFUND_NOT_FOUND: { status: 404, iso: '902', zh: '退款单不存在', en: 'Refund not found' },
  PAYMENT_REFUND_STATE: { status: 409, iso: '902', zh: '退款单当前状态不允许此操作', en: 'The refund’s state does not allow this' },
  PAYMENT_REFUND_EXCEEDS: { status: 422, iso: '110', zh: '退款金额超过可退金额', en: 'The refund exceeds what can still be refunded' },
  PAYMENT_REFUND_BALANCE: { status: 422, iso: '116', zh: '卡内余额不足以退款', en: 'The card’s balance does not cover the refund' },
  PAYMENT_REFUND_NOT_ALLOWED: { status: 409, iso: '119', zh: '该订单不可退款', en: 'This order cannot be refunded' },
  PAYMENT_WRITTEN_OFF: { status: 409, iso: '119', zh: '该笔渠道款项已在对账中核销', en: 'This channel payment was written off in reconciliation' },
  PAYMENT_PAYEE_REQUIRED: { status: 400, iso: '904', zh: '银行转账退款须填写收款账户', en: 'A bank transfer refund needs the payee’s account' },

  // ── Incoming bank transfers (入账流水) ──
  BANK_TRANSFER_NOT_FOUND: { status: 404, iso: '902', zh: '入账流水不存在', en: 'Incoming transfer not found' },
  BANK_TRANSFER_DUPLICATE: { status: 409, iso: '913', zh: '该银行流水号已登记', en: 'This bank transaction was already entered' },
  BANK_TRANSFER_STATE: { status: 409, iso: '902', zh: '入账流水当前状态不允许此操作', en: 'The incoming transfer’s state does not allow this' },
  BANK_TRANSFER_AMOUNT_MISMATCH: { status: 422, iso: '110', zh: '入账金额与订单金额不符', en: 'The transfer’s amount differs from the order' },

  // ── Channel statements (对账单文件) ──
  PAYMENT_STATEMENT_NOT_READY: { status: 409, iso: '912', zh: '渠道对账单尚未生成', en: 'The channel has not produced this statement yet' },
  PAYMENT_STATEMENT_MALFORMED: { status: 422, iso: '904', zh: '对账单文件格式错误', en: 'The statement file is malformed' },
  PAYMENT_STATEMENT_TOTALS_MISMATCH: { status: 422, iso: '904', zh: '对账单明细与汇总行不符', en: 'The statement’s lines do not add up to its summary' },
  PAYMENT_STATEMENT_HASH_MISMATCH: { status: 422, iso: '916', zh: '对账单文件摘要校验失败', en: 'The statement file does not match its hash' },
  PAYMENT_STATEMENT_TOO_LARGE: { status: 413, iso: '904', zh: '对账单文件过大', en: 'The statement file is too large' },
});

export type PaymentsErrorCode = keyof typeof paymentsError.table;
