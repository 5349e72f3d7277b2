/** API shapes of the payments routes (contract of issue 5): money in fen, times ISO 8601 UTC. */

export type OrderStatus = 'created' | 'paying' | 'paid' | 'credited' | 'closed' | 'failed' | 'refunded';
export type RefundStatus = 'requested' | 'processing' | 'succeeded' | 'failed';
export type BankTransferStatus = 'unmatched' | 'matched' | 'ignored' | 'returned';

export interface PaymentPayload {
  qrText?: string;
  payUrl?: string;
  form?: { action: string; fields: Record<string, string> };
  jsapi?: Record<string, string>;
  transfer?: { bankName: string; accountName: string; accountNo: string; payerCode: string };
  sandboxUrl?: string;
}

export interface RechargeOrder {
  orderNo: string;
  cardNo: string;
  accountId: number;
  amount: number;
  channel: string;
  method: string;
  origin: string;
  status: OrderStatus;
  payload: PaymentPayload;
  payerCode: string | null;
  channelTxnId: string | null;
  channelOrderNo?: string | null;
  paidAmount: number | null;
  paidAt: string | null;
  receiptNo: string | null;
  refundedAmount: number;
  expiresAt: string;
  closeReason: string | null;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StateEvent {
  fromStatus: string | null;
  toStatus: string;
  source: string;
  /** The staff member who acted: a name, or an object the server chose; shown as text. */
  staff?: unknown;
  details?: Record<string, unknown> | null;
  createdAt: string;
}

export interface OrderNotification {
  id: number;
  kind: string | null;
  outcome: string;
  reason: string | null;
  notifyId: string | null;
  receivedAt: string;
  /** False: refused (signature, time, amount…) — it may not come from the provider at all. */
  verified?: boolean;
}

export interface Payee {
  name?: string;
  account?: string;
  bank?: string;
}

export interface Refund {
  refundNo: string;
  kind: 'recharge' | 'card_close';
  orderNo: string | null;
  cardNo: string;
  channel: string;
  amount: number;
  status: RefundStatus;
  channelRefundId: string | null;
  reason: string | null;
  failureReason: string | null;
  payee: Payee | string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface OrderDetail extends RechargeOrder {
  events: StateEvent[];
  notifications: OrderNotification[];
  refunds: Refund[];
}

export interface RefundDetail extends Refund {
  events: StateEvent[];
}

export interface BankTransferIn {
  id: number | string;
  bankTxnId: string;
  valueDate: string;
  amount: number;
  payerName: string | null;
  payerAccount: string | null;
  memo: string | null;
  status: BankTransferStatus;
  orderNo?: string | null;
  note?: string | null;
  createdAt: string;
}

/** A closed card's balance to pay back (销户退资), with the payouts it was split into. */
export interface CardRefund {
  id: string;
  cardNo: string;
  accountId: number;
  amount: number;
  /** How the balance goes back: original_channel (原路退回), cash, bank_transfer … as the card close chose. */
  method: string;
  status: 'payable' | 'paid' | string;
  paidOut: number;
  inFlight: number;
  remaining: number;
  parts: Refund[];
  createdAt: string;
}
