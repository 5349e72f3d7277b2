/**
 * ISO 9564-1 PIN blocks: format 0 (ANSI X9.8, 8 bytes, TDES) and format 4 (ISO 9564-1:2017,
 * 16 bytes, AES; SM4 by our choice for the 国密 profile).
 *
 * PINs are handled as Buffers of digit values (0..9) so the key store can wipe them after use;
 * nothing here logs. Host code never calls the decrypting functions directly: it goes through
 * the KeyStore (keystore.ts), which keeps clear PINs and keys inside. The string helpers
 * at the end are for terminals, the simulator and tests.
 */
import { randomBytes } from 'node:crypto';
import { PosCryptoError, decryptEcb, encryptEcb, xor, type KeyAlgorithm } from './keys.js';

export type PinBlockFormat = 0 | 4;

export const PIN_MIN_DIGITS = 4;
export const PIN_MAX_DIGITS = 12;

export function pinBlockLength(format: PinBlockFormat): 8 | 16 {
  return format === 0 ? 8 : 16;
}

/** Format 0 needs a 64-bit block cipher, format 4 a 128-bit one. */
export function assertFormatForAlgorithm(format: PinBlockFormat, alg: KeyAlgorithm): void {
  const ok = format === 0 ? alg === 'tdes' : alg === 'aes' || alg === 'sm4';
  if (!ok) throw new PosCryptoError('PIN_BLOCK_FORMAT', `PIN block format ${format} cannot be used with a ${alg} key`);
}

function panDigits(pan: string): string {
  if (typeof pan !== 'string' || !/^[0-9]{1,19}$/.test(pan)) {
    throw new PosCryptoError('PAN_INVALID', 'PAN must be 1..19 decimal digits');
  }
  return pan;
}

export function assertPinDigits(pin: Buffer): void {
  if (pin.length < PIN_MIN_DIGITS || pin.length > PIN_MAX_DIGITS || pin.some((d) => d > 9)) {
    throw new PosCryptoError('PIN_INVALID', `PIN must be ${PIN_MIN_DIGITS}..${PIN_MAX_DIGITS} decimal digits`);
  }
}

function nibblesToBytes(n: number[]): Buffer {
  const out = Buffer.alloc(n.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (n[2 * i]! << 4) | n[2 * i + 1]!;
  return out;
}

function bytesToNibbles(b: Buffer): number[] {
  const out: number[] = [];
  for (const x of b) out.push(x >> 4, x & 0x0f);
  return out;
}

/**
 * Format 0 PAN field: 0000 + the 12 rightmost PAN digits excluding the check digit. A PAN under
 * 13 digits would be zero-padded into the field, so the block binds to fewer PAN digits and
 * different short PANs share a PAN field: refused rather than padded.
 */
export function panField0(pan: string): Buffer {
  if (panDigits(pan).length < 13) throw new PosCryptoError('PAN_INVALID', 'format 0 needs a PAN of 13..19 digits');
  const d = pan.slice(0, -1).slice(-12);
  return Buffer.from(`0000${d}`, 'hex');
}

/** Format 0 PIN field: 0, length, PIN, F fill. */
export function pinField0(pin: Buffer): Buffer {
  assertPinDigits(pin);
  const n = [0, pin.length, ...pin];
  while (n.length < 16) n.push(0xf);
  return nibblesToBytes(n);
}

/** Format 4 PAN field: (length − 12), then the PAN (left zero-padded to 12 digits), zero fill to 32 nibbles. */
export function panField4(pan: string): Buffer {
  const d = panDigits(pan);
  const digits = d.length < 12 ? d.padStart(12, '0') : d;
  const n = [digits.length - 12, ...[...digits].map(Number)];
  while (n.length < 32) n.push(0);
  return nibblesToBytes(n);
}

/** Format 4 PIN field: 4, length, PIN, A fill to 16 nibbles, then 8 random bytes. */
export function pinField4(pin: Buffer, random: Buffer = randomBytes(8)): Buffer {
  assertPinDigits(pin);
  if (random.length !== 8) throw new PosCryptoError('DATA_LENGTH', 'format 4 random fill is 8 bytes');
  const n = [4, pin.length, ...pin];
  while (n.length < 16) n.push(0xa);
  return Buffer.concat([nibblesToBytes(n), random]);
}

/** Parses a clear PIN field (after removing the PAN); null when it is not well formed. */
function parsePinField(format: PinBlockFormat, field: Buffer): Buffer | null {
  const n = bytesToNibbles(field.subarray(0, 8));
  const len = n[1]!;
  if (n[0] !== format || len < PIN_MIN_DIGITS || len > PIN_MAX_DIGITS) return null;
  const fill = format === 0 ? 0xf : 0xa;
  let bad = 0;
  for (let i = 2; i < 16; i++) bad |= i < 2 + len ? (n[i]! > 9 ? 1 : 0) : n[i] !== fill ? 1 : 0;
  if (bad) return null;
  return Buffer.from(n.slice(2, 2 + len));
}

/** Clear format 0 block = PIN field XOR PAN field. */
export function clearPinBlock0(pin: Buffer, pan: string): Buffer {
  return xor(pinField0(pin), panField0(pan));
}

/** Encrypts a PIN (digit values) into a PIN block under `key`. `random` only for format 4 KATs. */
export function encryptPinBlock(
  format: PinBlockFormat,
  alg: KeyAlgorithm,
  key: Buffer,
  pin: Buffer,
  pan: string,
  random?: Buffer,
): Buffer {
  assertFormatForAlgorithm(format, alg);
  if (format === 0) {
    const clear = clearPinBlock0(pin, pan);
    try {
      return encryptEcb(alg, key, clear);
    } finally {
      clear.fill(0);
    }
  }
  const field = pinField4(pin, random);
  const i1 = encryptEcb(alg, key, field);
  const i2 = xor(i1, panField4(pan));
  field.fill(0);
  return encryptEcb(alg, key, i2);
}

/**
 * Decrypts a PIN block to PIN digit values. Any malformation (wrong key, wrong PAN, tampering)
 * is the same error, so a caller learns nothing about which part was wrong.
 */
export function decryptPinBlock(format: PinBlockFormat, alg: KeyAlgorithm, key: Buffer, block: Buffer, pan: string): Buffer {
  assertFormatForAlgorithm(format, alg);
  if (!Buffer.isBuffer(block) || block.length !== pinBlockLength(format)) {
    throw new PosCryptoError('PIN_BLOCK_LENGTH', `format ${format} PIN block must be ${pinBlockLength(format)} bytes`);
  }
  let field: Buffer;
  if (format === 0) {
    field = xor(decryptEcb(alg, key, block), panField0(pan));
  } else {
    const i2 = decryptEcb(alg, key, block);
    const i1 = xor(i2, panField4(pan));
    field = decryptEcb(alg, key, i1);
    i1.fill(0);
    i2.fill(0);
  }
  const pin = parsePinField(format, field);
  field.fill(0);
  if (!pin) throw new PosCryptoError('PIN_BLOCK_INVALID', 'PIN block does not decode to a valid PIN field');
  return pin;
}

/** Terminal/simulator helper: PIN as a digit string. */
export function pinDigitsFromString(pin: string): Buffer {
  if (typeof pin !== 'string' || !/^[0-9]{4,12}$/.test(pin)) {
    throw new PosCryptoError('PIN_INVALID', `PIN must be ${PIN_MIN_DIGITS}..${PIN_MAX_DIGITS} decimal digits`);
  }
  return Buffer.from([...pin].map(Number));
}

/** Terminal/simulator helper: builds the encrypted PIN block a terminal would put into DE 52. */
export function encipherPin(opts: {
  format: PinBlockFormat;
  algorithm: KeyAlgorithm;
  key: Buffer;
  pin: string;
  pan: string;
}): Buffer {
  const digits = pinDigitsFromString(opts.pin);
  try {
    return encryptPinBlock(opts.format, opts.algorithm, opts.key, digits, opts.pan);
  } finally {
    digits.fill(0);
  }
}
