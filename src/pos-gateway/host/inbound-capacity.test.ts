/**
 * The pipeline when the replay journal refuses a new entry (docs/pos-journal.md): the request is not
 * processed and nothing is stored; a request gets a MACed 909, an advice no answer (its terminal
 * repeats it); repeats of entries already held are still answered from the journal.
 */
import { describe, expect, it } from 'vitest';
import { handleInbound, type InboundContext } from './inbound.js';
import { InMemoryReplayGuard } from './replay.js';
import { harness, NOW } from './session.test-support.js';

describe('inbound: replay journal refusal', () => {
  it('a full journal: requests answered 909 MACed, advices not answered, neither processed; held entries still answered', async () => {
    const calls: string[] = [];
    const h = await harness({
      handlers: {
        '1100': async (req) => (calls.push(req.message.mti), { actionCode: '000' }),
        '1220': async (req) => (calls.push(req.message.mti), { actionCode: '900' }),
      },
    });
    const ctx: InboundContext = { ...h.ctx, requireSignOn: false, replay: new InMemoryReplayGuard({ maxEntries: 1, skewWindowMs: 300_000 }) };
    const first = h.terminal.build('1100', [[4, '000000001000']]);
    expect((await handleInbound(first, ctx)).outcome).toBe('OK');

    const request = await handleInbound(h.terminal.build('1100', [[4, '000000002000']]), ctx);
    expect(request.outcome).toBe('CAPACITY');
    const a = h.terminal.read(request.response);
    expect([a.msg.mti, a.msg.fields.get(39), a.macOk]).toEqual(['1110', '909', true]);
    const advice = h.terminal.build('1220', [[4, '000000001000']]);
    const adv = await handleInbound(advice, ctx);
    expect([adv.outcome, adv.response]).toEqual(['CAPACITY', null]);
    expect(calls).toEqual(['1100']);

    const repeat = await handleInbound(first, ctx);
    expect(repeat.outcome).toBe('DUPLICATE');

    // Past 2 × the window the first entry may be forgotten: the advice's repeat is processed now, once.
    h.clock = new Date(NOW.getTime() + 600_001);
    const later = h.terminal.build('1221', [[4, '000000001000']], { at: h.clock, stan: '000003' });
    expect((await handleInbound(later, ctx)).outcome).toBe('OK');
    expect(calls).toEqual(['1100', '1221']);
  });
});
