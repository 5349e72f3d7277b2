/**
 * Alipay (支付宝) channel: the adapter over the OpenAPI gateway (RSA2) and the local sandbox
 * provider that stands in for Alipay when no merchant account is configured. See
 * docs/channel-alipay.md.
 */
export { createAlipayChannel } from './alipay.channel.js';
export { createAlipaySandbox, type AlipaySandbox } from './alipay.sandbox.js';
export { buildAlipayBill, parseAlipayBill, type BillRow } from './alipay.bill.js';
export { verifyAlipayNotification, NOTIFY_MAX_AGE_MS, NOTIFY_MAX_AHEAD_MS } from './alipay.notify.js';
