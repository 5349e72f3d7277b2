import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { decodeCursor, encodeCursor, parseIsoTime, parseTimeBound, parseTimeFilter } from './paging.js';

const UUID = '0b6c2a4e-8f00-4d6a-9a57-3c1f2e4d5b6a';
const YEAR_ZERO = '0000-01-01T00:00:00Z';

function refusal(fn: () => unknown): { code: string; details: unknown } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return { code: (err as AppError).code, details: (err as AppError).details };
  }
  throw new Error('expected a refusal');
}

describe('parseIsoTime', () => {
  it.each([
    ['2026-11-27T00:00:00+08:00', '2026-11-26T16:00:00.000Z'],
    ['2026-11-27T00:00:00Z', '2026-11-27T00:00:00.000Z'],
    ['2026-11-27t00:00:00z', '2026-11-27T00:00:00.000Z'],
    ['2026-11-27 08:30:15.123456+0800', '2026-11-27T00:30:15.123Z'],
    ['2026-11-27T08:30:15.1-01', '2026-11-27T09:30:15.100Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    // An offset PostgreSQL would refuse as text is fine once it is an instant.
    ['2026-01-01T00:00:00-23:59', '2026-01-01T23:59:00.000Z'],
    // Years below 100 are not read as 19xx.
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseIsoTime(text)?.at.toISOString()).toBe(iso);
  });

  it.each([
    ['2001-01-01T00:00:00.000002Z', '2001-01-01T00:00:00.000002Z'],
    ['2026-11-27T08:30:15.123456+08:00', '2026-11-27T00:30:15.123456Z'],
    ['2026-11-27T08:30:15.5Z', '2026-11-27T08:30:15.500000Z'],
    ['2026-11-27T08:30:15Z', '2026-11-27T08:30:15.000000Z'],
    // Past the microsecond: rounded up, so ">= from" and "< to" stay exact on stored microseconds.
    ['2026-11-27T08:30:15.1234561Z', '2026-11-27T08:30:15.123457Z'],
    ['2026-11-27T08:30:15.1234560000Z', '2026-11-27T08:30:15.123456Z'],
    ['2026-12-31T23:59:59.9999999Z', '2027-01-01T00:00:00.000000Z'],
  ])('%s is exactly %s to the microsecond', (text, utc) => {
    expect(parseIsoTime(text)?.utc).toBe(utc);
  });

  it.each([
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['year 0', '0000-01-01T00:00:00Z'],
    ['an offset that pushes year 1 into year 0', '0001-01-01T00:00:00+01:00'],
    ['an offset that pushes year 9999 into 10000', '9999-12-31T23:30:00-01:00'],
    ['a fraction that rounds year 9999 into 10000', '9999-12-31T23:59:59.9999999Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['month 0', '2026-00-10T00:00:00Z'],
    ['30 February (V8 would roll it into March)', '2026-02-30T00:00:00Z'],
    ['29 February of a common year', '2100-02-29T00:00:00Z'],
    ['hour 24', '2026-01-01T24:00:00Z'],
    ['minute 60', '2026-01-01T00:60:00Z'],
    ['an offset of 24 hours', '2026-01-01T00:00:00+24:00'],
    ['no zone', '2026-01-01T00:00:00'],
    ['a date only', '2026-01-01'],
    ['a five-digit year', '12026-01-01T00:00:00Z'],
    ['trailing text', '2026-01-01T00:00:00Z '],
  ])('refuses %s', (_what, text) => {
    expect(parseIsoTime(text)).toBeNull();
  });
});

describe('parseTimeFilter', () => {
  it('passes absence through and names the field of a bad value', () => {
    expect(parseTimeFilter(undefined, 'querystring.from')).toBeUndefined();
    expect(parseTimeFilter('2026-11-27T00:00:00+08:00', 'querystring.from').toISOString()).toBe('2026-11-26T16:00:00.000Z');
    const r = refusal(() => parseTimeFilter('2016-12-31T23:59:60Z', 'querystring.to'));
    expect(r.code).toBe('VALIDATION_FAILED');
    expect(r.details).toMatchObject({ field: 'querystring.to' });
    expect(parseTimeBound('2026-11-27T08:30:15.123456+08:00', 'querystring.from')).toEqual({
      at: new Date('2026-11-27T00:30:15.123Z'),
      utc: '2026-11-27T00:30:15.123456Z',
    });
    expect(refusal(() => parseTimeBound(YEAR_ZERO, 'querystring.from')).details).toMatchObject({ field: 'querystring.from' });
  });
});

describe('decodeCursor', () => {
  const forged = (text: string) => Buffer.from(text).toString('base64url');

  it('round-trips what encodeCursor makes, for uuid and bigint ids', () => {
    expect(decodeCursor(encodeCursor('2026-11-27T08:30:15.123456Z', UUID))).toEqual({ at: '2026-11-27T08:30:15.123456Z', id: UUID });
    expect(decodeCursor(encodeCursor('2026-11-27T08:30:15.123456Z', '8812'), 'bigint')).toEqual({ at: '2026-11-27T08:30:15.123456Z', id: '8812' });
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });

  it.each([
    ['month 13', `2026-13-01T00:00:00.000000Z|${UUID}`, 'uuid'],
    ['30 February', `2026-02-30T00:00:00.000000Z|${UUID}`, 'uuid'],
    ['hour 25', `2026-01-01T25:00:00.000000Z|${UUID}`, 'uuid'],
    ['a leap second', `2016-12-31T23:59:60.000000Z|${UUID}`, 'uuid'],
    ['year 0', `0000-01-01T00:00:00.000000Z|${UUID}`, 'uuid'],
    ['month 13, bigint id', '2026-13-01T00:00:00.000000Z|1', 'bigint'],
    ['a uuid where a bigint belongs', `2026-01-01T00:00:00.000000Z|${UUID}`, 'bigint'],
    ['a bigint where a uuid belongs', '2026-01-01T00:00:00.000000Z|1', 'uuid'],
    ['a bigint past int8', '2026-01-01T00:00:00.000000Z|99999999999999999999', 'bigint'],
    ['an offset', `2026-01-01T00:00:00.000000+08:00|${UUID}`, 'uuid'],
    ['a third part', `2026-01-01T00:00:00.000000Z|${UUID}|x`, 'uuid'],
  ] as const)('refuses a cursor with %s', (_what, text, kind) => {
    const r = refusal(() => decodeCursor(forged(text), kind));
    expect(r).toEqual({ code: 'VALIDATION_FAILED', details: { field: 'cursor' } });
  });
});
