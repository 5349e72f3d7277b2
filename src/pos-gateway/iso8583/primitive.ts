/** Encoding and decoding of one primitive field (a data element or a DE 48 sub-element). */
import { IsoEncodeError, type IsoErrorCode } from './errors.js';
import type { Encoding, FieldFormat, FieldSpec } from './spec.js';

export interface Encodings {
  readonly numeric: Encoding;
  readonly length: Encoding;
}

export type PrimitiveDecode =
  | { readonly ok: true; readonly value: string | Buffer; readonly next: number }
  | { readonly ok: false; readonly code: IsoErrorCode; readonly offset: number; readonly detail: string };

const CHARSETS: Record<Exclude<FieldFormat, 'b'>, RegExp> = {
  n: /^[0-9]*$/,
  an: /^[A-Za-z0-9]*$/,
  anp: /^[A-Za-z0-9 ]*$/,
  ans: /^[\x20-\x7e]*$/,
  ns: /^[0-9\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]*$/,
  z: /^[0-9:;<=>?]*$/,
};

export function charsetOk(format: Exclude<FieldFormat, 'b'>, s: string): boolean {
  return CHARSETS[format].test(s);
}

const isPacked = (format: FieldFormat, enc: Encodings): boolean => enc.numeric === 'bcd' && (format === 'n' || format === 'z');

/** Bytes the content of `units` digits/characters/bytes takes on the wire. */
function contentBytes(format: FieldFormat, units: number, enc: Encodings): number {
  return isPacked(format, enc) ? Math.ceil(units / 2) : units;
}

const prefixDigits = (kind: FieldSpec['length']): number => (kind === 'LL' ? 2 : kind === 'LLL' ? 3 : 0);

function encodeLength(units: number, digits: number, enc: Encodings): Buffer {
  const text = String(units).padStart(digits, '0');
  if (enc.length === 'ascii') return Buffer.from(text, 'latin1');
  return packDigits(text.padStart(digits % 2 === 0 ? digits : digits + 1, '0'));
}

function packDigits(even: string): Buffer {
  const out = Buffer.alloc(even.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = ((even.charCodeAt(2 * i) - 0x30) << 4) | (even.charCodeAt(2 * i + 1) - 0x30);
  }
  return out;
}

/** n: odd lengths are left-padded with a 0 nibble (a number); z: right-padded with F (track data). */
function packContent(format: FieldFormat, s: string): Buffer {
  const even = s.length % 2 === 0 ? s : format === 'n' ? `0${s}` : `${s}?`;
  return packDigits(even);
}

export function encodePrimitive(spec: FieldSpec, value: unknown, enc: Encodings, field: number, subfield?: number): Buffer {
  const fail = (code: IsoErrorCode, detail: string): never => {
    throw new IsoEncodeError(code, `${spec.name}: ${detail}`, field, subfield);
  };
  let content: Buffer;
  let units: number;
  if (spec.format === 'b') {
    if (!Buffer.isBuffer(value)) return fail('BAD_TYPE', 'a Buffer is required');
    content = value;
    units = value.length;
  } else {
    if (typeof value !== 'string') return fail('BAD_TYPE', 'a string is required');
    if (!charsetOk(spec.format, value)) return fail('BAD_CHARSET', `not ${spec.format}`);
    units = value.length;
    content = isPacked(spec.format, enc) ? packContent(spec.format, value) : Buffer.from(value, 'latin1');
  }
  if (spec.length === 'fixed') {
    if (units !== spec.max) fail('BAD_LENGTH', `length ${units}, must be ${spec.max}`);
    return content;
  }
  if (units > spec.max || units < (spec.min ?? 0)) fail('BAD_LENGTH', `length ${units}, allowed ${spec.min ?? 0}..${spec.max}`);
  return Buffer.concat([encodeLength(units, prefixDigits(spec.length), enc), content]);
}

function readLength(buf: Buffer, offset: number, digits: number, enc: Encodings): { units: number; next: number } | string {
  if (enc.length === 'ascii') {
    if (offset + digits > buf.length) return 'TRUNCATED';
    let n = 0;
    for (let i = 0; i < digits; i++) {
      const c = buf[offset + i]! - 0x30;
      if (c < 0 || c > 9) return 'BAD_LENGTH';
      n = n * 10 + c;
    }
    return { units: n, next: offset + digits };
  }
  const bytes = Math.ceil(digits / 2);
  if (offset + bytes > buf.length) return 'TRUNCATED';
  let n = 0;
  for (let i = 0; i < bytes; i++) {
    const b = buf[offset + i]!;
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) return 'BAD_LENGTH';
    n = n * 100 + hi * 10 + lo;
  }
  return { units: n, next: offset + bytes };
}

function unpack(format: FieldFormat, bytes: Buffer, units: number): string | null {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(0x30 + (b >> 4), 0x30 + (b & 0x0f));
  if (s.length === units) return s;
  // Odd length: the pad nibble must be the one we write, so that re-encoding is byte-identical.
  if (format === 'n') return s.startsWith('0') ? s.slice(1) : null;
  return s.endsWith('?') ? s.slice(0, -1) : null;
}

export function decodePrimitive(buf: Buffer, offset: number, spec: FieldSpec, enc: Encodings): PrimitiveDecode {
  let units = spec.max;
  let pos = offset;
  if (spec.length !== 'fixed') {
    const len = readLength(buf, pos, prefixDigits(spec.length), enc);
    if (typeof len === 'string') {
      return { ok: false, code: len === 'TRUNCATED' ? 'TRUNCATED' : 'BAD_LENGTH', offset: pos, detail: `${spec.name}: unreadable length prefix` };
    }
    if (len.units > spec.max || len.units < (spec.min ?? 0)) {
      return { ok: false, code: 'BAD_LENGTH', offset: pos, detail: `${spec.name}: length ${len.units}, allowed ${spec.min ?? 0}..${spec.max}` };
    }
    units = len.units;
    pos = len.next;
  }
  const size = contentBytes(spec.format, units, enc);
  if (pos + size > buf.length) {
    return { ok: false, code: 'TRUNCATED', offset: pos, detail: `${spec.name}: needs ${size} bytes, ${buf.length - pos} left` };
  }
  const bytes = buf.subarray(pos, pos + size);
  if (spec.format === 'b') return { ok: true, value: Buffer.from(bytes), next: pos + size };
  const text = isPacked(spec.format, enc) ? unpack(spec.format, bytes, units) : bytes.toString('latin1');
  if (text === null || !charsetOk(spec.format, text)) {
    return { ok: false, code: 'BAD_CHARSET', offset: pos, detail: `${spec.name}: content is not ${spec.format}` };
  }
  return { ok: true, value: text, next: pos + size };
}
