import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Field encryption for personal data. Two algorithms, chosen by FUELCARD_FIELD_CIPHER:
 *
 * - `aes-256-gcm`: a fresh 96-bit IV per value, written as "v1.<keyId>.<iv>.<tag>.<ct>" (the format
 *   every value had before the algorithm became a choice, so "v1" means AES-256-GCM).
 * - `sm4`: 国密. OpenSSL 3.0 has no SM4-GCM, so this is SM4-CTR with HMAC-SM3 over the header, IV
 *   and ciphertext (encrypt-then-MAC), written as "v2.sm4.<keyId>.<iv>.<tag>.<ct>". The 32-byte
 *   data key is split by HKDF-SM3 into a 16-byte SM4 key and a 32-byte MAC key.
 *
 * Every value carries its algorithm and key id, so values of both algorithms and any configured
 * key decrypt side by side: new writes use the first key and the configured algorithm.
 */
export type FieldAlgorithm = 'aes-256-gcm' | 'sm4';
export const FIELD_ALGORITHMS: readonly FieldAlgorithm[] = ['aes-256-gcm', 'sm4'];

/** Keyed hash of blind indexes: HMAC-SHA-256, or HMAC-SM3 for a 国密 profile. */
export type BlindIndexHash = 'sha256' | 'sm3';
export const BLIND_INDEX_HASHES: readonly BlindIndexHash[] = ['sha256', 'sm3'];

export interface DataKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface FieldCipher {
  encrypt(plain: string): string;
  decrypt(stored: string): string;
  /** Key id a stored value was written with (for re-encryption jobs); '' when not a field value. */
  keyIdOf(stored: string): string;
  /** Algorithm a stored value was written with, or null when it is not a field value. */
  algorithmOf(stored: string): FieldAlgorithm | null;
  /** Whether a value is already under the current key and algorithm (nothing for a re-encryption job to do). */
  isCurrent(stored: string): boolean;
  readonly currentKeyId: string;
  readonly algorithm: FieldAlgorithm;
  /** Every key id this cipher can read, newest first. */
  readonly keyIds: readonly string[];
}

const SM4_ALG = 'sm4';
const SM4_LABEL_ENC = 'fuelcard/field/sm4-ctr/v2';
const SM4_LABEL_MAC = 'fuelcard/field/hmac-sm3/v2';

function sm4Keys(key: Buffer): { enc: Buffer; mac: Buffer } {
  return {
    enc: Buffer.from(hkdfSync('sm3', key, Buffer.alloc(0), SM4_LABEL_ENC, 16)),
    mac: Buffer.from(hkdfSync('sm3', key, Buffer.alloc(0), SM4_LABEL_MAC, 32)),
  };
}

function notField(): Error {
  return new Error('not an encrypted field value');
}

export function createFieldCipher(keys: ReadonlyArray<DataKey>, opts: { algorithm?: FieldAlgorithm } = {}): FieldCipher {
  const first = keys[0];
  if (!first) throw new Error('at least one data key is required');
  const algorithm = opts.algorithm ?? 'aes-256-gcm';
  if (!FIELD_ALGORITHMS.includes(algorithm)) throw new Error(`unknown field algorithm ${String(algorithm)}`);
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  // HKDF per value would cost more than the cipher: derived SM4 keys are kept per key id.
  const sm4Cache = new Map<string, { enc: Buffer; mac: Buffer }>();
  const keyOf = (keyId: string): Buffer => {
    const key = byId.get(keyId);
    if (!key) throw new Error(`data key ${keyId} is not configured`);
    return key;
  };
  const sm4Of = (keyId: string) => {
    let k = sm4Cache.get(keyId);
    if (!k) {
      k = sm4Keys(keyOf(keyId));
      sm4Cache.set(keyId, k);
    }
    return k;
  };
  const b64 = (b: Buffer) => b.toString('base64url');

  function encryptAes(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', first!.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', first!.id, b64(iv), b64(cipher.getAuthTag()), b64(ct)].join('.');
  }

  function encryptSm4(plain: string): string {
    const { enc, mac } = sm4Of(first!.id);
    const iv = randomBytes(16);
    const cipher = createCipheriv('sm4-ctr', enc, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const head = `v2.${SM4_ALG}.${first!.id}`;
    const tag = createHmac('sm3', mac).update(`${head}.${b64(iv)}.${b64(ct)}`).digest();
    return [head, b64(iv), b64(tag), b64(ct)].join('.');
  }

  function decryptAes(keyId: string, iv: string, tag: string, ct: string): string {
    const ivBuf = Buffer.from(iv, 'base64url');
    const tagBuf = Buffer.from(tag, 'base64url');
    // GCM would accept a shorter tag (down to 4 bytes), which weakens forgery protection:
    // only the full 16-byte tag and the 12-byte IV we write are accepted.
    if (ivBuf.length !== 12 || tagBuf.length !== 16) throw notField();
    const decipher = createDecipheriv('aes-256-gcm', keyOf(keyId), ivBuf, { authTagLength: 16 });
    decipher.setAuthTag(tagBuf);
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  function decryptSm4(keyId: string, iv: string, tag: string, ct: string): string {
    const { enc, mac } = sm4Of(keyId);
    const ivBuf = Buffer.from(iv, 'base64url');
    const tagBuf = Buffer.from(tag, 'base64url');
    if (ivBuf.length !== 16 || tagBuf.length !== 32) throw notField();
    // MAC over the text as stored (re-encoded from the decoded bytes, so a non-canonical base64
    // spelling of the same bytes is not a second valid value).
    const expected = createHmac('sm3', mac).update(`v2.${SM4_ALG}.${keyId}.${b64(ivBuf)}.${b64(Buffer.from(ct, 'base64url'))}`).digest();
    if (!timingSafeEqual(expected, tagBuf)) throw new Error('field value failed its integrity check');
    const decipher = createDecipheriv('sm4-ctr', enc, ivBuf);
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  function parse(stored: string): { algorithm: FieldAlgorithm; keyId: string; iv: string; tag: string; ct: string } | null {
    const parts = stored.split('.');
    if (parts[0] === 'v1' && parts.length === 5 && parts[1]) {
      return { algorithm: 'aes-256-gcm', keyId: parts[1], iv: parts[2]!, tag: parts[3]!, ct: parts[4]! };
    }
    if (parts[0] === 'v2' && parts.length === 6 && parts[1] === SM4_ALG && parts[2]) {
      return { algorithm: 'sm4', keyId: parts[2], iv: parts[3]!, tag: parts[4]!, ct: parts[5]! };
    }
    return null;
  }

  return {
    currentKeyId: first.id,
    algorithm,
    keyIds: keys.map((k) => k.id),
    encrypt(plain) {
      return algorithm === 'sm4' ? encryptSm4(plain) : encryptAes(plain);
    },
    decrypt(stored) {
      const p = parse(stored);
      if (!p) throw notField();
      return p.algorithm === 'sm4' ? decryptSm4(p.keyId, p.iv, p.tag, p.ct) : decryptAes(p.keyId, p.iv, p.tag, p.ct);
    },
    keyIdOf(stored) {
      return parse(stored)?.keyId ?? '';
    },
    algorithmOf(stored) {
      return parse(stored)?.algorithm ?? null;
    },
    isCurrent(stored) {
      const p = parse(stored);
      return p !== null && p.keyId === first.id && p.algorithm === algorithm;
    },
  };
}

/**
 * The SQL LIKE pattern matching values written under the current key and algorithm, so a job
 * can find the values still to rewrite without decrypting (key ids are [A-Za-z0-9_-]: no LIKE
 * wildcards except '_', which is escaped).
 */
export function currentValuePattern(cipher: Pick<FieldCipher, 'currentKeyId' | 'algorithm'>): string {
  const id = cipher.currentKeyId.replace(/_/g, '\\_');
  return cipher.algorithm === 'sm4' ? `v2.${SM4_ALG}.${id}.%` : `v1.${id}.%`;
}

/** Keyed blind index: equality search on an encrypted field without decrypting. */
export function blindIndex(key: Buffer, domain: string, value: string, hash: BlindIndexHash = 'sha256'): string {
  return createHmac(hash, key).update(`${domain}\u0000${value}`).digest('base64url');
}
