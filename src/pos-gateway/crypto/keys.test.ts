import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  PosCryptoError,
  cmacBlock,
  decryptEcb,
  desEncryptEcb,
  encryptCbc,
  encryptEcb,
  generateClearKey,
  hex,
  keyCheckValue,
  unwrapKey,
  unwrapKeyChecked,
  withOddParity,
  wrapKey,
} from './keys.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PosCryptoError);
    return (e as PosCryptoError).code;
  }
  throw new Error('expected a PosCryptoError');
}

describe('block ciphers (KAT)', () => {
  it('SM4: GB/T 32907-2016 Appendix A example 1 (encrypt and decrypt)', () => {
    // GB/T 32907-2016 附录A 示例1 (also draft-ribose-cfrg-sm4 A.1): key = plaintext = 0123…3210.
    const k = hex('0123456789abcdeffedcba9876543210');
    const c = encryptEcb('sm4', k, k);
    expect(c.toString('hex')).toBe('681edf34d206965e86b3e94f536e4246');
    expect(decryptEcb('sm4', k, c).equals(k)).toBe(true);
  });

  it('SM4: GB/T 32907-2016 Appendix A example 2 (1,000,000 encryptions)', () => {
    // One cipher context so the loop stays fast; this checks the platform SM4 the module relies on.
    const k = hex('0123456789abcdeffedcba9876543210');
    const c = createCipheriv('sm4-ecb', k, null);
    c.setAutoPadding(false);
    let b: Buffer = Buffer.from(k);
    for (let i = 0; i < 1_000_000; i++) b = c.update(b);
    expect(b.toString('hex')).toBe('595298c7c6fd271f0402f804c33d3f66');
  });

  it('single DES through EDE3 K|K|K: classic DES KAT (NBS ECB set, as in BouncyCastle DESTest)', () => {
    expect(desEncryptEcb(hex('7CA110454A1A6E57'), hex('01A1D6D039776742')).toString('hex')).toBe('690f5b0d9a26939b');
  });

  it('double-length TDES equals K1K2K1 triple-length', () => {
    const k = hex('0123456789ABCDEFFEDCBA9876543210');
    const k3 = Buffer.concat([k, k.subarray(0, 8)]);
    const d = hex('4E6F772069732074');
    expect(encryptEcb('tdes', k, d).equals(encryptEcb('tdes', k3, d))).toBe(true);
  });

  it('refuses partial blocks and bad key sizes with typed errors', () => {
    expect(codeOf(() => encryptEcb('aes', Buffer.alloc(16), Buffer.alloc(15)))).toBe('DATA_LENGTH');
    expect(codeOf(() => encryptEcb('tdes', Buffer.alloc(8), Buffer.alloc(8)))).toBe('KEY_LENGTH');
    expect(codeOf(() => encryptEcb('sm4', Buffer.alloc(32), Buffer.alloc(16)))).toBe('KEY_LENGTH');
    expect(codeOf(() => desEncryptEcb(Buffer.alloc(16), Buffer.alloc(8)))).toBe('KEY_LENGTH');
  });

  it('CBC with zero IV chains blocks', () => {
    const k = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const p = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51');
    // NIST SP 800-38A F.2.1 CBC-AES128 with IV 000102…0F.
    const c = encryptCbc('aes', k, p, hex('000102030405060708090a0b0c0d0e0f'));
    expect(c.toString('hex')).toBe('7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2');
  });
});

describe('key check values', () => {
  it('TDES KCV = first 3 bytes of E(K, 0^8): 0123…3210 → 08D7B4 (value used across HSM test fixtures)', () => {
    const k = hex('0123456789ABCDEFFEDCBA9876543210');
    expect(keyCheckValue('tdes', k).toString('hex').toUpperCase()).toBe('08D7B4');
    expect(keyCheckValue('tdes', k, { length: 8 }).equals(encryptEcb('tdes', k, Buffer.alloc(8)))).toBe(true);
  });

  it('AES KCV defaults to CMAC of a zero block (X9.24-1:2017); cross-checked with OpenSSL 3.0 `openssl mac CMAC`', () => {
    const k = hex('2b7e151628aed2a6abf7158809cf4f3c');
    expect(keyCheckValue('aes', k).toString('hex').toUpperCase()).toBe('7AD386');
    expect(keyCheckValue('aes', k, { method: 'ecb-zero', length: 16 }).equals(encryptEcb('aes', k, Buffer.alloc(16)))).toBe(true);
  });

  it('SM4 KCV is E(K, 0^16)', () => {
    const k = hex('0123456789abcdeffedcba9876543210');
    expect(keyCheckValue('sm4', k, { length: 4 }).equals(encryptEcb('sm4', k, Buffer.alloc(16)).subarray(0, 4))).toBe(true);
  });

  it('rejects a KCV length larger than the block', () => {
    expect(codeOf(() => keyCheckValue('tdes', Buffer.alloc(16, 1), { length: 9 }))).toBe('DATA_LENGTH');
  });
});

describe('CMAC core', () => {
  it('AES-128 subkey path matches RFC 4493 example 1 (empty message)', () => {
    expect(cmacBlock('aes', hex('2b7e151628aed2a6abf7158809cf4f3c'), Buffer.alloc(0)).toString('hex')).toBe(
      'bb1d6929e95937287fa37d129b756746',
    );
  });
});

describe('key generation', () => {
  it('TDES keys have odd parity and distinct halves', () => {
    for (let i = 0; i < 20; i++) {
      const k = generateClearKey('tdes');
      expect(k.length).toBe(16);
      expect(withOddParity(k).equals(k)).toBe(true);
      expect(k.subarray(0, 8).equals(k.subarray(8))).toBe(false);
    }
    expect(generateClearKey('aes', 32).length).toBe(32);
    expect(codeOf(() => generateClearKey('sm4', 32))).toBe('KEY_LENGTH');
  });

  it('withOddParity fixes parity bits only', () => {
    expect(withOddParity(hex('0000FFFE')).toString('hex')).toBe('0101fefe');
  });
});

describe('key wrapping under a TMK', () => {
  const tmk = hex('0123456789ABCDEFFEDCBA9876543210');

  it('ECB wrap of a double-length key under a TDES TMK round-trips with its KCV', () => {
    const session = hex('F039121BEC83D26B169BDCD5B22AAF8F');
    const wrapped = wrapKey('tdes', tmk, session);
    expect(wrapped.length).toBe(16);
    expect(wrapped.subarray(0, 8).equals(encryptEcb('tdes', tmk, session.subarray(0, 8)))).toBe(true);
    const kcv = keyCheckValue('tdes', session);
    expect(unwrapKeyChecked('tdes', tmk, 'tdes', wrapped, kcv).equals(session)).toBe(true);
  });

  it('a wrong KCV or wrong TMK is KCV_MISMATCH, a truncated key WRAPPED_KEY_INVALID', () => {
    const session = generateClearKey('tdes');
    const wrapped = wrapKey('tdes', tmk, session);
    const kcv = keyCheckValue('tdes', session);
    expect(codeOf(() => unwrapKeyChecked('tdes', generateClearKey('tdes'), 'tdes', wrapped, kcv))).toBe('KCV_MISMATCH');
    expect(codeOf(() => unwrapKeyChecked('tdes', tmk, 'tdes', wrapped, Buffer.alloc(0)))).toBe('KCV_MISMATCH');
    expect(codeOf(() => unwrapKeyChecked('tdes', tmk, 'tdes', wrapped.subarray(0, 12), kcv))).toBe('WRAPPED_KEY_INVALID');
    expect(codeOf(() => unwrapKeyChecked('tdes', tmk, 'aes', wrapped.subarray(0, 8), kcv))).toBe('WRAPPED_KEY_INVALID');
  });

  it('AES and SM4 TMKs wrap 16-byte session keys', () => {
    for (const alg of ['aes', 'sm4'] as const) {
      const k = generateClearKey(alg);
      const t = generateClearKey(alg);
      const w = wrapKey(alg, t, k);
      expect(unwrapKeyChecked(alg, t, alg, w, keyCheckValue(alg, k)).equals(k)).toBe(true);
    }
  });

  it('RFC 3394 AES key wrap: section 4.1 (128-bit KEK) and 4.6 (256-bit KEK, 256-bit key)', () => {
    // RFC 3394 §4.1 and §4.6 test vectors.
    const w1 = wrapKey('aes', hex('000102030405060708090A0B0C0D0E0F'), hex('00112233445566778899AABBCCDDEEFF'), 'aes-kw');
    expect(w1.toString('hex').toUpperCase()).toBe('1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5');
    const kek256 = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F');
    const key256 = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F');
    const w2 = wrapKey('aes', kek256, key256, 'aes-kw');
    expect(w2.toString('hex').toUpperCase()).toBe('28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21');
    expect(unwrapKey('aes', kek256, w2, 'aes-kw').equals(key256)).toBe(true);
  });

  it('a tampered RFC 3394 blob fails integrity with a typed error', () => {
    const kek = hex('000102030405060708090A0B0C0D0E0F');
    const w = wrapKey('aes', kek, hex('00112233445566778899AABBCCDDEEFF'), 'aes-kw');
    w[3] = w[3]! ^ 1;
    expect(codeOf(() => unwrapKey('aes', kek, w, 'aes-kw'))).toBe('WRAPPED_KEY_INVALID');
    expect(codeOf(() => unwrapKey('aes', kek, w.subarray(0, 20), 'aes-kw'))).toBe('WRAPPED_KEY_INVALID');
    expect(codeOf(() => wrapKey('tdes', tmk, Buffer.alloc(16), 'aes-kw'))).toBe('KEY_ALGORITHM');
  });

  it('hex() refuses odd or non-hex input', () => {
    expect(codeOf(() => hex('abc'))).toBe('DATA_LENGTH');
    expect(codeOf(() => hex('zz'))).toBe('DATA_LENGTH');
  });
});
