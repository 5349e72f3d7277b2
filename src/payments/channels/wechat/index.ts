// WeChat Pay API v3: the adapter (real merchant account or the sandbox) and the sandbox provider.
// docs/channel-wechat.md describes both.
export { createWechatChannel, transactionState, refundState, SANDBOX_OPENID } from './wechat.adapter.js';
export { createWechatSandbox, type WechatSandbox, WECHAT_SANDBOX_FEE_MFEN_PER_FEN, WECHAT_SANDBOX_FEE_RATE } from './wechat.sandbox.js';
export { parseTradeBill, buildTradeBill } from './wechat.bill.js';
