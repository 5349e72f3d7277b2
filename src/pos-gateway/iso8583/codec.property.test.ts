/**
 * Property tests (fast-check): whatever bytes arrive, decodeMessage returns a message or a typed
 * error and never throws; generated valid messages round-trip byte for byte; product lines
 * generated to add up to DE 4 pass checkProductLines and any other DE 4 fails.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EXAMPLES,
  IFSF_BCD_PROFILE,
  IFSF_PROFILE,
  checkProductLines,
  decodeMessage,
  encodeMessage,
  macData,
  type De48Value,
  type De63Value,
  type FieldSpec,
  type FieldValue,
  type IsoMessage,
  type IsoProfile,
  type ProductLine,
} from './index.js';

const PROFILES = [IFSF_PROFILE, IFSF_BCD_PROFILE];
const CODES = new Set([
  'EMPTY', 'TOO_LARGE', 'TRUNCATED', 'TRAILING_BYTES', 'BAD_MTI', 'BAD_BITMAP', 'UNKNOWN_FIELD', 'BAD_LENGTH',
  'BAD_CHARSET', 'BAD_TYPE', 'MAC_POSITION', 'BAD_SUBFIELD', 'UNKNOWN_SUBFIELD',
]);

const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet.split('')), { minLength: min, maxLength: max }).map((a) => a.join(''));
const DIGITS = '0123456789';
const ALNUM = DIGITS + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
const NO_BACKSLASH = PRINTABLE.replace('\\', '');

function valueFor(spec: FieldSpec): fc.Arbitrary<string | Buffer> {
  const min = spec.length === 'fixed' ? spec.max : (spec.min ?? 0);
  const max = Math.min(spec.max, 60); // long enough to cross prefix digits, short enough to keep runs fast
  switch (spec.format) {
    case 'b':
      return fc.uint8Array({ minLength: min, maxLength: spec.length === 'fixed' ? spec.max : max }).map((a) => Buffer.from(a));
    case 'n':
      return chars(DIGITS, min, spec.length === 'fixed' ? spec.max : max);
    case 'z':
      return chars(DIGITS + ':;<=>?', min, max);
    case 'an':
      return chars(ALNUM, min, spec.length === 'fixed' ? spec.max : max);
    case 'anp':
      return chars(ALNUM + ' ', min, spec.length === 'fixed' ? spec.max : max);
    default:
      return chars(PRINTABLE, min, spec.length === 'fixed' ? spec.max : max);
  }
}

const scaled = fc.record({ scale: fc.integer({ min: 0, max: 4 }), value: fc.integer({ min: 0, max: 999_999_999 }) });
const productLine: fc.Arbitrary<ProductLine> = fc.record({
  productCode: chars(ALNUM, 1, 8),
  unit: chars(ALNUM, 1, 3),
  quantity: scaled,
  unitPrice: scaled,
  amount: fc.integer({ min: -99_999_999, max: 99_999_999 }),
  taxCode: chars(ALNUM, 0, 2),
  additionalCode: chars(NO_BACKSLASH, 0, 20),
});
const de63: fc.Arbitrary<De63Value> = fc.record({
  kind: fc.constant('de63' as const),
  serviceLevel: fc.constantFrom('S', 'F', ' '),
  lines: fc.array(productLine, { minLength: 1, maxLength: 18 }),
});
const prompt = chars(NO_BACKSLASH, 1, 20);
const de48: fc.Arbitrary<De48Value> = fc.record(
  {
    kind: fc.constant('de48' as const),
    batchSequence: chars(DIGITS, 10, 10),
    customerData: fc.record(
      { driverId: prompt, vehicleId: prompt, odometer: chars(DIGITS, 1, 8), additional: prompt },
      { requiredKeys: [] },
    ),
    vehicleTrack2: chars(DIGITS + '=', 0, 37),
    pinMethod: chars(DIGITS, 2, 2),
    vatPercentages: chars(PRINTABLE, 0, 40),
    vehicleIdEntryMode: chars(ALNUM, 1, 1),
    pumpNozzle: chars(DIGITS, 4, 4),
  },
  { requiredKeys: ['kind'] },
);

function messageArb(profile: IsoProfile): fc.Arbitrary<IsoMessage> {
  const numbers = [...profile.fields.keys()].filter((n) => n !== 64 && n !== 128);
  return fc
    .record({
      mti: chars(DIGITS, 4, 4),
      chosen: fc.subarray(numbers, { minLength: 1 }),
      mac: fc.boolean(),
      seed: fc.integer(),
    })
    .chain(({ mti, chosen, mac }) => {
      const entries = chosen.map((n) => {
        const spec = profile.fields.get(n)!;
        const arb: fc.Arbitrary<FieldValue> = spec.structured === 'de48' ? de48 : spec.structured === 'de63' ? de63 : valueFor(spec);
        return arb.map((v) => [n, v] as [number, FieldValue]);
      });
      if (mac) {
        const macField = chosen.some((n) => n > 64) ? 128 : 64;
        entries.push(valueFor(profile.fields.get(macField)!).map((v) => [macField, v] as [number, FieldValue]));
      }
      return fc.tuple(...entries).map((fields) => ({ mti, fields: new Map(fields) }));
    });
}

function expectTyped(r: ReturnType<typeof decodeMessage>): void {
  if (!r.ok) {
    expect(CODES.has(r.error.code)).toBe(true);
    expect(typeof r.error.detail).toBe('string');
  }
}

/**
 * Without the DE 48 / 63 sub-codecs (which normalise, e.g. leading zeros), decoding is canonical:
 * whatever decodes re-encodes to exactly the same bytes, so a MAC checked over the received bytes
 * covers exactly what the host acts on.
 */
function expectCanonical(bytes: Uint8Array, profile: IsoProfile): void {
  const raw = { ...profile, structured: false };
  const r = decodeMessage(bytes, raw);
  expectTyped(r);
  if (r.ok) expect(encodeMessage(r.message, raw)).toEqual(Buffer.from(bytes));
}

describe('decodeMessage never throws', () => {
  for (const profile of PROFILES) {
    it(`on arbitrary bytes (${profile.name})`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
          expectTyped(decodeMessage(bytes, profile));
          const m = macData(bytes, profile);
          if (!m.ok) expect(CODES.has(m.error.code)).toBe(true);
        }),
        { numRuns: 3000 },
      );
    });

    it(`on arbitrary bytes behind a valid MTI and bitmaps (${profile.name})`, () => {
      const head = profile.mtiEncoding === 'ascii' ? Buffer.from('1100') : Buffer.from('1100', 'hex');
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 8, maxLength: 400 }), (tail) => {
          expectTyped(decodeMessage(Buffer.concat([head, Buffer.from(tail)]), profile));
          expectCanonical(Buffer.concat([head, Buffer.from(tail)]), profile);
        }),
        { numRuns: 3000 },
      );
    });

    it(`on mutated valid messages: byte flips, truncation, insertion (${profile.name})`, () => {
      const samples = Object.values(EXAMPLES).map((m) => encodeMessage(m, profile));
      fc.assert(
        fc.property(
          fc.constantFrom(...samples),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
          fc.nat(),
          fc.uint8Array({ maxLength: 8 }),
          (sample, flips, cut, insert) => {
            const b = Buffer.from(sample);
            for (const [i, v] of flips) b[i % b.length] = v;
            const at = cut % (b.length + 1);
            expectTyped(decodeMessage(b, profile));
            expectTyped(decodeMessage(b.subarray(0, at), profile));
            expectTyped(decodeMessage(Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(at)]), profile));
            expectCanonical(b, profile);
          },
        ),
        { numRuns: 3000 },
      );
    });
  }
});

describe('encode(decode(encode(m))) round-trips', () => {
  for (const profile of PROFILES) {
    it(`for generated valid messages (${profile.name})`, () => {
      fc.assert(
        fc.property(messageArb(profile), (m) => {
          const bytes = encodeMessage(m, profile);
          const r = decodeMessage(bytes, profile);
          if (!r.ok) throw new Error(`${r.error.code} ${r.error.field} ${r.error.detail}`);
          expect(r.message.mti).toBe(m.mti);
          expect(encodeMessage(r.message, profile)).toEqual(bytes);
          expect(new Map([...r.message.fields].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...m.fields].sort((a, b) => a[0] - b[0])));
          const mac = macData(bytes, profile);
          expect(mac.ok).toBe(true);
          if (mac.ok && mac.mac) expect(Buffer.concat([mac.data, mac.mac])).toEqual(bytes);
        }),
        { numRuns: 500 },
      );
    });
  }
});

describe('DE 63 lines add up to DE 4', () => {
  it('lines generated to sum to DE 4 pass, any other DE 4 fails', () => {
    fc.assert(
      fc.property(de63, fc.integer({ min: 1, max: 1000 }), (d, delta) => {
        const lines = d.lines.map((l) => ({ ...l, amount: Math.abs(l.amount) }));
        const total = lines.reduce((s, l) => s + l.amount, 0);
        const value = { ...d, lines };
        expect(checkProductLines(String(total).padStart(12, '0'), value)).toEqual({ ok: true, total });
        expect(checkProductLines(total + delta, value)).toMatchObject({ ok: false, code: 'LINES_SUM_MISMATCH', actual: total });
        // and the check holds on what the wire gives back
        const r = decodeMessage(encodeMessage({ mti: '1220', fields: new Map<number, FieldValue>([[4, String(total).padStart(12, '0')], [63, value]]) }));
        expect(r.ok && checkProductLines(r.message.fields.get(4) as string, r.message.fields.get(63) as De63Value).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
