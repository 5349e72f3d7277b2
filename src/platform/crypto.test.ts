import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blindIndex, createFieldCipher, hmacSha256Hex, randomToken, safeEqual, sha256Hex } from './crypto.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

/** Replace one base64url character of part `index` of a stored value with another valid one. */
function flip(stored: string, index: number): string {
  const parts = stored.split('.');
  const p = parts[index]!;
  const pos = Math.floor(p.length / 2);
  parts[index] = p.slice(0, pos) + (p[pos] === 'A' ? 'B' : 'A') + p.slice(pos + 1);
  return parts.join('.');
}

describe('field encryption (AES-256-GCM)', () => {
  it('round-trips text, including Chinese and empty strings', () => {
    const c = createFieldCipher([k1]);
    for (const plain of ['13912345678', '张三', '310101199001011234', '', 'x'.repeat(5000)]) {
      const stored = c.encrypt(plain);
      expect(stored.startsWith('v1.k1.')).toBe(true);
      expect(stored).not.toContain(plain || '\u0000');
      expect(c.decrypt(stored)).toBe(plain);
    }
  });

  it('uses a fresh IV for every value, so equal plaintexts do not match', () => {
    const c = createFieldCipher([k1]);
    const a = c.encrypt('13912345678');
    const b = c.encrypt('13912345678');
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('detects tampering with the ciphertext, the tag or the IV', () => {
    const c = createFieldCipher([k1]);
    const stored = c.encrypt('13912345678');
    for (const index of [2, 3, 4]) expect(() => c.decrypt(flip(stored, index))).toThrow();
  });

  it('refuses a truncated authentication tag', () => {
    const c = createFieldCipher([k1]);
    const parts = c.encrypt('13912345678').split('.');
    for (const bytes of [4, 8, 12, 15]) {
      const short = [...parts.slice(0, 3), Buffer.from(parts[3]!, 'base64url').subarray(0, bytes).toString('base64url'), parts[4]].join('.');
      expect(() => c.decrypt(short)).toThrow();
    }
  });

  it('refuses a value under another key or with a forged key id', () => {
    const a = createFieldCipher([k1]);
    const b = createFieldCipher([{ id: 'k1', key: randomBytes(32) }]);
    expect(() => b.decrypt(a.encrypt('secret'))).toThrow();
    const relabelled = a.encrypt('secret').replace('v1.k1.', 'v1.k2.');
    expect(() => createFieldCipher([k1, k2]).decrypt(relabelled)).toThrow();
  });

  it('refuses values that are not ours', () => {
    const c = createFieldCipher([k1]);
    for (const v of ['', 'plain text', 'v2.k1.a.b.c', 'v1.k1.a.b', 'v1..a.b.c']) expect(() => c.decrypt(v)).toThrow();
  });

  it('rotates keys by id: new writes use the first key, old values still read', () => {
    const before = createFieldCipher([k1]);
    const old = before.encrypt('13800000000');
    const after = createFieldCipher([k2, k1]);
    expect(after.currentKeyId).toBe('k2');
    expect(after.keyIdOf(old)).toBe('k1');
    expect(after.decrypt(old)).toBe('13800000000');
    const fresh = after.encrypt('13800000000');
    expect(after.keyIdOf(fresh)).toBe('k2');
    // Re-encryption job: once rewritten, the old key can be retired.
    const retired = createFieldCipher([k2]);
    expect(retired.decrypt(after.encrypt(after.decrypt(old)))).toBe('13800000000');
    expect(() => retired.decrypt(old)).toThrow();
    expect(() => createFieldCipher([])).toThrow();
  });
});

describe('blind index', () => {
  it('is deterministic, keyed and separated by domain', () => {
    const key = randomBytes(32);
    const a = blindIndex(key, 'phone', '13912345678');
    expect(blindIndex(key, 'phone', '13912345678')).toBe(a);
    expect(blindIndex(key, 'phone', '13912345679')).not.toBe(a);
    expect(blindIndex(key, 'id_number', '13912345678')).not.toBe(a);
    expect(blindIndex(randomBytes(32), 'phone', '13912345678')).not.toBe(a);
    // No ambiguity between domain and value boundaries.
    expect(blindIndex(key, 'ab', 'c')).not.toBe(blindIndex(key, 'a', 'bc'));
    expect(a).not.toContain('13912345678');
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('hashing helpers', () => {
  it('sha256Hex and hmacSha256Hex match known vectors', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // RFC 4231 test case 2.
    expect(hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('safeEqual compares exactly, whatever the lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });

  it('randomToken is url-safe and unique', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(tokens.size).toBe(100);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
