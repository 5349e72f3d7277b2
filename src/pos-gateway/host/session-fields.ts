/**
 * Wire layout of the session-key fields (docs/pos-session.md §3):
 * - DE 53 (b LL..48): the MAC key version the sender MACed under, 2 bytes big-endian, optionally
 *   followed by the PIN key version (2 bytes). Absent = "my current key".
 * - DE 96 (ISO 8583:1993 "key management data", b LLL..999): the session keys of a 1814 answer
 *   to sign-on (801) or key change (811), each encrypted under the terminal master key with its
 *   KCV. The IFSF profile carries it; `withKeyManagement(profile)` adds it to a profile that does not.
 */
import { IsoEncodeError, type FieldSpec, type IsoProfile } from '../iso8583/index.js';
import type { KeyAlgorithm, SessionKeyDelivery, WrapMethod } from '../crypto/index.js';

export const KEY_MANAGEMENT_FIELD = 96;

export const DE96_SPEC: FieldSpec = { name: 'Key management data (session keys under the TMK)', format: 'b', length: 'LLL', max: 999 };

/** The profile plus DE 96 (idempotent). */
export function withKeyManagement(profile: IsoProfile): IsoProfile {
  if (profile.fields.has(KEY_MANAGEMENT_FIELD)) return profile;
  const fields = new Map(profile.fields);
  fields.set(KEY_MANAGEMENT_FIELD, DE96_SPEC);
  return { ...profile, name: `${profile.name}+de96`, fields: new Map([...fields].sort((a, b) => a[0] - b[0])) };
}

export type SessionFieldError = { readonly ok: false; readonly code: 'BAD_DE53' | 'BAD_DE96'; readonly detail: string };

// ---- DE 53 -------------------------------------------------------------------------------------

export interface KeyVersions {
  readonly mac: number;
  readonly pin?: number;
}

export function encodeDe53(v: KeyVersions): Buffer {
  const ok = (n: number | undefined): boolean => n === undefined || (Number.isInteger(n) && n >= 1 && n <= 0xffff);
  if (!ok(v.mac) || !ok(v.pin)) throw new IsoEncodeError('BAD_SUBFIELD', 'key versions are 1..65535', 53);
  const out = Buffer.alloc(v.pin === undefined ? 2 : 4);
  out.writeUInt16BE(v.mac, 0);
  if (v.pin !== undefined) out.writeUInt16BE(v.pin, 2);
  return out;
}

export function decodeDe53(b: Buffer): { ok: true; value: KeyVersions } | SessionFieldError {
  if (!Buffer.isBuffer(b) || (b.length !== 2 && b.length !== 4)) return { ok: false, code: 'BAD_DE53', detail: 'DE 53 must be 2 or 4 bytes' };
  const mac = b.readUInt16BE(0);
  const pin = b.length === 4 ? b.readUInt16BE(2) : undefined;
  if (mac === 0 || pin === 0) return { ok: false, code: 'BAD_DE53', detail: 'key version 0 does not exist' };
  return { ok: true, value: pin === undefined ? { mac } : { mac, pin } };
}

// ---- DE 96 -------------------------------------------------------------------------------------

/**
 * DE 96 content: a count byte, then per key:
 *   usage 1 byte ('P' PIN key, 'M' MAC key, 'D' data key) · algorithm 1 byte ('T' TDES, 'A' AES,
 *   'S' SM4) · wrap 1 byte ('E' ECB under the TMK, 'W' AES key wrap RFC 3394) · version 2 bytes BE
 *   · encrypted key length 1 byte · encrypted key · KCV 3 bytes.
 */
export interface DeliveredKey {
  readonly usage: 'tpk' | 'tak' | 'tdk';
  readonly algorithm: KeyAlgorithm;
  readonly wrapMethod: WrapMethod;
  readonly version: number;
  readonly encrypted: Buffer;
  readonly kcv: Buffer;
}

const USAGE_CODE = { tpk: 'P', tak: 'M', tdk: 'D' } as const;
const ALG_CODE = { tdes: 'T', aes: 'A', sm4: 'S' } as const;
const WRAP_CODE = { ecb: 'E', 'aes-kw': 'W' } as const;
const invert = <K extends string, V extends string>(o: Record<K, V>): Map<number, K> =>
  new Map(Object.entries(o).map(([k, v]) => [(v as string).charCodeAt(0), k as K]));
const USAGE_BY_CODE = invert(USAGE_CODE);
const ALG_BY_CODE = invert(ALG_CODE);
const WRAP_BY_CODE = invert(WRAP_CODE);
const KCV_LENGTH = 3;

export function encodeDe96(keys: readonly (DeliveredKey | SessionKeyDelivery)[]): Buffer {
  if (keys.length === 0 || keys.length > 8) throw new IsoEncodeError('BAD_SUBFIELD', '1..8 keys per DE 96', KEY_MANAGEMENT_FIELD);
  const parts: Buffer[] = [Buffer.from([keys.length])];
  for (const k of keys) {
    if (k.encrypted.length === 0 || k.encrypted.length > 255 || k.kcv.length !== KCV_LENGTH || k.version < 1 || k.version > 0xffff) {
      throw new IsoEncodeError('BAD_SUBFIELD', `key ${k.usage}: bad encrypted length, KCV or version`, KEY_MANAGEMENT_FIELD);
    }
    const head = Buffer.alloc(6);
    head.write(USAGE_CODE[k.usage], 0, 'latin1');
    head.write(ALG_CODE[k.algorithm], 1, 'latin1');
    head.write(WRAP_CODE[k.wrapMethod], 2, 'latin1');
    head.writeUInt16BE(k.version, 3);
    head.writeUInt8(k.encrypted.length, 5);
    parts.push(head, k.encrypted, k.kcv);
  }
  return Buffer.concat(parts);
}

export function decodeDe96(b: Buffer): { ok: true; value: DeliveredKey[] } | SessionFieldError {
  const bad = (detail: string): SessionFieldError => ({ ok: false, code: 'BAD_DE96', detail });
  if (!Buffer.isBuffer(b) || b.length < 1) return bad('DE 96 is empty');
  const count = b[0]!;
  if (count === 0 || count > 8) return bad('DE 96 key count must be 1..8');
  const out: DeliveredKey[] = [];
  let pos = 1;
  for (let i = 0; i < count; i++) {
    if (pos + 6 > b.length) return bad(`key ${i + 1}: header truncated`);
    const usage = USAGE_BY_CODE.get(b[pos]!);
    const algorithm = ALG_BY_CODE.get(b[pos + 1]!);
    const wrapMethod = WRAP_BY_CODE.get(b[pos + 2]!);
    const version = b.readUInt16BE(pos + 3);
    const len = b[pos + 5]!;
    if (!usage || !algorithm || !wrapMethod) return bad(`key ${i + 1}: unknown usage, algorithm or wrap code`);
    if (version === 0 || len === 0) return bad(`key ${i + 1}: version and length must be positive`);
    pos += 6;
    if (pos + len + KCV_LENGTH > b.length) return bad(`key ${i + 1}: key or KCV truncated`);
    out.push({
      usage,
      algorithm,
      wrapMethod,
      version,
      encrypted: Buffer.from(b.subarray(pos, pos + len)),
      kcv: Buffer.from(b.subarray(pos + len, pos + len + KCV_LENGTH)),
    });
    pos += len + KCV_LENGTH;
  }
  if (pos !== b.length) return bad(`${b.length - pos} bytes after the last key`);
  return { ok: true, value: out };
}
