import { describe, expect, it } from 'vitest';
import { businessDay, monthStart, startOfNextBusinessDay, weekStart } from './time.js';

const SH = 'Asia/Shanghai';

describe('business days in Asia/Shanghai', () => {
  it.each([
    ['2024-03-01T15:59:59.999Z', '2024-03-01'], // 23:59:59.999 in Beijing
    ['2024-03-01T16:00:00.000Z', '2024-03-02'], // midnight in Beijing, still the 1st in UTC
    ['2024-03-01T23:30:00.000Z', '2024-03-02'], // 07:30 on the 2nd in Beijing
    ['2024-02-28T16:00:00.000Z', '2024-02-29'], // leap day
    ['2024-12-31T16:00:00.000Z', '2025-01-01'], // new year
    ['2025-01-01T00:00:00.000Z', '2025-01-01'],
  ])('%s is business day %s', (at, day) => {
    expect(businessDay(new Date(at), SH)).toBe(day);
  });

  it('does not depend on the process time zone or UTC date', () => {
    const at = new Date('2024-06-30T20:00:00Z');
    expect(businessDay(at, SH)).toBe('2024-07-01');
    expect(businessDay(at, 'UTC')).toBe('2024-06-30');
    expect(businessDay(at, 'America/New_York')).toBe('2024-06-30');
  });

  it.each([
    ['2024-03-01T10:00:00.000Z', '2024-03-01T16:00:00.000Z'],
    ['2024-03-01T15:59:59.999Z', '2024-03-01T16:00:00.000Z'],
    ['2024-03-01T16:00:00.000Z', '2024-03-02T16:00:00.000Z'], // exactly at midnight: the day after
    ['2024-02-29T03:00:00.000Z', '2024-02-29T16:00:00.000Z'],
    ['2024-12-31T17:00:00.000Z', '2025-01-01T16:00:00.000Z'],
    ['2024-12-31T12:00:00.000Z', '2024-12-31T16:00:00.000Z'],
  ])('the business day after %s starts at %s', (at, next) => {
    expect(startOfNextBusinessDay(new Date(at), SH).toISOString()).toBe(next);
  });

  it('finds the next midnight in a zone with daylight saving time too', () => {
    // New York, the night clocks go forward (2024-03-10): midnight is still -05:00.
    expect(startOfNextBusinessDay(new Date('2024-03-09T12:00:00Z'), 'America/New_York').toISOString()).toBe('2024-03-10T05:00:00.000Z');
    // In summer it is -04:00.
    expect(startOfNextBusinessDay(new Date('2024-07-01T12:00:00Z'), 'America/New_York').toISOString()).toBe('2024-07-02T04:00:00.000Z');
  });

  it('the next business day start is always later, and is a midnight of the zone', () => {
    for (let t = Date.parse('2024-01-01T00:00:00Z'); t < Date.parse('2024-01-08T00:00:00Z'); t += 37 * 60_000) {
      const at = new Date(t);
      const next = startOfNextBusinessDay(at, SH);
      expect(next.getTime()).toBeGreaterThan(t);
      expect(next.getTime() - t).toBeLessThanOrEqual(86_400_000);
      expect(businessDay(next, SH)).not.toBe(businessDay(at, SH));
      expect(businessDay(new Date(next.getTime() - 1), SH)).toBe(businessDay(at, SH));
    }
  });
});

describe('week and month starts', () => {
  it.each([
    ['2024-03-04', '2024-03-04'], // Monday
    ['2024-03-10', '2024-03-04'], // Sunday belongs to the week that began on Monday
    ['2024-03-01', '2024-02-26'], // across a month
    ['2025-01-01', '2024-12-30'], // across a year
  ])('week of %s starts %s', (day, start) => {
    expect(weekStart(day)).toBe(start);
  });

  it('month start', () => {
    expect(monthStart('2024-02-29')).toBe('2024-02-01');
    expect(monthStart('2025-01-01')).toBe('2025-01-01');
  });
});
