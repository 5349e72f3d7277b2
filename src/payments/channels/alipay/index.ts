// SCAFFOLD (replaced by the Alipay helper): the factory signatures runtime.ts builds on.
// It builds objects whose every method throws, so the server starts while the adapter is written.
import type { PaymentChannel } from '../../channel.js';
import type { AlipayMerchantConfig } from '../../payments.config.js';
import type { ChannelOptions, SandboxOptions } from '../../runtime.js';
import type { SandboxProvider } from '../../sandbox.js';

export interface AlipaySandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/alipay. */
  readonly merchant: AlipayMerchantConfig;
}
const notBuilt = (): never => {
  throw new Error('Alipay adapter not built yet');
};
export function createAlipayChannel(cfg: AlipayMerchantConfig, opts: ChannelOptions): PaymentChannel {
  return {
    code: 'alipay', methods: ['precreate', 'page'], sandbox: opts.sandbox, merchantId: cfg.sellerId,
    createPayment: notBuilt, verifyNotification: notBuilt, ack: notBuilt, queryPayment: notBuilt, closePayment: notBuilt, refund: notBuilt, queryRefund: notBuilt,
  };
}
export function createAlipaySandbox(_opts: SandboxOptions): AlipaySandbox {
  return {
    channel: 'alipay', merchant: { sellerId: 'sandbox' } as unknown as AlipayMerchantConfig, register() {}, refundMode: 'auto',
    pay: notBuilt, replayLast: notBuilt, buildPaymentNotification: notBuilt, deliver: notBuilt, addStrayPayment: notBuilt, settleRefund: notBuilt, statementFile: notBuilt,
  };
}
