/**
 * Results of the sales use cases → the fields of the ISO 8583 answer (DE 39 action code, DE 38
 * approval code, DE 4 / DE 30 approved and requested amounts, DE 54 balance, DE 62 allowed
 * products). The session layer adds the echoed fields (echoFields), sets the response MTI and
 * MACs the message.
 */
import type { SaleAnswer, ShiftView } from '../../sales/index.js';
import { formatAmount, responseMti, type FieldValue, type IsoMessage } from '../iso8583/index.js';
import { ACTION, actionCodeFor, actionCodeForError, isApproval } from './action-codes.js';
import type { MappingError } from './mapping-fields.js';
import type { IsoTotals } from './mapping.js';

export type ResponseFields = Map<number, FieldValue>;

/** authorisePump's answer, as far as the 1110 needs it (AuthorisationAnswer is not exported by sales). */
export interface AuthorisationResult {
  readonly status: 'approved' | 'declined';
  readonly approvalCode?: string;
  readonly declineCode?: string;
  readonly actionCode: string;
  readonly grade: string;
  readonly requestedAmount: number;
  readonly heldAmount: number;
  readonly balance: number | null;
}

/** One result of uploadOfflineBatch (OfflineResult). */
export interface OfflineResultLike {
  readonly status: 'posted' | 'duplicate' | 'rejected';
  readonly code?: string;
}

/** reverseByRef's answer (ReversalAnswer). */
export interface ReversalResultLike {
  readonly actionCode: string;
}

/**
 * Request fields the answer carries back (ISO 8583:1993 mandatory/conditional echo, as in the
 * PayEx IFSF profile): the terminal matches the answer by them. DE 4 is echoed unless the answer
 * sets its own (a partial approval).
 */
export const ECHO_FIELDS: readonly number[] = [2, 3, 4, 7, 11, 12, 24, 25, 26, 32, 33, 41, 42, 49, 56, 59];

/** The answer to `request` (response MTI, echoed fields) with `fields` set over them; no MAC. */
export function buildResponse(request: IsoMessage, fields: ReadonlyMap<number, FieldValue>): IsoMessage | null {
  const mti = responseMti(request.mti);
  if (mti === null) return null;
  const out = new Map<number, FieldValue>();
  for (const n of ECHO_FIELDS) {
    const v = request.fields.get(n);
    if (v !== undefined) out.set(n, v);
  }
  for (const [n, v] of fields) out.set(n, v);
  return { mti, fields: out };
}

/** 1110: 000 / 002 partial (DE 4 the amount held, DE 30 the amount asked), DE 38, DE 62 the grade. */
export function authorisationResponse(a: AuthorisationResult, currency = '156'): ResponseFields {
  const f: ResponseFields = new Map();
  f.set(39, a.actionCode);
  if (a.status === 'approved') {
    if (a.approvalCode) f.set(38, a.approvalCode);
    f.set(4, formatAmount(a.heldAmount));
    if (a.heldAmount !== a.requestedAmount) f.set(30, formatAmount(a.requestedAmount) + formatAmount(0));
    // The nozzle's grade is the one product the hold may buy: the pump is authorised for it only.
    f.set(62, formatAllowedProducts([a.grade]));
  }
  if (a.balance !== null) f.set(54, formatBalance(a.balance, currency));
  return f;
}

/** 1210 (post-pay) and 1230 (completion): DE 39, DE 38, DE 4 the amount debited, DE 54 the balance after. */
export function saleResponse(a: SaleAnswer, currency = '156'): ResponseFields {
  const f: ResponseFields = new Map();
  f.set(39, a.actionCode);
  if (a.status === 'approved' && a.approvalCode) f.set(38, a.approvalCode);
  if (a.status === 'approved') f.set(4, formatAmount(a.amount));
  if (a.balance !== null) f.set(54, formatBalance(a.balance, currency));
  return f;
}

/**
 * 1230 to an offline advice: posted, or already posted (a repeat), acknowledges (000) and the
 * terminal stops repeating; a rejected sale answers its reject's action code.
 */
export function offlineResponse(r: OfflineResultLike): ResponseFields {
  return new Map([[39, r.status === 'rejected' ? actionCodeFor(r.code) : ACTION.approved]]);
}

/** 1430: the reversal is accepted (400) whatever there was to undo. */
export function reversalResponse(r: ReversalResultLike): ResponseFields {
  return new Map([[39, r.actionCode]]);
}

/** 1530: 500 in balance, 501 out of balance (the terminal re-uploads). */
export function reconciliationResponse(balanced: boolean): ResponseFields {
  return new Map([[39, balanced ? ACTION.reconciledInBalance : ACTION.reconciledOutOfBalance]]);
}

/** The answer fields when a use case threw (an AppError by its catalogue code, else 909). */
export function errorResponse(err: unknown): ResponseFields {
  return new Map([[39, actionCodeForError(err).iso]]);
}

export function mappingErrorResponse(e: MappingError): ResponseFields {
  return new Map([[39, e.actionCode]]);
}

/** A decline's DE 39 is never an approval, whatever a table says: a guard for the session layer. */
export function isApprovedAnswer(fields: ReadonlyMap<number, FieldValue>): boolean {
  const a = fields.get(39);
  return typeof a === 'string' && isApproval(a);
}

/**
 * DE 62 allowed product set (our layout; the IFSF one is not public): NN the number of product
 * codes, then each code (an 1..8, as DE 63) terminated by '\'. `02` `92\95\` allows 92 and 95.
 */
export function formatAllowedProducts(codes: readonly string[]): string {
  if (codes.length > 99 || codes.some((c) => !/^[A-Za-z0-9]{1,8}$/.test(c))) throw new RangeError('DE 62: up to 99 product codes, an 1..8 each');
  return String(codes.length).padStart(2, '0') + codes.map((c) => `${c}\\`).join('');
}

export function parseAllowedProducts(v: string): string[] | null {
  const m = /^([0-9]{2})((?:[A-Za-z0-9]{1,8}\\)*)$/.exec(v);
  if (!m) return null;
  const codes = m[2]!.split('\\').slice(0, -1);
  return codes.length === Number(m[1]) ? codes : null;
}

/**
 * DE 54 one additional amount (ISO 8583:1993): account type n2 (00 unspecified), amount type n2
 * (02 available balance), currency n3, C or D, n12. A negative balance (arrears) is D.
 */
export function formatBalance(balance: number, currency = '156'): string {
  return `0002${currency}${balance < 0 ? 'D' : 'C'}${formatAmount(Math.abs(balance))}`;
}

export function parseBalance(v: string): number | null {
  const m = /^[0-9]{2}02[0-9]{3}([CD])([0-9]{12})$/.exec(v);
  if (!m) return null;
  return m[1] === 'D' ? -Number(m[2]) : Number(m[2]);
}

/** ISO totals of a 1520 against the platform's computed shift totals (ShiftView.computed). */
export interface TotalsComparison {
  readonly balanced: boolean;
  readonly computed: IsoTotals;
  readonly differences: ReadonlyArray<{ readonly class: keyof Omit<IsoTotals, 'net'>; readonly declared: { count: number; amount: number }; readonly computed: { count: number; amount: number } }>;
}

/**
 * Without a per-kind DE 72 the terminal's totals are compared by ISO class: debits are the
 * approved sales of every flow (online, completion, postpay, offline), debit reversals the voided
 * and reversed ones; terminals take no credits (refunds are staff operations), so any is a
 * difference. `goods` is an "of which" and counts in neither.
 */
export function compareIsoTotals(declared: IsoTotals, computedKinds: ShiftView['computed']): TotalsComparison {
  const pick = (kinds: readonly string[]) =>
    computedKinds.filter((k) => kinds.includes(k.kind)).reduce((acc, k) => ({ count: acc.count + k.count, amount: acc.amount + Number(k.amount) }), { count: 0, amount: 0 });
  const computed: IsoTotals = {
    credits: { count: 0, amount: 0 },
    creditReversals: { count: 0, amount: 0 },
    debits: pick(['online', 'completion', 'postpay', 'offline']),
    debitReversals: pick(['voided', 'reversed']),
    net: null,
  };
  const differences: Array<TotalsComparison['differences'][number]> = [];
  for (const c of ['credits', 'creditReversals', 'debits', 'debitReversals'] as const) {
    if (declared[c].count !== computed[c].count || declared[c].amount !== computed[c].amount) differences.push({ class: c, declared: declared[c], computed: computed[c] });
  }
  return { balanced: differences.length === 0, computed, differences };
}
