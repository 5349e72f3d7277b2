import { platformError } from './errors.js';

/**
 * An ISO 8601 time as the `date-time` format lets it through, read by hand: ajv accepts what
 * neither JS Date nor PostgreSQL take (a leap second `23:59:60`, year 0000, offsets up to ±23:59,
 * a space or lower-case `t` as separator), and V8's Date.parse silently rolls `02-30` into March.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

const isLeapYear = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysInMonth = (year: number, month: number) => [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;

/** An instant as a filter bound: `at` for JS (to the millisecond), `utc` exact for SQL. */
export interface TimeBound {
  at: Date;
  /** The instant as UTC text to the microsecond, the precision PostgreSQL keeps: `2026-11-27T00:30:15.123456Z`. */
  utc: string;
}

/**
 * The instant an ISO 8601 time names, or null when it names none we can store: a calendar date
 * that does not exist, a leap second, or an instant outside the years 1–9999 (PostgreSQL has no
 * year 0, and JS prints years past 9999 in a form nothing reads back). Digits past the
 * microsecond round up, which keeps `>= from` and `< to` exact on microsecond timestamps.
 */
export function parseIsoTime(text: string): TimeBound | null {
  const m = ISO_TIME.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  const offsetH = Number(m[9] ?? 0);
  const offsetM = Number(m[10] ?? 0);
  if (offsetH > 23 || offsetM > 59) return null;
  const fraction = m[7] ?? '';
  const micros = Number(fraction.slice(0, 6).padEnd(6, '0')) + (/[1-9]/.test(fraction.slice(6)) ? 1 : 0);
  const second = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  second.setUTCFullYear(y, mo - 1, d);
  second.setUTCHours(h, mi, s, 0);
  const ms = second.getTime() - (m[8] === '-' ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000 + Math.floor(micros / 1000);
  const at = new Date(ms);
  const year = at.getUTCFullYear();
  if (Number.isNaN(ms) || year < 1 || year > 9999) return null;
  return { at, utc: `${at.toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z` };
}

const refuseTime = (field: string) => platformError('VALIDATION_FAILED', { field, reason: 'not a time between years 1 and 9999 (ISO 8601, no leap second)' });

/**
 * A `from`/`to` query parameter as a Date, or 400 VALIDATION_FAILED naming `field`
 * (`querystring.from`). Every time filter goes through here (or parseTimeBound) before SQL.
 */
export function parseTimeFilter(value: string, field: string): Date;
export function parseTimeFilter(value: string | undefined, field: string): Date | undefined;
export function parseTimeFilter(value: string | undefined, field: string): Date | undefined {
  return parseTimeBound(value, field)?.at;
}

/** parseTimeFilter keeping the microseconds, for a bound compared with stored timestamps in SQL. */
export function parseTimeBound(value: string, field: string): TimeBound;
export function parseTimeBound(value: string | undefined, field: string): TimeBound | undefined;
export function parseTimeBound(value: string | undefined, field: string): TimeBound | undefined {
  if (value === undefined) return undefined;
  const bound = parseIsoTime(value);
  if (bound === null) throw refuseTime(field);
  return bound;
}

/**
 * Keyset paging cursors, newest first by (time, id). A cursor is base64url of
 * "<time to the microsecond>|<id>" of the last item of a page; the id is a uuid, or a bigint
 * for tables keyed by one (the audit log). Microseconds matter: a JS Date keeps milliseconds,
 * and a cursor cut to the millisecond would skip items recorded later in that same millisecond —
 * so queries select the time as text with `CURSOR_TIME_FORMAT` and pass `at` back as text.
 * A cursor we did not issue is refused rather than ignored: restarting at page one would loop
 * a pager forever.
 */
export interface Cursor {
  at: string;
  id: string;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const CURSOR_ID = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  // 18 digits stay below bigint's maximum, so the cast in SQL cannot overflow.
  bigint: /^[1-9][0-9]{0,17}$/,
} as const;

/** The to_char format that renders a timestamptz (at time zone 'UTC') as a cursor time. */
export const CURSOR_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

export function decodeCursor(cursor: string | undefined, idKind: keyof typeof CURSOR_ID = 'uuid'): Cursor | null {
  if (cursor === undefined || cursor === '') return null;
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  // The shape alone lets a forged "2026-13-45T25:00:00Z" through to PostgreSQL: the time must
  // also name a real instant, which is what parseIsoTime checks field by field.
  if (!at || !id || extra !== undefined || !CURSOR_AT.test(at) || parseIsoTime(at) === null || !CURSOR_ID[idKind].test(id)) {
    throw platformError('VALIDATION_FAILED', { field: 'cursor' });
  }
  return { at, id };
}

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`).toString('base64url');
}

/** A page size within 1..max (default when absent or not a number). */
export function pageSize(limit: number | undefined, max: number, dflt = 50): number {
  return Math.min(Math.max(Math.trunc(limit ?? dflt) || dflt, 1), max);
}
