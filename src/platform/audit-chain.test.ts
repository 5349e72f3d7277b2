import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { newPhone, newResidentId, ok } from '../../test/support/cards-factory.js';
import { audit, systemActor } from './audit.js';
import { auditChainStatus, chainHash, GENESIS_HASH, sealAuditLog, startAuditSealer, verifyAuditChain, type ChainRow } from './audit-chain.js';
import { createLogger } from './logging.js';
import type { Db } from './db.js';

const birth = () => `${randomInt(1950, 2000)}${String(randomInt(1, 13)).padStart(2, '0')}${String(randomInt(1, 29)).padStart(2, '0')}`;

/** What a DBA can do that the application cannot: edit with the guard trigger off. */
async function asDba(db: Db, statement: ReturnType<typeof sql>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`alter table audit_log disable trigger audit_log_append_only`.execute(trx);
    await statement.execute(trx);
    await sql`alter table audit_log enable trigger audit_log_append_only`.execute(trx);
  });
}

async function seqOf(db: Db, id: number): Promise<number | null> {
  return (await sql<{ seq: number | null }>`select seq from audit_log where id = ${id}`.execute(db)).rows[0]!.seq;
}

async function auditOne(db: Db, action: string, details: Record<string, unknown> = {}): Promise<number> {
  await audit(db, systemActor, { action, targetType: 'test', targetId: action, details });
  return (await sql<{ id: number }>`select max(id)::bigint id from audit_log where action = ${action}`.execute(db)).rows[0]!.id;
}

describe('audit chain over real traffic', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it('verifies after many concurrent audited operations sealed while they run', async () => {
    const db = server.db.db;
    const writes = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? server.api('POST', '/api/v1/customers', { body: { name: `链${i}`, phone: newPhone(), idType: 'resident_id', idNumber: newResidentId(birth()) } }).then((r) => ok(r, 201))
        : db.transaction().execute((trx) => audit(trx, systemActor, { action: 'test.concurrent', targetType: 'test', targetId: i, details: { i, amount: 1.0, big: '9007199254740993' } })),
    );
    // Sealers racing the writers and each other: the advisory lock keeps one chain.
    const sealers = Array.from({ length: 5 }, () => sealAuditLog(db, { batch: 7 }));
    await Promise.all([...writes, ...sealers]);

    const r = await verifyAuditChain(db);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    const n = (await sql<{ n: number; unsealed: number }>`select count(*)::int n, count(*) filter (where seq is null)::int unsealed from audit_log`.execute(db)).rows[0]!;
    expect(n.unsealed).toBe(0);
    expect(r.rowsChecked).toBe(n.n);
    expect(r.verifiedSeq).toBe(n.n);
    expect(r.head.seq).toBe(n.n);
    expect(r.brokenSeq).toBeNull();
  });

  it('the sealer job verifies and seals on start, and its stop waits for that run', async () => {
    const db = server.db.db;
    const id = await auditOne(db, 'test.job');
    const stop = startAuditSealer({ db, logger: createLogger('silent') }, { everyMs: 3_600_000 });
    await stop();
    expect(await seqOf(db, id)).not.toBeNull();
    const s = await auditChainStatus(db);
    expect(s.unsealed).toBe(0);
    expect(s.lastVerification).toMatchObject({ source: 'job', ok: true });
  });

  it('shows the newest recorded verification to the auditor and security officer, never to admin (三员分立)', async () => {
    await verifyAuditChain(server.db.db, { record: 'cli' });
    const s = ok(await server.api('GET', '/api/v1/audit/chain', { role: 'auditor' }), 200);
    expect(s.lastVerification.ok).toBe(true);
    expect(s.lastVerification.source).toBe('cli');
    expect(s.lastVerification.verifiedSeq).toBeGreaterThan(0);
    expect(s.head.seq).toBeGreaterThanOrEqual(s.lastVerification.verifiedSeq);
    expect((await server.api('GET', '/api/v1/audit/chain', { role: 'operator' })).status).toBe(403);
    expect((await server.api('POST', '/api/v1/audit/chain/verify', { role: 'operator' })).status).toBe(403);
    for (const role of ['admin', 'risk'] as const) {
      expect((await server.api('GET', '/api/v1/audit/chain', { role })).status, role).toBe(403);
      expect((await server.api('POST', '/api/v1/audit/chain/verify', { role })).status, role).toBe(403);
    }

    const v = ok(await server.api('POST', '/api/v1/audit/chain/verify', { role: 'security_officer' }), 200);
    expect(v.ok).toBe(true);
    expect(v.brokenSeq).toBeNull();
    const after = await auditChainStatus(server.db.db);
    expect(after.lastVerification?.source).toBe('api');
    expect(after.lastVerification?.verifiedSeq).toBe(v.verifiedSeq);
  });
});

describe('tampering', () => {
  let t: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    t = await createTestDatabase(8);
    db = t.db;
  });
  afterAll(async () => t?.close());

  it('the database refuses edits, deletes and forged seals; the sealer alone sets seq and hash once', async () => {
    const id = await auditOne(db, 'test.guard');
    const forged = await sql`insert into audit_log (actor_name, actor_role, action, target_type, seq, hash) values ('x', 'system', 'x', 'x', 999999, ${GENESIS_HASH})`
      .execute(db)
      .catch((e: unknown) => e);
    expect((forged as { code?: string }).code).toBe('42501');
    // Sealing while changing anything else is refused too.
    const sneaky = await sql`update audit_log set seq = 999999, hash = ${GENESIS_HASH}, details = '{"x":1}' where id = ${id}`.execute(db).catch((e: unknown) => e);
    expect((sneaky as { code?: string }).code).toBe('42501');
    await sealAuditLog(db);
    const seq = await seqOf(db, id);
    expect(seq).toBeGreaterThan(0);
    for (const stmt of [
      sql`update audit_log set details = '{"x":1}' where id = ${id}`,
      sql`update audit_log set seq = null, hash = null where id = ${id}`,
      sql`update audit_log set seq = seq + 1000 where id = ${id}`,
      sql`delete from audit_log where id = ${id}`,
      sql`truncate audit_log`,
    ]) {
      const e = await stmt.execute(db).catch((x: unknown) => x);
      expect((e as { code?: string }).code).toBe('42501');
    }
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('a late-committing row (smaller id) is sealed after rows committed before it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let lateId = 0;
    const late = db.transaction().execute(async (trx) => {
      await audit(trx, systemActor, { action: 'test.late', targetType: 'test', targetId: null });
      lateId = (await sql<{ id: number }>`select max(id)::bigint id from audit_log where action = 'test.late'`.execute(trx)).rows[0]!.id;
      await gate;
    });
    // Wait until the late row holds its id, without timing: poll its visibility inside the writer.
    while (lateId === 0) await new Promise((r) => setImmediate(r));
    const earlyId = await auditOne(db, 'test.early');
    expect(earlyId).toBeGreaterThan(lateId);
    await sealAuditLog(db);
    expect(await seqOf(db, earlyId)).not.toBeNull();
    release();
    await late;
    expect(await seqOf(db, lateId)).toBeNull();
    await sealAuditLog(db);
    const lateSeq = await seqOf(db, lateId);
    expect(lateSeq).toBeGreaterThan((await seqOf(db, earlyId))!);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('an edited sealed row fails verify at its seq, and only there', async () => {
    const ids = [await auditOne(db, 'test.edit.a', { amountFen: 100 }), await auditOne(db, 'test.edit.b', { amountFen: 200 }), await auditOne(db, 'test.edit.c')];
    await sealAuditLog(db);
    const seq = (await seqOf(db, ids[1]!))!;
    await asDba(db, sql`update audit_log set details = '{"amountFen": 20000}' where id = ${ids[1]}`);
    const r = await verifyAuditChain(db);
    expect(r.ok).toBe(false);
    expect(r.brokenSeq).toBe(seq);
    expect(r.verifiedSeq).toBe(seq - 1);
    expect(r.problems).toEqual([expect.objectContaining({ check: 'hash', seq, id: ids[1] })]);
    // Putting the value back (same jsonb) restores the chain: the hash covers content, nothing else.
    await asDba(db, sql`update audit_log set details = '{"amountFen": 200}' where id = ${ids[1]}`);
    expect((await verifyAuditChain(db)).ok).toBe(true);
    // Sub-millisecond edits of the time are caught too (a JS Date would not see them).
    await asDba(db, sql`update audit_log set at = at + interval '1 microsecond' where id = ${ids[2]}`);
    expect((await verifyAuditChain(db)).brokenSeq).toBe(seq + 1);
    await asDba(db, sql`update audit_log set at = at - interval '1 microsecond' where id = ${ids[2]}`);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('reordered rows (swapped seqs) fail verify at the first of them', async () => {
    const a = await auditOne(db, 'test.swap.a');
    const b = await auditOne(db, 'test.swap.b');
    await sealAuditLog(db);
    const [sa, sb] = [(await seqOf(db, a))!, (await seqOf(db, b))!];
    const swap = async (x: number, y: number) => {
      await asDba(db, sql`update audit_log set seq = -1 where id = ${a}`);
      await asDba(db, sql`update audit_log set seq = ${y} where id = ${b}`);
      await asDba(db, sql`update audit_log set seq = ${x} where id = ${a}`);
    };
    await swap(sb, sa);
    const r = await verifyAuditChain(db);
    expect(r.brokenSeq).toBe(sa);
    // Undo, so the next test starts from an intact chain.
    await swap(sa, sb);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('an anchored head that no longer matches fails verify', async () => {
    const { head } = await sealAuditLog(db);
    expect((await verifyAuditChain(db, { anchors: [{ seq: head.seq, hash: head.hash }] })).ok).toBe(true);
    const r = await verifyAuditChain(db, { anchors: [{ seq: head.seq, hash: 'ab'.repeat(32) }] });
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ check: 'anchor', seq: head.seq });
  });

  it('rows older than the stale limit that are not sealed are reported', async () => {
    const id = await auditOne(db, 'test.stale');
    const r = await verifyAuditChain(db, { seal: false, staleUnsealedMs: 0 });
    expect(r.ok).toBe(false);
    expect(r.unsealed.stale).toBeGreaterThan(0);
    expect(r.problems).toEqual([expect.objectContaining({ check: 'unsealed' })]);
    expect(await seqOf(db, id)).toBeNull();
    expect((await verifyAuditChain(db, { staleUnsealedMs: 0 })).ok).toBe(true);
  });

  it('a deleted row fails verify at its seq; a row cut off the end fails at the head', async () => {
    const ids = [await auditOne(db, 'test.del.a'), await auditOne(db, 'test.del.b'), await auditOne(db, 'test.del.c')];
    await sealAuditLog(db);
    const seqs = await Promise.all(ids.map((id) => seqOf(db, id)));
    await asDba(db, sql`delete from audit_log where id = ${ids[2]}`);
    const tail = await verifyAuditChain(db, { seal: false });
    expect(tail.problems).toEqual([expect.objectContaining({ check: 'head', seq: seqs[2] })]);
    expect(tail.brokenSeq).toBe(seqs[2]);
    await asDba(db, sql`delete from audit_log where id = ${ids[0]}`);
    const r = await verifyAuditChain(db, { seal: false });
    expect(r.ok).toBe(false);
    expect(r.brokenSeq).toBe(seqs[0]);
    expect(r.problems[0]).toMatchObject({ check: 'gap', seq: seqs[0] });
    // Rows sealed after the damage keep chaining onto the stored hashes; the break stays reported.
    await auditOne(db, 'test.del.after');
    const again = await verifyAuditChain(db);
    expect(again.brokenSeq).toBe(seqs[0]);
  });
});

describe('canonical form', () => {
  it('binds every field and the seq', () => {
    const row: ChainRow = { id: 1, at: '2026-01-01T00:00:00.000001Z', actor_id: null, actor_name: 'a', actor_role: 'system', action: 'x', target_type: 't', target_id: null, details: '{}', ip: null, request_id: null };
    const base = chainHash(GENESIS_HASH, 1, row).toString('hex');
    expect(chainHash(GENESIS_HASH, 2, row).toString('hex')).not.toBe(base);
    for (const k of Object.keys(row) as Array<keyof ChainRow>) {
      const changed = { ...row, [k]: k === 'id' ? 2 : row[k] === null ? '' : `${String(row[k])}x` } as ChainRow;
      expect(chainHash(GENESIS_HASH, 1, changed).toString('hex'), k).not.toBe(base);
    }
    // A null and an empty string differ; a separator inside a field cannot shift fields.
    expect(chainHash(GENESIS_HASH, 1, { ...row, actor_name: 'a","system', actor_role: '' }).toString('hex')).not.toBe(base);
  });
});
