/**
 * A station's opening hours (营业时间), kept in the operator's time zone.
 * `{always: true}` is a 24-hour station; otherwise `weekly` lists opening windows by ISO weekday
 * (Monday = 1). A window whose close is not after its open runs past midnight into the next day
 * (22:00–06:00); '24:00' closes at the end of the day.
 */
export type OpeningHours = { always: true } | { always: false; weekly: OpeningWindow[] };
export interface OpeningWindow {
  day: number;
  open: string;
  close: string;
}

export const MAX_OPENING_WINDOWS = 21;
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const CLOSE = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The first problem with `hours` as `{field, reason}`, or null when they are well formed. */
export function openingHoursProblem(hours: unknown): { field: string; reason: string } | null {
  if (typeof hours !== 'object' || hours === null) return { field: 'openingHours', reason: 'not an object' };
  const h = hours as { always?: unknown; weekly?: unknown };
  if (h.always === true) return h.weekly === undefined ? null : { field: 'openingHours.weekly', reason: 'must be absent when always is true' };
  if (h.always !== false) return { field: 'openingHours.always', reason: 'must be true or false' };
  if (!Array.isArray(h.weekly)) return { field: 'openingHours.weekly', reason: 'required when always is false' };
  if (h.weekly.length > MAX_OPENING_WINDOWS) return { field: 'openingHours.weekly', reason: `at most ${MAX_OPENING_WINDOWS} windows` };
  const seen = new Set<string>();
  for (const [i, w] of (h.weekly as unknown[]).entries()) {
    const at = `openingHours.weekly.${i}`;
    if (typeof w !== 'object' || w === null) return { field: at, reason: 'not an object' };
    const { day, open, close } = w as { day?: unknown; open?: unknown; close?: unknown };
    if (!Number.isInteger(day) || (day as number) < 1 || (day as number) > 7) return { field: `${at}.day`, reason: '1 (Monday) to 7 (Sunday)' };
    if (typeof open !== 'string' || !HHMM.test(open)) return { field: `${at}.open`, reason: 'HH:MM, 00:00 to 23:59' };
    if (typeof close !== 'string' || !CLOSE.test(close)) return { field: `${at}.close`, reason: 'HH:MM, 00:00 to 24:00' };
    if (minutesOf(open) === minutesOf(close)) return { field: `${at}.close`, reason: 'equals open (use always: true for 24 hours)' };
    const key = `${day as number}/${open}`;
    if (seen.has(key)) return { field: at, reason: 'the same day and opening time twice' };
    seen.add(key);
  }
  return null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}
const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** ISO weekday and minute of the day of `date` on the wall clock of `timeZone`. */
export function localWeekMinute(date: Date, timeZone: string): { day: number; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(date);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return { day: WEEKDAY[get('weekday')] ?? 1, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** Whether a station with these hours is open at `date` (pure; the wall clock of `timeZone`). */
export function isOpenAt(openingHours: OpeningHours, date: Date, timeZone: string): boolean {
  if (openingHours.always) return true;
  const { day, minute } = localWeekMinute(date, timeZone);
  const yesterday = day === 1 ? 7 : day - 1;
  for (const w of openingHours.weekly) {
    const open = minutesOf(w.open);
    const close = minutesOf(w.close);
    const overnight = close <= open;
    if (w.day === day && minute >= open && (overnight || minute < close)) return true;
    if (overnight && w.day === yesterday && minute < close) return true;
  }
  return false;
}
