/**
 * The exactly-once journal on PostgreSQL (pos_exchanges), behind the ReplayGuard contract of
 * replay.ts. The primary key (terminal, STAN, local time) decides who processes a request: the
 * insert that wins. A repeat that arrives while the first is being handled waits (bounded) for
 * the first answer and gets it; a claim left by a crashed process is taken over after
 * `claimTimeoutMs`, so a request whose handling died is never unanswerable.
 *
 * Capacity (docs/pos-journal.md): the journal never forgets an entry younger than twice the DE 7
 * window (`prune` refuses to), and each terminal may add at most `maxPerTerminal` entries within
 * that span; beyond it `begin` refuses that terminal's new identities (`refused: terminal-quota`),
 * so a flood of unique STANs from one terminal neither grows the table without bound nor touches
 * any other terminal.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/index.js';
import { DEFAULT_TRANSMISSION_WINDOW_MS, replayProtectionMs, type ReplayBegin, type ReplayGuard, type ReplayKey } from './replay.js';

/**
 * New journal entries one terminal may add within 2 × the DE 7 window (10 minutes by default).
 * A busy forecourt controller sends a few hundred messages in 10 minutes (a 1100 and a 1220 per
 * sale, echoes, reversals); 5 000 is ten times that, and still bounds a runaway terminal to a
 * few thousand rows per window.
 */
export const DEFAULT_MAX_ENTRIES_PER_TERMINAL = 5_000;

export interface DbReplayGuardOptions {
  /** How long a repeat waits for the first transmission's answer before answering nothing. Default 2 000 ms. */
  waitMs?: number;
  /** An in_progress claim older than this is considered dead and taken over. Default 60 000 ms. */
  claimTimeoutMs?: number;
  /** The pipeline's DE 7 window (config.terminalClockSkewMs). Default 5 minutes. */
  windowMs?: number;
  /** New entries per terminal within 2 × `windowMs`; default DEFAULT_MAX_ENTRIES_PER_TERMINAL. Infinity = no quota. */
  maxPerTerminal?: number;
}

/** What `prune` removed. */
export interface PruneResult {
  /** Answered entries. */
  readonly done: number;
  /** Claims whose handler died and that no repeat ever took over. */
  readonly inProgress: number;
}

type Claim = 'new' | 'exists' | 'quota';

interface Row {
  fingerprint: string;
  status: 'in_progress' | 'done';
  response: Buffer | null;
  message_class: string;
}

export class DbReplayGuard implements ReplayGuard {
  readonly #waitMs: number;
  readonly #claimTimeoutMs: number;
  readonly #protectMs: number;
  readonly #maxPerTerminal: number;

  constructor(
    private readonly db: Db,
    opts: DbReplayGuardOptions = {},
  ) {
    this.#waitMs = opts.waitMs ?? 2_000;
    this.#claimTimeoutMs = opts.claimTimeoutMs ?? 60_000;
    this.#protectMs = replayProtectionMs(opts.windowMs ?? DEFAULT_TRANSMISSION_WINDOW_MS);
    this.#maxPerTerminal = opts.maxPerTerminal ?? DEFAULT_MAX_ENTRIES_PER_TERMINAL;
    if (!(this.#maxPerTerminal >= 1)) throw new RangeError('maxPerTerminal must be at least 1');
  }

  /** The youngest age `prune` may delete at: 2 × the DE 7 window. */
  get protectionMs(): number {
    return this.#protectMs;
  }

  async #insert(db: Db, key: ReplayKey, fingerprint: string, now: Date): Promise<boolean> {
    const r = await sql`insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, created_at)
      values (${key.terminalId}, ${key.stan}, ${key.localDateTime}, ${key.messageClass}, ${fingerprint}, 'in_progress', ${now})
      on conflict do nothing`.execute(db);
    return Number(r.numAffectedRows ?? 0) === 1;
  }

  async #claim(key: ReplayKey, fingerprint: string, now: Date): Promise<Claim> {
    if (this.#maxPerTerminal === Infinity) return (await this.#insert(this.db, key, fingerprint, now)) ? 'new' : 'exists';
    // One statement on the common path: the entry is inserted (a repeat conflicts and counts
    // nothing), and only a new entry is counted in the terminal's quota row, whose lock serialises
    // this terminal's claims only. The span is fixed (reset once it has passed), so at most
    // 2 × quota entries fall in any 2 × window.
    const spanStart = new Date(now.getTime() - this.#protectMs);
    const r = await sql<{ inserted: number; entries: number | null }>`with ins as (
        insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, created_at)
        values (${key.terminalId}, ${key.stan}, ${key.localDateTime}, ${key.messageClass}, ${fingerprint}, 'in_progress', ${now})
        on conflict do nothing
        returning 1
      ), q as (
        insert into pos_journal_quota as p (terminal_id, window_start, entries)
        select ${key.terminalId}, ${now}, 1 from ins
        on conflict (terminal_id) do update set
          window_start = case when p.window_start <= ${spanStart} then ${now} else p.window_start end,
          entries = case when p.window_start <= ${spanStart} then 1 else p.entries + 1 end
        returning entries
      )
      select (select count(*)::int from ins) as inserted, (select entries from q) as entries`.execute(this.db);
    const row = r.rows[0]!;
    if (row.inserted === 0) return 'exists';
    if ((row.entries ?? 0) <= this.#maxPerTerminal) return 'new';
    // Over quota (the rare path): take the entry and its count back. A concurrent repeat that saw it
    // in progress reads it gone and claims again (and is refused the same way).
    await sql`with gone as (delete from pos_exchanges where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}
        and status = 'in_progress' and fingerprint = ${fingerprint} returning terminal_id)
      update pos_journal_quota set entries = greatest(entries - 1, 0) where terminal_id in (select terminal_id from gone)`.execute(this.db);
    return 'quota';
  }

  async #read(key: ReplayKey): Promise<Row | null> {
    const r = await sql<Row>`select fingerprint, status, response, message_class from pos_exchanges
      where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}`.execute(this.db);
    return r.rows[0] ?? null;
  }

  async begin(key: ReplayKey, fingerprint: string, now: Date): Promise<ReplayBegin> {
    const first = await this.#claim(key, fingerprint, now);
    if (first === 'new') return { kind: 'new' };
    if (first === 'quota') return { kind: 'refused', reason: 'terminal-quota' };
    const deadline = Date.now() + this.#waitMs;
    let pause = 10;
    for (;;) {
      const row = await this.#read(key);
      // Abandoned between our insert and this read: try to claim it again.
      if (!row) {
        const again = await this.#claim(key, fingerprint, now);
        if (again === 'new') return { kind: 'new' };
        if (again === 'quota') return { kind: 'refused', reason: 'terminal-quota' };
        continue;
      }
      if (row.fingerprint !== fingerprint || row.message_class !== key.messageClass) return { kind: 'conflict' };
      if (row.status === 'done' && row.response) return { kind: 'duplicate', response: Buffer.from(row.response) };
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 200);
    }
    // Still in progress: take it over only if the claim is older than a live handler can be.
    const taken = await sql`update pos_exchanges set created_at = ${now}
      where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}
        and status = 'in_progress' and fingerprint = ${fingerprint}
        and created_at < ${now}::timestamptz - make_interval(secs => ${this.#claimTimeoutMs / 1000})`.execute(this.db);
    return Number(taken.numAffectedRows ?? 0) === 1 ? { kind: 'new' } : { kind: 'in-progress' };
  }

  async complete(key: ReplayKey, fingerprint: string, response: Buffer, now: Date): Promise<void> {
    const r = await sql`update pos_exchanges set status = 'done', response = ${response}, mti = ${response.subarray(0, 4).toString('latin1')}, completed_at = ${now}
      where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime} and fingerprint = ${fingerprint}`.execute(this.db);
    if (Number(r.numAffectedRows ?? 0) === 0) {
      await sql`insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, response, mti, created_at, completed_at)
        values (${key.terminalId}, ${key.stan}, ${key.localDateTime}, ${key.messageClass}, ${fingerprint}, 'done', ${response},
                ${response.subarray(0, 4).toString('latin1')}, ${now}, ${now})
        on conflict do nothing`.execute(this.db);
    }
  }

  async abandon(key: ReplayKey): Promise<void> {
    // The claim's place in the quota is given back with it.
    await sql`with gone as (delete from pos_exchanges where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}
        and status = 'in_progress' returning terminal_id)
      update pos_journal_quota set entries = greatest(entries - 1, 0) where terminal_id in (select terminal_id from gone)`.execute(this.db);
  }

  /**
   * Deletes entries first seen more than `retentionMs` before `now`, answered ones and dead claims
   * alike (a claim is dead after `claimTimeoutMs`, far below any retention, so no row stays in
   * progress for ever). Refuses a retention of 2 × the DE 7 window or less: a replay inside the
   * window must still find its record. Works in batches of `batchSize` rows, each its own short
   * statement, so pruning never holds a long lock; rows a concurrent statement holds are left for
   * the next batch or run. At most `maxBatches` batches per call.
   */
  async prune(retentionMs: number, opts: { now?: Date; batchSize?: number; maxBatches?: number } = {}): Promise<PruneResult> {
    if (!(retentionMs > this.#protectMs)) throw new RangeError('journal retention must exceed twice the transmission-time window');
    const cutoff = new Date((opts.now ?? new Date()).getTime() - retentionMs);
    const batchSize = opts.batchSize ?? 1_000;
    const maxBatches = opts.maxBatches ?? 1_000;
    let done = 0;
    let inProgress = 0;
    for (let i = 0; i < maxBatches; i++) {
      const r = await sql<{ status: string; n: number }>`with gone as (
          delete from pos_exchanges where (terminal_id, stan, local_time) in (
            select terminal_id, stan, local_time from pos_exchanges where created_at < ${cutoff}
            order by created_at limit ${batchSize} for update skip locked)
          returning status)
        select status, count(*)::int as n from gone group by status`.execute(this.db);
      let n = 0;
      for (const row of r.rows) {
        n += row.n;
        if (row.status === 'done') done += row.n;
        else inProgress += row.n;
      }
      if (n < batchSize) break;
    }
    return { done, inProgress };
  }
}
