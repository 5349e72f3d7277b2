import { describe, expect, it } from 'vitest';
import { connectIsoClient } from '../transport/index.js';
import { startIsoServer } from '../transport/index.js';
import { decodeDe53 } from './session-fields.js';
import { inboundFrameHandler, type InboundResult } from './inbound.js';
import { harness, NOW, type Suite } from './session.test-support.js';

const SUITES: Suite[] = [
  { alg: 'tdes', mac: 'retail-tdes-pad2' },
  { alg: 'aes', mac: 'aes-cmac' },
  { alg: 'sm4', mac: 'sm4-cmac' },
];

const signOn = [[24, '801']] as const;
const echo = [[24, '831']] as const;

describe.each(SUITES)('network management with $alg / $mac', (suite) => {
  it('signs on, unwraps the session keys under the TMK, checks KCVs and the 1814 MAC, then echoes MACed', async () => {
    const h = await harness({ suite });
    const r = await h.send(h.terminal.build('1804', signOn));
    expect(r.outcome).toBe('OK');
    const answer = h.terminal.read(r.response, h.terminal.tak);
    expect(answer.msg.mti).toBe('1814');
    expect(answer.msg.fields.get(39)).toBe('800');
    // MACed under the new key, not the one the request used.
    expect(answer.macOk).toBe(false);
    const accepted = h.terminal.acceptKeys(r.response!);
    expect(accepted.macOk).toBe(true);
    expect(accepted.versions).toEqual({ tpk: 2, tak: 2 });
    expect((await h.directory.session('OPT00001')).signedOn).toBe(true);

    const e = await h.send(h.terminal.build('1820', echo));
    expect(e.outcome).toBe('OK');
    const ea = h.terminal.read(e.response);
    expect(ea.msg.mti).toBe('1830');
    expect(ea.msg.fields.get(39)).toBe('800');
    expect(ea.macOk).toBe(true);
    const de53 = decodeDe53(ea.msg.fields.get(53) as Buffer);
    expect(de53.ok && de53.value.mac).toBe(2);
  });
});

describe('network management', () => {
  it('the first message under the new key retires the old keys', async () => {
    const h = await harness();
    const oldTak = h.terminal.tak;
    const r = await h.send(h.terminal.build('1804', signOn));
    h.terminal.acceptKeys(r.response!);
    expect((await h.keyStore.describe('term:OPT00001:tak'))?.previousVersion).toBe(1);
    // Before the terminal uses v2, v1 still verifies (the 1814 may have been lost).
    const old = await h.send(h.terminal.build('1820', echo, { key: oldTak, withDe53: 1 }));
    expect(old.outcome).toBe('OK');
    expect(h.terminal.read(old.response, oldTak).macOk).toBe(true);
    await h.send(h.terminal.build('1820', echo));
    expect((await h.keyStore.describe('term:OPT00001:tak'))?.previousVersion).toBeNull();
    expect((await h.keyStore.describe('term:OPT00001:tpk'))?.previousVersion).toBeNull();
    // The retired version is no longer held: answered like any message that did not authenticate.
    const late = await h.send(h.terminal.build('1820', echo, { key: oldTak, withDe53: 1 }));
    expect(late.outcome).toBe('MAC_KEY_SYNC');
    const lateAnswer = h.terminal.read(late.response);
    expect([lateAnswer.msg.fields.get(39), lateAnswer.hasMac]).toEqual(['916', false]);
  });

  it('key change (811) rotates; the old key works until the terminal uses the new one', async () => {
    const h = await harness();
    h.terminal.acceptKeys((await h.send(h.terminal.build('1804', signOn))).response!);
    await h.send(h.terminal.build('1820', echo)); // v2 in use, v1 retired
    const v2 = h.terminal.tak;
    const kc = await h.send(h.terminal.build('1804', [[24, '811']]));
    expect(kc.outcome).toBe('OK');
    const accepted = h.terminal.acceptKeys(kc.response!);
    expect(accepted).toEqual({ macOk: true, versions: { tpk: 3, tak: 3 } });
    expect((await h.directory.session('OPT00001')).keyVersions).toEqual({ tak: 3, tpk: 3 });
    // Without DE 53 the host tries the current key, then the previous one.
    const withOld = await h.send(h.terminal.build('1820', echo, { key: v2, withDe53: null }));
    expect(withOld.outcome).toBe('OK');
    expect(h.terminal.read(withOld.response, v2).macOk).toBe(true);
    const withNew = await h.send(h.terminal.build('1820', echo, { withDe53: null }));
    expect(h.terminal.read(withNew.response).macOk).toBe(true);
    const retired = await h.send(h.terminal.build('1820', echo, { key: v2, withDe53: null }));
    expect(retired.outcome).toBe('MAC_INVALID');
  });

  it('a repeated sign-on (lost 1814) gets the same keys, not a second rotation', async () => {
    const h = await harness();
    const req = h.terminal.build('1804', signOn);
    const first = await h.send(req);
    const again = await h.send(req);
    expect(again.outcome).toBe('DUPLICATE');
    expect(again.response!.equals(first.response!)).toBe(true);
    expect((await h.keyStore.describe('term:OPT00001:tak'))?.version).toBe(2);
  });

  it('two lost 1814s: a new sign-on under the old key keeps that key, the terminal is never locked out', async () => {
    const h = await harness();
    const v1 = h.terminal.tak;
    // Two sign-ons (different STANs) whose answers never reach the terminal: it still holds v1.
    for (const expected of [2, 3]) {
      const r = await h.send(h.terminal.build('1804', signOn));
      expect(r.outcome).toBe('OK');
      expect(await h.keyStore.describe('term:OPT00001:tak')).toMatchObject({ version: expected, previousVersion: 1 });
      expect((await h.keyStore.describe('term:OPT00001:tpk'))?.previousVersion).toBe(1);
    }
    // v1 still verifies (not 917), and the third 1814 arrives and is installed.
    const echoOld = await h.send(h.terminal.build('1820', echo));
    expect(echoOld.outcome).toBe('OK');
    expect(h.terminal.read(echoOld.response, v1).macOk).toBe(true);
    const third = await h.send(h.terminal.build('1804', signOn));
    expect(h.terminal.acceptKeys(third.response!)).toEqual({ macOk: true, versions: { tpk: 4, tak: 4 } });
    const e = await h.send(h.terminal.build('1820', echo));
    expect(e.outcome).toBe('OK');
    expect((await h.keyStore.describe('term:OPT00001:tak'))?.previousVersion).toBeNull();
  });

  it('rollover deadline: sign-ons under the previous key keep it but never renew its deadline (a stolen old TAK cannot be kept alive)', async () => {
    const h = await harness();
    Object.assign(h.ctx, { keyRolloverMs: 60_000 });
    const at = (ms: number): Date => new Date(NOW.getTime() + ms);
    const tak = 'term:OPT00001:tak';
    const v1 = h.terminal.tak;
    // The genuine terminal signs on at NOW and installs v2; v1 is now the previous version, superseded at NOW.
    h.terminal.acceptKeys((await h.send(h.terminal.build('1804', signOn))).response!);
    expect(await h.keyStore.describe(tak)).toMatchObject({ version: 2, previousVersion: 1, previousSupersededAt: NOW });
    // Whoever holds v1 signs on under it inside the deadline: served (the lost-1814 case), v1 kept…
    h.clock = at(50_000);
    const inTime = await h.send(h.terminal.build('1804', signOn, { at: h.clock, key: v1, withDe53: 1 }));
    expect(inTime.outcome).toBe('OK');
    // …but its deadline still counts from NOW, not from this rotation.
    expect(await h.keyStore.describe(tak)).toMatchObject({ version: 3, previousVersion: 1, previousSupersededAt: NOW, since: h.clock });
    // Past NOW + 60 s, v1 is refused whatever was signed on under it since: no rotation, 917 (the MAC did verify), unMACed.
    h.clock = at(100_000);
    for (const opts of [{ withDe53: 1 }, { withDe53: null }] as const) {
      const late = await h.send(h.terminal.build('1804', signOn, { at: h.clock, key: v1, ...opts }));
      expect([late.outcome, late.actionCode]).toEqual(['MAC_KEY_SYNC', '917']);
      expect(h.terminal.read(late.response, v1).hasMac).toBe(false);
      const echoLate = await h.send(h.terminal.build('1820', echo, { at: h.clock, key: v1, ...opts }));
      expect(echoLate.actionCode).toBe('917');
    }
    expect(await h.keyStore.describe(tak)).toMatchObject({ version: 3, previousVersion: 1 });
    // A wrong MAC naming the same expired version learns nothing more than a bad MAC: 916.
    const forged = await h.send(h.terminal.build('1820', echo, { at: h.clock, key: h.terminal.tpk, withDe53: 1 }));
    expect([forged.outcome, forged.actionCode]).toEqual(['MAC_INVALID', '916']);
  });

  it('rollover deadline: a terminal that lost its 1814s signs on again under its old key while the deadline lasts, counted from the first rotation', async () => {
    const h = await harness();
    Object.assign(h.ctx, { keyRolloverMs: 60_000 });
    const at = (ms: number): Date => new Date(NOW.getTime() + ms);
    // NOW: the first sign-on is under v1 as the current key; its 1814 and the next two are lost.
    for (const [ms, version] of [[0, 2], [20_000, 3], [40_000, 4]] as const) {
      h.clock = at(ms);
      const r = await h.send(h.terminal.build('1804', signOn, { at: h.clock }));
      expect(r.outcome).toBe('OK');
      expect(await h.keyStore.describe('term:OPT00001:tak')).toMatchObject({ version, previousVersion: 1, previousSupersededAt: NOW });
    }
    // The fourth 1814, still inside NOW + 60 s, arrives: the terminal is back on the current key.
    h.clock = at(59_000);
    const fourth = await h.send(h.terminal.build('1804', signOn, { at: h.clock }));
    expect(h.terminal.acceptKeys(fourth.response!)).toEqual({ macOk: true, versions: { tpk: 5, tak: 5 } });
    const e = await h.send(h.terminal.build('1820', echo, { at: h.clock }));
    expect([e.outcome, h.terminal.read(e.response).macOk]).toEqual(['OK', true]);
    expect((await h.keyStore.describe('term:OPT00001:tak'))?.previousVersion).toBeNull();
  });

  it('sign-off: new requests are refused until sign-on, advices are still taken', async () => {
    let calls = 0;
    const h = await harness({
      handlers: {
        '1100': async () => ({ actionCode: '000' }),
        '1220': async () => {
          calls += 1;
          return { actionCode: '900' };
        },
      },
    });
    const before = await h.send(h.terminal.build('1100', [[24, '101'], [4, '000000010000']]));
    expect(before.outcome).toBe('NOT_SIGNED_ON');
    expect(h.terminal.read(before.response).msg.fields.get(39)).toBe('902');
    h.terminal.acceptKeys((await h.send(h.terminal.build('1804', signOn))).response!);
    const during = await h.send(h.terminal.build('1100', [[24, '101'], [4, '000000010000']]));
    expect(during.actionCode).toBe('000');
    expect(h.terminal.read(during.response).msg.fields.get(4)).toBe('000000010000');
    const off = await h.send(h.terminal.build('1804', [[24, '802']]));
    expect(h.terminal.read(off.response).msg.fields.get(39)).toBe('800');
    expect((await h.directory.session('OPT00001')).signedOn).toBe(false);
    const after = await h.send(h.terminal.build('1100', [[24, '101'], [4, '000000010000']]));
    expect(after.outcome).toBe('NOT_SIGNED_ON');
    const advice = await h.send(h.terminal.build('1220', [[24, '201'], [4, '000000008000']]));
    expect(advice.actionCode).toBe('900');
    expect(calls).toBe(1);
  });

  it('sign-on needs a valid MAC unless the terminal is configured for unauthenticated sign-on', async () => {
    const strict = await harness();
    const bad = await strict.send(strict.terminal.build('1804', signOn, { key: Buffer.alloc(16, 7) }));
    expect(bad.outcome).toBe('MAC_INVALID');
    expect((await strict.keyStore.describe('term:OPT00001:tak'))?.version).toBe(1);

    const lax = await harness({ record: { signOnWithoutMac: true } });
    const r = await lax.send(lax.terminal.build('1804', signOn, { noMac: true, withDe53: null }));
    expect(r.outcome).toBe('OK');
    expect(lax.terminal.acceptKeys(r.response!).macOk).toBe(true);
    // The exemption is for sign-on only.
    const e = await lax.send(lax.terminal.build('1820', echo, { noMac: true, withDe53: null }));
    expect(e.outcome).toBe('MAC_MISSING');
  });

  it('unknown function codes and a missing DE 24 are refused, MACed', async () => {
    const h = await harness();
    const unknown = await h.send(h.terminal.build('1820', [[24, '899']]));
    expect(h.terminal.read(unknown.response).msg.fields.get(39)).toBe('902');
    expect(h.terminal.read(unknown.response).macOk).toBe(true);
    const missing = await h.send(h.terminal.build('1820', []));
    expect(h.terminal.read(missing.response).msg.fields.get(39)).toBe('904');
    const signOnOn1820 = await h.send(h.terminal.build('1820', signOn));
    expect(h.terminal.read(signOnOn1820.response).msg.fields.get(39)).toBe('902');
  });

  it('works end to end through the TCP transport', async () => {
    const h = await harness();
    const seen: InboundResult[] = [];
    const server = await startIsoServer({ port: 0, host: '127.0.0.1', handler: inboundFrameHandler(h.ctx, (r) => seen.push(r)) });
    const client = await connectIsoClient({ host: '127.0.0.1', port: server.port, framing: 'binary2' });
    try {
      client.send(h.terminal.build('1804', signOn));
      expect(h.terminal.acceptKeys(await client.next(5000)).macOk).toBe(true);
      client.send(h.terminal.build('1820', echo));
      const a = h.terminal.read(await client.next(5000));
      expect([a.msg.mti, a.msg.fields.get(39), a.macOk]).toEqual(['1830', '800', true]);
      expect(seen.map((r) => r.outcome)).toEqual(['OK', 'OK']);
    } finally {
      client.close();
      await server.close({ graceMs: 1000 });
    }
  });
});
