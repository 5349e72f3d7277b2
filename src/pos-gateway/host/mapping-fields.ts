/**
 * Reading decoded ISO 8583 fields for the mapping layer: every reader returns the value or a
 * typed MappingError naming the data element, never throws, so a terminal always gets an answer
 * that says which field was wrong.
 */
import { MCC, parseAmount, type De48Value, type De63Value, type IsoMessage } from '../iso8583/index.js';
import { instantOfWallTime } from '../../platform/index.js';
import { ACTION } from './action-codes.js';

export type MappingErrorCode =
  /** A field the message class requires is absent (904). */
  | 'MISSING_FIELD'
  /** A field is present but its content is not usable (904). */
  | 'BAD_FIELD'
  /** DE 4 is zero or beyond what the sale use cases take (110). */
  | 'BAD_AMOUNT'
  /** DE 63 lines do not add up to DE 4 (904, like the HTTP API's SALE_AMOUNT_MISMATCH). */
  | 'LINES_MISMATCH'
  /** The MTI is not one the mapping translates (902). */
  | 'UNSUPPORTED_MESSAGE'
  /** The function code (DE 24), processing code, MCC, currency or product mix is not supported here (902). */
  | 'UNSUPPORTED_FUNCTION';

export interface MappingError {
  readonly code: MappingErrorCode;
  /** The data element at fault. */
  readonly field?: number;
  /** Its DE 48 sub-element, or DE 63 line (1-based). */
  readonly subfield?: number;
  /** DE 39 to answer with. */
  readonly actionCode: string;
  readonly detail: string;
}

export type Mapped<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: MappingError };

const ACTION_OF: Readonly<Record<MappingErrorCode, string>> = {
  MISSING_FIELD: ACTION.formatError,
  BAD_FIELD: ACTION.formatError,
  BAD_AMOUNT: '110',
  LINES_MISMATCH: ACTION.formatError,
  UNSUPPORTED_MESSAGE: ACTION.invalidTransaction,
  UNSUPPORTED_FUNCTION: ACTION.invalidTransaction,
};

/** Thrown only inside this layer and caught by `mapped()`: keeps the readers linear. */
export class MappingFailure extends Error {
  readonly error: MappingError;
  constructor(code: MappingErrorCode, detail: string, field?: number, subfield?: number) {
    super(`${code}${field !== undefined ? ` DE ${field}` : ''}${subfield !== undefined ? `.${subfield}` : ''}: ${detail}`);
    this.name = 'MappingFailure';
    this.error = { code, actionCode: ACTION_OF[code], detail, ...(field !== undefined ? { field } : {}), ...(subfield !== undefined ? { subfield } : {}) };
  }
}

export function fail(code: MappingErrorCode, detail: string, field?: number, subfield?: number): never {
  throw new MappingFailure(code, detail, field, subfield);
}

/** Runs a translation: a MappingFailure, or any other surprise in the decoded shapes, becomes `{ ok: false }`. */
export function mapped<T>(run: () => T): Mapped<T> {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    if (e instanceof MappingFailure) return { ok: false, error: e.error };
    // A decoded message of an unexpected shape (a raw DE 48 from a structured:false profile…).
    return { ok: false, error: { code: 'BAD_FIELD', actionCode: ACTION.formatError, detail: `cannot translate: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

export function text(msg: IsoMessage, n: number): string | undefined {
  const v = msg.fields.get(n);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail('BAD_FIELD', `DE ${n} must be text`, n);
  return v;
}

export function requireText(msg: IsoMessage, n: number): string {
  const v = text(msg, n);
  if (v === undefined) fail('MISSING_FIELD', `DE ${n} is required in a ${msg.mti}`, n);
  return v;
}

export function requireBytes(msg: IsoMessage, n: number): Buffer {
  const v = msg.fields.get(n);
  if (v === undefined) fail('MISSING_FIELD', `DE ${n} is required in a ${msg.mti}`, n);
  if (!Buffer.isBuffer(v)) fail('BAD_FIELD', `DE ${n} must be binary`, n);
  return v;
}

export function de48(msg: IsoMessage): De48Value | undefined {
  const v = msg.fields.get(48);
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Buffer.isBuffer(v) || v.kind !== 'de48') fail('BAD_FIELD', 'DE 48 must be decoded (structured profile)', 48);
  return v;
}

export function requireDe63(msg: IsoMessage): De63Value {
  const v = msg.fields.get(63);
  if (v === undefined) fail('MISSING_FIELD', `DE 63 product lines are required in a ${msg.mti}`, 63);
  if (typeof v !== 'object' || Buffer.isBuffer(v) || v.kind !== 'de63') fail('BAD_FIELD', 'DE 63 must be decoded (structured profile)', 63);
  return v;
}

/** The sale use cases take 1..100 000 000 fen (the HTTP schemas' bounds). */
export const MAX_SALE_AMOUNT = 100_000_000;

export function amount(msg: IsoMessage, opts: { min: number; max: number }): number {
  const s = requireText(msg, 4);
  const p = parseAmount(s);
  if (!p.ok) fail('BAD_FIELD', p.detail, 4);
  if (p.value < opts.min || p.value > opts.max) fail('BAD_AMOUNT', `DE 4 must be ${opts.min}..${opts.max} fen, is ${p.value}`, 4);
  return p.value;
}

/** The card number: DE 35 track 2 (PAN before '='), or DE 2 for a keyed entry. */
export function cardNo(msg: IsoMessage): string {
  const track2 = text(msg, 35);
  if (track2 !== undefined) {
    const pan = track2.split(/[=D]/)[0] ?? '';
    if (!/^[0-9]{1,19}$/.test(pan)) fail('BAD_FIELD', 'DE 35: PAN (1..19 digits) before the separator', 35);
    return pan;
  }
  const pan = text(msg, 2);
  if (pan === undefined) fail('MISSING_FIELD', `DE 35 (track 2) or DE 2 (PAN) is required in a ${msg.mti}`, 35);
  if (!/^[0-9]{1,19}$/.test(pan)) fail('BAD_FIELD', 'DE 2: 1..19 digits', 2);
  return pan;
}

export function functionCode(msg: IsoMessage, allowed: readonly string[]): string {
  const fc = requireText(msg, 24);
  if (!allowed.includes(fc)) fail('UNSUPPORTED_FUNCTION', `function code ${fc} in a ${msg.mti}: ${allowed.join(', ')} expected`, 24);
  return fc;
}

/** DE 3, when present: purchases (00xxxx) only; refunds (20xxxx) go through staff, not terminals. */
export function checkProcessingCode(msg: IsoMessage): void {
  const pc = text(msg, 3);
  if (pc !== undefined && !pc.startsWith('00')) fail('UNSUPPORTED_FUNCTION', `processing code ${pc}: only purchases (00xxxx)`, 3);
}

export function checkCurrency(msg: IsoMessage, currency: string): void {
  const c = text(msg, 49);
  if (c !== undefined && c !== currency) fail('UNSUPPORTED_FUNCTION', `currency ${c}: this host settles ${currency} only`, 49);
}

export type Environment = 'indoor' | 'outdoor';

/** DE 26: 5541 indoor (attended), 5542 outdoor (unattended). */
export function environment(msg: IsoMessage, required: boolean): Environment | null {
  const mcc = required ? requireText(msg, 26) : text(msg, 26);
  if (mcc === undefined) return null;
  if (mcc === MCC.indoor) return 'indoor';
  if (mcc === MCC.outdoor) return 'outdoor';
  return fail('UNSUPPORTED_FUNCTION', `business code ${mcc}: 5541 indoor or 5542 outdoor`, 26);
}

/** 48-40 PPNN: NN is the station's nozzle number (1..99) the sale use cases take; PP the pump. */
export function pumpNozzle(msg: IsoMessage): { pump: number; nozzle: number } {
  const v = de48(msg)?.pumpNozzle;
  if (v === undefined) fail('MISSING_FIELD', `48-40 pump and nozzle is required in a ${msg.mti}`, 48, 40);
  const nozzle = Number(v.slice(2));
  if (!/^[0-9]{4}$/.test(v) || nozzle < 1) fail('BAD_FIELD', '48-40: PPNN with nozzle 01..99', 48, 40);
  return { pump: Number(v.slice(0, 2)), nozzle };
}

export function batchSequence(msg: IsoMessage): { batch: string; sequence: string } {
  const v = de48(msg)?.batchSequence;
  if (v === undefined) fail('MISSING_FIELD', `48-4 batch/sequence is required in a ${msg.mti}`, 48, 4);
  if (!/^[0-9]{10}$/.test(v)) fail('BAD_FIELD', '48-4: n10 BBBBSSSSSS', 48, 4);
  return { batch: v.slice(0, 4), sequence: v.slice(4) };
}

/**
 * DE 12 YYMMDDhhmmss in the station's time zone → an ISO 8601 instant. Years 00–99 are 2000–2099
 * (ISO 8583:1993 carries no century).
 */
export function localTimeToIso(yymmddhhmmss: string, timeZone: string, field = 12): string {
  const m = /^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$/.exec(yymmddhhmmss);
  if (!m) fail('BAD_FIELD', `DE ${field}: YYMMDDhhmmss`, field);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const year = 2000 + y;
  const days = new Date(Date.UTC(year, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) fail('BAD_FIELD', `DE ${field}: not a date and time`, field);
  return instantOfWallTime(year, mo, d, h, mi, s, timeZone).toISOString();
}
