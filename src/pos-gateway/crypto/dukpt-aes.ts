/**
 * AES DUKPT, ANSI X9.24-3:2017: initial key (IK) from BDK + initial key ID, the intermediate
 * derivation key for a transaction counter, and working keys (PIN, MAC, data, KEK) as AES-128/
 * 192/256 or 2-/3-key TDES. Also the terminal-side intermediate-key registers for the simulator.
 * Only node:crypto; derived intermediates are zeroed.
 */
import { createCipheriv } from 'node:crypto';
import {
  DukptError,
  isValidCounter,
  nextCounter,
  requireKsn,
  withCounter,
  type AesKsn,
  type Ksn,
  type KsnInput,
} from './dukpt-ksn.js';

export type AesDukptKeyType = 'tdes2' | 'tdes3' | 'aes128' | 'aes192' | 'aes256';

export type AesDukptUsage =
  | 'kek'
  | 'pin'
  | 'mac-gen'
  | 'mac-verify'
  | 'mac-both'
  | 'data-encrypt'
  | 'data-decrypt'
  | 'data-both';

// X9.24-3:2017 6.3.2 key usage indicators in the derivation data.
const USAGE_CODE: Readonly<Record<AesDukptUsage, number>> = {
  kek: 0x0002,
  pin: 0x1000,
  'mac-gen': 0x2000,
  'mac-verify': 0x2001,
  'mac-both': 0x2002,
  'data-encrypt': 0x3000,
  'data-decrypt': 0x3001,
  'data-both': 0x3002,
};
const KEY_DERIVATION = 0x8000;
const KEY_DERIVATION_INITIAL_KEY = 0x8001;

const KEY_TYPES: Readonly<Record<AesDukptKeyType, { algorithm: number; bits: number }>> = {
  tdes2: { algorithm: 0x0000, bits: 128 },
  tdes3: { algorithm: 0x0001, bits: 192 },
  aes128: { algorithm: 0x0002, bits: 128 },
  aes192: { algorithm: 0x0003, bits: 192 },
  aes256: { algorithm: 0x0004, bits: 256 },
};

/** The AES key type of a BDK / IK / derivation key, from its length. */
export function aesKeyTypeOf(key: Buffer): 'aes128' | 'aes192' | 'aes256' {
  if (key instanceof Uint8Array) {
    if (key.length === 16) return 'aes128';
    if (key.length === 24) return 'aes192';
    if (key.length === 32) return 'aes256';
  }
  throw new DukptError('DUKPT_BAD_KEY', 'AES DUKPT keys are 16, 24 or 32 bytes');
}

function aesEcbEncrypt(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** X9.24-3 6.3.3: AES-ECB of the derivation data, one block per 128 bits of output key. */
function derive(key: Buffer, usage: number, type: AesDukptKeyType, tail8: Buffer): Buffer {
  const { algorithm, bits } = KEY_TYPES[type];
  const data = Buffer.alloc(16);
  data[0] = 0x01;
  data.writeUInt16BE(usage, 2);
  data.writeUInt16BE(algorithm, 4);
  data.writeUInt16BE(bits, 6);
  tail8.copy(data, 8);
  const parts: Buffer[] = [];
  for (let i = 1; i <= Math.ceil(bits / 128); i++) {
    data[1] = i;
    parts.push(aesEcbEncrypt(key, data));
  }
  const all = Buffer.concat(parts);
  const out = Buffer.from(all.subarray(0, bits / 8));
  all.fill(0);
  for (const p of parts) p.fill(0);
  return out;
}

function counterTail(k: AesKsn, counter: number): Buffer {
  return withCounter(k, counter).subarray(4, 12);
}

/** Initial key (IK) loaded into a terminal, from the BDK and its 8-byte initial key ID. */
export function deriveAesInitialKey(bdk: Buffer, initialKeyId: Buffer | KsnInput | Ksn): Buffer {
  const type = aesKeyTypeOf(bdk);
  let ikid: Buffer;
  if (initialKeyId instanceof Uint8Array && initialKeyId.length === 8) ikid = Buffer.from(initialKeyId);
  else if (typeof initialKeyId === 'string' && /^[0-9a-fA-F]{16}$/.test(initialKeyId)) ikid = Buffer.from(initialKeyId, 'hex');
  else ikid = (requireKsn(initialKeyId, 'aes') as AesKsn).initialKeyId;
  return derive(bdk, KEY_DERIVATION_INITIAL_KEY, type, ikid);
}

/**
 * The intermediate derivation key for the KSN's counter, from the IK: one derivation per set
 * counter bit, from the highest bit down (X9.24-3 6.5 host algorithm).
 */
export function deriveAesDerivationKey(ik: Buffer, ksn: KsnInput | Ksn): Buffer {
  const type = aesKeyTypeOf(ik);
  const k = requireKsn(ksn, 'aes') as AesKsn;
  if (!isValidCounter('aes', k.counter)) {
    throw new DukptError('DUKPT_KSN_COUNTER_INVALID', 'KSN counter is zero or has more than 16 one-bits');
  }
  let key: Buffer = Buffer.from(ik);
  let working = 0;
  for (let i = 31; i >= 0; i--) {
    const bit = 2 ** i;
    if (Math.floor(k.counter / bit) % 2 === 0) continue;
    working += bit;
    const next = derive(key, KEY_DERIVATION, type, counterTail(k, working));
    key.fill(0);
    key = next;
  }
  return key;
}

function checkStrength(derivationKey: Buffer, keyType: AesDukptKeyType): void {
  if (KEY_TYPES[keyType] === undefined) throw new DukptError('DUKPT_BAD_KEY_TYPE', 'unknown working key type');
  // X9.24-3: an AES working key may not be longer than the key it is derived from.
  if (keyType.startsWith('aes') && KEY_TYPES[keyType].bits > derivationKey.length * 8) {
    throw new DukptError('DUKPT_BAD_KEY_TYPE', `${keyType} working key cannot come from a ${derivationKey.length * 8}-bit BDK`);
  }
}

/** A working key from an intermediate derivation key. */
export function deriveAesWorkingKeyFromDerivationKey(
  derivationKey: Buffer,
  ksn: KsnInput | Ksn,
  usage: AesDukptUsage,
  keyType: AesDukptKeyType,
): Buffer {
  aesKeyTypeOf(derivationKey);
  const code = USAGE_CODE[usage];
  if (code === undefined) throw new DukptError('DUKPT_BAD_USAGE', 'unknown AES DUKPT key usage');
  checkStrength(derivationKey, keyType);
  const k = requireKsn(ksn, 'aes') as AesKsn;
  return derive(derivationKey, code, keyType, counterTail(k, k.counter));
}

export type AesKeySource = { bdk: Buffer } | { ik: Buffer };

/**
 * Host side: the working key of `usage` and `keyType` for a KSN. By convention a terminal
 * MACs requests with 'mac-gen' and verifies responses with 'mac-verify', so the host verifies
 * requests with the 'mac-gen' key and MACs responses with the 'mac-verify' key.
 */
export function deriveAesWorkingKey(
  source: AesKeySource,
  ksn: KsnInput | Ksn,
  usage: AesDukptUsage,
  keyType: AesDukptKeyType,
): Buffer {
  const k = requireKsn(ksn, 'aes');
  const ik = 'bdk' in source ? deriveAesInitialKey(source.bdk, k) : Buffer.from(source.ik);
  try {
    checkStrength(ik, keyType);
    const dk = deriveAesDerivationKey(ik, k);
    try {
      return deriveAesWorkingKeyFromDerivationKey(dk, k, usage, keyType);
    } finally {
      dk.fill(0);
    }
  } finally {
    ik.fill(0);
  }
}

/**
 * Terminal side (X9.24-3 transaction-originating algorithm) for the simulator: 32
 * intermediate-key registers seeded from the IK, each erased once used. The derivation key it
 * returns matches deriveAesDerivationKey for the same KSN.
 */
export class AesDukptOriginator {
  private readonly registers: (Buffer | null)[] = new Array<Buffer | null>(32).fill(null);
  private readonly base: AesKsn;
  private readonly type: AesDukptKeyType;
  private counter: number;

  constructor(ik: Buffer, initialKeyId: Buffer | string) {
    this.type = aesKeyTypeOf(ik);
    const id = typeof initialKeyId === 'string' ? Buffer.from(initialKeyId, 'hex') : Buffer.from(initialKeyId);
    if (id.length !== 8) throw new DukptError('DUKPT_BAD_KSN', 'initial key ID is 8 bytes');
    this.base = requireKsn(Buffer.concat([id, Buffer.alloc(4)]), 'aes') as AesKsn;
    for (let p = 0; p < 32; p++) this.registers[p] = derive(ik, KEY_DERIVATION, this.type, counterTail(this.base, 2 ** p));
    this.counter = 1;
  }

  get exhausted(): boolean {
    return this.counter === 0;
  }

  /** The KSN and derivation key for the next transaction; the caller zeroes the key. */
  next(): { ksn: Buffer; counter: number; derivationKey: Buffer } {
    if (this.counter === 0) throw new DukptError('DUKPT_KSN_EXHAUSTED', 'device key is exhausted');
    const c = this.counter;
    let p = 0;
    while (Math.floor(c / 2 ** p) % 2 === 0) p++;
    const current = this.registers[p];
    if (!current) throw new DukptError('DUKPT_KSN_EXHAUSTED', 'intermediate key register is empty');
    for (let q = 0; q < p; q++) {
      const child = c + 2 ** q;
      if (!isValidCounter('aes', child)) continue;
      this.registers[q]?.fill(0);
      this.registers[q] = derive(current, KEY_DERIVATION, this.type, counterTail(this.base, child));
    }
    const derivationKey = Buffer.from(current);
    current.fill(0);
    this.registers[p] = null;
    this.counter = nextCounter('aes', c) ?? 0;
    return { ksn: withCounter(this.base, c), counter: c, derivationKey };
  }

  destroy(): void {
    for (const r of this.registers) r?.fill(0);
    this.registers.fill(null);
    this.counter = 0;
  }
}
