import { platformError } from './errors.js';

/**
 * Keyset paging cursors, newest first by (time, uuid). A cursor is base64url of
 * "<time to the microsecond>|<uuid>" of the last item of a page. Microseconds matter: a JS
 * Date keeps milliseconds, and a cursor cut to the millisecond would skip items recorded later
 * in that same millisecond — so queries select the time as text with `CURSOR_TIME_SQL`.
 * A cursor we did not issue is refused rather than ignored: restarting at page one would loop
 * a pager forever.
 */
export interface Cursor {
  at: string;
  id: string;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The to_char format that renders a timestamptz (at time zone 'UTC') as a cursor time. */
export const CURSOR_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

export function decodeCursor(cursor: string | undefined): Cursor | null {
  if (cursor === undefined || cursor === '') return null;
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || !CURSOR_AT.test(at) || !UUID.test(id)) {
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
