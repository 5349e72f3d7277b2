// SCAFFOLD (replaced by the WeChat Pay helper): the factory signatures runtime.ts builds on.
// It builds objects whose every method throws, so the server starts while the adapter is written.
import type { PaymentChannel } from '../../channel.js';
import type { WechatMerchantConfig } from '../../payments.config.js';
import type { ChannelOptions, SandboxOptions } from '../../runtime.js';
import type { SandboxProvider } from '../../sandbox.js';

export interface WechatSandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/wechat. */
  readonly merchant: WechatMerchantConfig;
}
const notBuilt = (): never => {
  throw new Error('WeChat Pay adapter not built yet');
};
export function createWechatChannel(cfg: WechatMerchantConfig, opts: ChannelOptions): PaymentChannel {
  return {
    code: 'wechat', methods: ['native', 'jsapi'], sandbox: opts.sandbox, merchantId: cfg.mchId,
    createPayment: notBuilt, verifyNotification: notBuilt, ack: notBuilt, queryPayment: notBuilt, closePayment: notBuilt, refund: notBuilt, queryRefund: notBuilt,
  };
}
export function createWechatSandbox(_opts: SandboxOptions): WechatSandbox {
  return {
    channel: 'wechat', merchant: { mchId: 'sandbox' } as unknown as WechatMerchantConfig, register() {}, refundMode: 'auto',
    pay: notBuilt, replayLast: notBuilt, buildPaymentNotification: notBuilt, deliver: notBuilt, addStrayPayment: notBuilt, settleRefund: notBuilt, statementFile: notBuilt,
  };
}
