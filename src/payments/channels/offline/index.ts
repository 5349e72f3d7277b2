// SCAFFOLD (replaced by the refunds/bank helper): cash and bank transfer channels.
import type { PaymentChannel } from '../../channel.js';
import type { BankAccountConfig } from '../../payments.config.js';

const notBuilt = (): never => {
  throw new Error('channel not built yet');
};
const scaffold = (code: 'cash' | 'bank_transfer'): PaymentChannel => ({
  code, methods: code === 'cash' ? ['counter'] : ['transfer'], sandbox: false, merchantId: '',
  createPayment: notBuilt, verifyNotification: notBuilt, ack: notBuilt, queryPayment: notBuilt, closePayment: notBuilt, refund: notBuilt, queryRefund: notBuilt,
});
export function createCashChannel(): PaymentChannel {
  return scaffold('cash');
}
export function createBankTransferChannel(_bank: BankAccountConfig): PaymentChannel {
  return scaffold('bank_transfer');
}
