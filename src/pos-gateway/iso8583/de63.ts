/**
 * DE 63 product data: the product lines of a fuel sale. Public IFSF material gives the fields
 * (service level, number of products, then per line product code, unit of measure, quantity,
 * unit price, amount, tax code, additional product code; up to 18 lines; quantity and unit
 * price prefixed by their number of decimals; variable fields separated by '\') but not the
 * exact octets, so the layout is ours and is documented in docs/pos-iso8583.md:
 *
 *   S NN (code\unit\quantity\unitPrice\amount\tax\additional\){NN}
 *
 * S is one character, NN two digits, and every line field is terminated by '\'.
 */
import { IsoEncodeError } from './errors.js';

export const MAX_PRODUCT_LINES = 18;
export const MAX_AMOUNT = 999_999_999_999;

/** A decimal carried as digits and a count of fractional digits (0–4): 40.000 L = { scale: 3, value: 40000 }. */
export interface Scaled {
  readonly scale: number;
  readonly value: number;
}

export interface ProductLine {
  /** an 1..8 */
  readonly productCode: string;
  /** an 1..3: L litre, KG, U unit… */
  readonly unit: string;
  readonly quantity: Scaled;
  /** Minor currency units (fen) per unit of measure. */
  readonly unitPrice: Scaled;
  /** Minor currency units; negative for a refund line. */
  readonly amount: number;
  /** an 0..2 */
  readonly taxCode: string;
  /** printable 0..20, no '\' */
  readonly additionalCode: string;
}

export interface De63Value {
  readonly kind: 'de63';
  /** One character: S self service, F full service, ' ' not applicable. */
  readonly serviceLevel: string;
  readonly lines: readonly ProductLine[];
}

export const SERVICE_LEVELS = { selfService: 'S', fullService: 'F', notApplicable: ' ' } as const;

const SERVICE_LEVEL = /^[A-Z ]$/;
const CODE = /^[A-Za-z0-9]{1,8}$/;
const UNIT = /^[A-Za-z0-9]{1,3}$/;
const SCALED = /^[0-4][0-9]{1,9}$/;
const AMOUNT = /^-?[0-9]{1,12}$/;
const TAX = /^[A-Za-z0-9]{0,2}$/;
const ADDITIONAL = /^[\x20-\x5b\x5d-\x7e]{0,20}$/;
const MAX_SCALED_VALUE = 999_999_999;

function scaledText(s: Scaled, what: string, line: number): string {
  const ok = Number.isInteger(s?.scale) && s.scale >= 0 && s.scale <= 4 && Number.isSafeInteger(s.value) && s.value >= 0 && s.value <= MAX_SCALED_VALUE;
  if (!ok) throw new IsoEncodeError('BAD_SUBFIELD', `line ${line} ${what}: scale 0..4 and value 0..${MAX_SCALED_VALUE}`, 63, line);
  return `${s.scale}${s.value}`;
}

export function encodeDe63(v: De63Value): string {
  const bad = (detail: string, line?: number): never => {
    throw new IsoEncodeError('BAD_SUBFIELD', detail, 63, line);
  };
  if (typeof v.serviceLevel !== 'string' || !SERVICE_LEVEL.test(v.serviceLevel)) bad('service level: one of A–Z or space');
  if (!Array.isArray(v.lines) || v.lines.length < 1 || v.lines.length > MAX_PRODUCT_LINES) bad(`1..${MAX_PRODUCT_LINES} product lines`);
  let s = v.serviceLevel + String(v.lines.length).padStart(2, '0');
  v.lines.forEach((l, i) => {
    const line = i + 1;
    if (!CODE.test(l.productCode)) bad(`line ${line} product code: an 1..8`, line);
    if (!UNIT.test(l.unit)) bad(`line ${line} unit: an 1..3`, line);
    if (!Number.isSafeInteger(l.amount) || Math.abs(l.amount) > MAX_AMOUNT) bad(`line ${line} amount: integer, |amount| <= ${MAX_AMOUNT}`, line);
    if (!TAX.test(l.taxCode)) bad(`line ${line} tax code: an 0..2`, line);
    if (!ADDITIONAL.test(l.additionalCode)) bad(`line ${line} additional code: 0..20 printable, no '\\'`, line);
    const fields = [l.productCode, l.unit, scaledText(l.quantity, 'quantity', line), scaledText(l.unitPrice, 'unit price', line), String(l.amount), l.taxCode, l.additionalCode];
    s += fields.map((x) => `${x}\\`).join('');
  });
  return s;
}

export type De63Decode =
  | { readonly ok: true; readonly value: De63Value }
  | { readonly ok: false; readonly code: 'BAD_SUBFIELD'; readonly line?: number; readonly at: number; readonly detail: string };

/** Never throws; `at` is a character offset into DE 63's content. */
export function decodeDe63(s: string): De63Decode {
  if (typeof s !== 'string' || s.length < 3) return { ok: false, code: 'BAD_SUBFIELD', at: 0, detail: 'DE 63 needs a service level and a line count' };
  const serviceLevel = s[0]!;
  if (!SERVICE_LEVEL.test(serviceLevel)) return { ok: false, code: 'BAD_SUBFIELD', at: 0, detail: 'bad service level' };
  const countText = s.slice(1, 3);
  const count = /^[0-9]{2}$/.test(countText) ? Number(countText) : NaN;
  if (!(count >= 1 && count <= MAX_PRODUCT_LINES)) return { ok: false, code: 'BAD_SUBFIELD', at: 1, detail: `line count must be 01..${MAX_PRODUCT_LINES}` };
  const lines: ProductLine[] = [];
  let pos = 3;
  const next = (): string | null => {
    const end = s.indexOf('\\', pos);
    if (end < 0) return null;
    const tok = s.slice(pos, end);
    pos = end + 1;
    return tok;
  };
  for (let line = 1; line <= count; line++) {
    const start = pos;
    const t: string[] = [];
    for (let k = 0; k < 7; k++) {
      const tok = next();
      if (tok === null) return { ok: false, code: 'BAD_SUBFIELD', line, at: pos, detail: `line ${line} is truncated` };
      t.push(tok);
    }
    const [productCode, unit, q, p, amount, taxCode, additionalCode] = t as [string, string, string, string, string, string, string];
    const fail = (detail: string): De63Decode => ({ ok: false, code: 'BAD_SUBFIELD', line, at: start, detail: `line ${line} ${detail}` });
    if (!CODE.test(productCode)) return fail('product code: an 1..8');
    if (!UNIT.test(unit)) return fail('unit: an 1..3');
    if (!SCALED.test(q)) return fail('quantity: scale digit 0..4 then 1..9 digits');
    if (!SCALED.test(p)) return fail('unit price: scale digit 0..4 then 1..9 digits');
    if (!AMOUNT.test(amount)) return fail('amount: optional - then 1..12 digits');
    if (!TAX.test(taxCode)) return fail('tax code: an 0..2');
    if (!ADDITIONAL.test(additionalCode)) return fail('additional code: 0..20 printable');
    lines.push({
      productCode,
      unit,
      quantity: { scale: Number(q[0]), value: Number(q.slice(1)) },
      unitPrice: { scale: Number(p[0]), value: Number(p.slice(1)) },
      amount: Number(amount) || 0, // "-0" is 0
      taxCode,
      additionalCode,
    });
  }
  if (pos !== s.length) return { ok: false, code: 'BAD_SUBFIELD', at: pos, detail: `${s.length - pos} characters after the last product line` };
  return { ok: true, value: { kind: 'de63', serviceLevel, lines } };
}

export type ProductLinesCheck =
  | { readonly ok: true; readonly total: number }
  | {
      readonly ok: false;
      readonly code: 'LINES_SUM_MISMATCH' | 'LINE_AMOUNT_MISMATCH' | 'BAD_AMOUNT';
      readonly line?: number;
      readonly expected: number;
      readonly actual: number;
      readonly detail: string;
    };

/** quantity × unit price, rounded half away from zero to whole minor units. */
export function lineValue(l: Pick<ProductLine, 'quantity' | 'unitPrice'>): number {
  const num = BigInt(l.quantity.value) * BigInt(l.unitPrice.value);
  const den = 10n ** BigInt(l.quantity.scale + l.unitPrice.scale);
  return Number((2n * num + den) / (2n * den));
}

/**
 * The product lines must add up to DE 4 (the host's answer to a mismatch is 904 or a decline,
 * the caller's choice). With `lineTolerance` set, each line's amount must also be within that
 * many minor units of quantity × unit price (pumps round; some round per line, some truncate).
 */
export function checkProductLines(de4: string | number, de63: De63Value, opts: { lineTolerance?: number } = {}): ProductLinesCheck {
  const expected = typeof de4 === 'number' ? de4 : /^[0-9]{1,12}$/.test(de4) ? Number(de4) : NaN;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    return { ok: false, code: 'BAD_AMOUNT', expected: NaN, actual: NaN, detail: 'DE 4 is not an amount' };
  }
  let total = 0;
  for (const [i, l] of de63.lines.entries()) {
    if (opts.lineTolerance !== undefined && l.amount >= 0) {
      const v = lineValue(l);
      if (Math.abs(v - l.amount) > opts.lineTolerance) {
        return { ok: false, code: 'LINE_AMOUNT_MISMATCH', line: i + 1, expected: v, actual: l.amount, detail: `line ${i + 1}: quantity × unit price is ${v}, amount is ${l.amount}` };
      }
    }
    total += l.amount;
  }
  if (total !== expected) {
    return { ok: false, code: 'LINES_SUM_MISMATCH', expected, actual: total, detail: `product lines add up to ${total}, DE 4 is ${expected}` };
  }
  return { ok: true, total };
}
