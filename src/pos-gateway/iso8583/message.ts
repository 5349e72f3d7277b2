/**
 * ISO 8583:1993 message codec: MTI, primary bitmap, optional secondary bitmap (fields 65–128),
 * data elements in ascending order. The transport length header is not part of a message.
 */
import { readBitmap, writeBitmap } from './bitmap.js';
import { decodeDe48, encodeDe48, type De48Value } from './de48.js';
import { decodeDe63, encodeDe63, type De63Value } from './de63.js';
import { IsoEncodeError, type IsoDecodeError } from './errors.js';
import { decodePrimitive, encodePrimitive, type Encodings } from './primitive.js';
import { IFSF_PROFILE, type IsoProfile } from './spec.js';

export type StructuredValue = De48Value | De63Value;
export type FieldValue = string | Buffer | StructuredValue;

export interface IsoMessage {
  /** Four digits, e.g. "1100". */
  readonly mti: string;
  /** Data elements 2–128 (1, the secondary bitmap, is implicit). */
  readonly fields: ReadonlyMap<number, FieldValue>;
}

export type DecodeResult = { readonly ok: true; readonly message: IsoMessage } | { readonly ok: false; readonly error: IsoDecodeError };

const MTI = /^[0-9]{4}$/;
const encodings = (p: IsoProfile): Encodings => ({ numeric: p.numericEncoding, length: p.lengthEncoding });

function isStructured(v: unknown, kind: StructuredValue['kind']): boolean {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && (v as { kind?: unknown }).kind === kind;
}

/** Throws IsoEncodeError (with a code and the field) when a value does not fit the profile. */
export function encodeMessage(msg: IsoMessage, profile: IsoProfile = IFSF_PROFILE): Buffer {
  if (typeof msg?.mti !== 'string' || !MTI.test(msg.mti)) throw new IsoEncodeError('BAD_MTI', 'MTI must be 4 digits');
  if (!(msg.fields instanceof Map)) throw new IsoEncodeError('BAD_TYPE', 'fields must be a Map');
  const numbers = [...msg.fields.keys()].sort((a, b) => a - b);
  for (const n of numbers) {
    if (!Number.isInteger(n) || n < 2 || n > 128 || n === 65 || !profile.fields.has(n)) {
      throw new IsoEncodeError('UNKNOWN_FIELD', `DE ${n} is not in profile ${profile.name}`, n);
    }
  }
  const secondary = numbers.some((n) => n > 64);
  if (msg.fields.has(64) && secondary) {
    throw new IsoEncodeError('MAC_POSITION', 'with a secondary bitmap the MAC goes in DE 128, not DE 64', 64);
  }
  const enc = encodings(profile);
  const parts: Buffer[] = [
    profile.mtiEncoding === 'ascii' ? Buffer.from(msg.mti, 'latin1') : Buffer.from(msg.mti, 'hex'),
    writeBitmap(secondary ? [1, ...numbers] : numbers, 0),
  ];
  if (secondary) parts.push(writeBitmap(numbers, 64));
  for (const n of numbers) {
    const spec = profile.fields.get(n)!;
    let value: unknown = msg.fields.get(n);
    if (spec.structured === 'de48' && isStructured(value, 'de48')) {
      value = encodeDe48(value as De48Value, profile.de48, enc);
    } else if (spec.structured === 'de63' && isStructured(value, 'de63')) {
      value = encodeDe63(value as De63Value);
    }
    parts.push(encodePrimitive(spec, value, enc, n));
  }
  const out = Buffer.concat(parts);
  if (out.length > profile.maxMessageBytes) {
    throw new IsoEncodeError('TOO_LARGE', `${out.length} bytes, profile ${profile.name} allows ${profile.maxMessageBytes}`);
  }
  return out;
}

/**
 * Never throws: whatever the bytes, the answer is a message or a typed error. Work is linear in
 * the input, which is capped by the profile's maxMessageBytes.
 */
export function decodeMessage(bytes: Uint8Array, profile: IsoProfile = IFSF_PROFILE): DecodeResult {
  try {
    return decodeUnsafe(bytes, profile);
  } catch (e) {
    // A bug here must cost one message, not the connection's event loop.
    return { ok: false, error: { code: 'INTERNAL', detail: `decoder failure: ${e instanceof Error ? e.message : String(e)}` } };
  }
}

function decodeUnsafe(input: Uint8Array, profile: IsoProfile): DecodeResult {
  const fail = (error: IsoDecodeError): DecodeResult => ({ ok: false, error });
  if (!(input instanceof Uint8Array)) return fail({ code: 'BAD_TYPE', detail: 'bytes expected' });
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length === 0) return fail({ code: 'EMPTY', offset: 0, detail: 'empty message' });
  if (buf.length > profile.maxMessageBytes) {
    return fail({ code: 'TOO_LARGE', offset: 0, detail: `${buf.length} bytes, profile ${profile.name} allows ${profile.maxMessageBytes}` });
  }
  const mtiBytes = profile.mtiEncoding === 'ascii' ? 4 : 2;
  if (buf.length < mtiBytes) return fail({ code: 'TRUNCATED', offset: 0, detail: 'message shorter than an MTI' });
  const mti = profile.mtiEncoding === 'ascii' ? buf.toString('latin1', 0, 4) : buf.toString('hex', 0, 2);
  if (!MTI.test(mti)) return fail({ code: 'BAD_MTI', offset: 0, detail: 'MTI is not 4 digits' });
  let pos = mtiBytes;
  if (pos + 8 > buf.length) return fail({ code: 'TRUNCATED', offset: pos, mti, detail: 'primary bitmap is incomplete' });
  const numbers = readBitmap(buf.subarray(pos, pos + 8), 0);
  pos += 8;
  if (numbers[0] === 1) {
    numbers.shift();
    if (pos + 8 > buf.length) return fail({ code: 'TRUNCATED', offset: pos, mti, detail: 'secondary bitmap is incomplete' });
    const high = readBitmap(buf.subarray(pos, pos + 8), 64);
    if (high.length === 0) return fail({ code: 'BAD_BITMAP', field: 1, offset: pos, mti, detail: 'secondary bitmap present but empty' });
    if (high[0] === 65) return fail({ code: 'BAD_BITMAP', field: 65, offset: pos, mti, detail: 'tertiary bitmap is not supported' });
    if (numbers.includes(64)) return fail({ code: 'MAC_POSITION', field: 64, offset: pos, mti, detail: 'DE 64 with a secondary bitmap: the MAC must be in DE 128' });
    numbers.push(...high);
    pos += 8;
  }
  if (numbers.length === 0) return fail({ code: 'BAD_BITMAP', offset: mtiBytes, mti, detail: 'no data elements' });
  const enc = encodings(profile);
  const fields = new Map<number, FieldValue>();
  for (const n of numbers) {
    const spec = profile.fields.get(n);
    if (!spec) return fail({ code: 'UNKNOWN_FIELD', field: n, offset: pos, mti, detail: `DE ${n} is not in profile ${profile.name}` });
    const r = decodePrimitive(buf, pos, spec, enc);
    if (!r.ok) return fail({ code: r.code, field: n, offset: r.offset, mti, detail: r.detail });
    let value: FieldValue = r.value;
    if (profile.structured && spec.structured) {
      const contentStart = r.next - r.value.length; // DE 48 is b and DE 63 ans: one byte per unit
      if (spec.structured === 'de48' && Buffer.isBuffer(r.value)) {
        const d = decodeDe48(r.value, profile.de48, enc);
        if (!d.ok) {
          return fail({ code: d.code, field: 48, ...(d.subfield !== undefined ? { subfield: d.subfield } : {}), offset: contentStart + d.at, mti, detail: d.detail });
        }
        value = d.value;
      } else if (spec.structured === 'de63' && typeof r.value === 'string') {
        const d = decodeDe63(r.value);
        if (!d.ok) {
          return fail({ code: 'BAD_SUBFIELD', field: 63, ...(d.line !== undefined ? { subfield: d.line } : {}), offset: contentStart + d.at, mti, detail: d.detail });
        }
        value = d.value;
      }
    }
    fields.set(n, value);
    pos = r.next;
  }
  if (pos !== buf.length) return fail({ code: 'TRAILING_BYTES', offset: pos, mti, detail: `${buf.length - pos} bytes after the last data element` });
  return { ok: true, message: { mti, fields } };
}

export type MacDataResult =
  | { readonly ok: true; readonly data: Buffer; readonly mac: Buffer | null; readonly macField: 64 | 128 | null }
  | { readonly ok: false; readonly error: IsoDecodeError };

/**
 * The bytes a MAC covers: the message from the first byte of the MTI up to (not including) the
 * 8 MAC bytes of DE 64 — or DE 128 when there is a secondary bitmap. The MAC is always the last
 * data element, so these are all bytes but the last 8; the bitmaps (with the MAC bit set) are
 * covered, the transport length header is not. Without a MAC field, mac is null and data is the
 * whole message. The message is fully parsed first, so a MAC is never checked over garbage.
 */
export function macData(bytes: Uint8Array, profile: IsoProfile = IFSF_PROFILE): MacDataResult {
  const r = decodeMessage(bytes, { ...profile, structured: false });
  if (!r.ok) return r;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const macField = r.message.fields.has(128) ? 128 : r.message.fields.has(64) ? 64 : null;
  if (macField === null) return { ok: true, data: Buffer.from(buf), mac: null, macField };
  return { ok: true, data: Buffer.from(buf.subarray(0, buf.length - 8)), mac: Buffer.from(buf.subarray(buf.length - 8)), macField };
}

/** The field a MAC of this message goes in: DE 128 when any field above 64 is present. */
export function macFieldFor(msg: IsoMessage): 64 | 128 {
  return [...msg.fields.keys()].some((n) => n > 64 && n !== 128) ? 128 : 64;
}

/**
 * Encodes a message with its MAC: sets DE 64 or DE 128 as the profile rule says, computes the
 * MAC over macData and writes the leftmost 8 bytes of what `mac` returns (AES-CMAC gives 16;
 * ISO 9797-1 truncation keeps the leftmost bytes). Any MAC field in `msg` is replaced.
 */
export function encodeWithMac(msg: IsoMessage, mac: (data: Buffer) => Buffer, profile: IsoProfile = IFSF_PROFILE): Buffer {
  const prepared = prepareMac(msg, profile);
  return applyMac(prepared.bytes, mac(prepared.data));
}

/** Async-friendly halves of encodeWithMac, for a key store whose operations return promises. */
export function prepareMac(msg: IsoMessage, profile: IsoProfile = IFSF_PROFILE): { bytes: Buffer; data: Buffer; macField: 64 | 128 } {
  const fields = new Map(msg.fields);
  fields.delete(64);
  fields.delete(128);
  const macField = macFieldFor({ mti: msg.mti, fields });
  fields.set(macField, Buffer.alloc(8));
  const bytes = encodeMessage({ mti: msg.mti, fields }, profile);
  return { bytes, data: bytes.subarray(0, bytes.length - 8), macField };
}

export function applyMac(prepared: Buffer, mac: Buffer): Buffer {
  if (!Buffer.isBuffer(mac) || mac.length < 8) throw new IsoEncodeError('BAD_LENGTH', 'a MAC needs at least 8 bytes', 64);
  const out = Buffer.from(prepared);
  mac.copy(out, out.length - 8, 0, 8);
  return out;
}
