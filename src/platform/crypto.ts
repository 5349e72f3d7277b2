import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Field encryption for personal data: AES-256-GCM, a fresh 96-bit IV per
 * value, and the key id stored in the value itself ("v1.<keyId>.<iv>.<tag>.<ct>")
 * so keys can rotate: new writes use the first key, reads find theirs by id.
 */
export interface FieldCipher {
  encrypt(plain: string): string;
  decrypt(stored: string): string;
  /** Key id a stored value was written with (for re-encryption jobs). */
  keyIdOf(stored: string): string;
  readonly currentKeyId: string;
}

export function createFieldCipher(keys: ReadonlyArray<{ id: string; key: Buffer }>): FieldCipher {
  const first = keys[0];
  if (!first) throw new Error('at least one data key is required');
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  return {
    currentKeyId: first.id,
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', first.key, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', first.id, iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(stored) {
      const [version, keyId, iv, tag, ct] = stored.split('.');
      if (version !== 'v1' || !keyId || iv === undefined || tag === undefined || ct === undefined) {
        throw new Error('not an encrypted field value');
      }
      const key = byId.get(keyId);
      if (!key) throw new Error(`data key ${keyId} is not configured`);
      const ivBuf = Buffer.from(iv, 'base64url');
      const tagBuf = Buffer.from(tag, 'base64url');
      // GCM would accept a shorter tag (down to 4 bytes), which weakens forgery protection:
      // only the full 16-byte tag and the 12-byte IV we write are accepted.
      if (ivBuf.length !== 12 || tagBuf.length !== 16) throw new Error('not an encrypted field value');
      const decipher = createDecipheriv('aes-256-gcm', key, ivBuf, { authTagLength: 16 });
      decipher.setAuthTag(tagBuf);
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
    keyIdOf(stored) {
      return stored.split('.')[1] ?? '';
    },
  };
}

/** Keyed blind index: equality search on an encrypted field without decrypting. */
export function blindIndex(key: Buffer, domain: string, value: string): string {
  return createHmac('sha256', key).update(`${domain}\u0000${value}`).digest('base64url');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacSha256Hex(key: string | Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
