/**
 * The DB-backed directory, replay guard and key store on a real PostgreSQL: keys installed by the
 * key ceremony (staff API) survive a restart of the host objects; a repeat is answered from the
 * journal after that restart; concurrent identical requests are processed once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { expectError, newStation, ok } from '../../../test/support/cards-factory.js';
import { handleInbound, type InboundContext } from './inbound.js';
import { DbTerminalDirectory } from './db-directory.js';
import { DbReplayGuard } from './db-replay.js';
import { PersistentKeyStore } from './db-keystore.js';
import { ceremony } from './db-host.test-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

async function host(): Promise<InboundContext> {
  return {
    directory: new DbTerminalDirectory(server.deps.db),
    replay: new DbReplayGuard(server.deps.db),
    keyStore: await PersistentKeyStore.open(server.deps.db, server.config.dataKeys[0]!),
    handlers: {},
    now: () => new Date(),
  };
}

describe('DB-backed host objects', () => {
  it('sign-on, echo, and a repeat answered from the journal after a restart of the host objects', async () => {
    const { sim, terminalId, body } = await ceremony(server);
    expect(body.rotated).toBe(false);
    expect(body.tmk.components).toHaveLength(2);
    let ctx = await host();
    const signOn = await handleInbound(sim.build('1804', [[24, '801']], { at: new Date() }), ctx);
    expect(signOn.outcome).toBe('OK');
    expect(sim.acceptKeys(signOn.response!).macOk).toBe(true);
    const row = (await sql<any>`select signed_on, tak_version from pos_terminals where terminal_id = ${terminalId}`.execute(server.deps.db)).rows[0];
    expect(row).toMatchObject({ signed_on: true, tak_version: 2 });

    const echo = sim.build('1820', [[24, '831']], { at: new Date() });
    const first = await handleInbound(echo, ctx);
    expect(first.outcome).toBe('OK');
    expect(sim.read(first.response).macOk).toBe(true);

    // A new process: everything from the database (keys sealed in pos_keys, journal in pos_exchanges).
    ctx = await host();
    const again = await handleInbound(echo, ctx);
    expect(again.outcome).toBe('DUPLICATE');
    expect(again.response!.equals(first.response!)).toBe(true);
    const next = await handleInbound(sim.build('1820', [[24, '831']], { at: new Date() }), ctx);
    expect(next.outcome).toBe('OK');
    expect(sim.read(next.response).macOk).toBe(true);

    // Keys at rest are sealed, never clear.
    const keys = (await sql<{ ref: string; sealed: any }>`select ref, sealed from pos_keys where ref like ${`pos:${terminalId}:%`}`.execute(server.deps.db)).rows;
    expect(keys.map((k) => k.ref).sort()).toEqual([`pos:${terminalId}:tak`, `pos:${terminalId}:tmk`, `pos:${terminalId}:tpk`]);
    const stored = JSON.stringify(keys).toUpperCase();
    expect(stored).not.toContain(sim.tak.toString('hex').toUpperCase());
    expect(stored).not.toContain(sim.tmk.toString('hex').toUpperCase());
  });

  it('concurrent identical requests: one is processed, the other gets the first answer', async () => {
    const { sim } = await ceremony(server, 'aes', 'aes-cmac');
    const ctxA = await host();
    const ctxB = await host(); // two host instances on one database
    const signOn = sim.build('1804', [[24, '801']], { at: new Date() });
    const [a, b] = await Promise.all([handleInbound(signOn, ctxA), handleInbound(signOn, ctxB)]);
    expect([a.outcome, b.outcome].sort()).toEqual(['DUPLICATE', 'OK']);
    expect(a.response!.equals(b.response!)).toBe(true);
    // One rotation only: the answer's keys are the ones the store holds.
    expect(sim.acceptKeys(a.response!).versions.tak).toBe(2);
    const fresh = await host();
    expect((await fresh.keyStore.describe(`pos:T${sim.id}:tak`))!.version).toBe(2);
  });

  it('a claim left by a dead process is taken over; a different request under the same STAN is a conflict', async () => {
    const guard = new DbReplayGuard(server.deps.db, { waitMs: 50, claimTimeoutMs: 1000 });
    const key = { terminalId: 'ZZ000001', messageClass: '1220', stan: '000001', localDateTime: '261128101010' };
    const t0 = new Date(Date.now() - 5000);
    expect((await guard.begin(key, 'f1', t0)).kind).toBe('new');
    expect((await guard.begin(key, 'f2', new Date())).kind).toBe('conflict');
    expect((await guard.begin(key, 'f1', new Date())).kind).toBe('new'); // older than claimTimeoutMs: taken over
    expect((await guard.begin(key, 'f1', new Date())).kind).toBe('in-progress');
    await guard.complete(key, 'f1', Buffer.from('1230abc'), new Date());
    const d = await guard.begin({ ...key }, 'f1', new Date());
    expect(d.kind).toBe('duplicate');
    expect(d.kind === 'duplicate' && d.response.toString()).toBe('1230abc');
    await guard.abandon(key); // answered entries are never abandoned
    expect((await guard.begin(key, 'f1', new Date())).kind).toBe('duplicate');
  });

  it('a second ceremony rotates the TMK and starts the key versions over; a disabled terminal is unknown to the host', async () => {
    const { sim, terminalId, body } = await ceremony(server);
    const again = ok(await server.api('POST', `/api/v1/terminals/${terminalId}/iso-keys`, { body: { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0 } }), 200);
    expect(again.rotated).toBe(true);
    expect(again.tmk.kcv).not.toBe(body.tmk.kcv);
    const ctx = await host();
    const old = await handleInbound(sim.build('1804', [[24, '801']], { at: new Date() }), ctx);
    expect(old.outcome).toBe('MAC_INVALID');
    await sql`update pos_terminals set enabled = false where terminal_id = ${terminalId}`.execute(server.deps.db);
    expect((await handleInbound(sim.build('1820', [[24, '831']], { at: new Date() }), ctx)).outcome).toBe('TERMINAL_DISABLED');
    const audits = (await sql<any>`select details from audit_log where action = 'pos.key_ceremony' and target_id = ${terminalId}`.execute(server.deps.db)).rows;
    expect(audits).toHaveLength(2);
    expect(JSON.stringify(audits)).not.toContain(again.tmk.components[0].hex);
  });

  it('the ceremony refuses mismatched algorithms, unknown terminals and non-admins', async () => {
    const { terminal } = await newStation(server);
    const path = `/api/v1/terminals/${terminal.terminalId}/iso-keys`;
    expectError(await server.api('POST', path, { body: { algorithm: 'tdes', macAlgorithm: 'aes-cmac', pinFormat: 0 } }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', path, { body: { algorithm: 'aes', macAlgorithm: 'aes-cmac', pinFormat: 0 } }), 400, 'VALIDATION_FAILED');
    expect((await server.api('POST', '/api/v1/terminals/T99999999/iso-keys', { body: { algorithm: 'aes', macAlgorithm: 'aes-cmac', pinFormat: 4 } })).status).toBe(404);
    expect((await server.api('POST', path, { role: 'operator', body: { algorithm: 'aes', macAlgorithm: 'aes-cmac', pinFormat: 4 } })).status).toBe(403);
  });
});
