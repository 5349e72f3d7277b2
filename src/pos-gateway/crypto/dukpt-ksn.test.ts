import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkKsnCounter,
  isValidCounter,
  nextCounter,
  parseKsn,
  remainingCounters,
  withCounter,
  type DukptScheme,
  type Ksn,
} from './dukpt-ksn.js';

const must = (input: string): Ksn => {
  const r = parseKsn(input);
  if (!r.ok) throw new Error(r.error.code);
  return r.value;
};
const tdes = (counter: number): string => withCounter(must('FFFF9876543210E00000'), counter).toString('hex');
const aes = (counter: number): string => `1234567890123456${counter.toString(16).padStart(8, '0')}`;

describe('KSN parsing', () => {
  it('splits a TDES KSN into the initial KSN and the 21-bit counter (X9.24-1 A.4 KSN)', () => {
    const k = must('FFFF9876543210E00015');
    expect(k.scheme).toBe('tdes');
    expect(k.counter).toBe(0x15);
    if (k.scheme !== 'tdes') throw new Error('scheme');
    expect(k.initialKsn.toString('hex').toUpperCase()).toBe('FFFF9876543210E00000');
    expect(must('FFFF9876543210FFFFFF').counter).toBe(0x1fffff);
  });

  it('splits an AES KSN into BDK ID, derivation ID and the 32-bit counter (X9.24-3 B.1 KSN)', () => {
    const k = must('1234567890123456FFFF0000');
    if (k.scheme !== 'aes') throw new Error('scheme');
    expect(k.bdkId.toString('hex')).toBe('12345678');
    expect(k.derivationId.toString('hex')).toBe('90123456');
    expect(k.initialKeyId.toString('hex')).toBe('1234567890123456');
    expect(k.counter).toBe(0xffff0000);
  });

  it('reads bytes as well as hex, and left-pads short TDES hex with F', () => {
    expect(must('ffff9876543210e00001').counter).toBe(1);
    const fromBytes = parseKsn(Buffer.from('FFFF9876543210E00001', 'hex'));
    expect(fromBytes.ok && fromBytes.value.counter).toBe(1);
    const padded = parseKsn('9876543210E00001', 'tdes');
    expect(padded.ok && padded.value.bytes.toString('hex').toUpperCase()).toBe('FFFF9876543210E00001');
  });

  it('refuses malformed KSNs with DUKPT_BAD_KSN', () => {
    for (const bad of ['', 'XYZ', 'FFFF9876543210E0000', 'FFFF9876543210E00001FF', '12345678901234560000000100']) {
      const r = parseKsn(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('DUKPT_BAD_KSN');
    }
    expect(parseKsn(Buffer.alloc(12), 'tdes').ok).toBe(false);
    expect(parseKsn(42 as never).ok).toBe(false);
  });

  it('returns a KSN or a typed error for any bytes or text, never throws (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)), fc.string({ maxLength: 40 })),
        fc.constantFrom<DukptScheme | undefined>(undefined, 'tdes', 'aes'),
        (input, scheme) => {
          const r = parseKsn(input, scheme);
          return r.ok ? r.value.bytes.length === (r.value.scheme === 'tdes' ? 10 : 12) : r.error.code === 'DUKPT_BAD_KSN';
        },
      ),
    );
  });

  it('round-trips the counter through withCounter (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x1fffff }), fc.integer({ min: 0, max: 0xffffffff }), (t, a) => {
        return must(tdes(t)).counter === t && must(aes(a)).counter === a;
      }),
    );
  });
});

describe('counter rules', () => {
  it('allows at most 10 one-bits for TDES and 16 for AES', () => {
    expect(isValidCounter('tdes', 0)).toBe(false);
    expect(isValidCounter('tdes', 0x1ff800)).toBe(true);
    expect(isValidCounter('tdes', 0x1ffc00)).toBe(false);
    expect(isValidCounter('tdes', 0x200000)).toBe(false);
    expect(isValidCounter('aes', 0xffff0000)).toBe(true);
    expect(isValidCounter('aes', 0x1ffff)).toBe(false);
  });

  it('counts the remaining transactions: 2^20 - 1 TDES keys in total, none after the last', () => {
    expect(remainingCounters('tdes', 0)).toBe(2 ** 20 - 1);
    expect(remainingCounters('tdes', 0x1ff800)).toBe(0);
    expect(nextCounter('tdes', 0x1ff800)).toBeNull();
    let aesTotal = 0;
    let c = 1;
    for (let k = 1; k <= 16; k++) {
      c = (c * (33 - k)) / k;
      aesTotal += c;
    }
    expect(remainingCounters('aes', 0)).toBe(aesTotal);
    expect(remainingCounters('aes', 0xffff0000)).toBe(0);
  });

  it('steps to the next valid counter, one fewer remaining each time (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DukptScheme>('tdes', 'aes'),
        fc.integer({ min: 0, max: 0xffffffff }),
        (scheme, raw) => {
          const c = scheme === 'tdes' ? raw % 0x200000 : raw;
          const n = nextCounter(scheme, c);
          if (n === null) return remainingCounters(scheme, c) === 0;
          return n > c && isValidCounter(scheme, n) && remainingCounters(scheme, c) - remainingCounters(scheme, n) === 1;
        },
      ),
    );
  });
});

describe('checkKsnCounter (replay guard)', () => {
  it('accepts a first KSN and then only increasing counters', () => {
    const first = checkKsnCounter(null, tdes(1));
    expect(first.ok && first.value.counter).toBe(1);
    expect(first.ok && first.value.exhausted).toBe(false);
    const second = checkKsnCounter(tdes(1), tdes(5));
    expect(second.ok).toBe(true);
    // Skipping counters is normal (declined or offline transactions consume KSNs too).
    expect(checkKsnCounter(tdes(5), tdes(0x800)).ok).toBe(true);
  });

  it('refuses a repeated or lower counter as DUKPT_KSN_REPLAY', () => {
    for (const [last, now] of [
      [tdes(5), tdes(5)],
      [tdes(5), tdes(4)],
      [aes(0x20000), aes(0x1fffe)],
    ] as const) {
      const r = checkKsnCounter(last, now);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('DUKPT_KSN_REPLAY');
    }
  });

  it('refuses invalid counters, foreign device keys, mixed schemes and junk with typed codes', () => {
    const codeOf = (r: ReturnType<typeof checkKsnCounter>): string => (r.ok ? 'ok' : r.error.code);
    expect(codeOf(checkKsnCounter(null, tdes(0)))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(codeOf(checkKsnCounter(null, tdes(0x1ffc00)))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(codeOf(checkKsnCounter(null, aes(0xffffffff)))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(codeOf(checkKsnCounter('FFFF9876543211E00001', tdes(2)))).toBe('DUKPT_KSN_DEVICE_MISMATCH');
    expect(codeOf(checkKsnCounter(aes(1), tdes(2)))).toBe('DUKPT_BAD_KSN');
    expect(codeOf(checkKsnCounter(null, 'not a ksn'))).toBe('DUKPT_BAD_KSN');
    expect(codeOf(checkKsnCounter(null, tdes(1), 'aes'))).toBe('DUKPT_BAD_KSN');
  });

  it('flags the last KSN of a device and refuses anything after it as DUKPT_KSN_EXHAUSTED', () => {
    const last = checkKsnCounter(tdes(0x1ff400), tdes(0x1ff800));
    expect(last.ok && last.value.exhausted).toBe(true);
    expect(last.ok && last.value.remaining).toBe(0);
    const after = checkKsnCounter(tdes(0x1ff800), tdes(0x1ff800));
    expect(after.ok ? 'ok' : after.error.code).toBe('DUKPT_KSN_EXHAUSTED');
    const aesLast = checkKsnCounter(aes(0xfffe8000), aes(0xffff0000));
    expect(aesLast.ok && aesLast.value.exhausted).toBe(true);
  });

  it('accepts exactly the strictly increasing valid counters of one device (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x1fffff }), fc.integer({ min: 1, max: 0x1fffff }), (a, b) => {
        const r = checkKsnCounter(tdes(a), tdes(b));
        const shouldPass =
          isValidCounter('tdes', a) && isValidCounter('tdes', b) && b > a && nextCounter('tdes', a) !== null;
        if (!isValidCounter('tdes', a)) return true; // a stored lastSeen is always one we accepted
        return r.ok === shouldPass;
      }),
      { numRuns: 500 },
    );
  });
});
