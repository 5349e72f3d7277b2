import { Worker } from 'node:worker_threads';
import { reportsError } from './reports.errors.js';

/** The most rows one export may hold; above it the caller must narrow the query. */
export const MAX_EXPORT_ROWS = 100_000;
/** Rows read from the database and handed to the worker at a time. */
const EXPORT_PAGE = 5_000;
/** Rows copied to the worker per message. */
const POST_CHUNK = 500;
/** Each running export holds up to a few hundred MB in its worker: at most this many at once. */
const MAX_RUNNING_EXPORTS = 2;
const MAX_WAITING_EXPORTS = 8;
/** A runaway export fails on its own instead of taking the server's memory. */
const WORKER_HEAP_MB = 1024;

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export type CellValue = string | number | Date | null;

export interface ExportColumn<R> {
  header: string;
  /** In characters. */
  width: number;
  /** Excel number format: '0.00' for yuan and litres, '@' for digit strings Excel must not turn into numbers. */
  format?: string;
  value: (row: R) => CellValue;
}

export interface ExportSource<R> {
  /** Matching rows, counted only up to `cap`. */
  count(cap: number): Promise<number>;
  /** The next rows, newest first, after `cursor` (null: from the newest). */
  page(cursor: string | null, limit: number): Promise<{ rows: R[]; nextCursor: string | null }>;
}

let running = 0;
const waiting: Array<() => void> = [];

async function acquireSlot(): Promise<void> {
  if (running < MAX_RUNNING_EXPORTS) {
    running++;
    return;
  }
  if (waiting.length >= MAX_WAITING_EXPORTS) throw reportsError('REPORT_EXPORTS_BUSY', { running, waiting: waiting.length });
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseSlot(): void {
  const next = waiting.shift();
  // The slot passes straight to the next waiter, so `running` stays the same.
  if (next) next();
  else running--;
}

/** Money in fen → yuan, for a cell formatted '0.00'. */
export const yuan = (fen: number | null): number | null => (fen === null ? null : fen / 100);
/** Volume in ml → litres. The cell keeps the exact value; its format shows two decimals. */
export const litres = (ml: number | null): number | null => (ml === null ? null : ml / 1000);
/**
 * A wall-clock time in the operator's zone, as selected by `localTimeSql`, for a date cell:
 * Excel dates carry no zone, so the cell must already hold local time.
 */
export const localTime = (wallClock: string): Date => new Date(`${wallClock}Z`);

/**
 * Writes the rows of `source` into a one-sheet .xlsx with a bold, frozen header row. Refuses
 * (REPORT_TOO_LARGE) before any work when more than MAX_EXPORT_ROWS match.
 */
export async function buildXlsx<R>(sheet: string, columns: ReadonlyArray<ExportColumn<R>>, source: ExportSource<R>): Promise<{ bytes: Buffer; rows: number }> {
  const tooLarge = () => reportsError('REPORT_TOO_LARGE', { limit: MAX_EXPORT_ROWS });
  if ((await source.count(MAX_EXPORT_ROWS + 1)) > MAX_EXPORT_ROWS) throw tooLarge();
  await acquireSlot();
  let worker: Worker | undefined;
  try {
    // Inside the try: a worker that cannot start (out of memory, too many threads) must still
    // give its slot back, or two such failures would leave every later export waiting, then 429.
    worker = new Worker(new URL('./xlsx.worker.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    return await writeSheet(worker, sheet, columns, source, tooLarge);
  } finally {
    try {
      await worker?.terminate();
    } finally {
      releaseSlot();
    }
  }
}

async function writeSheet<R>(
  worker: Worker,
  sheet: string,
  columns: ReadonlyArray<ExportColumn<R>>,
  source: ExportSource<R>,
  tooLarge: () => Error,
): Promise<{ bytes: Buffer; rows: number }> {
  const result = new Promise<Uint8Array>((resolve, reject) => {
    worker.on('message', (m: { kind: 'done'; bytes: Uint8Array } | { kind: 'error'; message: string }) =>
      m.kind === 'done' ? resolve(m.bytes) : reject(new Error(`xlsx worker failed: ${m.message}`)),
    );
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`xlsx worker exited (${code}) before finishing`)));
  });
  // Observed later; a failure while rows are still being read must not be "unhandled".
  result.catch(() => {});
  worker.postMessage({ kind: 'start', sheet, columns: columns.map(({ header, width, format }) => ({ header, width, format })) });
  let cursor: string | null = null;
  let total = 0;
  do {
    const { rows, nextCursor }: { rows: R[]; nextCursor: string | null } = await source.page(cursor, EXPORT_PAGE);
    total += rows.length;
    // Rows recorded after the count can push a listing over the cap.
    if (total > MAX_EXPORT_ROWS) throw tooLarge();
    for (let i = 0; i < rows.length; i += POST_CHUNK) {
      worker.postMessage({ kind: 'rows', rows: rows.slice(i, i + POST_CHUNK).map((r) => columns.map((c) => c.value(r))) });
      // Copying rows into the worker is synchronous: let waiting requests run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
    cursor = nextCursor;
  } while (cursor !== null);
  worker.postMessage({ kind: 'end' });
  const bytes = await result;
  return { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), rows: total };
}

/**
 * `sales-20261101-20261128.xlsx`: the period's bounds in the operator's zone (with the time when
 * a bound is not midnight), `start` / the current time when open. ASCII only, so every browser
 * saves it under this name.
 */
export function exportFileName(kind: string, period: { from?: Date; to?: Date }, timeZone: string, now = new Date()): string {
  return `${kind}-${period.from === undefined ? 'start' : stamp(period.from, timeZone)}-${stamp(period.to ?? now, timeZone)}.xlsx`;
}

function stamp(at: Date, timeZone: string): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  const day = `${p.year}${p.month}${p.day}`;
  return p.hour === '00' && p.minute === '00' ? day : `${day}T${p.hour}${p.minute}`;
}
