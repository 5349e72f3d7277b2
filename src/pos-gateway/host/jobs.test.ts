/**
 * The terminal host's pruning job on a real PostgreSQL: pos_exchanges past posJournalDays go, in
 * batches, never a row younger than 2 × the DE 7 window; pos_message_log is pruned when it exists
 * and ignored when it does not; the scheduled job logs its failures instead of throwing.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';
import { loadConfig, openDb, type Config } from '../../platform/index.js';
import { posJournalRetentionMs, prunePosJournal, startPosHostJobs } from './jobs.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.close();
});

const DAY = 86_400_000;
const config: Config = { ...loadConfig({ ...process.env, LOG_LEVEL: 'silent', PORT: '0' }), posJournalDays: 2, terminalClockSkewMs: 300_000 };

async function exchange(terminalId: string, stan: string, status: 'done' | 'in_progress', createdAt: Date): Promise<void> {
  await sql`insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, response, created_at)
    values (${terminalId}, ${stan}, '261128101010', '1100', 'f', ${status}, ${status === 'done' ? Buffer.from('1110') : null}, ${createdAt})`.execute(db.db);
}
const stans = async (terminalId: string): Promise<string[]> =>
  (await sql<{ stan: string }>`select stan from pos_exchanges where terminal_id = ${terminalId} order by stan`.execute(db.db)).rows.map((r) => r.stan);

/** A logger that records what it was told. */
function recorder(): { logger: Logger; calls: Array<{ level: string; msg: string; obj: unknown }> } {
  const calls: Array<{ level: string; msg: string; obj: unknown }> = [];
  const at = (level: string) => (obj: unknown, msg: string) => calls.push({ level, msg, obj });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, calls };
}

describe('terminal host journal pruning', () => {
  it('retention is posJournalDays, and never 2 × the DE 7 window or less', () => {
    expect(posJournalRetentionMs({ posJournalDays: 35, terminalClockSkewMs: 300_000 })).toBe(35 * DAY);
    expect(posJournalRetentionMs({ posJournalDays: 0, terminalClockSkewMs: 300_000 })).toBe(600_001);
  });

  it('pos_message_log absent: the journal is pruned, the log reported as absent; present: old log rows go too', async () => {
    // This file's own database: the test decides whether the log exists, whatever migration 027 does.
    await sql`drop table if exists pos_message_log cascade`.execute(db.db);
    const now = new Date('2026-11-01T00:00:00Z');
    const ago = (ms: number) => new Date(now.getTime() - ms);
    for (let i = 0; i < 5; i++) await exchange('JB000001', `00000${i}`, 'done', ago(2 * DAY + 1 + i));
    await exchange('JB000001', '000010', 'in_progress', ago(3 * DAY));
    await exchange('JB000001', '000020', 'done', ago(2 * DAY - 1000));
    const r = await prunePosJournal(db.db, config, { now, batchSize: 2 });
    expect(r).toEqual({ exchanges: { done: 5, inProgress: 1 }, messageLog: null });
    expect(await stans('JB000001')).toEqual(['000020']);

    await sql`create table pos_message_log (id bigserial primary key, received_at timestamptz not null)`.execute(db.db);
    await sql`insert into pos_message_log (received_at) select ${ago(2 * DAY + 1)}::timestamptz from generate_series(1, 5)`.execute(db.db);
    await sql`insert into pos_message_log (received_at) values (${ago(DAY)})`.execute(db.db);
    const r2 = await prunePosJournal(db.db, config, { now, batchSize: 2 });
    expect(r2).toEqual({ exchanges: { done: 0, inProgress: 0 }, messageLog: 5 });
    const left = (await sql<{ n: number }>`select count(*)::int as n from pos_message_log`.execute(db.db)).rows[0]!.n;
    expect(left).toBe(1);
  });

  it('the scheduled job prunes on start and logs what it removed; stopping it ends the schedule', async () => {
    const { logger, calls } = recorder();
    await sql`delete from pos_exchanges`.execute(db.db); // the earlier tests' rows are old by the real clock
    // Real time: the scheduled job prunes against the clock.
    await exchange('JC000001', '000001', 'done', new Date(Date.now() - 3 * DAY));
    await exchange('JC000001', '000002', 'in_progress', new Date(Date.now() - 3 * DAY));
    await exchange('JC000001', '000003', 'done', new Date(Date.now() - 60_000));
    const stop = startPosHostJobs({ db: db.db, config, logger }, { everyMs: 3_600_000 });
    try {
      await vi.waitFor(async () => expect(await stans('JC000001')).toEqual(['000003']), { timeout: 10_000, interval: 20 });
      await vi.waitFor(() => expect(calls.map((c) => c.level)).toContain('warn'), { timeout: 10_000, interval: 20 });
    } finally {
      stop();
    }
    expect(calls.find((c) => c.level === 'info')?.obj).toMatchObject({ done: 1, inProgress: 1 });
    expect(calls.find((c) => c.level === 'warn')?.obj).toEqual({ inProgress: 1 });
    expect(calls.some((c) => c.level === 'error')).toBe(false);
  });

  it('a database failure is logged, never thrown', async () => {
    // A database that does not exist: every query fails.
    const url = new URL(db.url);
    url.pathname = `/${db.name}_missing`;
    const broken = openDb(url.toString(), 1);
    onTestFinished(() => broken.close());
    await expect(prunePosJournal(broken.db, config)).rejects.toThrow();
    const { logger, calls } = recorder();
    const stop = startPosHostJobs({ db: broken.db, config, logger }, { everyMs: 3_600_000 });
    try {
      await vi.waitFor(() => expect(calls.map((c) => c.level)).toEqual(['error']), { timeout: 10_000, interval: 20 });
    } finally {
      stop();
    }
    expect(calls[0]!.msg).toBe('terminal host journal pruning failed');
  });
});
