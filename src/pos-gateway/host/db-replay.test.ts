/**
 * The journal's capacity rules on a real PostgreSQL (docs/pos-journal.md): the per-terminal quota
 * of new entries within 2 × the DE 7 window, also under concurrent claims; repeats of held entries
 * are still answered over quota; pruning never touches rows younger than 2 × the window, and takes
 * dead claims as well as answered rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';
import { DbReplayGuard } from './db-replay.js';
import type { ReplayKey } from './replay.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase(16);
});
afterAll(async () => {
  await db?.close();
});

const WINDOW = 60_000; // protection span 2 min
const key = (terminalId: string, n: number): ReplayKey => ({ terminalId, messageClass: '1100', stan: String(n).padStart(6, '0'), localDateTime: '261128101010' });
const rows = async (terminalId: string): Promise<number> =>
  (await sql<{ n: number }>`select count(*)::int as n from pos_exchanges where terminal_id = ${terminalId}`.execute(db.db)).rows[0]!.n;

describe('DbReplayGuard: per-terminal quota', () => {
  it('refuses a terminal its new identities beyond the quota, still answers its held ones, and leaves other terminals alone', async () => {
    const g = new DbReplayGuard(db.db, { windowMs: WINDOW, maxPerTerminal: 3, waitMs: 20 });
    const t0 = new Date('2026-11-28T08:00:00Z');
    for (const n of [1, 2, 3]) expect(await g.begin(key('QA000001', n), 'f', t0)).toEqual({ kind: 'new' });
    await g.complete(key('QA000001', 1), 'f', Buffer.from('1110a'), t0);
    expect(await g.begin(key('QA000001', 4), 'f', t0)).toEqual({ kind: 'refused', reason: 'terminal-quota' });
    expect(await rows('QA000001')).toBe(3); // the refusal left no row
    // Over quota, a repeat still gets the stored answer, a pipelined one still waits, other content is still a conflict.
    const d = await g.begin(key('QA000001', 1), 'f', t0);
    expect(d.kind === 'duplicate' && d.response.toString()).toBe('1110a');
    expect(await g.begin(key('QA000001', 2), 'f', t0)).toEqual({ kind: 'in-progress' });
    expect(await g.begin(key('QA000001', 3), 'other', t0)).toEqual({ kind: 'conflict' });
    // Another terminal is not affected.
    expect(await g.begin(key('QA000002', 1), 'f', t0)).toEqual({ kind: 'new' });
    // Abandoning a claim frees its place.
    await g.abandon(key('QA000001', 3));
    expect(await g.begin(key('QA000001', 4), 'f', t0)).toEqual({ kind: 'new' });
    // Entries older than 2 × the window no longer count (they stay in the journal until pruned).
    const later = new Date(t0.getTime() + 2 * WINDOW + 1);
    expect(await g.begin(key('QA000001', 5), 'f', later)).toEqual({ kind: 'new' });
    expect(await rows('QA000001')).toBe(4);
    const d1 = await g.begin(key('QA000001', 1), 'f', later);
    expect(d1.kind).toBe('duplicate');
  });

  it('concurrent claims: exactly the quota is admitted, the rest refused, another terminal claims meanwhile', async () => {
    const quota = 10;
    const g = new DbReplayGuard(db.db, { windowMs: WINDOW, maxPerTerminal: quota });
    const now = new Date('2026-11-28T09:00:00Z');
    const flood = Array.from({ length: 40 }, (_, i) => g.begin(key('QB000001', i + 1), 'f', now));
    const other = Array.from({ length: quota }, (_, i) => g.begin(key('QB000002', i + 1), 'f', now));
    const [a, b] = await Promise.all([Promise.all(flood), Promise.all(other)]);
    expect(a.filter((r) => r.kind === 'new')).toHaveLength(quota);
    expect(a.filter((r) => r.kind === 'refused' && r.reason === 'terminal-quota')).toHaveLength(40 - quota);
    expect(b.every((r) => r.kind === 'new')).toBe(true);
    expect(await rows('QB000001')).toBe(quota);
    expect(await rows('QB000002')).toBe(quota);
  });

  it('the same identity claimed concurrently over and under quota is processed once', async () => {
    const g = new DbReplayGuard(db.db, { windowMs: WINDOW, maxPerTerminal: 1, waitMs: 20 });
    const now = new Date('2026-11-28T10:00:00Z');
    const r = await Promise.all(Array.from({ length: 8 }, () => g.begin(key('QC000001', 1), 'f', now)));
    expect(r.filter((x) => x.kind === 'new')).toHaveLength(1);
    expect(r.filter((x) => x.kind === 'in-progress')).toHaveLength(7);
  });

  it('no quota when maxPerTerminal is Infinity; a quota below 1 is refused', async () => {
    const g = new DbReplayGuard(db.db, { windowMs: WINDOW, maxPerTerminal: Infinity });
    const now = new Date('2026-11-28T11:00:00Z');
    for (let n = 1; n <= 5; n++) expect((await g.begin(key('QD000001', n), 'f', now)).kind).toBe('new');
    expect(() => new DbReplayGuard(db.db, { maxPerTerminal: 0 })).toThrow(RangeError);
  });
});

describe('DbReplayGuard.prune', () => {
  it('deletes answered rows and dead claims past the retention in batches, never a younger row; refuses a retention within 2 × the window', async () => {
    const g = new DbReplayGuard(db.db, { windowMs: WINDOW });
    // Before the other tests' rows, which are therefore too young to prune.
    const now = new Date('2026-11-01T00:00:00Z');
    const day = 86_400_000;
    const put = (stan: string, status: 'done' | 'in_progress', ageMs: number) =>
      sql`insert into pos_exchanges (terminal_id, stan, local_time, message_class, fingerprint, status, response, created_at)
        values ('QP000001', ${stan}, '261128101010', '1100', 'f', ${status}, ${status === 'done' ? Buffer.from('1110') : null}, ${new Date(now.getTime() - ageMs)})`.execute(db.db);
    for (let i = 0; i < 5; i++) await put(`00000${i}`, 'done', 3 * day + i);
    await put('000010', 'in_progress', 3 * day);
    await put('000020', 'done', 2 * day - 1);
    await put('000021', 'in_progress', 2 * WINDOW - 1);
    expect(await g.prune(2 * day, { now, batchSize: 2 })).toEqual({ done: 5, inProgress: 1 });
    const left = (await sql<{ stan: string }>`select stan from pos_exchanges where terminal_id = 'QP000001' order by stan`.execute(db.db)).rows.map((r) => r.stan);
    expect(left).toEqual(['000020', '000021']);
    expect(await g.prune(2 * day, { now })).toEqual({ done: 0, inProgress: 0 });
    await expect(g.prune(2 * WINDOW, { now })).rejects.toThrow(RangeError);
    expect(await rows('QP000001')).toBe(2);
  });
});
