import type { LoadResult } from './http-load.js';
import type { PgbenchResult } from './pgbench.js';

export interface Cell {
  workload: 'many' | 'hot';
  clients: number;
  http: LoadResult;
  httpCpu: { server: number | null; postgres: number | null; loadgen: number | null };
  /** Sales the database recorded for the HTTP terminals in the window, against what the client saw. */
  httpRecorded: { approved: number; declined: number };
  pgbench: (PgbenchResult & { approved: number; declined: number }) | null;
  pgbenchCpu: { postgres: number | null };
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : 'n/a');
const pct = (n: number | null) => (n === null || !Number.isFinite(n) ? 'n/a' : `${Math.round(n * 100)}%`);

export const WORKLOAD_NAMES = { many: 'many cards', hot: 'one hot card' } as const;

export function tableHeader(): string {
  return [
    '| workload | clients | HTTP sales/s | HTTP p50 ms | HTTP p99 ms | HTTP approved / declined / errors | pgbench sales/s | pgbench p50 ms | pgbench p99 ms | pgbench approved / declined / failed | HTTP ÷ pgbench | CPU server (HTTP) | CPU PG (HTTP) | CPU load gen | CPU PG (pgbench) |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|',
  ].join('\n');
}

export function tableRow(c: Cell): string {
  const h = c.http;
  const httpRate = (h.approved + h.declined) / h.seconds;
  const p = c.pgbench;
  const cols = [
    WORKLOAD_NAMES[c.workload],
    String(c.clients),
    f0(httpRate),
    f1(h.p50Ms),
    f1(h.p99Ms),
    `${f0(h.approved)} / ${f0(h.declined)} / ${f0(h.errors)}`,
    p ? f0(p.perSecond) : 'skipped',
    p ? f1(p.p50Ms) : '–',
    p ? f1(p.p99Ms) : '–',
    p ? `${f0(p.approved)} / ${f0(p.declined)} / ${f0(p.failed)}` : '–',
    p && p.perSecond > 0 ? `${(httpRate / p.perSecond).toFixed(2)}` : '–',
    pct(c.httpCpu.server),
    pct(c.httpCpu.postgres),
    pct(c.httpCpu.loadgen),
    p ? pct(c.pgbenchCpu.postgres) : '–',
  ];
  return `| ${cols.join(' | ')} |`;
}

/** Anything a reader of the table must know about a cell: errors, declines, lost or extra sales. */
export function cellNotes(c: Cell): string[] {
  const notes: string[] = [];
  const name = `${WORKLOAD_NAMES[c.workload]}, ${c.clients} clients`;
  if (c.http.errors > 0) notes.push(`${name}: HTTP errors ${JSON.stringify(c.http.errorsByKind)}`);
  if (c.http.declined > 0) notes.push(`${name}: HTTP declines ${JSON.stringify(c.http.declinesByCode)}`);
  if (c.httpRecorded.approved !== c.http.approved || c.httpRecorded.declined !== c.http.declined) {
    notes.push(
      `${name}: the database recorded ${c.httpRecorded.approved} approved / ${c.httpRecorded.declined} declined HTTP sales, the client saw ${c.http.approved} / ${c.http.declined}`,
    );
  }
  if (c.pgbench && c.pgbench.failed > 0) notes.push(`${name}: pgbench failed transactions ${c.pgbench.failed}`);
  return notes;
}
