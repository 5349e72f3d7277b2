/**
 * Decoded ISO 8583 messages → the inputs of the sales use cases the HTTP terminal API calls, so a
 * forecourt POS and an HTTP terminal take one path for every sale (issue 6 §2). Pure: no database,
 * no keys. What the use cases need that a message does not carry in clear (the PIN) travels as
 * the encrypted block for the key store to verify; what must be looked up (an authorisation by
 * its reference) is named by the reference the original was posted under.
 *
 *   1100 fc 101 (estimated)  → authorisePump  { mode: 'preauth', amount: DE 4 }
 *   1100 fc 100 (accurate)   → authorisePump  { mode: 'prepay',  amount: DE 4 = the preset }
 *   1200 fc 200              → decideSale     (indoor post-pay: fuel line + goods lines of DE 63)
 *   1220/1221 fc 201, 202    → completeAuthorisation (the 1100 named by DE 56, for the delivered amount)
 *   1220/1221 fc 200         → uploadOfflineBatch, a batch of one (stand-in sale)
 *   1420/1421 fc 400         → reverseByRef   { originalRef from DE 56, reason from DE 25 }
 *   1520/1521 fc 500, 501    → closeShift     (declared totals)
 */
import type { SaleRequest } from '../../sales/index.js';
import type { closeShift } from '../../sales/index.js';
import { checkProductLines, FUNCTION_CODE, isRepeat, MTI, parseOriginalData, REASON_CODE, type IsoMessage, type ProductLine, type Scaled } from '../iso8583/index.js';
import {
  amount,
  batchSequence,
  cardNo,
  checkCurrency,
  checkProcessingCode,
  de48,
  environment,
  fail,
  functionCode,
  localTimeToIso,
  mapped,
  MAX_SALE_AMOUNT,
  pumpNozzle,
  requireBytes,
  requireDe63,
  requireText,
  text,
  type Environment,
  type Mapped,
} from './mapping-fields.js';

export type { Mapped, MappingError, MappingErrorCode, Environment } from './mapping-fields.js';

export interface MappingContext {
  /** The station's IANA time zone: DE 12 is station local time (config.timeZone). */
  readonly timeZone: string;
  /** ISO 4217 numeric the host settles in; a DE 49 that differs is refused. Default '156' (CNY). */
  readonly currency?: string;
}

/**
 * The terminal's own key of a request: what exactly-once and reversals name it by. DE 56 of a
 * completion or reversal carries the original's MTI, STAN and local time, so the reference is
 * built from exactly those (per terminal: the use cases scope references by terminal).
 */
export interface RequestKey {
  readonly stan: string;
  readonly localDateTime: string;
  /** `iso:<STAN>:<YYMMDDhhmmss>`, the sale path's terminal reference (Idempotency-Key). */
  readonly terminalRef: string;
  /** 48-4 BBBBSSSSSS, when the terminal sent it. */
  readonly batchSequence: string | null;
}

/** The encrypted PIN as it arrived: the key store translates / verifies it; no clear PIN here. */
export interface PinData {
  readonly block: Buffer;
  /** 48-14 PIN encryption methodology (iso8583.PIN_METHODS), when sent. */
  readonly method: string | null;
  /** DE 61 DUKPT KSN (hex), when sent. */
  readonly ksn: string | null;
}

/** authorisePump's request (sales/authorisations.service.ts AuthorisationRequest) without the PIN. */
export interface AuthorisationInput {
  readonly cardNo: string;
  readonly nozzle: number;
  readonly mode: 'preauth' | 'prepay';
  readonly amount: number;
}

/** completeAuthorisation's body (POST /api/v1/pos/authorisations/:id/completion). */
export interface CompletionInput {
  readonly volumeMl: number;
  readonly unitPrice: number;
  /** The fuel delivered, fen (the goods are priced by the catalogue). */
  readonly amount: number;
  readonly items?: Array<{ sku: string; quantity: number }>;
}

/** uploadOfflineBatch's input (sales/offline-batch.service.ts OfflineBatchInput), one sale. */
export interface OfflineBatchInput {
  readonly batchNo: string;
  readonly sales: [
    {
      seq: number;
      cardNo: string;
      grade: string;
      volumeMl: number;
      unitPrice: number;
      amount: number;
      nozzle: number;
      occurredAt: string;
      approvalCode: string;
    },
  ];
}

/** reverseByRef's request (sales/reversals.service.ts REVERSAL_REASONS). */
export type ReversalReason = 'timeout' | 'customer_cancel' | 'pump_failure' | 'bad_response' | 'other';
export interface ReversalInput {
  readonly originalRef: string;
  readonly reason: ReversalReason;
}

export type CloseShiftInput = Parameters<typeof closeShift>[2];
export type DeclaredTotal = CloseShiftInput['declared'][number];
export type ShiftKind = DeclaredTotal['kind'];

/** The ISO 8583 reconciliation totals of a 1520 (DE 74–77 counts, 86–89 amounts, 97 net). */
export interface IsoTotals {
  readonly credits: { count: number; amount: number };
  readonly creditReversals: { count: number; amount: number };
  readonly debits: { count: number; amount: number };
  readonly debitReversals: { count: number; amount: number };
  /** Signed: credits − debits as the terminal states it (DE 97 C = positive). */
  readonly net: number | null;
}

interface Base {
  readonly mti: string;
  readonly key: RequestKey;
  /** 1221 / 1421 / 1521: a repeat of an advice the terminal got no answer to. */
  readonly repeat: boolean;
}

export type MappedRequest =
  | (Base & { readonly kind: 'authorisation'; readonly environment: Environment; readonly pin: PinData; readonly input: AuthorisationInput })
  | (Base & { readonly kind: 'sale'; readonly environment: Environment; readonly pin: PinData; readonly input: Omit<SaleRequest, 'pin'> })
  | (Base & {
      readonly kind: 'completion';
      /** The 1100's terminal reference: the authorisation to complete is the one posted under it. */
      readonly originalRef: string;
      /** fc 201 says the amount is the one authorised; 202 that it differs. The use case checks neither: reported. */
      readonly sameAmount: boolean;
      /** DE 4: what the terminal says it sold in all (fuel and goods); the advice posts goods only if they add up to it. */
      readonly terminalTotal: number;
      readonly approvalCode: string | null;
      readonly input: CompletionInput;
    })
  | (Base & { readonly kind: 'offline'; readonly input: OfflineBatchInput })
  | (Base & { readonly kind: 'reversal'; readonly originalAmount: number; readonly input: ReversalInput })
  | (Base & {
      readonly kind: 'reconciliation';
      /** fc 500 closes the shift; 501 is a checkpoint (compare, do not close). */
      readonly final: boolean;
      readonly totals: IsoTotals;
      /** Per-kind totals from DE 72 (`kind=count/amount;…`), when the terminal sends them: closeShift's input. */
      readonly close: CloseShiftInput | null;
    });

const DEFAULT_CURRENCY = '156';

/**
 * Translates one decoded request or advice. Never throws: a message the use cases cannot take
 * gives `{ ok: false, error }` with the data element at fault and the action code to answer.
 */
export function mapRequest(msg: IsoMessage, ctx: MappingContext): Mapped<MappedRequest> {
  return mapped(() => {
    switch (msg.mti) {
      case MTI.authorisationRequest:
        return mapAuthorisation(msg, ctx);
      case MTI.financialRequest:
        return mapSale(msg, ctx);
      case MTI.financialAdvice:
      case MTI.financialAdviceRepeat:
        return mapAdvice(msg, ctx);
      case MTI.reversalAdvice:
      case MTI.reversalAdviceRepeat:
        return mapReversal(msg, ctx);
      case MTI.reconciliationAdvice:
      case MTI.reconciliationAdviceRepeat:
        return mapReconciliation(msg, ctx);
      default:
        return fail('UNSUPPORTED_MESSAGE', `MTI ${msg.mti} is not a sale message`);
    }
  });
}

export function terminalRefOf(stan: string, localDateTime: string): string {
  return `iso:${stan}:${localDateTime}`;
}

function keyOf(msg: IsoMessage): RequestKey {
  const stan = requireText(msg, 11);
  const localDateTime = requireText(msg, 12);
  if (!/^[0-9]{6}$/.test(stan)) fail('BAD_FIELD', 'DE 11: n6', 11);
  if (!/^[0-9]{12}$/.test(localDateTime)) fail('BAD_FIELD', 'DE 12: n12 YYMMDDhhmmss', 12);
  const bs = de48(msg)?.batchSequence;
  return { stan, localDateTime, terminalRef: terminalRefOf(stan, localDateTime), batchSequence: bs ?? null };
}

function base(msg: IsoMessage, ctx: MappingContext): Base {
  requireText(msg, 41); // the session layer found the terminal by it; a message without it is malformed here too
  checkProcessingCode(msg);
  checkCurrency(msg, ctx.currency ?? DEFAULT_CURRENCY);
  return { mti: msg.mti, key: keyOf(msg), repeat: isRepeat(msg.mti) };
}

function pinOf(msg: IsoMessage): PinData {
  const block = requireBytes(msg, 52);
  return { block, method: de48(msg)?.pinMethod ?? null, ksn: text(msg, 61) ?? null };
}

function mapAuthorisation(msg: IsoMessage, ctx: MappingContext): MappedRequest {
  const b = base(msg, ctx);
  const fc = functionCode(msg, [FUNCTION_CODE.authEstimated, FUNCTION_CODE.authAccurate]);
  const env = environment(msg, true)!;
  const card = cardNo(msg);
  const pin = pinOf(msg);
  const { nozzle } = pumpNozzle(msg);
  // Prepay (pos.md §2.2 model A) is a pre-authorisation of the preset, completed for what was delivered.
  const mode = fc === FUNCTION_CODE.authAccurate ? 'prepay' : 'preauth';
  return { ...b, kind: 'authorisation', environment: env, pin, input: { cardNo: card, nozzle, mode, amount: amount(msg, { min: 1, max: MAX_SALE_AMOUNT }) } };
}

function mapSale(msg: IsoMessage, ctx: MappingContext): MappedRequest {
  const b = base(msg, ctx);
  functionCode(msg, [FUNCTION_CODE.financial]);
  const env = environment(msg, true)!;
  const card = cardNo(msg);
  const pin = pinOf(msg);
  const total = amount(msg, { min: 1, max: MAX_SALE_AMOUNT });
  const lines = productLines(msg, total);
  const input: Omit<SaleRequest, 'pin'> = { cardNo: card, amount: total };
  if (lines.fuel) {
    Object.assign(input, { grade: lines.fuel.grade, volumeMl: lines.fuel.volumeMl, unitPrice: lines.fuel.unitPrice, nozzle: pumpNozzle(msg).nozzle });
  }
  if (lines.items.length > 0) input.items = lines.items;
  return { ...b, kind: 'sale', environment: env, pin, input };
}

function mapAdvice(msg: IsoMessage, ctx: MappingContext): MappedRequest {
  const b = base(msg, ctx);
  const fc = functionCode(msg, [FUNCTION_CODE.adviceStandIn, FUNCTION_CODE.adviceCompletionSameAmount, FUNCTION_CODE.adviceCompletionDifferentAmount]);
  environment(msg, false);
  const total = amount(msg, { min: 1, max: MAX_SALE_AMOUNT });
  const lines = productLines(msg, total);
  if (fc === FUNCTION_CODE.adviceStandIn) return mapOffline(msg, ctx, b, total, lines);

  const original = originalOf(msg, [MTI.authorisationRequest]);
  if (!lines.fuel) fail('MISSING_FIELD', 'a completion needs a fuel line (unit L) in DE 63', 63);
  const input: CompletionInput = {
    volumeMl: lines.fuel.volumeMl,
    unitPrice: lines.fuel.unitPrice,
    amount: lines.fuel.amount,
    ...(lines.items.length > 0 ? { items: lines.items } : {}),
  };
  return {
    ...b,
    kind: 'completion',
    originalRef: original,
    sameAmount: fc === FUNCTION_CODE.adviceCompletionSameAmount,
    terminalTotal: total,
    approvalCode: text(msg, 38) ?? null,
    input,
  };
}

function mapOffline(msg: IsoMessage, ctx: MappingContext, b: Base, total: number, lines: Lines): MappedRequest {
  const card = cardNo(msg);
  const { batch, sequence } = batchSequence(msg);
  const approvalCode = requireText(msg, 38);
  if (!/^[0-9]{6}$/.test(approvalCode)) fail('BAD_FIELD', 'DE 38: the offline approval code is 6 digits', 38);
  if (!lines.fuel || lines.items.length > 0) fail('UNSUPPORTED_FUNCTION', 'an offline advice carries exactly one fuel line and no goods', 63);
  const { nozzle } = pumpNozzle(msg);
  return {
    ...b,
    kind: 'offline',
    input: {
      // One advice is one batch: the batch number must name these contents only (a repeat
      // then replays the first answer; another sale under it would be OFFLINE_BATCH_CONFLICT).
      batchNo: `iso-${batch}-${sequence}`,
      sales: [
        {
          // The terminal's sequence across batches: BBBBSSSSSS read as one number.
          seq: Number(batch + sequence),
          cardNo: card,
          grade: lines.fuel.grade,
          volumeMl: lines.fuel.volumeMl,
          unitPrice: lines.fuel.unitPrice,
          amount: total,
          nozzle,
          occurredAt: localTimeToIso(b.key.localDateTime, ctx.timeZone),
          approvalCode,
        },
      ],
    },
  };
}

const REVERSAL_REASON: Readonly<Record<string, ReversalReason>> = {
  [REASON_CODE.customerCancel]: 'customer_cancel',
  [REASON_CODE.invalidResponse]: 'bad_response',
  [REASON_CODE.timeout]: 'timeout',
};

function mapReversal(msg: IsoMessage, ctx: MappingContext): MappedRequest {
  const b = base(msg, ctx);
  functionCode(msg, [FUNCTION_CODE.reversalFull]);
  const reasonCode = requireText(msg, 25);
  // Advices are not reversed (a completion or an offline sale that should not stand is voided):
  // only a request the terminal may have got no answer to can be.
  const originalRef = originalOf(msg, [MTI.authorisationRequest, MTI.financialRequest]);
  const originalAmount = amount(msg, { min: 0, max: MAX_SALE_AMOUNT });
  return { ...b, kind: 'reversal', originalAmount, input: { originalRef, reason: REVERSAL_REASON[reasonCode] ?? 'other' } };
}

function mapReconciliation(msg: IsoMessage, ctx: MappingContext): MappedRequest {
  const b = base(msg, ctx);
  const fc = functionCode(msg, [FUNCTION_CODE.reconciliationFinal, FUNCTION_CODE.reconciliationCheckpoint]);
  const count = (n: number): number => {
    const v = text(msg, n);
    if (v === undefined) return 0;
    if (!/^[0-9]{10}$/.test(v)) fail('BAD_FIELD', `DE ${n}: n10`, n);
    return Number(v);
  };
  const sum = (n: number): number => {
    const v = text(msg, n);
    if (v === undefined) return 0;
    if (!/^[0-9]{16}$/.test(v) || !Number.isSafeInteger(Number(v))) fail('BAD_FIELD', `DE ${n}: n16 minor units`, n);
    return Number(v);
  };
  if (![74, 75, 76, 77, 86, 87, 88, 89].some((n) => msg.fields.has(n))) fail('MISSING_FIELD', 'a reconciliation needs its totals (DE 74–77, 86–89)', 76);
  const totals: IsoTotals = {
    credits: { count: count(74), amount: sum(86) },
    creditReversals: { count: count(75), amount: sum(87) },
    debits: { count: count(76), amount: sum(88) },
    debitReversals: { count: count(77), amount: sum(89) },
    net: netOf(text(msg, 97)),
  };
  const declared = declaredOf(text(msg, 72));
  return { ...b, kind: 'reconciliation', final: fc === FUNCTION_CODE.reconciliationFinal, totals, close: declared ? { declared } : null };
}

function netOf(v: string | undefined): number | null {
  if (v === undefined) return null;
  const m = /^([CD])([0-9]{16})$/.exec(v);
  if (!m || !Number.isSafeInteger(Number(m[2]))) fail('BAD_FIELD', 'DE 97: C or D then n16', 97);
  return m[1] === 'C' ? Number(m[2]) : -Number(m[2]);
}

const SHIFT_KINDS: readonly ShiftKind[] = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'];
const MAX_DECLARED = 999_999_999_999;

/** DE 72 in a 1520: `kind=count/amount` entries separated by ';' (our layout; docs/pos-mapping.md). */
export function declaredOf(v: string | undefined): DeclaredTotal[] | null {
  if (v === undefined) return null;
  const out: DeclaredTotal[] = [];
  for (const part of v.split(';')) {
    const m = /^([a-z]+)=([0-9]{1,12})\/([0-9]{1,12})$/.exec(part);
    const kind = m?.[1] as ShiftKind | undefined;
    if (!m || !kind || !SHIFT_KINDS.includes(kind)) fail('BAD_FIELD', `DE 72: kind=count/amount;… with kind one of ${SHIFT_KINDS.join(', ')}`, 72);
    if (out.some((x) => x.kind === kind)) fail('BAD_FIELD', `DE 72: ${kind} twice`, 72);
    const count = Number(m[2]);
    const amt = Number(m[3]);
    if (count > MAX_DECLARED || amt > MAX_DECLARED) fail('BAD_FIELD', 'DE 72: value too large', 72);
    out.push({ kind, count, amount: amt });
  }
  return out;
}

export function formatDeclared(declared: readonly DeclaredTotal[]): string {
  return declared.map((d) => `${d.kind}=${d.count}/${d.amount}`).join(';');
}

/** DE 56 → the original's terminal reference; only the listed original MTIs may be named. */
function originalOf(msg: IsoMessage, mtis: readonly string[]): string {
  const p = parseOriginalData(requireText(msg, 56));
  if (!p.ok) fail('BAD_FIELD', p.detail, 56);
  if (!mtis.includes(p.value.mti)) fail('UNSUPPORTED_FUNCTION', `DE 56 names a ${p.value.mti}; a ${msg.mti} refers to ${mtis.join(' or ')}`, 56);
  return terminalRefOf(p.value.stan, p.value.localDateTime);
}

interface FuelPart {
  readonly grade: string;
  readonly volumeMl: number;
  readonly unitPrice: number;
  readonly amount: number;
}
interface Lines {
  readonly fuel: FuelPart | null;
  readonly items: Array<{ sku: string; quantity: number }>;
}

/** A fuel line is measured in litres; every other unit is a store item priced by the catalogue. */
export const FUEL_UNIT = 'L';
const MAX_VOLUME_ML = 2_000_000;
const MAX_UNIT_PRICE = 100_000;
const MAX_ITEM_QUANTITY = 999;

/** The value as a whole number of 10^-exp units, or null when it is finer than that. */
function scaledTo(s: Scaled, exp: number): number | null {
  if (s.scale <= exp) return s.value * 10 ** (exp - s.scale);
  const div = 10 ** (s.scale - exp);
  return s.value % div === 0 ? s.value / div : null;
}

function productLines(msg: IsoMessage, total: number): Lines {
  const de63 = requireDe63(msg);
  const check = checkProductLines(total, de63);
  if (!check.ok) fail('LINES_MISMATCH', check.detail, 63, check.line);
  let fuel: FuelPart | null = null;
  const items: Array<{ sku: string; quantity: number }> = [];
  for (const [i, l] of de63.lines.entries() as IterableIterator<[number, ProductLine]>) {
    const line = i + 1;
    if (l.amount <= 0) fail('UNSUPPORTED_FUNCTION', `line ${line}: refund or zero lines are not taken from a terminal`, 63, line);
    if (l.unit.toUpperCase() === FUEL_UNIT) {
      // The sale use cases take one grade per sale (one nozzle); a second fuel line is another sale.
      if (fuel) fail('UNSUPPORTED_FUNCTION', `line ${line}: one fuel line per message`, 63, line);
      const volumeMl = scaledTo(l.quantity, 3);
      const unitPrice = scaledTo(l.unitPrice, 0);
      if (volumeMl === null || volumeMl < 1 || volumeMl > MAX_VOLUME_ML) fail('BAD_FIELD', `line ${line}: volume must be 0.001..2000 L in whole millilitres`, 63, line);
      if (unitPrice === null || unitPrice < 1 || unitPrice > MAX_UNIT_PRICE) fail('BAD_FIELD', `line ${line}: unit price must be whole fen per litre, 1..${MAX_UNIT_PRICE}`, 63, line);
      fuel = { grade: l.productCode, volumeMl, unitPrice, amount: l.amount };
    } else {
      const quantity = scaledTo(l.quantity, 0);
      if (quantity === null || quantity < 1 || quantity > MAX_ITEM_QUANTITY) fail('BAD_FIELD', `line ${line}: an item quantity is a whole 1..${MAX_ITEM_QUANTITY}`, 63, line);
      items.push({ sku: l.productCode, quantity });
    }
  }
  return { fuel, items };
}
