/**
 * The two channels with no provider to talk to (docs/bank-transfers.md, docs/refunds.md):
 * cash taken and handed back at the counter, and bank transfers the payer sends to the
 * operator's account with a payer code on it, which finance enters or imports from the bank
 * statement and matches to orders. Neither sends notifications; their answers are immediate.
 */
import type { NotifyAck, PaymentChannel, PaymentState, RefundState } from '../../channel.js';
import type { BankAccountConfig } from '../../payments.config.js';
import { parseBankStatement } from './bank-statement.js';

export {
  BANK_STATEMENT_HEADER,
  formatBankStatement,
  parseBankStatement,
  readBankStatementRows,
  bankRowFromRaw,
  bankRowOccurredAt,
  decodeStatementText,
  yuanToFen,
  fenToYuan,
  type BankStatementRow,
} from './bank-statement.js';

// Nothing ever calls these channels back: whatever arrives at a notify URL for them is not theirs.
const noNotifications = async () => ({ ok: false as const, code: 'PAYMENT_NOTIFY_MALFORMED' as const, detail: 'this channel sends no notifications' });
const plainAck = (ok: boolean, message?: string): NotifyAck => ({ status: ok ? 200 : 400, body: ok ? 'ok' : (message ?? 'fail'), contentType: 'text/plain; charset=utf-8' });

export function createCashChannel(): PaymentChannel {
  return {
    code: 'cash',
    methods: ['counter'],
    sandbox: false,
    merchantId: '',
    // The counter takes the cash before the order is credited: nothing for a payer to be shown.
    createPayment: async () => ({}),
    verifyNotification: noNotifications,
    ack: plainAck,
    // No provider knows a cash payment; only the counter's own credit settles it.
    queryPayment: async (orderNo): Promise<PaymentState> => ({ orderNo, status: 'paying' }),
    closePayment: async () => {},
    // The cashier hands the cash back as the refund is recorded.
    refund: async (req): Promise<RefundState> => ({ refundNo: req.refundNo, orderNo: req.orderNo, status: 'succeeded', amount: req.amount, completedAt: new Date(), channelStatus: 'CASH_PAID' }),
    queryRefund: async (refundNo, orderNo): Promise<RefundState> => ({ refundNo, orderNo, status: 'succeeded', channelStatus: 'CASH_PAID' }),
  };
}

export function createBankTransferChannel(bank: BankAccountConfig): PaymentChannel {
  return {
    code: 'bank_transfer',
    methods: ['transfer'],
    sandbox: false,
    // The receiving account: a statement or a transfer names it, not a merchant id.
    merchantId: bank.accountNo.replace(/\s+/g, ''),
    // The instructions (account + payer code) come from our own configuration and the order; no provider is asked.
    createPayment: async () => ({}),
    verifyNotification: noNotifications,
    ack: plainAck,
    // The money shows up only as an incoming transfer finance enters or imports.
    queryPayment: async (orderNo): Promise<PaymentState> => ({ orderNo, status: 'paying' }),
    closePayment: async () => {},
    // Finance pays the money out from the bank and confirms it (or reports it bounced).
    refund: async (req): Promise<RefundState> => ({ refundNo: req.refundNo, orderNo: req.orderNo, status: 'processing', amount: req.amount, channelStatus: 'PAYOUT_PENDING' }),
    queryRefund: async (refundNo, orderNo): Promise<RefundState> => ({ refundNo, orderNo, status: 'processing', channelStatus: 'PAYOUT_PENDING' }),
    parseStatement: (file) => parseBankStatement(file),
  };
}
