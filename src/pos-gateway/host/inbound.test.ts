import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../iso8583/index.js';
import { formatTransmissionTime, handleInbound, parseTransmissionTime } from './inbound.js';
import { harness, NOW, PROFILE, SimTerminal } from './session.test-support.js';

const echo = [[24, '831']] as const;

function counting(actionCode = '900') {
  const calls: string[] = [];
  return {
    calls,
    handler: async (req: { message: { mti: string } }) => {
      calls.push(req.message.mti);
      return { actionCode, fields: new Map([[38, 'A12345']]) };
    },
  };
}

describe('inbound: decoding and terminal lookup', () => {
  it('a codec error with a readable request MTI gets an unMACed 904 of the right class; otherwise no answer', async () => {
    const h = await harness();
    const truncated = Buffer.concat([Buffer.from('1100', 'latin1'), Buffer.from([0x02, 0x30])]);
    const r = await h.send(truncated);
    expect(r.outcome).toBe('FORMAT_ERROR');
    const a = h.terminal.read(r.response);
    expect([a.msg.mti, a.msg.fields.get(39), a.hasMac]).toEqual(['1110', '904', false]);
    expect((await h.send(Buffer.from('zz'))).response).toBeNull();
    // A response MTI is not answered.
    expect((await h.send(Buffer.concat([Buffer.from('1110', 'latin1'), Buffer.alloc(3)]))).response).toBeNull();
  });

  it('whatever bytes arrive, handleInbound resolves to an outcome and never throws', async () => {
    const h = await harness();
    const valid = h.terminal.build('1820', echo);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.nat(valid.length - 1), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([at, junk]) => {
            const b = Buffer.from(valid);
            Buffer.from(junk).copy(b, at);
            return new Uint8Array(b);
          }),
        ),
        async (bytes) => {
          const r = await h.send(Buffer.from(bytes));
          expect(typeof r.outcome).toBe('string');
          if (r.outcome !== 'OK' && r.outcome !== 'DUPLICATE' && r.response) {
            // Anything not authenticated is answered without a MAC.
            if (['FORMAT_ERROR', 'MAC_INVALID', 'MAC_MISSING', 'MAC_KEY_SYNC'].includes(r.outcome)) {
              expect(h.terminal.read(r.response).hasMac).toBe(false);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a message without DE 41 gets 904; unknown and disabled terminals get exactly what a bad MAC gets', async () => {
    const h = await harness();
    const noTid = encodeMessage({ mti: '1820', fields: new Map([[11, '000001'], [24, '831']]) }, PROFILE);
    const r = await h.send(noTid);
    expect([r.outcome, r.actionCode]).toEqual(['FORMAT_ERROR', '904']);
    const opts = { stan: '000042', withDe53: null };
    // Same request bytes shape from a known terminal with a wrong key, an unknown one and a disabled one.
    const badMac = await h.send(h.terminal.build('1820', echo, { ...opts, key: Buffer.alloc(h.terminal.tak.length, 7) }));
    const other = await harness({ id: 'OPT00001' });
    const unknownHost = await harness({ id: 'OPT00009' });
    const unknown = await unknownHost.send(other.terminal.build('1820', echo, opts));
    const disabled = await harness({ record: { status: 'disabled' } });
    const d = await disabled.send(disabled.terminal.build('1820', echo, opts));
    expect([badMac.outcome, unknown.outcome, d.outcome]).toEqual(['MAC_INVALID', 'UNKNOWN_TERMINAL', 'TERMINAL_DISABLED']);
    expect(badMac.response).not.toBeNull();
    expect(unknown.response!.equals(badMac.response!)).toBe(true);
    expect(d.response!.equals(badMac.response!)).toBe(true);
    expect(h.terminal.read(unknown.response)).toMatchObject({ hasMac: false });
    expect(h.terminal.read(unknown.response).msg.fields.get(39)).toBe('916');
  });
});

describe('inbound: MAC first', () => {
  it('a wrong MAC is refused with 916, unMACed, and nothing else is looked at', async () => {
    const { calls, handler } = counting();
    const h = await harness({ handlers: { '1220': handler } });
    const msg = h.terminal.build('1220', [[24, '201'], [4, '000000001000']]);
    msg[msg.length - 1] = msg[msg.length - 1]! ^ 1;
    const r = await h.send(msg);
    expect([r.outcome, r.actionCode]).toEqual(['MAC_INVALID', '916']);
    const a = h.terminal.read(r.response);
    expect([a.msg.mti, a.msg.fields.get(39), a.hasMac, a.msg.fields.get(11)]).toEqual(['1230', '916', false, '000001']);
    expect(a.msg.fields.has(4)).toBe(false);
    expect(calls).toEqual([]);
    // Not recorded by the replay guard: the genuine message with the same STAN is processed.
    const good = await h.send(h.terminal.build('1220', [[24, '201'], [4, '000000001000']], { stan: '000001' }));
    expect(good.outcome).toBe('OK');
  });

  it('a tampered field breaks the MAC even when everything else parses', async () => {
    const h = await harness();
    const msg = h.terminal.build('1820', echo);
    const at = msg.indexOf(Buffer.from('831', 'latin1'));
    msg.write('832', at, 'latin1');
    expect((await h.send(msg)).outcome).toBe('MAC_INVALID');
  });

  it('no MAC, a DE 53 naming a key version the host does not hold, a malformed DE 53: the same unMACed 916 an unknown terminal gets', async () => {
    const h = await harness();
    const ghost = new SimTerminal('ZZZ00009', h.terminal.suite, h.terminal.tmk, h.terminal.tak, h.terminal.tpk);
    const bad53 = [...echo, [53, Buffer.from([0, 1, 2])] as const];
    const cases = [
      { outcome: 'MAC_MISSING', fields: echo, opts: { noMac: true } },
      { outcome: 'MAC_KEY_SYNC', fields: echo, opts: { withDe53: 9 } },
      { outcome: 'MAC_KEY_SYNC', fields: bad53, opts: { withDe53: null } },
    ] as const;
    for (const [i, c] of cases.entries()) {
      const opts = { ...c.opts, stan: String(100 + i).padStart(6, '0') };
      const known = await h.send(h.terminal.build('1820', c.fields, opts));
      expect([known.outcome, known.actionCode]).toEqual([c.outcome, '916']);
      const unknown = await h.send(ghost.build('1820', c.fields, opts));
      expect(unknown.outcome).toBe('UNKNOWN_TERMINAL');
      // Byte for byte the same answer but for DE 41 itself: nothing tells that OPT00001 exists.
      expect(known.response!.toString('latin1').replace('OPT00001', 'ZZZ00009')).toBe(unknown.response!.toString('latin1'));
    }
  });
});

describe('inbound: time window and exactly-once', () => {
  it('a stale or future transmission time is refused with 922, MACed', async () => {
    const h = await harness();
    const stale = await h.send(h.terminal.build('1820', echo, { at: new Date(NOW.getTime() - 6 * 60_000) }));
    expect([stale.outcome, stale.actionCode]).toEqual(['STALE_TRANSMISSION', '922']);
    expect(h.terminal.read(stale.response).macOk).toBe(true);
    const future = await h.send(h.terminal.build('1820', echo, { at: new Date(NOW.getTime() + 6 * 60_000) }));
    expect(future.outcome).toBe('STALE_TRANSMISSION');
    const edge = await h.send(h.terminal.build('1820', echo, { at: new Date(NOW.getTime() - 4 * 60_000) }));
    expect(edge.outcome).toBe('OK');
    const nonsense = await h.send(h.terminal.build('1820', [...echo, [7, '1399999999']]));
    expect(nonsense.actionCode).toBe('904');
  });

  it('a repeated STAN + local time gets the first answer byte for byte, also as a repeat MTI and later', async () => {
    const { calls, handler } = counting();
    const h = await harness({ handlers: { '1220': handler } });
    const fields = [[24, '201'], [4, '000000001000']] as const;
    const first = await h.send(h.terminal.build('1220', fields, { stan: '000042' }));
    expect(first.outcome).toBe('OK');
    h.clock = new Date(NOW.getTime() + 3 * 60_000);
    const again = await h.send(h.terminal.build('1220', fields, { stan: '000042', at: h.clock }));
    const repeat = await h.send(h.terminal.build('1221', fields, { stan: '000042', at: h.clock }));
    expect([again.outcome, repeat.outcome]).toEqual(['DUPLICATE', 'DUPLICATE']);
    expect(again.response!.equals(first.response!)).toBe(true);
    expect(repeat.response!.equals(first.response!)).toBe(true);
    expect(calls).toEqual(['1220']);
    // A first-seen repeat is processed like the original, by the original's handler.
    const lone = await h.send(h.terminal.build('1221', fields, { stan: '000043', at: h.clock }));
    expect(lone.outcome).toBe('OK');
    expect(h.terminal.read(lone.response).msg.mti).toBe('1230');
    expect(calls).toEqual(['1220', '1221']);
  });

  it('same STAN and local time with different content is refused 913 and not processed', async () => {
    const { calls, handler } = counting();
    const h = await harness({ handlers: { '1220': handler } });
    await h.send(h.terminal.build('1220', [[24, '201'], [4, '000000001000']], { stan: '000007' }));
    const r = await h.send(h.terminal.build('1220', [[24, '201'], [4, '000000009999']], { stan: '000007' }));
    expect([r.outcome, r.actionCode]).toEqual(['REPLAY_CONFLICT', '913']);
    expect(calls).toHaveLength(1);
    // Same STAN, another local time: a new transaction.
    const other = await h.send(h.terminal.build('1220', [[24, '201'], [4, '000000009999']], { stan: '000007', local: '261128161531' }));
    expect(other.outcome).toBe('OK');
  });

  it('a pipelined repeat while the first is in progress gets no answer; the first answers once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await harness({
      handlers: {
        '1220': async () => {
          await gate;
          return { actionCode: '900' };
        },
      },
    });
    const req = h.terminal.build('1220', [[24, '200'], [4, '000000001000']]);
    const first = h.send(req);
    const second = await h.send(req);
    expect([second.outcome, second.response]).toEqual(['IN_PROGRESS', null]);
    release();
    expect((await first).outcome).toBe('OK');
    expect((await h.send(req)).response!.equals((await first).response!)).toBe(true);
  });

  it('a failing handler answers 909 and is not remembered, so the repeat is processed again', async () => {
    let fail = true;
    const h = await harness({
      handlers: {
        '1420': async () => {
          if (fail) throw new Error('database unavailable');
          return { actionCode: '400' };
        },
      },
    });
    const req = h.terminal.build('1420', [[24, '400'], [25, '4021'], [4, '000000001000']]);
    const r = await h.send(req);
    expect([r.outcome, r.actionCode]).toEqual(['HANDLER_FAILED', '909']);
    expect(h.terminal.read(r.response).macOk).toBe(true);
    fail = false;
    const again = await h.send(req);
    expect([again.outcome, again.actionCode]).toEqual(['OK', '400']);
  });

  it('handler done but the answer cannot be stored: a 909 is stored under the same entry, the repeat gets it', async () => {
    const c = counting('000');
    const h = await harness({ handlers: { '1420': c.handler } });
    let failures = 1;
    const complete = h.replay.complete.bind(h.replay);
    h.replay.complete = async (...args) => {
      if (failures-- > 0) throw new Error('replay store unavailable');
      return complete(...args);
    };
    const req = h.terminal.build('1420', [[24, '400'], [25, '4021'], [4, '000000001000']]);
    const r = await h.send(req);
    expect([r.outcome, r.actionCode]).toEqual(['HANDLER_FAILED', '909']);
    expect(h.terminal.read(r.response).macOk).toBe(true);
    const again = await h.send(req);
    expect(again.outcome).toBe('DUPLICATE');
    expect(again.response!.equals(r.response!)).toBe(true);
    expect(c.calls).toEqual(['1420']);
  });

  it('handler done but the answer cannot be MACed: 909 under the request key, stored, handler not run again', async () => {
    const calls: string[] = [];
    const h = await harness({
      handlers: {
        '1420': async (req) => {
          calls.push(req.message.mti);
          return { actionCode: '400', macKeyVersion: 99 };
        },
      },
    });
    const req = h.terminal.build('1420', [[24, '400'], [25, '4021'], [4, '000000001000']]);
    const r = await h.send(req);
    expect([r.outcome, r.actionCode]).toEqual(['HANDLER_FAILED', '909']);
    expect(h.terminal.read(r.response).macOk).toBe(true);
    const again = await h.send(h.terminal.build('1421', [[24, '400'], [25, '4021'], [4, '000000001000']], { stan: '000001' }));
    expect(again.outcome).toBe('DUPLICATE');
    expect(h.terminal.read(again.response).msg.fields.get(39)).toBe('909');
    expect(calls).toEqual(['1420']);
  });

  it('an MTI with no handler is answered 902', async () => {
    const h = await harness();
    const r = await h.send(h.terminal.build('1520', [[24, '500']]));
    expect([r.outcome, r.actionCode]).toEqual(['UNSUPPORTED', '902']);
    expect(h.terminal.read(r.response).msg.mti).toBe('1530');
  });

  it('a key store failure costs the message only (INTERNAL, no answer)', async () => {
    const h = await harness();
    const keyStore = new Proxy(h.keyStore, {
      get(target, prop) {
        if (prop === 'describe') return async () => Promise.reject(new Error('HSM down'));
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const broken = { ...h.ctx, keyStore };
    const r = await handleInbound(h.terminal.build('1820', echo), broken);
    expect([r.outcome, r.response]).toEqual(['INTERNAL', null]);
  });
});

describe('transmission time (DE 7)', () => {
  it('round-trips and picks the year nearest to now across New Year', () => {
    expect(formatTransmissionTime(NOW)).toBe('1128081530');
    expect(parseTransmissionTime('1128081530', NOW)?.toISOString()).toBe('2026-11-28T08:15:30.000Z');
    const newYear = new Date('2027-01-01T00:00:10Z');
    expect(parseTransmissionTime('1231235959', newYear)?.toISOString()).toBe('2026-12-31T23:59:59.000Z');
    expect(parseTransmissionTime('1300000000', NOW)).toBeNull();
    // 29 February exists in none of 2025–2027.
    expect(parseTransmissionTime('0229120000', NOW)).toBeNull();
    expect(parseTransmissionTime('12345', NOW)).toBeNull();
  });
});
