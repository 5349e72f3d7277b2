/**
 * DUKPT terminals and the key rollover deadline, through a real TCP socket against the real
 * database: the key ceremony with a BDK (staff API), sign-on without session keys, a MAC per
 * transaction under the KSN's key, the KSN replay check (after the MAC, after the journal, compare-
 * and-set in PostgreSQL), and the previous TAK refused once its rollover deadline has passed
 * (fake clock through InboundContext.now).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { pinVerifyValue } from '../../cards/index.js';
import { connectIsoClient, startIsoServer, type IsoClient, type IsoServer } from '../transport/index.js';
import { PersistentKeyStore, posKeyStoreFor } from './db-keystore.js';
import { DbTerminalDirectory } from './db-directory.js';
import { DbReplayGuard } from './db-replay.js';
import { ceremony } from './db-host.test-support.js';
import { DukptSimTerminal, dukptCeremony } from './dukpt.test-support.js';
import { ACTION, inboundFrameHandler, type HostInboundContext, type InboundHandler } from './inbound.js';
import { pinRefFor } from './pin-ref.js';

const ROLLOVER_MS = 60_000;

let server: TestServer;
let iso: IsoServer;
let ctx: HostInboundContext;
/** The host's clock: null = the real one. */
let clock: Date | null = null;
/** STANs whose 1220 handler fails once (then succeeds), to exercise an abandoned journal entry. */
const failOnce = new Set<string>();
let adviceRuns = 0;

const advice: InboundHandler = async (req) => {
  adviceRuns += 1;
  const stan = String(req.message.fields.get(11));
  if (failOnce.delete(stan)) throw new Error('posting failed (test)');
  return { actionCode: ACTION.adviceAcknowledged };
};

beforeAll(async () => {
  server = await startTestServer();
  const db = server.deps.db;
  ctx = {
    directory: new DbTerminalDirectory(db),
    replay: new DbReplayGuard(db),
    keyStore: await posKeyStoreFor(db, server.config.dataKeys, server.config.pinKey),
    handlers: { '1220': advice },
    now: () => clock ?? new Date(),
    keyRolloverMs: ROLLOVER_MS,
  };
  iso = await startIsoServer({ port: 0, host: '127.0.0.1', framing: 'binary2', handler: inboundFrameHandler(ctx) });
});
afterAll(async () => {
  await iso?.close({ graceMs: 1000 });
  await server?.close();
});

async function connect(): Promise<IsoClient & { ask(b: Buffer): Promise<Buffer> }> {
  const c = await connectIsoClient({ host: '127.0.0.1', port: iso.port, framing: 'binary2' });
  return Object.assign(c, {
    async ask(b: Buffer): Promise<Buffer> {
      c.send(b);
      return c.next(5000);
    },
  });
}

async function lastCounter(sim: DukptSimTerminal): Promise<number> {
  const device = `${sim.scheme}:${(sim.scheme === 'tdes' ? sim.initialKsn : sim.initialKsn.subarray(0, 8)).toString('hex').toUpperCase()}`;
  const r = await sql<{ last_counter: string }>`select last_counter::text from pos_dukpt_devices where device = ${device}`.execute(server.deps.db);
  return Number(r.rows[0]?.last_counter ?? -1);
}

const ECHO = [[24, '831']] as const;

describe('DUKPT terminals over TCP', () => {
  it('TDES: ceremony with a BDK, sign-on without keys, a MAC per KSN; a replayed KSN is refused, a forged MAC does not advance the counter', async () => {
    const { sim, terminalId, body } = await dukptCeremony(server, 'tdes');
    expect(body).toMatchObject({ keyManagement: 'dukpt', dukpt: { scheme: 'tdes', bdkId: 'FFFF000001' } });
    expect(body.tmk).toBeUndefined();
    // The initial KSN has its 21 counter bits clear.
    expect(sim.initialKsn.readUInt32BE(6) & 0x1fffff).toBe(0);
    // The BDK is in the store (sealed), never in the answer or the audit log.
    const bdkRow = (await sql<{ sealed: unknown }>`select sealed from pos_keys where ref = 'pos:bdk:tdes:FFFF000001'`.execute(server.deps.db)).rows[0];
    expect(bdkRow).toBeDefined();
    const audit = (await sql<{ details: unknown }>`select details from audit_log where action = 'pos.key_ceremony' and target_id = ${terminalId}`.execute(server.deps.db)).rows;
    expect(JSON.stringify(audit)).not.toContain(body.dukpt.initialKey.components[0].hex);

    const conn = await connect();
    const so = sim.build('1804', [[24, '801']]);
    const soAnswer = sim.read(await conn.ask(so.bytes), so.keys);
    expect(soAnswer.macOk).toBe(true);
    expect(soAnswer.msg.fields.get(39)).toBe('800');
    expect(soAnswer.msg.fields.has(96)).toBe(false); // no session keys for a DUKPT terminal
    expect(soAnswer.msg.fields.get(53)).toEqual(so.keys.ksn);
    expect((await sql<{ signed_on: boolean }>`select signed_on from pos_terminals where terminal_id = ${terminalId}`.execute(server.deps.db)).rows[0]?.signed_on).toBe(true);

    // Key change: nothing to exchange, refused (MACed: the request was authentic).
    const kc = sim.build('1804', [[24, '811']]);
    const kcAnswer = sim.read(await conn.ask(kc.bytes), kc.keys);
    expect([kcAnswer.msg.fields.get(39), kcAnswer.macOk]).toEqual(['902', true]);

    const e1 = sim.build('1820', ECHO);
    const a1 = await conn.ask(e1.bytes);
    expect(sim.read(a1, e1.keys)).toMatchObject({ macOk: true });
    expect(sim.read(a1, e1.keys).msg.fields.get(39)).toBe('800');
    // The same request again: the journal answers, byte for byte, before any KSN check.
    expect((await conn.ask(e1.bytes)).equals(a1)).toBe(true);
    expect(await lastCounter(sim)).toBe(e1.keys.counter);

    // Another request under an already used KSN: its MAC verifies, the KSN does not pass. 916 without a MAC.
    const replay = sim.build('1820', ECHO, { keys: e1.keys });
    const rr = sim.read(await conn.ask(replay.bytes), e1.keys);
    expect([rr.msg.fields.get(39), rr.hasMac]).toEqual(['916', false]);

    // A forged MAC under a fresh KSN: refused, and the counter stays where it was…
    const k = sim.nextKeys();
    const forged = sim.build('1820', ECHO, { keys: k, macKey: randomBytes(16) });
    const fr = sim.read(await conn.ask(forged.bytes), k);
    expect([fr.msg.fields.get(39), fr.hasMac]).toEqual(['916', false]);
    expect(await lastCounter(sim)).toBe(e1.keys.counter);
    // …so the genuine message under that KSN is still accepted.
    const genuine = sim.build('1820', ECHO, { keys: k });
    const gr = sim.read(await conn.ask(genuine.bytes), k);
    expect([gr.msg.fields.get(39), gr.macOk]).toEqual(['800', true]);
    expect(await lastCounter(sim)).toBe(k.counter);

    // A second terminal under the same BDK gets the next device; its KSNs are not the first terminal's.
    const other = await dukptCeremony(server, 'tdes');
    expect(other.body.dukpt.bdkKcv).toBe(body.dukpt.bdkKcv);
    expect(other.body.dukpt.initialKsn).not.toBe(body.dukpt.initialKsn);
    const impostor = new DukptSimTerminal(sim.id, 'tdes', sim.mac, other.sim.initialKey, other.sim.initialKsn);
    const imp = impostor.build('1820', ECHO);
    const ir = impostor.read(await conn.ask(imp.bytes), imp.keys);
    expect([ir.msg.fields.get(39), ir.hasMac]).toEqual(['916', false]);
    // A DUKPT message without a KSN in DE 53 (a session-key version instead): the 916 of any
    // unauthenticated message, so an unknown terminal ID cannot be told from a DUKPT one.
    const noKsn = sim.build('1820', ECHO, { keys: { ...sim.nextKeys(), ksn: Buffer.from([0, 1]) } });
    const nk = sim.read(await conn.ask(noKsn.bytes), noKsn.keys);
    expect([nk.msg.fields.get(39), nk.hasMac]).toEqual(['916', false]);
    conn.close();
  });

  it('an advice whose handling failed is taken again under its KSN; its 1221 repeats are answered from the journal, not refused', async () => {
    const { sim } = await dukptCeremony(server, 'tdes');
    const conn = await connect();
    const stan = sim.nextStan();
    failOnce.add(stan);
    const runsBefore = adviceRuns;
    const a = sim.build('1220', [[24, '200']], { stan });
    const first = sim.read(await conn.ask(a.bytes), a.keys);
    expect([first.msg.fields.get(39), first.macOk]).toEqual(['909', true]);
    // The terminal sends the very same message again: same KSN, same request, so not a replay.
    const second = await conn.ask(a.bytes);
    expect(sim.read(second, a.keys).msg.fields.get(39)).toBe('900');
    expect(adviceRuns - runsBefore).toBe(2);
    // 1221 repeats, under a fresh KSN or under the original one: the first answer, byte for byte; the handler does not run again.
    const repeatFresh = sim.build('1221', [[24, '200']], { stan });
    expect((await conn.ask(repeatFresh.bytes)).equals(second)).toBe(true);
    const repeatSame = sim.build('1221', [[24, '200']], { stan, keys: a.keys });
    expect((await conn.ask(repeatSame.bytes)).equals(second)).toBe(true);
    expect(adviceRuns - runsBefore).toBe(2);
    expect(await lastCounter(sim)).toBe(a.keys.counter);
    conn.close();
  });

  it('AES: two connections present the same KSN at once (a cloned device): exactly one is accepted', async () => {
    const { sim, body } = await dukptCeremony(server, 'aes', { bdkId: '0A0B0C0D' });
    expect(body.dukpt).toMatchObject({ scheme: 'aes', bdkId: '0A0B0C0D' });
    expect(body.dukpt.initialKsn).toMatch(/^0A0B0C0D[0-9A-F]{8}00000000$/);
    const [c1, c2] = await Promise.all([connect(), connect()]);
    const k = sim.nextKeys();
    const m1 = sim.build('1820', ECHO, { keys: k });
    const m2 = sim.build('1820', ECHO, { keys: k });
    const [r1, r2] = await Promise.all([c1.ask(m1.bytes), c2.ask(m2.bytes)]);
    const answers = [sim.read(r1, k), sim.read(r2, k)].map((r) => `${String(r.msg.fields.get(39))}:${r.macOk}`).sort();
    expect(answers).toEqual(['800:true', '916:false']);
    expect(await lastCounter(sim)).toBe(k.counter);

    // The store's compare-and-set on its own: many concurrent claims of one fresh KSN, one winner.
    const k2 = sim.nextKeys();
    const bdkRef = 'pos:bdk:aes:0A0B0C0D';
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ctx.keyStore.dukptAcceptKsn({ bdkRef, ksn: k2.ksn, requestId: `race-${i}` })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.code)).toEqual(Array(7).fill('DUKPT_KSN_REPLAY'));
    c1.close();
    c2.close();
  });

  for (const scheme of ['tdes', 'aes'] as const) {
    it(`${scheme}: 16 requests pipelined on one connection with rising KSNs are all accepted, whichever finishes its lookups first`, async () => {
      const { sim } = await dukptCeremony(server, scheme);
      const conn = await connect();
      const sent = Array.from({ length: 16 }, () => sim.build('1820', ECHO));
      // All written at once, before any answer: the transport hands them to the host in this order (16 in flight).
      for (const m of sent) conn.send(m.bytes);
      const answers: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const bytes = await conn.next(10_000);
        // Each answer is MACed under the response key of its own request's KSN.
        const own = sent.find((m) => sim.read(bytes, m.keys).macOk);
        answers.push(`${String(sim.read(bytes, sent[0]!.keys).msg.fields.get(39))}:${own !== undefined}`);
      }
      expect(answers).toEqual(Array(16).fill('800:true'));
      expect(await lastCounter(sim)).toBe(sent[15]!.keys.counter);
      conn.close();
    });

    it(`${scheme}: the PIN block opens in the key store under the PIN key of the KSN the MAC verified under`, async () => {
      const { sim } = await dukptCeremony(server, scheme);
      const terminal = (await ctx.directory.get(sim.id))!;
      expect(terminal).toMatchObject({ keyManagement: 'dukpt', dukpt: { scheme } });
      const pan = '6228480402564890018';
      const stored = pinVerifyValue(server.config.pinKey, pan, '4321');
      const keys = sim.nextKeys();
      const block = sim.pinBlock(keys, '4321', pan);
      const ref = await pinRefFor(ctx.keyStore, terminal, keys.counter, { block, method: null, ksn: null });
      expect(ref.ksn).toEqual(keys.ksn);
      expect(await ctx.keyStore.pinVerifyPlatform({ pin: ref, pinBlock: block, pan, subject: pan, stored })).toEqual({ ok: true, value: true });
      const wrong = sim.pinBlock(keys, '1111', pan);
      expect(await ctx.keyStore.pinVerifyPlatform({ pin: ref, pinBlock: wrong, pan, subject: pan, stored })).toMatchObject({ ok: false, code: 'PIN_MISMATCH' });
      // Under another KSN's key the block does not open.
      const later = sim.nextKeys();
      const refLater = await pinRefFor(ctx.keyStore, terminal, later.counter, { block, method: null, ksn: null });
      expect((await ctx.keyStore.pinVerifyPlatform({ pin: refLater, pinBlock: block, pan, subject: pan, stored })).ok).toBe(false);
      // DE 61 naming the very KSN of DE 53: the same key.
      const refSame = await pinRefFor(ctx.keyStore, terminal, keys.counter, { block, method: null, ksn: keys.ksn.toString('hex') });
      expect(await ctx.keyStore.pinVerifyPlatform({ pin: refSame, pinBlock: block, pan, subject: pan, stored })).toEqual({ ok: true, value: true });
      // A block captured from that transaction, sent again with a message MACed under a later KSN and
      // DE 61 naming the old one: refused with a typed code (the sale answers 919 and counts no PIN try), never opened.
      const refReplay = await pinRefFor(ctx.keyStore, terminal, later.counter, { block, method: null, ksn: keys.ksn.toString('hex') });
      expect(await ctx.keyStore.pinVerifyPlatform({ pin: refReplay, pinBlock: block, pan, subject: pan, stored })).toMatchObject({ ok: false, code: 'DUKPT_BAD_KSN' });
      // A PIN KSN in DE 61 of another device is refused with a typed code, never opened.
      const foreign = Buffer.from(keys.ksn);
      foreign[foreign.length - 5] = foreign[foreign.length - 5]! ^ 0x80;
      const refForeign = await pinRefFor(ctx.keyStore, terminal, keys.counter, { block, method: null, ksn: foreign.toString('hex') });
      expect(await ctx.keyStore.pinVerifyPlatform({ pin: refForeign, pinBlock: block, pan, subject: pan, stored })).toMatchObject({ ok: false, code: 'DUKPT_BAD_KSN' });
    });
  }
});

describe('key rollover deadline (session keys)', () => {
  it('the previous TAK is accepted until the deadline after the key change, then refused like an unknown version; the change time persists', async () => {
    const { sim } = await ceremony(server);
    const conn = await connect();
    const t0 = new Date();
    const at = (ms: number): Date => new Date(t0.getTime() + ms);
    try {
      clock = t0;
      const oldTak = sim.tak;
      const so = await conn.ask(sim.build('1804', [[24, '801']], { at: clock }));
      expect(sim.acceptKeys(so).macOk).toBe(true);
      const tak = `pos:T${sim.id}:tak`;
      expect((await ctx.keyStore.describe(tak))!.since!.getTime()).toBe(t0.getTime());
      // Another process sees the same change time (it is sealed with the key).
      const reopened = await PersistentKeyStore.open(server.deps.db, server.config.dataKeys[0]!);
      expect((await reopened.describe(tak))!.since!.getTime()).toBe(t0.getTime());

      // Within the deadline a terminal still on the previous key is served (e.g. it lost the 1814).
      clock = at(ROLLOVER_MS - 1000);
      const inTime = sim.read(await conn.ask(sim.build('1820', ECHO, { at: clock, key: oldTak, withDe53: 1 })), oldTak);
      expect([inTime.msg.fields.get(39), inTime.macOk]).toEqual(['800', true]);

      // Past it: a MAC under the previous version (named in DE 53 or found without it) → 917, unMACed;
      // the only 917 the host sends, and only to whoever holds one of the terminal's keys.
      clock = at(ROLLOVER_MS + 1000);
      const named = sim.read(await conn.ask(sim.build('1820', ECHO, { at: clock, key: oldTak, withDe53: 1 })), oldTak);
      expect([named.msg.fields.get(39), named.hasMac]).toEqual(['917', false]);
      const unnamed = sim.read(await conn.ask(sim.build('1820', ECHO, { at: clock, key: oldTak, withDe53: null })), oldTak);
      expect([unnamed.msg.fields.get(39), unnamed.hasMac]).toEqual(['917', false]);
      // A sign-on under it cannot revive it either.
      const lateSignOn = sim.read(await conn.ask(sim.build('1804', [[24, '801']], { at: clock, key: oldTak, withDe53: 1 })), oldTak);
      expect([lateSignOn.msg.fields.get(39), lateSignOn.hasMac]).toEqual(['917', false]);

      // The current key works, and its use past the deadline destroys the previous TAK and TPK.
      const current = sim.read(await conn.ask(sim.build('1820', ECHO, { at: clock })));
      expect([current.msg.fields.get(39), current.macOk]).toEqual(['800', true]);
      expect((await ctx.keyStore.describe(tak))!.previousVersion).toBeNull();
      expect((await ctx.keyStore.describe(`pos:T${sim.id}:tpk`))!.previousVersion).toBeNull();
    } finally {
      clock = null;
      conn.close();
    }
  });
});
