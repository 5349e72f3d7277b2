export { paymentsRoutes } from './payments.routes.js';
export { rechargeAtCounter, COUNTER_CHANNELS, type CounterChannel, type Recharge } from './recharges.service.js';
export { paymentsError, type PaymentsErrorCode } from './payments.errors.js';
export * from './channel.js';
export { createPaymentsRuntime, type PaymentsRuntime, type ChannelOptions, type SandboxOptions } from './runtime.js';
export type { SandboxProvider, SandboxNotification, SandboxDelivery, NotifyMode } from './sandbox.js';
export type { ChannelCredentials } from './payments.config.js';
export {
  applyPaymentState,
  clearingAccount,
  closeOpenOrder,
  createOrder,
  creditChannelPayment,
  findOrderByNo,
  lockOrderByNo,
  markOrderRefunded,
  presentOrder,
  queryOrder,
  type ApplyResult,
  type OrderEventSource,
  type OrderRow,
  type PaymentsDeps,
  type RechargeOrder,
} from './orders.service.js';
export { ORDER_STATUSES, ORDER_TRANSITIONS, type OrderStatus } from './orders.state.js';
export { closeExpiredOrders, startPaymentJobs } from './payments.jobs.js';
export { refundsRoutes } from './refunds.routes.js';
export { bankTransfersRoutes } from './bank-transfers.routes.js';
export {
  requestRechargeRefund,
  applyRefundState,
  lockRefundByNo,
  listRefundsOfOrder,
  getRefund,
  payOutCardCloseRefunds,
  startCardClosePayout,
  type Refund,
  type RefundRow,
  type RefundStatus,
  type RefundKind,
} from './refunds.service.js';
export { runRefundJobs } from './refunds.jobs.js';
export { recordIncomingTransfers, matchIncomingTransfer, enterIncomingTransfer, payerCodesIn, type BankTransferIn } from './bank-transfers.service.js';
export { formatBankStatement, parseBankStatement, BANK_STATEMENT_HEADER, type BankStatementRow } from './channels/offline/index.js';
export { recordChannelWriteOff, isWrittenOff, lockChannelPayment } from './orders.service.js';
export { createRechargeRefund, sendRefundToChannel, type RechargeRefundInput } from './refunds.service.js';
