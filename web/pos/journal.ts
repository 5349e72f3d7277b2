/**
 * The terminal's offline journal: the sales it approved alone, each with its sequence number, and
 * the batch being uploaded. Pure functions over a plain state object (saved as JSON in the
 * browser's storage by offline.tsx), so every rule here is unit-tested.
 *
 * Upload safety: the platform posts a sale once per (terminal, seq) and a batch once per
 * (terminal, batchNo). A batch, once prepared, is kept with its number and its sales until an answer
 * arrives; a retry after a lost answer sends exactly the same batch.
 */
import { businessDayOf } from './offlineRules';

export interface OfflineSale {
  seq: number;
  cardNo: string;
  grade: string;
  gradeName: string;
  gradeNameEn?: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  nozzle: number;
  occurredAt: string;
  approvalCode: string;
  businessDay: string;
  /** pending: not yet answered by the platform. posted/duplicate: on the platform (saleId). rejected: refused (code). */
  status: 'pending' | 'posted' | 'duplicate' | 'rejected';
  batchNo?: string;
  saleId?: string;
  code?: string;
  flags?: string[];
  forced?: boolean;
  liability?: string;
}

/** A reversal the terminal owes the platform: an online attempt that got no answer before the sale went offline. */
export interface PendingReversal {
  originalRef: string;
  reason: 'timeout' | 'customer_cancel' | 'pump_failure' | 'bad_response' | 'other';
  at: string;
}

export interface OpenBatch {
  batchNo: string;
  seqs: number[];
  hotlistVersion: number | null;
}

export interface JournalState {
  terminalId: string;
  lastSeq: number;
  sales: OfflineSale[];
  openBatch: OpenBatch | null;
  reversals: PendingReversal[];
}

export const MAX_BATCH = 200;
/** Answered sales kept for the list (newest); pending ones are never dropped. */
export const KEEP_ANSWERED = 500;

export function emptyJournal(terminalId: string): JournalState {
  return { terminalId, lastSeq: 0, sales: [], openBatch: null, reversals: [] };
}

/** Sequence numbers count seconds from here (small numbers, as terminals print them). */
export const SEQ_EPOCH_MS = Date.UTC(2025, 0, 1);

/**
 * The next sequence number. It never repeats for this terminal, even if the browser's storage was
 * wiped (a repeated seq would be taken by the platform as a duplicate and never posted): it is at
 * least the seconds since SEQ_EPOCH_MS — a till makes far fewer than one offline sale a second —
 * and always above the last one used.
 */
export function nextSeq(state: JournalState, nowMs: number): number {
  return Math.max(state.lastSeq + 1, Math.floor((nowMs - SEQ_EPOCH_MS) / 1000));
}

export function addOfflineSale(state: JournalState, sale: Omit<OfflineSale, 'status' | 'businessDay'> & { businessDay?: string }): JournalState {
  if (sale.seq <= state.lastSeq) throw new Error(`offline seq ${sale.seq} is not above ${state.lastSeq}`);
  const full: OfflineSale = { ...sale, businessDay: sale.businessDay ?? businessDayOf(sale.occurredAt), status: 'pending' };
  return { ...state, lastSeq: sale.seq, sales: [...state.sales, full] };
}

export function pendingSales(state: JournalState): OfflineSale[] {
  return state.sales.filter((s) => s.status === 'pending');
}

/** What this terminal approved offline for a card on a business day (rejected ones did not happen). */
export function offlineSpent(state: JournalState, cardNo: string, businessDay: string): number {
  return state.sales.filter((s) => s.cardNo === cardNo && s.businessDay === businessDay && s.status !== 'rejected').reduce((sum, s) => sum + s.amount, 0);
}

/**
 * The batch to send: the open one again when an earlier attempt got no answer, else a new one of
 * the oldest pending sales. null when nothing is pending.
 */
export function prepareBatch(state: JournalState, hotlistVersion: number | null, max = MAX_BATCH): { state: JournalState; batch: OpenBatch } | null {
  if (state.openBatch) return { state, batch: state.openBatch };
  const pending = pendingSales(state).slice(0, max);
  if (pending.length === 0) return null;
  // Unique per terminal: seqs only grow and a sale belongs to one open batch at a time.
  const batchNo = `B${pending[0]!.seq}-${pending.length}`;
  const batch: OpenBatch = { batchNo, seqs: pending.map((s) => s.seq), hotlistVersion };
  return { state: { ...state, openBatch: batch }, batch };
}

/** POST /api/v1/pos/offline-batches body for a prepared batch. */
export function batchBody(state: JournalState, batch: OpenBatch) {
  const bySeq = new Map(state.sales.map((s) => [s.seq, s]));
  return {
    batchNo: batch.batchNo,
    ...(batch.hotlistVersion !== null ? { hotlistVersion: batch.hotlistVersion } : {}),
    sales: batch.seqs.map((seq) => {
      const s = bySeq.get(seq)!;
      return { seq, cardNo: s.cardNo, grade: s.grade, volumeMl: s.volumeMl, unitPrice: s.unitPrice, amount: s.amount, nozzle: s.nozzle, occurredAt: s.occurredAt, approvalCode: s.approvalCode };
    }),
  };
}

export interface BatchAnswer {
  batchId: string;
  batchNo: string;
  replayed: boolean;
  summary: { received: number; posted: number; duplicates: number; rejected: number; forced: number; stationLiability: number };
  results: Array<{ seq: number; status: 'posted' | 'duplicate' | 'rejected'; saleId?: string; forced?: boolean; liability?: string; flags?: string[]; code?: string }>;
}

/**
 * Records the platform's answer for the open batch and closes it. A sale of the batch the answer
 * does not mention stays pending (it goes in the next batch: the platform's per-seq idempotency
 * makes that safe).
 */
export function applyBatchAnswer(state: JournalState, answer: BatchAnswer): JournalState {
  const results = new Map(answer.results.map((r) => [r.seq, r]));
  const sales = state.sales.map((s): OfflineSale => {
    const r = results.get(s.seq);
    if (!r || s.status !== 'pending') return s;
    return { ...s, status: r.status, batchNo: answer.batchNo, saleId: r.saleId, code: r.code, flags: r.flags, forced: r.forced, liability: r.liability };
  });
  return trim({ ...state, sales, openBatch: null });
}

function trim(state: JournalState): JournalState {
  const answered = state.sales.filter((s) => s.status !== 'pending');
  if (answered.length <= KEEP_ANSWERED) return state;
  const drop = new Set(answered.slice(0, answered.length - KEEP_ANSWERED).map((s) => s.seq));
  return { ...state, sales: state.sales.filter((s) => !drop.has(s.seq)) };
}

export function addReversal(state: JournalState, r: PendingReversal): JournalState {
  if (state.reversals.some((x) => x.originalRef === r.originalRef)) return state;
  return { ...state, reversals: [...state.reversals, r] };
}

export function dropReversal(state: JournalState, originalRef: string): JournalState {
  return { ...state, reversals: state.reversals.filter((x) => x.originalRef !== originalRef) };
}

/** Reads a saved journal, or a fresh one when nothing (or something unreadable, or another terminal's) is saved. */
export function parseJournal(raw: string | null, terminalId: string): JournalState {
  if (!raw) return emptyJournal(terminalId);
  try {
    const v = JSON.parse(raw) as Partial<JournalState>;
    if (v.terminalId !== terminalId || !Array.isArray(v.sales) || typeof v.lastSeq !== 'number') return emptyJournal(terminalId);
    return { terminalId, lastSeq: v.lastSeq, sales: v.sales, openBatch: v.openBatch ?? null, reversals: Array.isArray(v.reversals) ? v.reversals : [] };
  } catch {
    return emptyJournal(terminalId);
  }
}
