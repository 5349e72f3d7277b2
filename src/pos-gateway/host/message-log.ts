/**
 * The per-terminal support log of the terminal host (docs/pos-operations.md): each message the
 * host handled, masked, with its outcome, action code and timing, in pos_message_log; and the
 * per-minute counts the console's rates read, in pos_message_stats.
 *
 * Logging must never slow or stop a terminal: `record` only copies the frames into a bounded
 * buffer and returns; decoding, masking, the DE 41 → terminal lookup and the insert happen later,
 * in batches, one batch in flight at a time. A full buffer drops the entry and counts it
 * (fuelcard_pos_message_log_total{result="dropped"}); a failed insert drops its batch and counts it.
 */
import { createHash } from 'node:crypto';
import client from 'prom-client';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { registry, type Db } from '../../platform/index.js';
import { decodeMessage, IFSF_PROFILE, maskMessage, maskPan, responseMti, type IsoMessage, type IsoProfile } from '../iso8583/index.js';
import { withKeyManagement } from './session-fields.js';
import type { InboundResult } from './inbound-types.js';

export interface MessageLogEntry {
  /** DE 41 as the session layer read it (InboundResult.terminalId); null when it could not. */
  readonly isoTerminalId: string | null;
  readonly connId: string;
  readonly receivedAt: Date;
  readonly durationMs: number;
  readonly request: Buffer;
  readonly response: Buffer | null;
  readonly result: InboundResult;
}

export interface PosMessageLogOptions {
  /** The listener's wire profile (the session layer's default when absent); DE 96 is always added. */
  readonly profile?: IsoProfile;
  /** Entries waiting to be written; beyond it new entries are dropped. Default 5000. */
  readonly maxBuffered?: number;
  /** Bytes of frames waiting to be written; beyond it new entries are dropped. Default 16 MiB. */
  readonly maxBufferedBytes?: number;
  /** Rows per insert. Default 200. */
  readonly batchSize?: number;
  /** Longest an entry waits for its batch. Default 250 ms. */
  readonly flushIntervalMs?: number;
  /** How long a DE 41 → terminal resolution is trusted (a key ceremony can move a DE 41). Default 60 s. */
  readonly terminalCacheMs?: number;
}

export interface MessageLogStats {
  recorded: number;
  written: number;
  /** Refused at record time: buffer full or log closed. */
  dropped: number;
  /** Lost with a batch whose insert failed. */
  failed: number;
  buffered: number;
}

/** A message counts as an error when the session layer did not answer it normally (a decline is an answer). */
export function isErrorOutcome(outcome: string): boolean {
  return outcome !== 'OK' && outcome !== 'DUPLICATE';
}

/**
 * Digit runs as long as a card number or longer, in text fields: DE 2 and DE 35 are masked by
 * maskMessage, but a data record (DE 72 of a 1314 hot-card list), prompts or a transport echo
 * could still carry one — and fixed-width records put a card number right after other digits
 * (docs/pos-file-actions.md), so a run longer than 19 is masked whole, keeping its first 6 and
 * last 4. Numeric (n) fields are amounts, dates and counters and are left alone.
 */
const PAN_RUN = /[0-9]{13,}/g;

function scrub(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(PAN_RUN, (m) => maskPan(m));
  if (Array.isArray(v)) return v.map(scrub);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
  return v;
}

export type MaskedFrame = Record<string, unknown>;

/**
 * The loggable view of a frame: maskMessage's (PAN 6+4, track 2 without discretionary data, PIN
 * block, MACs, DE 53, DE 96 key material and any other binary field reduced to its length) with
 * PAN-like digit runs in text fields masked too. A frame that does not decode is logged only as
 * its length and hash: its bytes could hold anything.
 */
export function maskFrame(bytes: Buffer, profile: IsoProfile): { view: MaskedFrame; message: IsoMessage | null } {
  const d = decodeMessage(bytes, profile);
  if (!d.ok) {
    const e = d.error;
    return {
      view: {
        undecodable: true,
        length: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        error: { code: e.code, ...(e.field !== undefined ? { field: e.field } : {}), ...(e.offset !== undefined ? { offset: e.offset } : {}) },
      },
      message: null,
    };
  }
  const masked = maskMessage(d.message);
  const fields: Record<string, unknown> = {};
  for (const [n, v] of Object.entries(masked.fields)) {
    fields[n] = profile.fields.get(Number(n))?.format === 'n' ? v : scrub(v);
  }
  return { view: { mti: masked.mti, fields }, message: d.message };
}

const DEFAULTS = {
  maxBuffered: 5000,
  maxBufferedBytes: 16 * 1024 * 1024,
  batchSize: 200,
  flushIntervalMs: 250,
  terminalCacheMs: 60_000,
} as const;
const MAX_CACHED_TERMINALS = 10_000;
const MAX_DETAIL = 300;
/** Per-minute rows older than this are deleted by the writer (the console reads 24 h). */
const STATS_KEEP_MS = 48 * 3600_000;
const STATS_PRUNE_EVERY_MS = 3600_000;

let logCounter: client.Counter<'result'> | null = null;
function counter(): client.Counter<'result'> {
  logCounter ??= new client.Counter({
    name: 'fuelcard_pos_message_log_total',
    help: 'ISO 8583 support log entries by result: written, dropped (buffer full), failed (insert failed)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return logCounter;
}

interface Pending {
  readonly e: MessageLogEntry;
  readonly size: number;
}

interface Row {
  terminal_id: string | null;
  iso_terminal_id: string | null;
  conn_id: string;
  received_at: string;
  mti: string | null;
  response_mti: string | null;
  stan: string | null;
  action_code: string | null;
  outcome: string;
  detail: string | null;
  duration_ms: number;
  request_bytes: number;
  response_bytes: number | null;
  request_masked: MaskedFrame;
  response_masked: MaskedFrame | null;
}

/** JSON for a jsonb parameter: jsonb refuses U+0000, which would fail the whole batch. */
const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.includes('\u0000') ? x.replaceAll('\u0000', '\\0') : x));

const str = (m: IsoMessage | null, n: number): string | null => {
  const v = m?.fields.get(n);
  return typeof v === 'string' ? v : null;
};

export class PosMessageLog {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #opts: Required<Omit<PosMessageLogOptions, 'profile'>>;
  readonly #profile: IsoProfile;
  #buffer: Pending[] = [];
  #bufferedBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #lastStatsPrune = 0;
  readonly #terminals = new Map<string, { id: string | null; at: number }>();
  readonly #stats: MessageLogStats = { recorded: 0, written: 0, dropped: 0, failed: 0, buffered: 0 };

  constructor(db: Db, logger: Logger, opts: PosMessageLogOptions = {}) {
    this.#db = db;
    this.#logger = logger;
    this.#profile = withKeyManagement(opts.profile ?? IFSF_PROFILE);
    this.#opts = {
      maxBuffered: opts.maxBuffered ?? DEFAULTS.maxBuffered,
      maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      batchSize: opts.batchSize ?? DEFAULTS.batchSize,
      flushIntervalMs: opts.flushIntervalMs ?? DEFAULTS.flushIntervalMs,
      terminalCacheMs: opts.terminalCacheMs ?? DEFAULTS.terminalCacheMs,
    };
  }

  /** Never throws, never waits: the message path calls it after the answer is decided. */
  record(e: MessageLogEntry): void {
    const size = e.request.length + (e.response?.length ?? 0);
    if (this.#closed || this.#buffer.length >= this.#opts.maxBuffered || this.#bufferedBytes + size > this.#opts.maxBufferedBytes) {
      this.#stats.dropped += 1;
      counter().inc({ result: 'dropped' });
      return;
    }
    // Copies: a frame is a view into the socket's chunk, which would otherwise stay alive with it.
    const entry: MessageLogEntry = { ...e, request: Buffer.from(e.request), response: e.response ? Buffer.from(e.response) : null };
    this.#buffer.push({ e: entry, size });
    this.#bufferedBytes += size;
    this.#stats.recorded += 1;
    if (this.#buffer.length >= this.#opts.batchSize) this.#schedule(0);
    else this.#schedule(this.#opts.flushIntervalMs);
  }

  stats(): MessageLogStats {
    return { ...this.#stats, buffered: this.#buffer.length };
  }

  /** Resolves when everything recorded before the call has been written (or counted as failed). */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#writing = this.#writing.then(() => this.#drain());
    return this.#writing;
  }

  /** Writes what is buffered; later records are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #schedule(delayMs: number): void {
    if (this.#timer && delayMs > 0) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, delayMs);
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#opts.batchSize);
      this.#bufferedBytes -= batch.reduce((n, p) => n + p.size, 0);
      try {
        await this.#write(batch.map((p) => p.e));
        this.#stats.written += batch.length;
        counter().inc({ result: 'written' }, batch.length);
      } catch (err) {
        this.#stats.failed += batch.length;
        counter().inc({ result: 'failed' }, batch.length);
        this.#logger.warn({ err, rows: batch.length }, 'pos: message log batch not written');
      }
    }
  }

  /** Platform terminal ids of the DE 41s, from the cache or in one query. */
  async #resolve(isoIds: readonly string[]): Promise<Map<string, string | null>> {
    const now = Date.now();
    const out = new Map<string, string | null>();
    const missing: string[] = [];
    for (const iso of new Set(isoIds)) {
      const hit = this.#terminals.get(iso);
      if (hit && now - hit.at < this.#opts.terminalCacheMs) out.set(iso, hit.id);
      else missing.push(iso);
    }
    if (missing.length > 0) {
      const r = await sql<{ iso_terminal_id: string; terminal_id: string }>`select iso_terminal_id, terminal_id from pos_terminals
        where iso_terminal_id = any(${missing}::text[])`.execute(this.#db);
      const found = new Map(r.rows.map((x) => [x.iso_terminal_id, x.terminal_id]));
      if (this.#terminals.size + missing.length > MAX_CACHED_TERMINALS) this.#terminals.clear();
      for (const iso of missing) {
        const id = found.get(iso) ?? null;
        out.set(iso, id);
        // Unknown DE 41s are not cached: a prober's made-up ids would evict the real terminals.
        if (id !== null) this.#terminals.set(iso, { id, at: now });
      }
    }
    return out;
  }

  #row(e: MessageLogEntry): { row: Omit<Row, 'terminal_id'>; iso: string | null } {
    const req = maskFrame(e.request, this.#profile);
    const res = e.response ? maskFrame(e.response, this.#profile) : null;
    const r = e.result;
    const iso = e.isoTerminalId ?? r.terminalId ?? str(req.message, 41);
    const mti = r.mti ?? req.message?.mti ?? null;
    const detail = r.detail ? r.detail.slice(0, MAX_DETAIL) : null;
    return {
      iso,
      row: {
        iso_terminal_id: iso,
        conn_id: e.connId,
        received_at: e.receivedAt.toISOString(),
        mti,
        response_mti: res?.message?.mti ?? (e.response && mti ? responseMti(mti) : null),
        stan: str(req.message, 11),
        action_code: r.actionCode ?? str(res?.message ?? null, 39),
        outcome: r.outcome,
        detail,
        duration_ms: Math.max(0, Math.round(e.durationMs)),
        request_bytes: e.request.length,
        response_bytes: e.response ? e.response.length : null,
        request_masked: req.view,
        response_masked: res?.view ?? null,
      },
    };
  }

  async #write(entries: readonly MessageLogEntry[]): Promise<void> {
    const built = entries.map((e) => this.#row(e));
    const ids = await this.#resolve(built.flatMap((b) => (b.iso === null ? [] : [b.iso])));
    const rows: Row[] = built.map((b) => ({ terminal_id: b.iso === null ? null : (ids.get(b.iso) ?? null), ...b.row }));
    const minutes = new Map<string, { terminal_id: string; minute: string; messages: number; errors: number }>();
    for (const r of rows) {
      if (r.terminal_id === null) continue;
      const minute = new Date(Math.floor(Date.parse(r.received_at) / 60_000) * 60_000).toISOString();
      const key = `${r.terminal_id}|${minute}`;
      const m = minutes.get(key) ?? { terminal_id: r.terminal_id, minute, messages: 0, errors: 0 };
      m.messages += 1;
      if (isErrorOutcome(r.outcome)) m.errors += 1;
      minutes.set(key, m);
    }
    // Upserted in key order: two writers (two host processes) then lock the same rows in the same order.
    const stats = [...minutes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, v]) => v);
    const prune = Date.now() - this.#lastStatsPrune > STATS_PRUNE_EVERY_MS;
    await this.#db.transaction().execute(async (trx) => {
      // One statement whatever the batch size (one prepared text): the batch travels as one JSON document.
      await sql`insert into pos_message_log (terminal_id, iso_terminal_id, conn_id, received_at, mti, response_mti, stan, action_code, outcome, detail,
          duration_ms, request_bytes, response_bytes, request_masked, response_masked)
        select terminal_id, iso_terminal_id, conn_id, received_at, mti, response_mti, stan, action_code, outcome, detail,
          duration_ms, request_bytes, response_bytes, request_masked, response_masked
        from jsonb_to_recordset(${toJson(rows)}::jsonb) as r(terminal_id text, iso_terminal_id text, conn_id text, received_at timestamptz,
          mti text, response_mti text, stan text, action_code text, outcome text, detail text, duration_ms integer, request_bytes integer,
          response_bytes integer, request_masked jsonb, response_masked jsonb)`.execute(trx);
      if (stats.length > 0) {
        await sql`insert into pos_message_stats (terminal_id, minute, messages, errors)
          select terminal_id, minute, messages, errors
          from jsonb_to_recordset(${JSON.stringify(stats)}::jsonb) as s(terminal_id text, minute timestamptz, messages integer, errors integer)
          on conflict (terminal_id, minute) do update set messages = pos_message_stats.messages + excluded.messages,
            errors = pos_message_stats.errors + excluded.errors`.execute(trx);
      }
    });
    if (prune) {
      this.#lastStatsPrune = Date.now();
      await sql`delete from pos_message_stats where minute < ${new Date(Date.now() - STATS_KEEP_MS)}`.execute(this.#db).catch((err: unknown) => {
        this.#logger.warn({ err }, 'pos: old message counts not pruned');
      });
    }
  }
}
