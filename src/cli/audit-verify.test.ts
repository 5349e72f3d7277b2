import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { audit, systemActor, type Db } from '../platform/index.js';
import { CliUsageError } from './args.js';
import { runAuditCommand } from './audit-verify.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(4);
});
afterAll(async () => t?.close());

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAuditCommand(argv, (fn) => fn(t.db), { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

async function auditRow(db: Db, action: string): Promise<number> {
  await audit(db, systemActor, { action, targetType: 'test', targetId: null, details: { n: 1 } });
  return (await sql<{ id: number }>`select max(id)::bigint id from audit_log where action = ${action}`.execute(db)).rows[0]!.id;
}

describe('fuelcard audit verify', () => {
  it('refuses bad arguments with a usage error', async () => {
    await expect(cli()).rejects.toBeInstanceOf(CliUsageError);
    await expect(cli('prove')).rejects.toBeInstanceOf(CliUsageError);
    await expect(cli('verify', 'extra')).rejects.toBeInstanceOf(CliUsageError);
    await expect(cli('verify', '--anchor', '12:abc')).rejects.toBeInstanceOf(CliUsageError);
    await expect(cli('verify', '--stale-minutes', '-1')).rejects.toBeInstanceOf(CliUsageError);
  });

  it('seals and passes on an intact log, exit 0; the JSON report names the head', async () => {
    await auditRow(t.db, 'cli.one');
    const r = await cli('verify');
    expect(r.code).toBe(0);
    expect(r.out).toContain('audit chain verified: ok');
    const j = await cli('verify', '--json');
    expect(j.code).toBe(0);
    const report = JSON.parse(j.out);
    expect(report.ok).toBe(true);
    expect(report.head.seq).toBeGreaterThan(0);
    // The head just printed works as an anchor.
    expect((await cli('verify', '--anchor', `${report.head.seq}:${report.head.hash}`)).code).toBe(0);
  });

  it('a tampered entry exits 1 naming the first broken seq', async () => {
    const id = await auditRow(t.db, 'cli.tamper');
    await auditRow(t.db, 'cli.after');
    expect((await cli('verify')).code).toBe(0);
    const seq = (await sql<{ seq: number }>`select seq from audit_log where id = ${id}`.execute(t.db)).rows[0]!.seq;
    await t.db.transaction().execute(async (trx) => {
      await sql`alter table audit_log disable trigger audit_log_append_only`.execute(trx);
      await sql`update audit_log set actor_name = 'someone else' where id = ${id}`.execute(trx);
      await sql`alter table audit_log enable trigger audit_log_append_only`.execute(trx);
    });
    const r = await cli('verify');
    expect(r.code).toBe(1);
    expect(r.out).toContain(`first broken seq ${seq}`);
    expect(r.out).toContain(`✗ hash seq ${seq} id ${id}`);
  });
});
