/**
 * DUKPT key serial numbers (KSN): parsing, counter rules, the terminal-side "next KSN" step and
 * the host's replay guard. Shared by TDES DUKPT (ANSI X9.24-1:2009) and AES DUKPT
 * (ANSI X9.24-3:2017). See docs/pos-dukpt.md.
 */

export type DukptScheme = 'tdes' | 'aes';

export type DukptErrorCode =
  | 'DUKPT_BAD_KSN'
  | 'DUKPT_BAD_KEY'
  | 'DUKPT_BAD_KEY_TYPE'
  | 'DUKPT_BAD_USAGE'
  | 'DUKPT_BAD_BLOCK'
  | 'DUKPT_KSN_COUNTER_INVALID'
  | 'DUKPT_KSN_REPLAY'
  | 'DUKPT_KSN_EXHAUSTED'
  | 'DUKPT_KSN_DEVICE_MISMATCH';

export interface DukptErrorInfo {
  code: DukptErrorCode;
  detail: string;
}

/** Thrown by the derivation functions; `code` is stable, `message` never contains key material. */
export class DukptError extends Error {
  override readonly name = 'DukptError';
  constructor(
    readonly code: DukptErrorCode,
    detail: string,
  ) {
    super(detail);
  }
  toInfo(): DukptErrorInfo {
    return { code: this.code, detail: this.message };
  }
}

export type DukptResult<T> = { ok: true; value: T } | { ok: false; error: DukptErrorInfo };

interface SchemeRules {
  /** KSN length in bytes. */
  ksnBytes: number;
  counterBits: number;
  /** A counter with more set bits than this is never produced by a conforming device. */
  maxOnes: number;
}

export const SCHEME_RULES: Readonly<Record<DukptScheme, SchemeRules>> = {
  // X9.24-1: 80-bit KSN, 21-bit transaction counter, at most 10 one-bits (about 1M keys).
  tdes: { ksnBytes: 10, counterBits: 21, maxOnes: 10 },
  // X9.24-3: 96-bit KSN = 64-bit initial key ID + 32-bit counter, at most 16 one-bits.
  aes: { ksnBytes: 12, counterBits: 32, maxOnes: 16 },
};

export interface TdesKsn {
  scheme: 'tdes';
  /** The full 10-byte KSN as received. */
  bytes: Buffer;
  /** The KSN with the 21 counter bits cleared: identifies the device's initial key (IPEK). */
  initialKsn: Buffer;
  counter: number;
}

export interface AesKsn {
  scheme: 'aes';
  bytes: Buffer;
  /** 8-byte initial key ID (BDK ID ‖ derivation ID): identifies the device's initial key. */
  initialKeyId: Buffer;
  bdkId: Buffer;
  derivationId: Buffer;
  counter: number;
}

export type Ksn = TdesKsn | AesKsn;

export type KsnInput = Buffer | Uint8Array | string;

const HEX_RE = /^[0-9a-fA-F]*$/;

function fail<T>(code: DukptErrorCode, detail: string): DukptResult<T> {
  return { ok: false, error: { code, detail } };
}

export function popcount(n: number): number {
  let x = n >>> 0;
  let c = 0;
  while (x !== 0) {
    x &= x - 1;
    c++;
  }
  return c;
}

function counterMax(scheme: DukptScheme): number {
  return 2 ** SCHEME_RULES[scheme].counterBits - 1;
}

/**
 * Parses a KSN from bytes or hex text. Without `scheme`, 10 bytes (20 hex digits) is TDES and
 * 12 bytes (24 hex digits) is AES. For TDES, hex text shorter than 20 digits (some terminals
 * drop the leading KSI padding) is left-padded with 'F' as X9.24-1 prescribes.
 * Never throws.
 */
export function parseKsn(input: KsnInput, scheme?: DukptScheme): DukptResult<Ksn> {
  let bytes: Buffer;
  if (typeof input === 'string') {
    const hex = input.trim();
    if (!HEX_RE.test(hex) || hex.length % 2 !== 0 || hex.length > 24) {
      return fail('DUKPT_BAD_KSN', 'KSN must be 20 (TDES) or 24 (AES) hex digits');
    }
    let padded = hex;
    if (scheme === 'tdes' && hex.length >= 16 && hex.length < 20) padded = hex.padStart(20, 'F');
    bytes = Buffer.from(padded, 'hex');
  } else if (input instanceof Uint8Array) {
    bytes = Buffer.from(input);
  } else {
    return fail('DUKPT_BAD_KSN', 'KSN must be bytes or hex text');
  }
  const resolved: DukptScheme | undefined =
    scheme ?? (bytes.length === 10 ? 'tdes' : bytes.length === 12 ? 'aes' : undefined);
  if (resolved === undefined || bytes.length !== SCHEME_RULES[resolved].ksnBytes) {
    return fail(
      'DUKPT_BAD_KSN',
      `KSN has ${bytes.length} bytes; TDES DUKPT needs 10, AES DUKPT needs 12`,
    );
  }
  if (resolved === 'tdes') {
    const counter = ((bytes[7]! & 0x1f) << 16) | (bytes[8]! << 8) | bytes[9]!;
    const initialKsn = Buffer.from(bytes);
    initialKsn[7] = initialKsn[7]! & 0xe0;
    initialKsn[8] = 0;
    initialKsn[9] = 0;
    return { ok: true, value: { scheme: 'tdes', bytes, initialKsn, counter } };
  }
  return {
    ok: true,
    value: {
      scheme: 'aes',
      bytes,
      initialKeyId: bytes.subarray(0, 8),
      bdkId: bytes.subarray(0, 4),
      derivationId: bytes.subarray(4, 8),
      counter: bytes.readUInt32BE(8),
    },
  };
}

/** Like parseKsn but throws DukptError; for callers that already validated their input. */
export function requireKsn(input: KsnInput | Ksn, scheme: DukptScheme): Ksn {
  if (isKsn(input)) {
    if (input.scheme !== scheme) throw new DukptError('DUKPT_BAD_KSN', `expected a ${scheme} KSN`);
    return input;
  }
  const r = parseKsn(input, scheme);
  if (!r.ok) throw new DukptError(r.error.code, r.error.detail);
  return r.value;
}

function isKsn(x: unknown): x is Ksn {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && 'scheme' in x;
}

/** The KSN's bytes with `counter` in place of the current counter. */
export function withCounter(ksn: Ksn, counter: number): Buffer {
  const out = Buffer.from(ksn.bytes);
  if (ksn.scheme === 'tdes') {
    out[7] = (out[7]! & 0xe0) | ((counter >>> 16) & 0x1f);
    out[8] = (counter >>> 8) & 0xff;
    out[9] = counter & 0xff;
  } else {
    out.writeUInt32BE(counter >>> 0, 8);
  }
  return out;
}

/** A counter a conforming device can use for a transaction (non-zero, not too many one-bits). */
export function isValidCounter(scheme: DukptScheme, counter: number): boolean {
  return (
    Number.isInteger(counter) &&
    counter > 0 &&
    counter <= counterMax(scheme) &&
    popcount(counter) <= SCHEME_RULES[scheme].maxOnes
  );
}

/**
 * The counter a device uses after `counter`: the smallest larger value with at most `maxOnes`
 * one-bits (adding the lowest set bit skips a run of invalid values, as X9.24-1 A.2 and
 * X9.24-3 describe). null when the device is exhausted and must be re-injected.
 */
export function nextCounter(scheme: DukptScheme, counter: number): number | null {
  const { maxOnes } = SCHEME_RULES[scheme];
  const max = counterMax(scheme);
  let n = counter + 1;
  while (n <= max && popcount(n) > maxOnes) n += lowestBit(n);
  return n <= max ? n : null;
}

function lowestBit(n: number): number {
  // n may exceed 2^31, so avoid the 32-bit `n & -n` trick.
  let bit = 1;
  while (bit <= n && Math.floor(n / bit) % 2 === 0) bit *= 2;
  return bit;
}

const binom: number[][] = (() => {
  const t: number[][] = [];
  for (let n = 0; n <= 32; n++) {
    const row: number[] = [];
    for (let k = 0; k <= n; k++) row.push(k === 0 || k === n ? 1 : t[n - 1]![k - 1]! + t[n - 1]![k]!);
    t.push(row);
  }
  return t;
})();

/** How many values in [0, n] have at most `maxOnes` one-bits (digit DP over the bits of n). */
function countUpTo(n: number, bits: number, maxOnes: number): number {
  let total = 0;
  let ones = 0;
  for (let i = bits - 1; i >= 0; i--) {
    if (Math.floor(n / 2 ** i) % 2 === 1) {
      // This bit 0, lower i bits free.
      for (let j = 0; j <= maxOnes - ones && j <= i; j++) total += binom[i]![j]!;
      ones++;
      if (ones > maxOnes) return total;
    }
  }
  return total + 1;
}

/** How many more transactions the device can run after `counter` before it is exhausted. */
export function remainingCounters(scheme: DukptScheme, counter: number): number {
  const { counterBits, maxOnes } = SCHEME_RULES[scheme];
  return countUpTo(counterMax(scheme), counterBits, maxOnes) - countUpTo(counter, counterBits, maxOnes);
}

/** Identity of the device key a KSN belongs to, as hex (initial KSN for TDES, IK ID for AES). */
export function ksnDeviceKey(ksn: Ksn): string {
  return `${ksn.scheme}:${(ksn.scheme === 'tdes' ? ksn.initialKsn : ksn.initialKeyId).toString('hex').toUpperCase()}`;
}

export interface KsnCheck {
  ksn: Ksn;
  counter: number;
  /** The device has no further KSN after this one: it must be re-injected. */
  exhausted: boolean;
  /** Transactions left after this one (for a "re-inject soon" warning). */
  remaining: number;
}

/**
 * The host's replay guard. `lastSeen` is the highest KSN accepted so far for this device (null
 * for a device's first transaction). Refused: a malformed KSN, a counter no conforming device
 * produces, a KSN of another device key, a device already exhausted, and any counter that does
 * not increase (a replay or a cloned device). The caller stores `ksn` as the new lastSeen only
 * after the message's MAC/PIN checked out, so a forged KSN cannot burn counters. Never throws.
 */
export function checkKsnCounter(
  lastSeen: Ksn | KsnInput | null | undefined,
  ksn: Ksn | KsnInput,
  scheme?: DukptScheme,
): DukptResult<KsnCheck> {
  const cur = isKsn(ksn) ? ({ ok: true, value: ksn } as const) : parseKsn(ksn, scheme);
  if (!cur.ok) return cur;
  const k = cur.value;
  if (scheme !== undefined && k.scheme !== scheme) return fail('DUKPT_BAD_KSN', `expected a ${scheme} KSN`);
  if (!isValidCounter(k.scheme, k.counter)) {
    return fail(
      'DUKPT_KSN_COUNTER_INVALID',
      `counter ${k.counter} is zero, too large or has more than ${SCHEME_RULES[k.scheme].maxOnes} one-bits`,
    );
  }
  if (lastSeen !== null && lastSeen !== undefined) {
    const prev = isKsn(lastSeen) ? ({ ok: true, value: lastSeen } as const) : parseKsn(lastSeen, k.scheme);
    if (!prev.ok) return fail('DUKPT_BAD_KSN', `stored last KSN is unreadable: ${prev.error.detail}`);
    const p = prev.value;
    if (ksnDeviceKey(p) !== ksnDeviceKey(k)) {
      return fail('DUKPT_KSN_DEVICE_MISMATCH', 'KSN belongs to a different device key than the stored one');
    }
    if (nextCounter(p.scheme, p.counter) === null) {
      return fail('DUKPT_KSN_EXHAUSTED', 'device key is exhausted; the terminal must be re-injected');
    }
    if (k.counter <= p.counter) {
      return fail('DUKPT_KSN_REPLAY', `counter ${k.counter} does not exceed last seen ${p.counter}`);
    }
  }
  return {
    ok: true,
    value: {
      ksn: k,
      counter: k.counter,
      exhausted: nextCounter(k.scheme, k.counter) === null,
      remaining: remainingCounters(k.scheme, k.counter),
    },
  };
}
