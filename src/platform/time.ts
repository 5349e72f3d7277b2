/**
 * Business days follow the operator's time zone (Asia/Shanghai by default), not UTC:
 * a sale at 07:30 Beijing time on the 2nd belongs to the 2nd.
 */
export function businessDay(at: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD. Building a formatter is costly and this runs on every sale.
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, f);
  }
  return f.format(at);
}
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** Offset of `timeZone` from UTC at `at`, in minutes (Asia/Shanghai: +480). */
function zoneOffsetMinutes(at: Date, timeZone: string): number {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60000);
}

/**
 * The instant a wall-clock time (month 1–12) in `timeZone` names. Two passes settle the offset
 * across a change of offset (summer time, where the zone has one).
 */
export function instantOfWallTime(y: number, month: number, d: number, h: number, mi: number, s: number, timeZone: string): Date {
  const asUtc = Date.UTC(y, month - 1, d, h, mi, s);
  let t = asUtc - zoneOffsetMinutes(new Date(asUtc), timeZone) * 60000;
  t = asUtc - zoneOffsetMinutes(new Date(t), timeZone) * 60000;
  return new Date(t);
}

/** The instant the next business day starts. */
export function startOfNextBusinessDay(at: Date, timeZone: string): Date {
  const day = businessDay(at, timeZone);
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const midnightUtcGuess = Date.UTC(y, m - 1, d + 1);
  const offset = zoneOffsetMinutes(new Date(midnightUtcGuess), timeZone);
  return new Date(midnightUtcGuess - offset * 60000);
}

/** Monday (ISO week start) and first-of-month of a business day, as YYYY-MM-DD. */
export function weekStart(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  const dow = (t.getUTCDay() + 6) % 7;
  t.setUTCDate(t.getUTCDate() - dow);
  return t.toISOString().slice(0, 10);
}

export function monthStart(day: string): string {
  return `${day.slice(0, 7)}-01`;
}
