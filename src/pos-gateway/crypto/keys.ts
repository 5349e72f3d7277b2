/**
 * Symmetric key primitives for the terminal host: block ciphers (TDES, AES, SM4) over node:crypto,
 * key check values, and wrapping of session keys under a terminal master key.
 *
 * Everything here handles clear key bytes, so it is meant to run only inside a KeyStore
 * implementation (keystore.ts) or in tests/simulators. Host code works with key references.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type KeyAlgorithm = 'tdes' | 'aes' | 'sm4';

export const CRYPTO_ERROR_CODES = [
  'KEY_LENGTH', // key size not valid for the algorithm
  'KEY_NOT_FOUND',
  'KEY_EXISTS',
  'KEY_USAGE', // key used for something its usage does not allow
  'KEY_ALGORITHM', // operation not defined for this key algorithm
  'KCV_MISMATCH', // unwrapped key does not match the check value sent with it
  'WRAPPED_KEY_INVALID', // ciphertext of a wrapped key has the wrong size or fails integrity
  'DATA_LENGTH', // data is not a whole number of blocks where that is required
  'MAC_LENGTH', // a MAC of a size the algorithm cannot produce
  'MAC_ALGORITHM', // unknown MAC algorithm or not allowed for the key
  'PIN_INVALID', // a clear PIN that is not 4..12 decimal digits (terminal side only)
  'PAN_INVALID', // PAN not 1..19 decimal digits (format 4: up to 19) / fewer than 13 for format 0
  'PIN_BLOCK_LENGTH',
  'PIN_BLOCK_INVALID', // decrypted block is not a well-formed PIN block (wrong key, PAN or tampered)
  'PIN_BLOCK_FORMAT', // PIN block format not usable with this key algorithm
  'PVV_UNAVAILABLE', // no PIN verification value on file for the card
  'KEYSTORE_STATE_INVALID', // persisted key store state cannot be read with the KEK given
] as const;
export type CryptoErrorCode = (typeof CRYPTO_ERROR_CODES)[number];

/** Typed error of the crypto layer: `code` is stable and safe to map onto ISO 8583 action codes. */
export class PosCryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'PosCryptoError';
    this.code = code;
  }
}

export function isPosCryptoError(e: unknown): e is PosCryptoError {
  return e instanceof PosCryptoError;
}

export function blockSize(alg: KeyAlgorithm): 8 | 16 {
  return alg === 'tdes' ? 8 : 16;
}

/** Valid clear key lengths in bytes. TDES: double (2-key) or triple (3-key) length. */
export function validKeyLengths(alg: KeyAlgorithm): readonly number[] {
  switch (alg) {
    case 'tdes':
      return [16, 24];
    case 'aes':
      return [16, 24, 32];
    case 'sm4':
      return [16];
  }
}

export function assertKeyLength(alg: KeyAlgorithm, key: Buffer): void {
  if (!validKeyLengths(alg).includes(key.length)) {
    throw new PosCryptoError('KEY_LENGTH', `${alg} key must be ${validKeyLengths(alg).join('/')} bytes, got ${key.length}`);
  }
}

function cipherName(alg: KeyAlgorithm, key: Buffer, mode: 'ecb' | 'cbc'): { name: string; key: Buffer } {
  assertKeyLength(alg, key);
  switch (alg) {
    case 'tdes':
      // OpenSSL 3 only has 3-key EDE in the default provider; K1K2K1 is the same cipher as 2-key TDES.
      return { name: `des-ede3-${mode}`, key: key.length === 16 ? Buffer.concat([key, key.subarray(0, 8)]) : key };
    case 'aes':
      return { name: `aes-${key.length * 8}-${mode}`, key };
    case 'sm4':
      return { name: `sm4-${mode}`, key };
  }
}

function run(encrypt: boolean, alg: KeyAlgorithm, key: Buffer, data: Buffer, mode: 'ecb' | 'cbc', iv?: Buffer): Buffer {
  const bs = blockSize(alg);
  if (data.length % bs !== 0) {
    throw new PosCryptoError('DATA_LENGTH', `${alg} data must be a multiple of ${bs} bytes, got ${data.length}`);
  }
  const c = cipherName(alg, key, mode);
  const ivBuf = mode === 'cbc' ? (iv ?? Buffer.alloc(bs)) : null;
  const cipher = encrypt ? createCipheriv(c.name, c.key, ivBuf) : createDecipheriv(c.name, c.key, ivBuf);
  cipher.setAutoPadding(false);
  const out = Buffer.concat([cipher.update(data), cipher.final()]);
  if (c.key !== key) c.key.fill(0);
  return out;
}

/** ECB encryption of whole blocks, no padding. */
export function encryptEcb(alg: KeyAlgorithm, key: Buffer, data: Buffer): Buffer {
  return run(true, alg, key, data, 'ecb');
}
export function decryptEcb(alg: KeyAlgorithm, key: Buffer, data: Buffer): Buffer {
  return run(false, alg, key, data, 'ecb');
}
/** CBC encryption of whole blocks, no padding, IV zero unless given. */
export function encryptCbc(alg: KeyAlgorithm, key: Buffer, data: Buffer, iv?: Buffer): Buffer {
  return run(true, alg, key, data, 'cbc', iv);
}
export function decryptCbc(alg: KeyAlgorithm, key: Buffer, data: Buffer, iv?: Buffer): Buffer {
  return run(false, alg, key, data, 'cbc', iv);
}

/**
 * Single DES on one or more blocks. OpenSSL 3 moved DES to the legacy provider, so single DES is
 * computed as EDE3 with K|K|K (E_K D_K E_K = E_K); the retail MAC needs it for its CBC chain.
 */
export function desEncryptEcb(key8: Buffer, data: Buffer): Buffer {
  if (key8.length !== 8) throw new PosCryptoError('KEY_LENGTH', `single DES key must be 8 bytes, got ${key8.length}`);
  const k = Buffer.concat([key8, key8, key8]);
  try {
    return encryptEcb('tdes', k, data);
  } finally {
    k.fill(0);
  }
}
export function desDecryptEcb(key8: Buffer, data: Buffer): Buffer {
  if (key8.length !== 8) throw new PosCryptoError('KEY_LENGTH', `single DES key must be 8 bytes, got ${key8.length}`);
  const k = Buffer.concat([key8, key8, key8]);
  try {
    return decryptEcb('tdes', k, data);
  } finally {
    k.fill(0);
  }
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ (b[i] ?? 0);
  return out;
}

/** Sets odd parity on every byte (DES convention; the parity bit is ignored by the cipher). */
export function withOddParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    const b = out[i]! & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    out[i] = ones % 2 === 0 ? b | 1 : b;
  }
  return out;
}

/**
 * A fresh random key. TDES keys get odd parity and distinct halves (a double-length key with
 * K1 = K2 would be single DES).
 */
export function generateClearKey(alg: KeyAlgorithm, length?: number): Buffer {
  const len = length ?? 16;
  if (!validKeyLengths(alg).includes(len)) throw new PosCryptoError('KEY_LENGTH', `${alg} cannot have ${len}-byte keys`);
  for (;;) {
    const k = alg === 'tdes' ? withOddParity(randomBytes(len)) : randomBytes(len);
    if (alg !== 'tdes' || !k.subarray(0, 8).equals(k.subarray(8, 16))) return k;
  }
}

export type KcvMethod = 'ecb-zero' | 'cmac-zero';

/** Default KCV method: E(K, 0…0) for TDES and SM4; AES-CMAC of a zero block for AES (ANSI X9.24-1:2017). */
export function defaultKcvMethod(alg: KeyAlgorithm): KcvMethod {
  return alg === 'aes' ? 'cmac-zero' : 'ecb-zero';
}

/**
 * Key check value: the leftmost `length` bytes (default 3) of the encryption of a zero block,
 * or of the CMAC of a zero block.
 */
export function keyCheckValue(
  alg: KeyAlgorithm,
  key: Buffer,
  opts: { method?: KcvMethod; length?: number } = {},
): Buffer {
  const method = opts.method ?? defaultKcvMethod(alg);
  const length = opts.length ?? 3;
  const bs = blockSize(alg);
  if (!Number.isInteger(length) || length < 1 || length > bs) {
    throw new PosCryptoError('DATA_LENGTH', `KCV length must be 1..${bs}`);
  }
  const zero = Buffer.alloc(bs);
  const full = method === 'ecb-zero' ? encryptEcb(alg, key, zero) : cmacBlock(alg, key, zero);
  return full.subarray(0, length);
}

// CMAC (NIST SP 800-38B) lives here rather than in mac.ts because the AES KCV needs it.
function shiftLeft1(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length);
  for (let i = 0; i < b.length; i++) out[i] = ((b[i]! << 1) | ((b[i + 1] ?? 0) >> 7)) & 0xff;
  return out;
}

function cmacSubkeys(alg: KeyAlgorithm, key: Buffer): [Buffer, Buffer] {
  const bs = blockSize(alg);
  const rb = bs === 16 ? 0x87 : 0x1b;
  const l = encryptEcb(alg, key, Buffer.alloc(bs));
  const dbl = (x: Buffer): Buffer => {
    const s = shiftLeft1(x);
    if (x[0]! & 0x80) s[bs - 1] = s[bs - 1]! ^ rb;
    return s;
  };
  const k1 = dbl(l);
  const k2 = dbl(k1);
  l.fill(0);
  return [k1, k2];
}

/** Full-block CMAC tag (SP 800-38B; RFC 4493 for AES-128); callers truncate to the leftmost bytes. */
export function cmacBlock(alg: KeyAlgorithm, key: Buffer, data: Buffer): Buffer {
  const bs = blockSize(alg);
  const [k1, k2] = cmacSubkeys(alg, key);
  const n = Math.max(1, Math.ceil(data.length / bs));
  const complete = data.length > 0 && data.length % bs === 0;
  const last = Buffer.alloc(bs);
  data.copy(last, 0, (n - 1) * bs);
  if (!complete) last[data.length - (n - 1) * bs] = 0x80;
  const lastX = xor(last, complete ? k1 : k2);
  k1.fill(0);
  k2.fill(0);
  const padded = Buffer.concat([data.subarray(0, (n - 1) * bs), lastX]);
  const cbc = encryptCbc(alg, key, padded);
  return Buffer.from(cbc.subarray(cbc.length - bs));
}

export type WrapMethod = 'ecb' | 'aes-kw';

/**
 * Encrypts a session key under a key-encryption key (the TMK at sign-on).
 * - `ecb`: the classic "key under TMK": the key's blocks each encrypted in ECB. Works for every
 *   algorithm pair whose key length is a multiple of the KEK's block size; the terminal fleet
 *   understands it. It does not bind usage (see docs/pos-security.md: TR-31 is the upgrade path).
 * - `aes-kw`: RFC 3394 AES key wrap (AES KEK only), which adds an integrity check.
 */
export function wrapKey(kekAlg: KeyAlgorithm, kek: Buffer, key: Buffer, method: WrapMethod = 'ecb'): Buffer {
  if (method === 'aes-kw') {
    if (kekAlg !== 'aes') throw new PosCryptoError('KEY_ALGORITHM', 'aes-kw needs an AES key-encryption key');
    assertKeyLength('aes', kek);
    if (key.length < 16 || key.length % 8 !== 0) throw new PosCryptoError('DATA_LENGTH', 'aes-kw wraps keys of 16+ bytes, multiple of 8');
    const c = createCipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
    return Buffer.concat([c.update(key), c.final()]);
  }
  return encryptEcb(kekAlg, kek, key);
}

export function unwrapKey(kekAlg: KeyAlgorithm, kek: Buffer, wrapped: Buffer, method: WrapMethod = 'ecb'): Buffer {
  if (method === 'aes-kw') {
    if (kekAlg !== 'aes') throw new PosCryptoError('KEY_ALGORITHM', 'aes-kw needs an AES key-encryption key');
    assertKeyLength('aes', kek);
    if (wrapped.length < 24 || wrapped.length % 8 !== 0) throw new PosCryptoError('WRAPPED_KEY_INVALID', 'aes-kw ciphertext must be 24+ bytes, multiple of 8');
    try {
      const d = createDecipheriv(`id-aes${kek.length * 8}-wrap`, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
      return Buffer.concat([d.update(wrapped), d.final()]);
    } catch {
      throw new PosCryptoError('WRAPPED_KEY_INVALID', 'aes-kw integrity check failed');
    }
  }
  if (wrapped.length === 0 || wrapped.length % blockSize(kekAlg) !== 0) {
    throw new PosCryptoError('WRAPPED_KEY_INVALID', `wrapped key must be whole ${kekAlg} blocks, got ${wrapped.length} bytes`);
  }
  return decryptEcb(kekAlg, kek, wrapped);
}

/** Unwraps and checks against the KCV the sender computed; a mismatch means wrong TMK or corrupted key. */
export function unwrapKeyChecked(
  kekAlg: KeyAlgorithm,
  kek: Buffer,
  keyAlg: KeyAlgorithm,
  wrapped: Buffer,
  kcv: Buffer,
  method: WrapMethod = 'ecb',
): Buffer {
  const key = unwrapKey(kekAlg, kek, wrapped, method);
  if (!validKeyLengths(keyAlg).includes(key.length)) {
    key.fill(0);
    throw new PosCryptoError('WRAPPED_KEY_INVALID', `unwrapped ${key.length} bytes is not a ${keyAlg} key`);
  }
  const okLength = kcv.length >= 1 && kcv.length <= blockSize(keyAlg);
  if (!okLength || !keyCheckValue(keyAlg, key, { length: kcv.length }).equals(kcv)) {
    key.fill(0);
    throw new PosCryptoError('KCV_MISMATCH', 'key check value does not match the unwrapped key');
  }
  return key;
}

/** Strict hex parse for fixtures and configuration; outside bytes never arrive as hex here. */
export function hex(s: string): Buffer {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) throw new PosCryptoError('DATA_LENGTH', 'not an even-length hex string');
  return Buffer.from(t, 'hex');
}
