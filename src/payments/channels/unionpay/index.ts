// SCAFFOLD (replaced by the UnionPay helper): the factory signatures runtime.ts builds on.
// It builds objects whose every method throws, so the server starts while the adapter is written.
import type { PaymentChannel } from '../../channel.js';
import type { UnionPayMerchantConfig } from '../../payments.config.js';
import type { ChannelOptions, SandboxOptions } from '../../runtime.js';
import type { SandboxProvider } from '../../sandbox.js';

export interface UnionPaySandbox extends SandboxProvider {
  /** Merchant credentials matching the sandbox's generated keys; the API base is <publicUrl>/sandbox/unionpay. */
  readonly merchant: UnionPayMerchantConfig;
}
const notBuilt = (): never => {
  throw new Error('UnionPay adapter not built yet');
};
export function createUnionPayChannel(cfg: UnionPayMerchantConfig, opts: ChannelOptions): PaymentChannel {
  return {
    code: 'unionpay', methods: ['online'], sandbox: opts.sandbox, merchantId: cfg.merId,
    createPayment: notBuilt, verifyNotification: notBuilt, ack: notBuilt, queryPayment: notBuilt, closePayment: notBuilt, refund: notBuilt, queryRefund: notBuilt,
  };
}
export function createUnionPaySandbox(_opts: SandboxOptions): UnionPaySandbox {
  return {
    channel: 'unionpay', merchant: { merId: 'sandbox' } as unknown as UnionPayMerchantConfig, register() {}, refundMode: 'auto',
    pay: notBuilt, replayLast: notBuilt, buildPaymentNotification: notBuilt, deliver: notBuilt, addStrayPayment: notBuilt, settleRefund: notBuilt, statementFile: notBuilt,
  };
}
