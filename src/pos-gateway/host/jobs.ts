/**
 * Background work of the terminal host: pruning the exactly-once journal (pos_exchanges) and, when
 * the table exists, the message log (pos_message_log), after config.posJournalDays days
 * (docs/pos-journal.md). Never a row younger than 2 × the DE 7 window: a replay inside the window
 * must still find its record. Deletes in batches, each its own short statement, so terminals that
 * are writing the same tables are never held up for long.
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config, Db } from '../../platform/index.js';
import { replayProtectionMs } from './replay.js';
import { DbReplayGuard, type PruneResult } from './db-replay.js';

/** How often the journal is pruned. Rows are kept for days, so an hour late costs nothing. */
export const POS_JOURNAL_PRUNE_INTERVAL_MS = 3_600_000;
const BATCH = 1_000;
/** Per run and table; a backlog larger than this (a first run on an old database) shrinks run by run. */
const MAX_BATCHES = 200;

export interface PosJournalPrune {
  readonly exchanges: PruneResult;
  /** Rows deleted from pos_message_log; null when the table does not exist. */
  readonly messageLog: number | null;
}

/** The journal's retention: posJournalDays, and never 2 × the DE 7 window or less. */
export function posJournalRetentionMs(config: Pick<Config, 'posJournalDays' | 'terminalClockSkewMs'>): number {
  return Math.max(config.posJournalDays * 86_400_000, replayProtectionMs(config.terminalClockSkewMs) + 1);
}

/** One pruning pass. Throws what the database throws; the scheduler logs it. */
export async function prunePosJournal(
  db: Db,
  config: Pick<Config, 'posJournalDays' | 'terminalClockSkewMs'>,
  opts: { now?: Date; batchSize?: number; maxBatches?: number } = {},
): Promise<PosJournalPrune> {
  const now = opts.now ?? new Date();
  const retentionMs = posJournalRetentionMs(config);
  const batchSize = opts.batchSize ?? BATCH;
  const maxBatches = opts.maxBatches ?? MAX_BATCHES;
  const guard = new DbReplayGuard(db, { windowMs: config.terminalClockSkewMs });
  const exchanges = await guard.prune(retentionMs, { now, batchSize, maxBatches });

  // The message log comes with its own migration; until it exists there is nothing to prune.
  const exists = await sql<{ present: boolean }>`select to_regclass('pos_message_log') is not null as present`.execute(db);
  if (!exists.rows[0]?.present) return { exchanges, messageLog: null };
  const cutoff = new Date(now.getTime() - retentionMs);
  let messageLog = 0;
  for (let i = 0; i < maxBatches; i++) {
    // By ctid: the log's key is not ours to know; skip locked leaves rows a writer holds to the next batch.
    const r = await sql`delete from pos_message_log where ctid = any(array(
        select ctid from pos_message_log where received_at < ${cutoff} limit ${batchSize} for update skip locked))`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    messageLog += n;
    if (n < batchSize) break;
  }
  return { exchanges, messageLog };
}

/**
 * The terminal host's jobs, every `everyMs` (default hourly), first run right after start (wired in
 * main.ts next to startPosGateway). Errors are logged, never thrown; a run still under way when the
 * next is due is not doubled. Returns a stop function.
 */
export function startPosHostJobs(deps: { db: Db; config: Config; logger: Logger }, opts: { everyMs?: number } = {}): () => void {
  let running = false;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return;
    running = true;
    void prunePosJournal(deps.db, deps.config)
      .then((r) => {
        const total = r.exchanges.done + r.exchanges.inProgress + (r.messageLog ?? 0);
        if (total > 0) deps.logger.info({ ...r.exchanges, messageLog: r.messageLog }, 'terminal host journal pruned');
        // A claim nobody completed or took over for days: its handler died and the terminal never
        // repeated. Money may have moved without an answer; the support log should show it.
        if (r.exchanges.inProgress > 0) deps.logger.warn({ inProgress: r.exchanges.inProgress }, 'terminal host journal: unanswered requests pruned');
      })
      .catch((err: unknown) => deps.logger.error({ err }, 'terminal host journal pruning failed'))
      .finally(() => {
        running = false;
      });
  };
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, opts.everyMs ?? POS_JOURNAL_PRUNE_INTERVAL_MS);
  first.unref();
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}
