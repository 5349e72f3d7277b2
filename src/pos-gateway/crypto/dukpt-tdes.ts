/**
 * TDES DUKPT, ANSI X9.24-1:2009 (double-length keys): IPEK from BDK + KSN, the host-side
 * transaction ("current") key for a KSN, its PIN / MAC / data variants, and the terminal-side
 * future-key registers (for the simulator). Only node:crypto; derived intermediates are zeroed.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import {
  DukptError,
  isValidCounter,
  nextCounter,
  requireKsn,
  withCounter,
  type Ksn,
  type KsnInput,
  type TdesKsn,
} from './dukpt-ksn.js';

export type TdesDukptUsage = 'pin' | 'mac-request' | 'mac-response' | 'data-request' | 'data-response';

const KEY_MASK = Buffer.from('C0C0C0C000000000C0C0C0C000000000', 'hex');

// X9.24-1:2009 A.6 variant constants, XORed into the transaction key.
const VARIANTS: Readonly<Record<TdesDukptUsage, Buffer>> = {
  pin: Buffer.from('00000000000000FF00000000000000FF', 'hex'),
  'mac-request': Buffer.from('000000000000FF00000000000000FF00', 'hex'),
  'mac-response': Buffer.from('00000000FF00000000000000FF000000', 'hex'),
  'data-request': Buffer.from('0000000000FF00000000000000FF0000', 'hex'),
  'data-response': Buffer.from('000000FF00000000000000FF00000000', 'hex'),
};

function assertKey16(key: Buffer, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 16) {
    throw new DukptError('DUKPT_BAD_KEY', `${what} must be a 16-byte double-length TDES key`);
  }
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function ecb(alg: string, key: Buffer, block: Buffer, encrypt: boolean): Buffer {
  const c = encrypt ? createCipheriv(alg, key, null) : createDecipheriv(alg, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** Single DES, as TDES with K‖K‖K (OpenSSL 3 keeps plain DES in the legacy provider). */
function desEncrypt(key8: Buffer, block: Buffer): Buffer {
  const k = Buffer.concat([key8, key8, key8]);
  try {
    return ecb('des-ede3-ecb', k, block, true);
  } finally {
    k.fill(0);
  }
}

/** 2-key TDES (K1‖K2‖K1) on whole 8-byte blocks. */
export function tdesEcb(key16: Buffer, data: Buffer, encrypt: boolean): Buffer {
  assertKey16(key16, 'TDES key');
  if (data.length === 0 || data.length % 8 !== 0) {
    throw new DukptError('DUKPT_BAD_BLOCK', 'TDES data must be a non-empty multiple of 8 bytes');
  }
  const k = Buffer.concat([key16, key16.subarray(0, 8)]);
  try {
    return ecb('des-ede3-ecb', k, data, encrypt);
  } finally {
    k.fill(0);
  }
}

/** Non-reversible key generation process (X9.24-1 A.2): new key from key register + 8-byte data. */
function nrkgp(key: Buffer, data8: Buffer): Buffer {
  const half = (k: Buffer): Buffer => {
    const right = k.subarray(8, 16);
    const t = xor(data8, right);
    const e = desEncrypt(k.subarray(0, 8), t);
    const out = xor(e, right);
    t.fill(0);
    e.fill(0);
    return out;
  };
  const right = half(key);
  const masked = xor(key, KEY_MASK);
  const left = half(masked);
  masked.fill(0);
  const out = Buffer.concat([left, right]);
  left.fill(0);
  right.fill(0);
  return out;
}

/** Initial PIN encryption key (IPEK) from the BDK and any KSN of the device (counter ignored). */
export function deriveTdesIpek(bdk: Buffer, ksn: KsnInput | Ksn): Buffer {
  assertKey16(bdk, 'BDK');
  const k = requireKsn(ksn, 'tdes') as TdesKsn;
  const reg = k.initialKsn.subarray(0, 8);
  const left = tdesEcb(bdk, reg, true);
  const masked = xor(bdk, KEY_MASK);
  const right = tdesEcb(masked, reg, true);
  masked.fill(0);
  const out = Buffer.concat([left, right]);
  left.fill(0);
  right.fill(0);
  return out;
}

/** Rightmost 64 bits of the KSN with the given counter in place. */
function ksnRegister(k: TdesKsn, counter: number): Buffer {
  return withCounter(k, counter).subarray(2, 10);
}

/**
 * The transaction key for a KSN (the terminal's current future-key register), from the IPEK:
 * one non-reversible step per set counter bit, from the highest bit down.
 */
export function deriveTdesTransactionKey(ipek: Buffer, ksn: KsnInput | Ksn): Buffer {
  assertKey16(ipek, 'IPEK');
  const k = requireKsn(ksn, 'tdes') as TdesKsn;
  if (!isValidCounter('tdes', k.counter)) {
    throw new DukptError('DUKPT_KSN_COUNTER_INVALID', 'KSN counter is zero or has more than 10 one-bits');
  }
  let key: Buffer = Buffer.from(ipek);
  let working = 0;
  for (let bit = 1 << 20; bit > 0; bit >>>= 1) {
    if ((k.counter & bit) === 0) continue;
    working |= bit;
    const next = nrkgp(key, ksnRegister(k, working));
    key.fill(0);
    key = next;
  }
  return key;
}

/** Applies a usage variant to a transaction key (data keys get the 2009 one-way step). */
export function tdesVariant(transactionKey: Buffer, usage: TdesDukptUsage): Buffer {
  assertKey16(transactionKey, 'transaction key');
  const mask = VARIANTS[usage];
  if (mask === undefined) throw new DukptError('DUKPT_BAD_USAGE', 'unknown TDES DUKPT key usage');
  const v = xor(transactionKey, mask);
  if (usage !== 'data-request' && usage !== 'data-response') return v;
  // X9.24-1:2009 A.4 data keys: each half of the variant encrypted under the variant itself.
  const out = tdesEcb(v, v, true);
  v.fill(0);
  return out;
}

export type TdesKeySource = { bdk: Buffer } | { ipek: Buffer };

/** Host side: the working key of `usage` for a KSN, from the BDK (or an IPEK already derived). */
export function deriveTdesWorkingKey(source: TdesKeySource, ksn: KsnInput | Ksn, usage: TdesDukptUsage): Buffer {
  const k = requireKsn(ksn, 'tdes');
  const ipek = 'bdk' in source ? deriveTdesIpek(source.bdk, k) : Buffer.from(source.ipek);
  try {
    const tk = deriveTdesTransactionKey(ipek, k);
    try {
      return tdesVariant(tk, usage);
    } finally {
      tk.fill(0);
    }
  } finally {
    ipek.fill(0);
  }
}

function pinBlock(source: TdesKeySource, ksn: KsnInput | Ksn, block: Buffer, encrypt: boolean): Buffer {
  if (!(block instanceof Uint8Array) || block.length !== 8) {
    throw new DukptError('DUKPT_BAD_BLOCK', 'a TDES PIN block is 8 bytes');
  }
  const key = deriveTdesWorkingKey(source, ksn, 'pin');
  try {
    return tdesEcb(key, Buffer.from(block), encrypt);
  } finally {
    key.fill(0);
  }
}

/** Encrypts an ISO 9564 PIN block under the DUKPT PIN key of `ksn` (terminal side / tests). */
export function encryptTdesDukptPinBlock(source: TdesKeySource, ksn: KsnInput | Ksn, clearBlock: Buffer): Buffer {
  return pinBlock(source, ksn, clearBlock, true);
}

/**
 * Decrypts a DUKPT-encrypted PIN block. The result is a clear PIN block: only the key store
 * may call this, re-encrypt at once (PIN translation) and zero the buffer.
 */
export function decryptTdesDukptPinBlock(source: TdesKeySource, ksn: KsnInput | Ksn, encrypted: Buffer): Buffer {
  return pinBlock(source, ksn, encrypted, false);
}

/**
 * Terminal side (X9.24-1 A.2 "transaction originating" algorithm) for the simulator: 21
 * future-key registers seeded from the IPEK, each erased once used, so a captured device
 * cannot recompute past keys. Keys it returns match deriveTdesTransactionKey for the same KSN.
 */
export class TdesDukptOriginator {
  private readonly registers: (Buffer | null)[] = new Array<Buffer | null>(21).fill(null);
  private readonly base: TdesKsn;
  private counter: number;

  constructor(ipek: Buffer, initialKsn: KsnInput | Ksn) {
    assertKey16(ipek, 'IPEK');
    const k = requireKsn(initialKsn, 'tdes') as TdesKsn;
    this.base = k;
    for (let p = 0; p < 21; p++) this.registers[p] = nrkgp(ipek, ksnRegister(k, 1 << p));
    this.counter = 1;
  }

  /** False once the counter has run out: the device must be re-injected. */
  get exhausted(): boolean {
    return this.counter === 0;
  }

  /** The KSN and transaction key for the next transaction; the caller zeroes the key. */
  next(): { ksn: Buffer; counter: number; transactionKey: Buffer } {
    if (this.counter === 0) throw new DukptError('DUKPT_KSN_EXHAUSTED', 'device key is exhausted');
    const c = this.counter;
    let p = 0;
    while (((c >>> p) & 1) === 0) p++;
    const current = this.registers[p];
    if (!current) throw new DukptError('DUKPT_KSN_EXHAUSTED', 'future key register is empty');
    // With 10 one-bits, children would have 11 and are never used, so none are generated.
    for (let q = 0; q < p; q++) {
      if (!isValidCounter('tdes', c | (1 << q))) continue;
      this.registers[q]?.fill(0);
      this.registers[q] = nrkgp(current, ksnRegister(this.base, c | (1 << q)));
    }
    const transactionKey = Buffer.from(current);
    current.fill(0);
    this.registers[p] = null;
    this.counter = nextCounter('tdes', c) ?? 0;
    return { ksn: withCounter(this.base, c), counter: c, transactionKey };
  }

  /** Zeroes every register. */
  destroy(): void {
    for (const r of this.registers) r?.fill(0);
    this.registers.fill(null);
    this.counter = 0;
  }
}
