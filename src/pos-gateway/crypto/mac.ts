/**
 * Message authentication codes for DE 64 / DE 128 (8 bytes on the wire).
 *
 * - ISO 9797-1 MAC algorithm 3 ("retail MAC", ANSI X9.19) with a double-length TDES key,
 *   padding method 1 (zeros) or 2 (0x80 then zeros).
 * - CMAC (NIST SP 800-38B = ISO 9797-1 algorithm 5) with AES (RFC 4493) or SM4.
 * - SM4 CBC-MAC (ISO 9797-1 / GB/T 15852.1 algorithm 1, padding method 2) for terminals whose
 *   国密 profile asks for it; CMAC is the default SM4 choice (see docs/pos-security.md).
 */
import { timingSafeEqual } from 'node:crypto';
import {
  PosCryptoError,
  assertKeyLength,
  blockSize,
  cmacBlock,
  desDecryptEcb,
  desEncryptEcb,
  encryptCbc,
  type KeyAlgorithm,
} from './keys.js';

export const MAC_ALGORITHMS = [
  'retail-tdes-pad1',
  'retail-tdes-pad2',
  'aes-cmac',
  'sm4-cmac',
  'sm4-cbcmac-pad2',
] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

/** Bytes of the MAC as carried in DE 64 / DE 128. */
export const WIRE_MAC_LENGTH = 8;

export function isMacAlgorithm(v: unknown): v is MacAlgorithm {
  return typeof v === 'string' && (MAC_ALGORITHMS as readonly string[]).includes(v);
}

/** Key algorithm a MAC algorithm needs; the key store refuses a key of another algorithm. */
export function macKeyAlgorithm(alg: MacAlgorithm): KeyAlgorithm {
  if (alg.startsWith('retail-tdes')) return 'tdes';
  return alg.startsWith('aes') ? 'aes' : 'sm4';
}

/** ISO 9797-1 padding. Method 1 pads nothing onto a non-empty whole-block message, one zero block onto empty data. */
export function pad(data: Buffer, bs: number, method: 1 | 2): Buffer {
  if (method === 2) {
    const total = (Math.floor(data.length / bs) + 1) * bs;
    const out = Buffer.alloc(total);
    data.copy(out);
    out[data.length] = 0x80;
    return out;
  }
  const total = data.length === 0 ? bs : Math.ceil(data.length / bs) * bs;
  const out = Buffer.alloc(total);
  data.copy(out);
  return out;
}

/**
 * ISO 9797-1 MAC algorithm 3: single-DES CBC-MAC under K (left half), then the final block
 * decrypted under K' (right half) and encrypted under K again. Output 8 bytes.
 */
export function retailMac(key: Buffer, data: Buffer, padding: 1 | 2): Buffer {
  if (key.length !== 16) throw new PosCryptoError('KEY_LENGTH', `retail MAC needs a 16-byte TDES key, got ${key.length}`);
  const k1 = key.subarray(0, 8);
  const k2 = key.subarray(8, 16);
  const p = pad(data, 8, padding);
  let h: Buffer = Buffer.alloc(8);
  for (let off = 0; off < p.length; off += 8) {
    const x = Buffer.alloc(8);
    for (let i = 0; i < 8; i++) x[i] = h[i]! ^ p[off + i]!;
    h = desEncryptEcb(k1, x);
  }
  return desEncryptEcb(k1, desDecryptEcb(k2, h));
}

/** ISO 9797-1 algorithm 1 (plain CBC-MAC, zero IV), full block output. */
export function cbcMac(alg: KeyAlgorithm, key: Buffer, data: Buffer, padding: 1 | 2): Buffer {
  const bs = blockSize(alg);
  const c = encryptCbc(alg, key, pad(data, bs, padding));
  return Buffer.from(c.subarray(c.length - bs));
}

/** The 8-byte wire MAC of `data` (the bytes the codec's macData() returns). */
export function computeMac(alg: MacAlgorithm, key: Buffer, data: Buffer): Buffer {
  assertKeyLength(macKeyAlgorithm(alg), key);
  switch (alg) {
    case 'retail-tdes-pad1':
      return retailMac(key, data, 1);
    case 'retail-tdes-pad2':
      return retailMac(key, data, 2);
    case 'aes-cmac':
      return cmacBlock('aes', key, data).subarray(0, WIRE_MAC_LENGTH);
    case 'sm4-cmac':
      return cmacBlock('sm4', key, data).subarray(0, WIRE_MAC_LENGTH);
    case 'sm4-cbcmac-pad2':
      return cbcMac('sm4', key, data, 2).subarray(0, WIRE_MAC_LENGTH);
    default:
      throw new PosCryptoError('MAC_ALGORITHM', `unknown MAC algorithm ${String(alg)}`);
  }
}

/** Constant-time equality for equal-length MACs; lengths are public so comparing them first leaks nothing. */
export function macEquals(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/**
 * Verifies a received MAC. A received MAC of the wrong size is a typed error (the message is
 * malformed), a MAC that does not match returns false.
 */
export function verifyMac(alg: MacAlgorithm, key: Buffer, data: Buffer, received: Buffer): boolean {
  if (received.length !== WIRE_MAC_LENGTH) {
    throw new PosCryptoError('MAC_LENGTH', `MAC must be ${WIRE_MAC_LENGTH} bytes, got ${received.length}`);
  }
  return macEquals(computeMac(alg, key, data), received);
}
