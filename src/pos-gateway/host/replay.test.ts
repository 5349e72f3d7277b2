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

  it('forgets answered entries after the retention and keeps at most maxEntries answered ones', async () => {
    const g = new InMemoryReplayGuard({ retentionMs: 1000, maxEntries: 2 });
    await g.begin(key('1'), 'f', t0);
    await g.complete(key('1'), 'f', Buffer.from('a'), t0);
    expect((await g.begin(key('1'), 'f', at(999))).kind).toBe('duplicate');
    expect((await g.begin(key('1'), 'f', at(1001))).kind).toBe('new');
    for (const s of ['2', '3', '4']) {
      await g.begin(key(s), 'f', at(1002));
      await g.complete(key(s), 'f', Buffer.from(s), at(1002));
    }
    expect(g.size).toBe(2);
    // The entry in progress survived the full store; the oldest answered ones went.
    expect(await g.begin(key('1'), 'f', at(1003))).toEqual({ kind: 'in-progress' });
    expect((await g.begin(key('4'), 'f', at(1003))).kind).toBe('duplicate');
  });

  it('refuses a retention that a replay inside the time window could outlive', () => {
    expect(() => new InMemoryReplayGuard({ retentionMs: 600_000, skewWindowMs: 300_000 })).toThrow(RangeError);
    expect(() => new InMemoryReplayGuard({ retentionMs: 600_001, skewWindowMs: 300_000 })).not.toThrow();
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
