import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from './config.js';
import { blindIndex, createFieldCipher, type BlindIndexHash, type BlindIndexKeys, type FieldCipher } from './keys/index.js';

// Field encryption, blind indexes, key providers and rotation live in keys/ (docs/keys.md).
export * from './keys/index.js';

/** The field cipher the configuration asks for: its data keys and FUELCARD_FIELD_CIPHER. */
export function fieldCipherFor(config: Pick<Config, 'dataKeys' | 'fieldCipher'>): FieldCipher {
  return createFieldCipher(config.dataKeys, { algorithm: config.fieldCipher });
}

/** A blind index as the configuration computes new ones (current blind-index key and hash). */
export function configBlindIndex(config: Pick<Config, 'blindIndexKey' | 'blindIndexHash'>, domain: string, value: string): string {
  return blindIndex(config.blindIndexKey, domain, value, config.blindIndexHash);
}

/**
 * Every index a value may have while a blind-index rotation runs (each configured key, under the
 * configured hash and the other one): searches match any of them, so a customer is found before
 * and after the job recomputes their row.
 */
export function blindIndexCandidates(config: Pick<Config, 'blindIndexKeys' | 'blindIndexHash'>, domain: string, value: string): string[] {
  const hashes: BlindIndexHash[] = config.blindIndexHash === 'sm3' ? ['sm3', 'sha256'] : ['sha256', 'sm3'];
  return config.blindIndexKeys.flatMap((k) => hashes.map((h) => blindIndex(k.key, domain, value, h)));
}

/**
 * What a row records as the blind-index key of its indexes (customers.bidx_key): `<hash>:<keyId>`
 * of the current key, the tag the rotation job compares (rows under another tag are recomputed).
 */
export function configBlindIndexTag(config: Pick<Config, 'blindIndexKeys' | 'blindIndexHash'>): string {
  return `${config.blindIndexHash}:${config.blindIndexKeys[0]!.id}`;
}

/** The blind-index keys and hash of the configuration, for the rotation job. */
export function blindIndexKeysOf(config: Pick<Config, 'blindIndexKeys' | 'blindIndexHash'>): BlindIndexKeys {
  return { keys: config.blindIndexKeys, hash: config.blindIndexHash };
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
