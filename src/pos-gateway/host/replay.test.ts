import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IFSF_PROFILE, type FieldValue } from '../iso8583/index.js';
import { foldRepeatMti, InMemoryReplayGuard, requestFingerprint, type ReplayKey } from './replay.js';

const key = (stan = '000001'): ReplayKey => ({ terminalId: 'OPT00001', messageClass: '1220', stan, localDateTime: '261128161530' });
const t0 = new Date('2026-11-28T08:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

describe('InMemoryReplayGuard', () => {
  it('new → in progress → answered → duplicate with the stored bytes; other content → conflict', async () => {
    const g = new InMemoryReplayGuard();
    expect(await g.begin(key(), 'f1', t0)).toEqual({ kind: 'new' });
    expect(await g.begin(key(), 'f1', t0)).toEqual({ kind: 'in-progress' });
    await g.complete(key(), 'f1', Buffer.from('answer'), t0);
    const d = await g.begin(key(), 'f1', t0);
    expect(d.kind === 'duplicate' && d.response.toString()).toBe('answer');
    expect(await g.begin(key(), 'f2', t0)).toEqual({ kind: 'conflict' });
    expect(await g.begin(key('000002'), 'f2', t0)).toEqual({ kind: 'new' });
  });

  it('the stored answer cannot be changed through the returned buffer', async () => {
    const g = new InMemoryReplayGuard();
    await g.begin(key(), 'f', t0);
    const b = Buffer.from('answer');
    await g.complete(key(), 'f', b, t0);
    b.write('XXXXXX');
    const d = await g.begin(key(), 'f', t0);
    if (d.kind !== 'duplicate') throw new Error('expected duplicate');
    d.response.write('YYYYYY');
    const d2 = await g.begin(key(), 'f', t0);
    expect(d2.kind === 'duplicate' && d2.response.toString()).toBe('answer');
  });

  it('abandon forgets an unanswered identity only', async () => {
    const g = new InMemoryReplayGuard();
    await g.begin(key(), 'f', t0);
    await g.abandon(key());
    expect(await g.begin(key(), 'f', t0)).toEqual({ kind: 'new' });
    await g.complete(key(), 'f', Buffer.from('a'), t0);
    await g.abandon(key());
    expect((await g.begin(key(), 'f', t0)).kind).toBe('duplicate');
  });

  it('forgets entries after the retention', async () => {
    const g = new InMemoryReplayGuard({ retentionMs: 1000, skewWindowMs: 100 });
    await g.begin(key('1'), 'f', t0);
    await g.complete(key('1'), 'f', Buffer.from('a'), t0);
    expect((await g.begin(key('1'), 'f', at(999))).kind).toBe('duplicate');
    expect((await g.begin(key('1'), 'f', at(1001))).kind).toBe('new');
  });

  it('full of entries younger than 2 × the window: refuses a new identity and forgets nothing', async () => {
    // window 100 ms → entries younger than 200 ms are protected.
    const g = new InMemoryReplayGuard({ retentionMs: 10_000, maxEntries: 2, skewWindowMs: 100 });
    await g.begin(key('1'), 'f', t0);
    await g.complete(key('1'), 'f', Buffer.from('1'), t0);
    await g.begin(key('2'), 'f', at(100));
    await g.complete(key('2'), 'f', Buffer.from('2'), at(100));
    expect(await g.begin(key('3'), 'f', at(199))).toEqual({ kind: 'refused', reason: 'capacity' });
    expect(g.size).toBe(2);
    // The protected entries still answer their repeats; the refused identity left no trace.
    expect((await g.begin(key('1'), 'f', at(199))).kind).toBe('duplicate');
    expect((await g.begin(key('2'), 'f', at(199))).kind).toBe('duplicate');
    // Past 2 × the window the oldest answered entry makes room; the refused identity is new now.
    expect(await g.begin(key('3'), 'f', at(201))).toEqual({ kind: 'new' });
    expect(g.size).toBe(2);
    expect((await g.begin(key('2'), 'f', at(202))).kind).toBe('duplicate');
    // '1' was forgotten; coming back it needs room, and '2' (young) and '3' (live claim) give none.
    expect(await g.begin(key('1'), 'f', at(202))).toEqual({ kind: 'refused', reason: 'capacity' });
  });

  it('a live claim is never forgotten to make room, however old; a dead one is', async () => {
    const g = new InMemoryReplayGuard({ retentionMs: 100_000, maxEntries: 2, skewWindowMs: 100, claimTimeoutMs: 5_000 });
    await g.begin(key('1'), 'f', t0); // stays in progress
    await g.begin(key('2'), 'f', t0);
    await g.complete(key('2'), 'f', Buffer.from('2'), t0);
    // 1 s later: '1' is past 2 × the window but its claim is live, so only '2' may go.
    expect(await g.begin(key('3'), 'f', at(1000))).toEqual({ kind: 'new' });
    expect(await g.begin(key('1'), 'f', at(1000))).toEqual({ kind: 'in-progress' });
    expect(await g.begin(key('4'), 'f', at(1000))).toEqual({ kind: 'refused', reason: 'capacity' });
    // Past the claim timeout the claim of '1' is dead and may be forgotten; '3' (live) stays.
    expect(await g.begin(key('4'), 'f', at(5500))).toEqual({ kind: 'new' });
    expect(await g.begin(key('3'), 'f', at(5500))).toEqual({ kind: 'in-progress' });
    expect(g.size).toBe(2);
  });

  it('an entry in progress past the claim timeout is taken over by its repeat, once; other content is still a conflict', async () => {
    const g = new InMemoryReplayGuard({ claimTimeoutMs: 60_000 });
    expect(await g.begin(key(), 'f', t0)).toEqual({ kind: 'new' });
    expect(await g.begin(key(), 'f', at(60_000))).toEqual({ kind: 'in-progress' });
    expect(await g.begin(key(), 'f2', at(60_001))).toEqual({ kind: 'conflict' });
    expect(await g.begin(key(), 'f', at(60_001))).toEqual({ kind: 'new' });
    // The takeover is a fresh claim: a second repeat right after waits for it.
    expect(await g.begin(key(), 'f', at(60_002))).toEqual({ kind: 'in-progress' });
    await g.complete(key(), 'f', Buffer.from('late'), at(60_003));
    const d = await g.begin(key(), 'f', at(200_000));
    expect(d.kind === 'duplicate' && d.response.toString()).toBe('late');
  });

  it('property: a flood of new identities never makes a repeat inside 2 × the window look new', async () => {
    const windowMs = 50;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 40 }), stan: fc.integer({ min: 0, max: 30 }), answer: fc.boolean() }), { maxLength: 80 }),
        async (maxEntries, steps) => {
          const g = new InMemoryReplayGuard({ retentionMs: 1_000, maxEntries, skewWindowMs: windowMs, claimTimeoutMs: 10_000 });
          const firstNew = new Map<number, number>();
          let t = 0;
          for (const s of steps) {
            t += s.gap;
            const r = await g.begin(key(String(s.stan)), 'f', at(t));
            const since = firstNew.get(s.stan);
            if (since !== undefined && t - since < 2 * windowMs) expect(r.kind).not.toBe('new');
            if (r.kind === 'new') {
              if (since === undefined || t - since >= 2 * windowMs) firstNew.set(s.stan, t);
              if (s.answer) await g.complete(key(String(s.stan)), 'f', Buffer.from('a'), at(t));
            }
            expect(g.size).toBeLessThanOrEqual(maxEntries);
          }
        },
      ),
    );
  });

  it('refuses a retention that a replay inside the time window could outlive', () => {
    expect(() => new InMemoryReplayGuard({ retentionMs: 600_000, skewWindowMs: 300_000 })).toThrow(RangeError);
    expect(() => new InMemoryReplayGuard({ retentionMs: 600_001, skewWindowMs: 300_000 })).not.toThrow();
    // The default window (5 min, as the pipeline's) applies when none is given.
    expect(() => new InMemoryReplayGuard({ retentionMs: 600_000 })).toThrow(RangeError);
  });
});

describe('requestFingerprint', () => {
  const msg = (mti: string, extra: Array<[number, FieldValue]> = []) => ({
    mti,
    fields: new Map<number, FieldValue>([[4, '000000001000'], [7, '1128081530'], [11, '000001'], [41, 'OPT00001'], [64, Buffer.alloc(8)], ...extra]),
  });
  it('ignores what changes between transmissions (DE 7, DE 53, MAC, repeat digit) and nothing else', () => {
    const base = requestFingerprint(msg('1220'), IFSF_PROFILE);
    expect(requestFingerprint(msg('1221', [[7, '1128090000'], [53, Buffer.from([0, 2])], [64, Buffer.alloc(8, 1)]]))).toBe(base);
    expect(requestFingerprint(msg('1220', [[4, '000000001001']]))).not.toBe(base);
    expect(requestFingerprint(msg('1420'))).not.toBe(base);
  });
  it('folds only the repeat MTIs', () => {
    expect(['1221', '1421', '1521', '1220', '1100', '1820'].map(foldRepeatMti)).toEqual(['1220', '1420', '1520', '1220', '1100', '1820']);
  });
});
