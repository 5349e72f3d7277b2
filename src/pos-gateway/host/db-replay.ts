/**
 * The exactly-once journal on PostgreSQL (pos_exchanges), behind the ReplayGuard contract of
 * replay.ts. The primary key (terminal, STAN, local time) decides who processes a request: the
 * insert that wins. A repeat that arrives while the first is being handled waits (bounded) for
 * the first answer and gets it; a claim left by a crashed process is taken over after
 * `claimTimeoutMs`, so a request whose handling died is never unanswerable.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/index.js';
import type { ReplayBegin, ReplayGuard, ReplayKey } from './replay.js';

export interface DbReplayGuardOptions {
  /** How long a repeat waits for the first transmission's answer before answering nothing. Default 2 000 ms. */
  waitMs?: number;
  /** An in_progress claim older than this is considered dead and taken over. Default 60 000 ms. */
  claimTimeoutMs?: number;
}

interface Row {
  fingerprint: string;
  status: 'in_progress' | 'done';
  response: Buffer | null;
  message_class: string;
}

export class DbReplayGuard implements ReplayGuard {
  readonly #waitMs: number;
  readonly #claimTimeoutMs: number;

  constructor(
    private readonly db: Db,
    opts: DbReplayGuardOptions = {},
  ) {
    this.#waitMs = opts.waitMs ?? 2_000;
    this.#claimTimeoutMs = opts.claimTimeoutMs ?? 60_000;
  }

  async #claim(key: ReplayKey, fingerprint: string, now: Date): Promise<boolean> {
    const r = await sql`insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, created_at)
      values (${key.terminalId}, ${key.stan}, ${key.localDateTime}, ${key.messageClass}, ${fingerprint}, 'in_progress', ${now})
      on conflict do nothing`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) === 1;
  }

  async #read(key: ReplayKey): Promise<Row | null> {
    const r = await sql<Row>`select fingerprint, status, response, message_class from pos_exchanges
      where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}`.execute(this.db);
    return r.rows[0] ?? null;
  }

  async begin(key: ReplayKey, fingerprint: string, now: Date): Promise<ReplayBegin> {
    if (await this.#claim(key, fingerprint, now)) return { kind: 'new' };
    const deadline = Date.now() + this.#waitMs;
    let pause = 10;
    for (;;) {
      const row = await this.#read(key);
      // Abandoned between our insert and this read: try to claim it again.
      if (!row) {
        if (await this.#claim(key, fingerprint, now)) return { kind: 'new' };
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
    await sql`delete from pos_exchanges where terminal_id = ${key.terminalId} and stan = ${key.stan} and local_time = ${key.localDateTime}
      and status = 'in_progress'`.execute(this.db);
  }

  /** Drops answered entries older than the retention (more than twice the DE 7 window: replay.ts). */
  async prune(retentionMs: number): Promise<number> {
    const r = await sql`delete from pos_exchanges where status = 'done' and created_at < now() - make_interval(secs => ${retentionMs / 1000})`.execute(this.db);
    return Number(r.numAffectedRows ?? 0);
  }
}
