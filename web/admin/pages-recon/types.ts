/** The reconciliation API's shapes (src/reconciliation, docs/reconciliation.md). Money in fen, fees in thousandths of a fen. */

export const RECON_CHANNELS = ['wechat', 'alipay', 'unionpay', 'bank_transfer'] as const;
export type ReconChannel = (typeof RECON_CHANNELS)[number];

export const ITEM_CODES = [
  'CHANNEL_ONLY',
  'PLATFORM_ONLY',
  'AMOUNT_DIFFERS',
  'FEE_DIFFERS',
  'STATUS_DIFFERS',
  'DUPLICATE',
  'REFUND_CHANNEL_ONLY',
  'REFUND_PLATFORM_ONLY',
  'REFUND_AMOUNT_DIFFERS',
  'REFUND_STATUS_DIFFERS',
  'REFUND_DUPLICATE',
] as const;

export const RESOLUTIONS = ['credit_card', 'refund', 'write_off', 'explained'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface Statement {
  id: number;
  channel: string;
  billDate: string;
  source: 'job' | 'import';
  fileName: string;
  sha256: string;
  sizeBytes: number;
  status: 'accepted' | 'rejected';
  rejection: string | null;
  lineCount: number;
  paymentCount: number;
  paymentTotal: number;
  refundCount: number;
  refundTotal: number;
  feeTotalMfen: number;
  staffId: number | null;
  createdAt: string;
}

/** GET …/statements/:id: the statement and one page of its lines (cursor: the last line number). */
export interface StatementWithLines extends Statement {
  lines: StatementLine[];
  nextLineCursor: number | null;
}

/** POST …/statements: the statement kept, and the run it started (runError when the run failed; the file is in anyway). */
export interface ImportAnswer extends Statement {
  run: Run | null;
  runError: string | null;
}

export interface StatementLine {
  id: number;
  lineNo: number;
  kind: 'payment' | 'refund';
  channelTxnId: string | null;
  orderNo: string | null;
  refundNo: string | null;
  channelRefundId: string | null;
  amount: number;
  feeMfen: number;
  status: string;
  occurredAt: string | null;
  raw: string;
}

export interface Run {
  id: number;
  channel: string;
  billDate: string;
  statementId: number | null;
  status: 'running' | 'done' | 'failed';
  source: 'job' | 'import' | 'staff';
  matchedCount: number;
  matchedCrossDay: number | null;
  itemCount: number;
  pendingCount: number;
  autoResolved: number | null;
  platformPaymentTotal: number;
  platformRefundTotal: number;
  channelPaymentTotal: number;
  channelRefundTotal: number;
  ledgerClearingNet: number;
  feeTotalMfen: number;
  failure: string | null;
  staffId: number | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface Item {
  id: number;
  runId: number;
  channel: string;
  billDate: string;
  code: string;
  kind: 'payment' | 'refund';
  channelTxnId: string | null;
  orderNo: string | null;
  refundNo: string | null;
  statementLineId: number | null;
  platformAmount: number | null;
  channelAmount: number | null;
  /** Channel minus platform, fen: what a write-off moves. */
  difference: number;
  platformStatus: string | null;
  channelStatus: string | null;
  feeDiffMfen: number | null;
  suggestedAction: string;
  status: 'open' | 'resolved';
  resolution: Resolution | null;
  resolutionNote: string | null;
  resolutionRef: string | null;
  resolvedBy: number | null;
  resolvedAt: string | null;
  createdAt: string;
}

export interface ItemEvent {
  id?: number;
  action: string;
  staff?: string | null;
  note: string | null;
  details?: Record<string, unknown>;
  createdAt: string;
}

export interface OrderSummary {
  orderNo: string;
  cardNo?: string | null;
  amount: number;
  status: string;
  channelTxnId?: string | null;
  paidAt?: string | null;
}

export interface RefundSummary {
  refundNo: string;
  amount: number;
  status: string;
  channelRefundId: string | null;
  completedAt: string | null;
}

export interface ItemDetail extends Item {
  events: ItemEvent[];
  line: StatementLine | null;
  order: OrderSummary | null;
  refund: RefundSummary | null;
}

export interface ReportDay {
  channel: string;
  billDate: string;
  runId: number | null;
  status: 'balanced' | 'open_items' | 'nets_differ' | 'not_run' | 'statement_rejected';
  statement: { paymentCount: number; paymentTotal: number; refundCount: number; refundTotal: number; feeTotalMfen: number };
  platform: { paymentCount: number; paymentTotal: number; refundCount: number; refundTotal: number };
  ledgerClearingNet: number;
  statementNetEqualsPlatform: boolean;
  platformNetEqualsLedger: boolean;
  matched: number;
  openItems: number;
  resolvedItems: number;
  openItemIds: number[];
  /** Why the nets differ on a day with nothing open (pool, cross-midnight, items worked earlier…), zh / en. */
  explanations?: string[];
}
