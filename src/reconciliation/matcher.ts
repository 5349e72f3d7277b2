/**
 * The matcher of one channel's statement for one business day against the platform's records
 * (docs/reconciliation.md). Pure: the database side loads the inputs and stores the result, so
 * every rule here is exercised by property tests without a server.
 *
 * Every statement line ends in exactly one place (matched, or one item); every platform record
 * the day expects (and every record waiting in the pool) ends in exactly one place (matched, one
 * item, or the pool). The output does not depend on the order of the inputs.
 */
import type { StatementLine } from '../payments/index.js';

export type OrderStatus = 'created' | 'paying' | 'paid' | 'credited' | 'closed' | 'failed' | 'refunded';
export type RefundStatus = 'requested' | 'processing' | 'succeeded' | 'failed';
export type ItemKind = 'payment' | 'refund';

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
export type ItemCode = (typeof ITEM_CODES)[number];
export const SUGGESTED_ACTIONS = ['credit_card', 'refund', 'write_off', 'explain', 'investigate'] as const;
export type SuggestedAction = (typeof SUGGESTED_ACTIONS)[number];

/** A recharge order as the channel should know it. */
export interface PlatformPayment {
  id: string;
  orderNo: string;
  channelTxnId: string | null;
  /** What was paid (paid_amount), else the order's amount. Fen. */
  amount: number;
  status: OrderStatus;
  /** The record's channel day minus the bill date, in days; null when it was never paid. */
  dayOffset: number | null;
  /** An accepted statement of another day already shows it: this day does not expect it. */
  seenElsewhere: boolean;
}

export interface PlatformRefund {
  id: string;
  refundNo: string;
  channelRefundId: string | null;
  orderId: string | null;
  orderNo: string | null;
  amount: number;
  status: RefundStatus;
  /** Succeeded: its completion day; requested/processing: its creation day; minus the bill date. Null: failed. */
  dayOffset: number | null;
  seenElsewhere: boolean;
}

/** A platform record an earlier statement did not show (recon_pending). */
export interface PendingEntry {
  kind: ItemKind;
  /** The order's or refund's id. */
  id: string;
  firstSeen: string;
}

export interface MatchOptions {
  channel: string;
  billDate: string;
  /** Days a record may be missing before it is reported (config.reconPoolDays). */
  poolDays: number;
  /** The channel's fee rate in parts per million of the amount; absent: fees are not compared. */
  feeRatePpm?: number | null;
  /** Accepted fee difference, thousandths of a fen (default 1 fen: per-line rounding). */
  feeToleranceMfen?: number;
}

export interface ItemDraft {
  code: ItemCode;
  kind: ItemKind;
  /** The statement line the item stands for (null: a platform record no line showed). */
  lineNo: number | null;
  /** The platform record the item stands for, when the item owns it (it is then nowhere else). */
  owns: { kind: ItemKind; id: string } | null;
  orderId: string | null;
  refundId: string | null;
  channelTxnId: string | null;
  orderNo: string | null;
  refundNo: string | null;
  platformAmount: number | null;
  channelAmount: number | null;
  platformStatus: string | null;
  channelStatus: string | null;
  feeDiffMfen: number | null;
  suggestedAction: SuggestedAction;
  /** One open item per discrepancy: a re-run finds the same key. */
  dedupeKey: string;
}

export interface MatchedPair {
  kind: ItemKind;
  lineNo: number;
  recordId: string;
  /** The platform's record falls on the adjacent day (midnight cut-over). */
  crossDay: boolean;
}

export interface MatchResult {
  matched: MatchedPair[];
  items: ItemDraft[];
  /** Pool changes: records to add (first seen today), to keep waiting, and to take out. */
  pool: { add: PendingEntry[]; keep: PendingEntry[]; release: PendingEntry[] };
  totals: {
    matched: number;
    matchedCrossDay: number;
    statementPaymentCount: number;
    statementPaymentTotal: number;
    statementRefundCount: number;
    statementRefundTotal: number;
    statementFeeMfen: number;
  };
}

const PAID: ReadonlySet<OrderStatus> = new Set(['paid', 'credited', 'refunded']);
export const isPaid = (s: string): boolean => PAID.has(s as OrderStatus);

/**
 * The channel's word for a line, in three states. Every statement lists successful payments; a
 * line says otherwise only with a failure word (WeChat refund 退款状态 CLOSED, a bank's 失败), or
 * PROCESSING for a refund the channel had not finished when the file was cut. WeChat's ABNORMAL
 * (the payer's bank refused the refund; finance completes it by hand) is not final: processing.
 */
export function lineState(status: string): 'success' | 'processing' | 'failed' {
  const s = status.trim().toUpperCase();
  if (s === 'PROCESSING' || s === '处理中' || s === 'ABNORMAL') return 'processing';
  if (/^(FAIL|FAILED|FAILURE|CLOSED|REVOKED|PAYERROR|CHANGE|NOTPAY|失败|关闭|撤销|已撤销|退票)$/.test(s)) return 'failed';
  return 'success';
}

/** Days from `from` to `to` (YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * What the item means for the channel's money against the platform's, in fen: positive when the
 * channel holds more than the platform's records say (money in that reached no card, a refund the
 * platform made that the channel did not), negative the other way. A write-off moves this much.
 */
export function itemEffect(item: { code: string; platformAmount: number | null; channelAmount: number | null; platformStatus: string | null }): number {
  const c = item.channelAmount ?? 0;
  const p = item.platformAmount ?? 0;
  switch (item.code) {
    case 'CHANNEL_ONLY':
    case 'DUPLICATE':
      return c;
    case 'PLATFORM_ONLY':
      return -p;
    case 'AMOUNT_DIFFERS':
      return c - p;
    case 'STATUS_DIFFERS':
      return item.platformStatus !== null && isPaid(item.platformStatus) ? -p : c;
    case 'REFUND_CHANNEL_ONLY':
    case 'REFUND_DUPLICATE':
      return -c;
    case 'REFUND_PLATFORM_ONLY':
      return p;
    case 'REFUND_AMOUNT_DIFFERS':
      return p - c;
    case 'REFUND_STATUS_DIFFERS':
      return item.platformStatus === 'succeeded' ? p : -c;
    default:
      return 0;
  }
}

const byLineNo = (a: StatementLine, b: StatementLine) => a.lineNo - b.lineNo;

export function matchStatement(
  lines: readonly StatementLine[],
  platformPayments: readonly PlatformPayment[],
  platformRefunds: readonly PlatformRefund[],
  pending: readonly PendingEntry[],
  opts: MatchOptions,
): MatchResult {
  const { channel, billDate } = opts;
  const sorted = [...lines].sort(byLineNo);
  // Records sorted by id: which of two records sharing a key wins must not depend on input order.
  const payments = [...platformPayments].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const refunds = [...platformRefunds].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const payByTxn = new Map<string, PlatformPayment>();
  const payByNo = new Map<string, PlatformPayment>();
  for (const p of payments) {
    if (p.channelTxnId !== null && !payByTxn.has(p.channelTxnId)) payByTxn.set(p.channelTxnId, p);
    if (!payByNo.has(p.orderNo)) payByNo.set(p.orderNo, p);
  }
  const refByNo = new Map<string, PlatformRefund>();
  const refByChannelId = new Map<string, PlatformRefund>();
  for (const r of refunds) {
    if (!refByNo.has(r.refundNo)) refByNo.set(r.refundNo, r);
    if (r.channelRefundId !== null && !refByChannelId.has(r.channelRefundId)) refByChannelId.set(r.channelRefundId, r);
  }

  const matched: MatchedPair[] = [];
  const items: ItemDraft[] = [];
  /** Records a line took (matched or owned by that line's item): never expected elsewhere. */
  const claimed = new Set<string>();
  const occurrences = new Map<string, number>();

  const lineItem = (line: StatementLine, code: ItemCode, suggested: SuggestedAction, rec: PlatformPayment | PlatformRefund | null, owns: boolean, fee: number | null = null): void => {
    const lineKey = line.kind === 'payment' ? (line.channelTxnId ?? line.orderNo) : (line.channelRefundId ?? line.refundNo);
    const base = `${channel}|${billDate}|${code}|${line.kind}:${lineKey ?? `#${line.lineNo}`}`;
    const n = (occurrences.get(base) ?? 0) + 1;
    occurrences.set(base, n);
    const isRefund = line.kind === 'refund';
    const payment = !isRefund ? (rec as PlatformPayment | null) : null;
    const refund = isRefund ? (rec as PlatformRefund | null) : null;
    items.push({
      code,
      kind: line.kind,
      lineNo: line.lineNo,
      owns: rec && owns ? { kind: line.kind, id: rec.id } : null,
      orderId: payment?.id ?? refund?.orderId ?? null,
      refundId: refund?.id ?? null,
      channelTxnId: line.channelTxnId ?? (payment?.channelTxnId ?? null),
      orderNo: line.orderNo ?? payment?.orderNo ?? refund?.orderNo ?? null,
      refundNo: isRefund ? (line.refundNo ?? refund?.refundNo ?? null) : null,
      platformAmount: rec?.amount ?? null,
      channelAmount: line.amount,
      platformStatus: rec?.status ?? null,
      channelStatus: line.status,
      feeDiffMfen: fee,
      suggestedAction: suggested,
      dedupeKey: n === 1 ? base : `${base}#${n}`,
    });
  };

  const seenTxn = new Set<string>();
  const seenRefundKey = new Set<string>();
  let matchedCrossDay = 0;
  const tolerance = opts.feeToleranceMfen ?? 1000;

  for (const line of sorted) {
    const state = lineState(line.status);
    if (line.kind === 'payment') {
      const key = line.channelTxnId;
      const rec = (key !== null ? payByTxn.get(key) : undefined) ?? (line.orderNo !== null ? payByNo.get(line.orderNo) : undefined) ?? null;
      if (key !== null && seenTxn.has(key)) {
        lineItem(line, 'DUPLICATE', 'refund', rec, false);
        continue;
      }
      if (key !== null) seenTxn.add(key);
      if (rec === null) {
        lineItem(line, 'CHANNEL_ONLY', 'investigate', null, false);
        continue;
      }
      // A second payment for an order: the order already took another line, or it was paid under another channel id.
      if (claimed.has(`payment:${rec.id}`) || (isPaid(rec.status) && rec.channelTxnId !== null && key !== null && rec.channelTxnId !== key)) {
        lineItem(line, 'DUPLICATE', 'refund', rec, false);
        continue;
      }
      claimed.add(`payment:${rec.id}`);
      if (isPaid(rec.status)) {
        if (state === 'failed') lineItem(line, 'STATUS_DIFFERS', 'investigate', rec, true);
        else if (line.amount !== rec.amount) lineItem(line, 'AMOUNT_DIFFERS', 'investigate', rec, true);
        else {
          const fee = feeDiff(line, opts.feeRatePpm);
          if (fee !== null && Math.abs(fee) > tolerance) lineItem(line, 'FEE_DIFFERS', 'explain', rec, true, fee);
          else {
            const crossDay = rec.dayOffset !== null && rec.dayOffset !== 0;
            if (crossDay) matchedCrossDay++;
            matched.push({ kind: 'payment', lineNo: line.lineNo, recordId: rec.id, crossDay });
          }
        }
      } else if (state === 'success') {
        // Paid at the channel, not on the platform (closed, failed, or the notification never came).
        lineItem(line, 'STATUS_DIFFERS', 'credit_card', rec, false);
      } else if (line.amount !== rec.amount) {
        lineItem(line, 'AMOUNT_DIFFERS', 'investigate', rec, false);
      } else {
        // Neither side has the money: they agree.
        matched.push({ kind: 'payment', lineNo: line.lineNo, recordId: rec.id, crossDay: false });
      }
      continue;
    }

    const key = line.channelRefundId ?? line.refundNo;
    const rec = (line.refundNo !== null ? refByNo.get(line.refundNo) : undefined) ?? (line.channelRefundId !== null ? refByChannelId.get(line.channelRefundId) : undefined) ?? null;
    if (key !== null && seenRefundKey.has(key)) {
      lineItem(line, 'REFUND_DUPLICATE', 'investigate', rec, false);
      continue;
    }
    if (key !== null) seenRefundKey.add(key);
    if (rec === null) {
      lineItem(line, 'REFUND_CHANNEL_ONLY', 'investigate', null, false);
      continue;
    }
    if (claimed.has(`refund:${rec.id}`)) {
      lineItem(line, 'REFUND_DUPLICATE', 'investigate', rec, false);
      continue;
    }
    claimed.add(`refund:${rec.id}`);
    // Only a flat contradiction counts: a refund still processing on one side finishes by itself.
    if ((state === 'failed' && rec.status === 'succeeded') || (state === 'success' && rec.status === 'failed')) {
      lineItem(line, 'REFUND_STATUS_DIFFERS', 'investigate', rec, true);
    } else if (line.amount !== rec.amount) {
      lineItem(line, 'REFUND_AMOUNT_DIFFERS', 'investigate', rec, true);
    } else {
      const crossDay = rec.dayOffset !== null && rec.dayOffset !== 0;
      if (crossDay) matchedCrossDay++;
      matched.push({ kind: 'refund', lineNo: line.lineNo, recordId: rec.id, crossDay });
    }
  }

  // Platform records the day expects, and those waiting in the pool.
  const pool: MatchResult['pool'] = { add: [], keep: [], release: [] };
  const pendingByKey = new Map<string, PendingEntry>();
  for (const p of [...pending].sort((a, b) => (a.firstSeen < b.firstSeen ? -1 : a.firstSeen > b.firstSeen ? 1 : 0))) {
    const k = `${p.kind}:${p.id}`;
    if (!pendingByKey.has(k)) pendingByKey.set(k, p);
  }
  const paymentsById = new Map(payments.map((p) => [p.id, p]));
  const refundsById = new Map(refunds.map((r) => [r.id, r]));
  const expectedPayment = (p: PlatformPayment) => isPaid(p.status) && p.dayOffset === 0 && !p.seenElsewhere;
  const expectedRefund = (r: PlatformRefund) => r.status !== 'failed' && r.dayOffset === 0 && !r.seenElsewhere;
  const subjects: Array<{ kind: ItemKind; rec: PlatformPayment | PlatformRefund | undefined; id: string; entry: PendingEntry | undefined }> = [];
  for (const p of payments) if (expectedPayment(p)) subjects.push({ kind: 'payment', rec: p, id: p.id, entry: pendingByKey.get(`payment:${p.id}`) });
  for (const r of refunds) if (expectedRefund(r)) subjects.push({ kind: 'refund', rec: r, id: r.id, entry: pendingByKey.get(`refund:${r.id}`) });
  const subjectKeys = new Set(subjects.map((s) => `${s.kind}:${s.id}`));
  for (const [k, entry] of pendingByKey) {
    if (subjectKeys.has(k)) continue;
    subjects.push({ kind: entry.kind, rec: entry.kind === 'payment' ? paymentsById.get(entry.id) : refundsById.get(entry.id), id: entry.id, entry });
  }

  for (const s of subjects) {
    const k = `${s.kind}:${s.id}`;
    if (claimed.has(k)) {
      if (s.entry) pool.release.push(s.entry);
      continue;
    }
    // Gone from what the channel should show (a refund that failed, an order no longer loaded): nothing to report.
    const stillOwed = s.rec !== undefined && (s.kind === 'payment' ? isPaid(s.rec.status) : s.rec.status !== 'failed');
    if (!stillOwed) {
      if (s.entry) pool.release.push(s.entry);
      continue;
    }
    const rec = s.rec!;
    const firstSeen = s.entry?.firstSeen ?? billDate;
    if (daysBetween(firstSeen, billDate) >= opts.poolDays) {
      const code: ItemCode = s.kind === 'payment' ? 'PLATFORM_ONLY' : 'REFUND_PLATFORM_ONLY';
      const payment = s.kind === 'payment' ? (rec as PlatformPayment) : null;
      const refund = s.kind === 'refund' ? (rec as PlatformRefund) : null;
      items.push({
        code,
        kind: s.kind,
        lineNo: null,
        owns: { kind: s.kind, id: s.id },
        orderId: payment?.id ?? refund?.orderId ?? null,
        refundId: refund?.id ?? null,
        channelTxnId: payment?.channelTxnId ?? null,
        orderNo: payment?.orderNo ?? refund?.orderNo ?? null,
        refundNo: refund?.refundNo ?? null,
        platformAmount: rec.amount,
        channelAmount: null,
        platformStatus: rec.status,
        channelStatus: null,
        feeDiffMfen: null,
        suggestedAction: 'investigate',
        // No bill date: one record is reported once, whichever day's run finds it missing for good.
        dedupeKey: `${channel}|${code}|${s.kind}:${s.id}`,
      });
      if (s.entry) pool.release.push(s.entry);
    } else if (s.entry) pool.keep.push(s.entry);
    else pool.add.push({ kind: s.kind, id: s.id, firstSeen: billDate });
  }

  let paymentCount = 0;
  let paymentTotal = 0;
  let refundCount = 0;
  let refundTotal = 0;
  let fees = 0;
  for (const l of sorted) {
    if (l.kind === 'payment') {
      paymentCount++;
      paymentTotal += l.amount;
    } else {
      refundCount++;
      refundTotal += l.amount;
    }
    fees += l.feeMfen;
  }
  const order = (a: PendingEntry, b: PendingEntry) => (`${a.kind}:${a.id}` < `${b.kind}:${b.id}` ? -1 : 1);
  pool.add.sort(order);
  pool.keep.sort(order);
  pool.release.sort(order);
  items.sort((a, b) => (a.lineNo ?? Number.MAX_SAFE_INTEGER) - (b.lineNo ?? Number.MAX_SAFE_INTEGER) || (a.dedupeKey < b.dedupeKey ? -1 : a.dedupeKey > b.dedupeKey ? 1 : 0));
  return {
    matched,
    items,
    pool,
    totals: {
      matched: matched.length,
      matchedCrossDay,
      statementPaymentCount: paymentCount,
      statementPaymentTotal: paymentTotal,
      statementRefundCount: refundCount,
      statementRefundTotal: refundTotal,
      statementFeeMfen: fees,
    },
  };
}

/** The line's fee minus the fee the configured rate gives, thousandths of a fen; null when no rate is configured. */
function feeDiff(line: StatementLine, ratePpm: number | null | undefined): number | null {
  if (ratePpm === null || ratePpm === undefined) return null;
  // amount (fen) × rate (ppm) / 1e6 fen = amount × rate / 1000 mfen.
  const expected = Math.round((line.amount * ratePpm) / 1000);
  return line.feeMfen - expected;
}
