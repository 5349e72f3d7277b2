import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blindIndex, createFieldCipher, currentValuePattern } from './field-cipher.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('国密 known answers (OpenSSL primitives the field cipher is built on)', () => {
  it('SM4: GB/T 32907-2016 appendix A example 1 (one block) and example 2 (1,000,000 encryptions)', () => {
    const key = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
    const enc = (block: Buffer) => {
      const c = createCipheriv('sm4-ecb', key, null);
      c.setAutoPadding(false);
      return Buffer.concat([c.update(block), c.final()]);
    };
    expect(enc(key).toString('hex')).toBe('681edf34d206965e86b3e94f536e4246');
    // Example 2: the same key, the block encrypted 1,000,000 times in a row (ECB holds no state between calls).
    const c = createCipheriv('sm4-ecb', key, null);
    c.setAutoPadding(false);
    let block = Buffer.from(key);
    for (let i = 0; i < 1_000_000; i++) block = c.update(block);
    expect(block.toString('hex')).toBe('595298c7c6fd271f0402f804c33d3f66');
  });

  it('SM3: GB/T 32905-2016 appendix A examples 1 ("abc") and 2 (512-bit "abcd"×16)', () => {
    expect(createHash('sm3').update('abc').digest('hex')).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    expect(createHash('sm3').update('abcd'.repeat(16)).digest('hex')).toBe('debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  });
});

describe('field cipher algorithms', () => {
  for (const algorithm of ['aes-256-gcm', 'sm4'] as const) {
    it(`${algorithm}: round-trips text (Chinese, empty, long) with a fresh IV each time`, () => {
      const c = createFieldCipher([k1], { algorithm });
      for (const plain of ['13912345678', '张三', '', 'x'.repeat(5000)]) {
        const stored = c.encrypt(plain);
        expect(stored.startsWith(algorithm === 'sm4' ? 'v2.sm4.k1.' : 'v1.k1.')).toBe(true);
        expect(c.decrypt(stored)).toBe(plain);
        expect(c.algorithmOf(stored)).toBe(algorithm);
        expect(c.isCurrent(stored)).toBe(true);
      }
      expect(c.encrypt('a')).not.toBe(c.encrypt('a'));
    });
  }

  it('reads values of both algorithms and every configured key side by side (mixed versions)', () => {
    const oldAes = createFieldCipher([k1]).encrypt('13900000001');
    const oldSm4 = createFieldCipher([k1], { algorithm: 'sm4' }).encrypt('13900000002');
    const now = createFieldCipher([k2, k1], { algorithm: 'sm4' });
    const fresh = now.encrypt('13900000003');
    expect([oldAes, oldSm4, fresh].map((v) => now.decrypt(v))).toEqual(['13900000001', '13900000002', '13900000003']);
    expect([oldAes, oldSm4, fresh].map((v) => now.isCurrent(v))).toEqual([false, false, true]);
    expect(now.keyIdOf(oldSm4)).toBe('k1');
    expect(now.keyIds).toEqual(['k2', 'k1']);
    // An AES cipher reads SM4 values too: switching back is also a rotation, not an outage.
    expect(createFieldCipher([k2, k1]).decrypt(fresh)).toBe('13900000003');
  });

  it('SM4 values are authenticated: a changed byte, key id or algorithm label is refused', () => {
    const c = createFieldCipher([k2, k1], { algorithm: 'sm4' });
    const v = c.encrypt('310101199001011234');
    const parts = v.split('.');
    const ct = Buffer.from(parts[5]!, 'base64url');
    ct[0]! ^= 1;
    expect(() => c.decrypt([...parts.slice(0, 5), ct.toString('base64url')].join('.'))).toThrow(/integrity/);
    expect(() => c.decrypt(v.replace('.k2.', '.k1.'))).toThrow();
    expect(() => c.decrypt(['v1', ...parts.slice(2)].join('.'))).toThrow();
    const short = [...parts.slice(0, 4), parts[4]!.slice(0, 10), parts[5]].join('.');
    expect(() => c.decrypt(short)).toThrow();
  });

  it('names an unknown key and refuses non-values', () => {
    const v = createFieldCipher([k1], { algorithm: 'sm4' }).encrypt('x');
    expect(() => createFieldCipher([k2]).decrypt(v)).toThrow(/data key k1 is not configured/);
    expect(() => createFieldCipher([k2]).decrypt('plain text')).toThrow(/not an encrypted field value/);
    expect(createFieldCipher([k2]).algorithmOf('plain')).toBeNull();
  });

  it('currentValuePattern matches exactly the current key and algorithm (escaping _)', () => {
    expect(currentValuePattern(createFieldCipher([{ id: 'k_2', key: k1.key }]))).toBe('v1.k\\_2.%');
    expect(currentValuePattern(createFieldCipher([k2], { algorithm: 'sm4' }))).toBe('v2.sm4.k2.%');
  });

  it('blind index: HMAC-SHA-256 by default (unchanged values), HMAC-SM3 on request', () => {
    const key = Buffer.alloc(32, 7);
    expect(blindIndex(key, 'phone', '139')).toBe(blindIndex(key, 'phone', '139', 'sha256'));
    expect(blindIndex(key, 'phone', '139', 'sm3')).not.toBe(blindIndex(key, 'phone', '139'));
    expect(Buffer.from(blindIndex(key, 'phone', '139', 'sm3'), 'base64url')).toHaveLength(32);
  });
});
