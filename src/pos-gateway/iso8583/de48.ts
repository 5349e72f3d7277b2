/**
 * DE 48 "message control data": IFSF carries the fuel data of a message as sub-elements under
 * DE 48's own 8-byte bitmap (48-0). Sub-element numbers follow the public PayEx IFSF profile;
 * the layout of 48-8 customer data is our choice (the IFSF type codes are not public), see
 * docs/pos-iso8583.md.
 */
import { readBitmap, writeBitmap } from './bitmap.js';
import { IsoEncodeError, type IsoErrorCode } from './errors.js';
import { decodePrimitive, encodePrimitive, type Encodings } from './primitive.js';
import type { FieldSpec } from './spec.js';

/** Prompts the driver answered at the terminal (48-8). */
export interface CustomerData {
  readonly driverId?: string;
  readonly vehicleId?: string;
  /** Odometer reading, digits only (km). */
  readonly odometer?: string;
  /** Free text the card profile asked for (job number, trailer…). */
  readonly additional?: string;
}

export interface De48Value {
  readonly kind: 'de48';
  /** 48-4 n10: batch number (4 digits) then sequence number in the batch (6 digits). */
  readonly batchSequence?: string;
  /** 48-8 LLL ans..250 */
  readonly customerData?: CustomerData;
  /** 48-9 LL z..37: second "vehicle card" track 2. */
  readonly vehicleTrack2?: string;
  /** 48-14 n2: PIN encryption methodology, see PIN_METHODS. */
  readonly pinMethod?: string;
  /** 48-32 LL ans..99 */
  readonly vatPercentages?: string;
  /** 48-37 an1: how the vehicle was identified, see VEHICLE_ID_ENTRY_MODES. */
  readonly vehicleIdEntryMode?: string;
  /** 48-40 n4 PPNN: pump and nozzle (platform extension). */
  readonly pumpNozzle?: string;
  /** Sub-elements a custom profile defines that have no name here. */
  readonly other?: ReadonlyMap<number, string | Buffer>;
}

type NamedKey = Exclude<keyof De48Value, 'kind' | 'other'>;

export const DE48_NAMES: ReadonlyMap<number, NamedKey> = new Map<number, NamedKey>([
  [4, 'batchSequence'],
  [8, 'customerData'],
  [9, 'vehicleTrack2'],
  [14, 'pinMethod'],
  [32, 'vatPercentages'],
  [37, 'vehicleIdEntryMode'],
  [40, 'pumpNozzle'],
]);

/** 48-14 values (our assignment; IFSF's list is not public). */
export const PIN_METHODS = {
  none: '00',
  tdesFormat0: '01',
  tdesDukptFormat0: '02',
  aesFormat4: '03',
  aesDukptFormat4: '04',
  sm4Format0: '05',
} as const;

/** 48-37 values (our assignment). */
export const VEHICLE_ID_ENTRY_MODES = { none: '0', keyed: '1', vehicleCardMagstripe: '2', vehicleCardChip: '3', tag: '4' } as const;

/** 48-8 entry codes, in the order they are written. */
const PROMPT_CODES: ReadonlyArray<readonly [string, keyof CustomerData]> = [
  ['D', 'driverId'],
  ['V', 'vehicleId'],
  ['O', 'odometer'],
  ['A', 'additional'],
];
const PROMPT_VALUE = /^[\x20-\x5b\x5d-\x7e]{1,80}$/; // printable ASCII without the '\' separator
const ODOMETER = /^[0-9]{1,8}$/;

function promptValueError(key: keyof CustomerData, v: string): string | null {
  if (!PROMPT_VALUE.test(v)) return `${key}: 1..80 printable characters without '\\'`;
  if (key === 'odometer' && !ODOMETER.test(v)) return 'odometer: 1..8 digits';
  return null;
}

function encodeCustomerData(c: CustomerData): string {
  const parts: string[] = [];
  for (const [code, key] of PROMPT_CODES) {
    const v = c[key];
    if (v === undefined) continue;
    const bad = typeof v !== 'string' ? `${key}: a string is required` : promptValueError(key, v);
    if (bad) throw new IsoEncodeError('BAD_SUBFIELD', bad, 48, 8);
    parts.push(code + v);
  }
  return parts.join('\\');
}

function decodeCustomerData(s: string): CustomerData | string {
  const out: Record<string, string> = {};
  if (s === '') return out;
  for (const part of s.split('\\')) {
    const entry = PROMPT_CODES.find(([code]) => code === part.slice(0, 1));
    if (!entry) return `unknown prompt code '${part.slice(0, 1)}'`;
    const [, key] = entry;
    if (key in out) return `prompt ${key} repeated`;
    const v = part.slice(1);
    const bad = promptValueError(key, v);
    if (bad) return bad;
    out[key] = v;
  }
  return out as CustomerData;
}

export function encodeDe48(v: De48Value, subSpecs: ReadonlyMap<number, FieldSpec>, enc: Encodings): Buffer {
  const values = new Map<number, string | Buffer>();
  for (const [n, key] of DE48_NAMES) {
    const x = v[key];
    if (x === undefined) continue;
    if (!subSpecs.has(n)) throw new IsoEncodeError('UNKNOWN_SUBFIELD', `${key} (48-${n}) is not in this profile`, 48, n);
    values.set(n, key === 'customerData' ? encodeCustomerData(x as CustomerData) : (x as string));
  }
  for (const [n, x] of v.other ?? []) {
    if (DE48_NAMES.has(n)) throw new IsoEncodeError('BAD_SUBFIELD', `48-${n} has a name: set ${DE48_NAMES.get(n)}`, 48, n);
    values.set(n, x);
  }
  const numbers = [...values.keys()].sort((a, b) => a - b);
  const parts: Buffer[] = [writeBitmap(numbers, 0)];
  for (const n of numbers) {
    const spec = subSpecs.get(n);
    if (!spec || n < 2 || n > 64) throw new IsoEncodeError('UNKNOWN_SUBFIELD', `48-${n} is not in this profile`, 48, n);
    parts.push(encodePrimitive(spec, values.get(n), enc, 48, n));
  }
  return Buffer.concat(parts);
}

export type De48Decode =
  | { readonly ok: true; readonly value: De48Value }
  | { readonly ok: false; readonly code: IsoErrorCode; readonly subfield?: number; readonly at: number; readonly detail: string };

/** `at` in a failure is relative to the start of DE 48's content. */
export function decodeDe48(content: Buffer, subSpecs: ReadonlyMap<number, FieldSpec>, enc: Encodings): De48Decode {
  if (content.length < 8) return { ok: false, code: 'TRUNCATED', at: 0, detail: 'DE 48 is shorter than its bitmap' };
  const bits = readBitmap(content, 0);
  if (bits[0] === 1) return { ok: false, code: 'BAD_BITMAP', subfield: 1, at: 0, detail: 'DE 48 has no extension bitmap' };
  const out: Record<string, unknown> = { kind: 'de48' };
  const other = new Map<number, string | Buffer>();
  let pos = 8;
  for (const n of bits) {
    const spec = subSpecs.get(n);
    if (!spec) return { ok: false, code: 'UNKNOWN_SUBFIELD', subfield: n, at: pos, detail: `48-${n} is not in this profile` };
    const r = decodePrimitive(content, pos, spec, enc);
    if (!r.ok) return { ok: false, code: r.code, subfield: n, at: r.offset, detail: r.detail };
    const key = DE48_NAMES.get(n);
    if (key === 'customerData') {
      const c = typeof r.value === 'string' ? decodeCustomerData(r.value) : 'customer data must be text';
      if (typeof c === 'string') return { ok: false, code: 'BAD_SUBFIELD', subfield: n, at: pos, detail: c };
      out[key] = c;
    } else if (key) {
      out[key] = r.value;
    } else {
      other.set(n, r.value);
    }
    pos = r.next;
  }
  if (pos !== content.length) return { ok: false, code: 'TRAILING_BYTES', at: pos, detail: `${content.length - pos} bytes after the last 48 sub-element` };
  if (other.size > 0) out.other = other;
  return { ok: true, value: out as unknown as De48Value };
}
