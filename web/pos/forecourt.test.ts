import { describe, expect, it } from 'vitest';
import { applyHotlist, applyWhitelist, businessDayOf, decideOffline, offlineApprovalCode, PARAMS_MAX_AGE_MS, type OfflineParams } from './offlineRules';
import {
  addOfflineSale,
  addReversal,
  applyBatchAnswer,
  batchBody,
  dropReversal,
  emptyJournal,
  nextSeq,
  offlineSpent,
  parseJournal,
  pendingSales,
  prepareBatch,
  type JournalState,
} from './journal';
import { compareRows, declaredTotals, markStatus, recordEntry, voidable, type ShiftEntry } from './shiftTotals';

const NOW = Date.parse('2026-03-01T04:00:00Z'); // 12:00 in Shanghai
/** The seq a sale at NOW gets (seconds since the journal's epoch). */
const S = Math.floor((NOW - Date.UTC(2025, 0, 1)) / 1000);
const CARD = '9000016144730152666';
const params = (over: Partial<OfflineParams> = {}): OfflineParams => ({
  floorSale: 20000,
  floorDay: 50000,
  hotlistVersion: 100,
  hotlist: ['9000010000000000001'],
  whitelist: {},
  whitelistVersion: null,
  fetchedAt: new Date(NOW - 60_000).toISOString(),
  ...over,
});

describe('offline decision', () => {
  it('approves within the floors and refuses without fresh parameters', () => {
    expect(decideOffline(params(), { cardNo: CARD, amount: 20000 }, 0, NOW)).toMatchObject({ ok: true, floorSale: 20000, whitelisted: false });
    expect(decideOffline(null, { cardNo: CARD, amount: 1 }, 0, NOW)).toEqual({ ok: false, code: 'NO_PARAMS' });
    const old = params({ fetchedAt: new Date(NOW - PARAMS_MAX_AGE_MS - 1).toISOString() });
    expect(decideOffline(old, { cardNo: CARD, amount: 1 }, 0, NOW)).toEqual({ ok: false, code: 'PARAMS_STALE' });
  });

  it('refuses a hot-listed card even when it is whitelisted', () => {
    const p = params({ whitelist: { '9000010000000000001': { floorSale: 100000, floorDay: 100000 } } });
    expect(decideOffline(p, { cardNo: '9000010000000000001', amount: 100 }, 0, NOW)).toEqual({ ok: false, code: 'HOT_CARD' });
  });

  it('refuses over the per-sale floor and over the day floor counting what was already approved', () => {
    expect(decideOffline(params(), { cardNo: CARD, amount: 20001 }, 0, NOW)).toMatchObject({ ok: false, code: 'OVER_FLOOR_SALE' });
    expect(decideOffline(params(), { cardNo: CARD, amount: 10000 }, 40000, NOW)).toMatchObject({ ok: true });
    expect(decideOffline(params(), { cardNo: CARD, amount: 10001 }, 40000, NOW)).toMatchObject({ ok: false, code: 'OVER_FLOOR_DAY', spentToday: 40000 });
  });

  it("uses a whitelisted card's own floors", () => {
    const p = params({ whitelist: { [CARD]: { floorSale: 80000, floorDay: 150000 } } });
    expect(decideOffline(p, { cardNo: CARD, amount: 80000 }, 0, NOW)).toMatchObject({ ok: true, whitelisted: true, floorSale: 80000 });
    expect(decideOffline(p, { cardNo: CARD, amount: 80001 }, 0, NOW)).toMatchObject({ ok: false, code: 'OVER_FLOOR_SALE' });
    expect(decideOffline(p, { cardNo: CARD, amount: 80000 }, 70001, NOW)).toMatchObject({ ok: false, code: 'OVER_FLOOR_DAY' });
  });

  it('applies hot-list and whitelist deltas, repeated deltas changing nothing', () => {
    const full = applyHotlist(['x'], { version: 1, full: true, cards: ['a', 'b', 'a'] });
    expect(full.sort()).toEqual(['a', 'b']);
    const delta = { version: 2, full: false as const, added: ['c'], removed: ['a'] };
    const once = applyHotlist(full, delta);
    expect(once.sort()).toEqual(['b', 'c']);
    expect(applyHotlist(once, delta).sort()).toEqual(['b', 'c']);

    const wl = applyWhitelist({ old: { floorSale: 1, floorDay: 1 } }, { version: 5, full: true, items: [{ cardNo: 'a', floorSale: 5, floorDay: 9, listed: true }] });
    expect(wl).toEqual({ a: { floorSale: 5, floorDay: 9 } });
    expect(applyWhitelist(wl, { version: 6, full: false, items: [{ cardNo: 'a', floorSale: 0, floorDay: 0, listed: false }, { cardNo: 'b', floorSale: 2, floorDay: 3, listed: true }] })).toEqual({
      b: { floorSale: 2, floorDay: 3 },
    });
  });

  it('counts business days in China Standard Time and makes six-digit approval codes', () => {
    expect(businessDayOf('2026-02-28T16:00:00Z')).toBe('2026-03-01');
    expect(businessDayOf('2026-02-28T15:59:59Z')).toBe('2026-02-28');
    expect(offlineApprovalCode(() => 0.000042)).toBe('000042');
    expect(offlineApprovalCode(() => 0.9999999)).toMatch(/^\d{6}$/);
  });
});

function sale(j: JournalState, amount: number, at = NOW, cardNo = CARD): JournalState {
  const seq = nextSeq(j, at);
  return addOfflineSale(j, { seq, cardNo, grade: '92#', gradeName: '92号汽油', volumeMl: amount * 10, unitPrice: 100, amount, nozzle: 1, occurredAt: new Date(at).toISOString(), approvalCode: '123456' });
}

describe('offline journal', () => {
  it('numbers sales upwards, never below the clock nor repeating one', () => {
    let j = emptyJournal('T00000001');
    expect(nextSeq(j, NOW)).toBe(S);
    expect(S).toBeLessThan(2 ** 31);
    j = sale(j, 100);
    expect(nextSeq(j, NOW)).toBe(S + 1);
    // The clock went back: the seq still grows; a wiped journal starts past every seq used before.
    expect(nextSeq(j, NOW - 5000)).toBe(S + 1);
    expect(nextSeq(emptyJournal('T1'), NOW + 60_000)).toBe(S + 60);
    expect(() => addOfflineSale(j, { ...j.sales[0]!, seq: S })).toThrow();
  });

  it('sums what a card spent offline on the business day, leaving out rejected sales', () => {
    let j = sale(sale(emptyJournal('T1'), 100), 250);
    j = sale(j, 999, NOW, '9000010000000000002');
    j = sale(j, 50, NOW + 86_400_000); // the next day
    expect(offlineSpent(j, CARD, '2026-03-01')).toBe(350);
    const { state, batch } = prepareBatch(j, 100)!;
    j = applyBatchAnswer(state, {
      batchId: 'b',
      batchNo: batch.batchNo,
      replayed: false,
      summary: { received: 4, posted: 3, duplicates: 0, rejected: 1, forced: 0, stationLiability: 0 },
      results: [{ seq: j.sales[0]!.seq, status: 'rejected', code: 'X' }],
    });
    expect(offlineSpent(j, CARD, '2026-03-01')).toBe(250);
  });

  it('keeps an unanswered batch and sends it again unchanged', () => {
    let j = sale(sale(emptyJournal('T1'), 100), 200);
    const first = prepareBatch(j, 7)!;
    j = first.state;
    expect(first.batch).toEqual({ batchNo: `B${S}-2`, seqs: [S, S + 1], hotlistVersion: 7 });
    // A sale made while the first attempt was out does not join that batch.
    j = sale(j, 300);
    const again = prepareBatch(j, 9)!;
    expect(again.batch).toEqual(first.batch);
    const body = batchBody(j, again.batch);
    expect(body).toMatchObject({ batchNo: first.batch.batchNo, hotlistVersion: 7 });
    expect(body.sales.map((s) => s.amount)).toEqual([100, 200]);
    expect(Object.keys(body.sales[0]!).sort()).toEqual(['amount', 'approvalCode', 'cardNo', 'grade', 'nozzle', 'occurredAt', 'seq', 'unitPrice', 'volumeMl']);
  });

  it('records the answer, leaves unmentioned sales pending and opens the next batch with them', () => {
    let j = sale(sale(sale(emptyJournal('T1'), 100), 200), 300);
    const p = prepareBatch(j, null, 2)!;
    j = p.state;
    expect(batchBody(j, p.batch)).not.toHaveProperty('hotlistVersion');
    j = applyBatchAnswer(j, {
      batchId: 'b1',
      batchNo: p.batch.batchNo,
      replayed: false,
      summary: { received: 2, posted: 1, duplicates: 1, rejected: 0, forced: 1, stationLiability: 0 },
      results: [
        { seq: S, status: 'posted', saleId: 's1', forced: true, flags: ['offline_overdraft'] },
        { seq: S + 1, status: 'duplicate', saleId: 's2' },
      ],
    });
    expect(j.openBatch).toBeNull();
    expect(j.sales.map((s) => s.status)).toEqual(['posted', 'duplicate', 'pending']);
    expect(j.sales[0]).toMatchObject({ saleId: 's1', forced: true, flags: ['offline_overdraft'] });
    expect(pendingSales(j)).toHaveLength(1);
    expect(prepareBatch(j, null)!.batch).toEqual({ batchNo: `B${S + 2}-1`, seqs: [S + 2], hotlistVersion: null });
    const done = prepareBatch(j, null)!;
    const closed = applyBatchAnswer(done.state, { ...emptyAnswer(done.batch.batchNo), results: [{ seq: S + 2, status: 'posted', saleId: 's3' }] });
    expect(prepareBatch(closed, null)).toBeNull();
  });

  it('keeps pending reversals once each and survives storage round trips', () => {
    let j = addReversal(emptyJournal('T1'), { originalRef: 'k1', reason: 'timeout', at: 'x' });
    j = addReversal(j, { originalRef: 'k1', reason: 'timeout', at: 'y' });
    expect(j.reversals).toHaveLength(1);
    j = sale(j, 100);
    expect(parseJournal(JSON.stringify(j), 'T1')).toEqual(j);
    expect(parseJournal(JSON.stringify(j), 'T2')).toEqual(emptyJournal('T2'));
    expect(parseJournal('{oops', 'T1')).toEqual(emptyJournal('T1'));
    expect(dropReversal(j, 'k1').reversals).toEqual([]);
  });
});

function emptyAnswer(batchNo: string) {
  return { batchId: 'x', batchNo, replayed: false, summary: { received: 0, posted: 0, duplicates: 0, rejected: 0, forced: 0, stationLiability: 0 }, results: [] };
}

describe('shift totals', () => {
  const entry = (over: Partial<ShiftEntry>): ShiftEntry => ({ ref: 'r', flow: 'online', status: 'approved', amount: 0, goodsAmount: 0, cardNo: CARD, at: '', label: '', ...over });

  it('declares approved sales by flow, voided and reversed by status, and goods inside approved sales', () => {
    let e: ShiftEntry[] = [];
    e = recordEntry(e, entry({ ref: 'a', saleId: 'A', amount: 22500 }));
    e = recordEntry(e, entry({ ref: 'b', saleId: 'B', amount: 10000 }));
    e = recordEntry(e, entry({ ref: 'c', saleId: 'C', flow: 'postpay', amount: 31500, goodsAmount: 1500 }));
    e = recordEntry(e, entry({ ref: 'd', saleId: 'D', flow: 'completion', amount: 6000 }));
    e = recordEntry(e, entry({ ref: 'offline:1', flow: 'offline', amount: 8000 }));
    // A retry's answer replaces the entry rather than counting twice.
    e = recordEntry(e, entry({ ref: 'a', saleId: 'A', amount: 22500 }));
    e = markStatus(e, 'B', 'voided');
    e = markStatus(e, 'D', 'reversed');
    expect(declaredTotals(e)).toEqual([
      { kind: 'online', count: 1, amount: 22500 },
      { kind: 'completion', count: 0, amount: 0 },
      { kind: 'postpay', count: 1, amount: 31500 },
      { kind: 'offline', count: 1, amount: 8000 },
      { kind: 'voided', count: 1, amount: 10000 },
      { kind: 'reversed', count: 1, amount: 6000 },
      { kind: 'goods', count: 1, amount: 1500 },
    ]);
    expect(e.filter(voidable).map((x) => x.ref)).toEqual(['a', 'c']);
  });

  it('compares declared with computed, kind by kind', () => {
    const rows = compareRows(
      [{ kind: 'online', count: 2, amount: 300 }, { kind: 'voided', count: 0, amount: 0 }],
      [{ kind: 'online', count: 2, amount: 300 }, { kind: 'offline', count: 1, amount: 50 }],
    );
    expect(rows).toEqual([
      { kind: 'online', declaredCount: 2, computedCount: 2, declaredAmount: 300, computedAmount: 300, agrees: true },
      { kind: 'offline', declaredCount: 0, computedCount: 1, declaredAmount: 0, computedAmount: 50, agrees: false },
      { kind: 'voided', declaredCount: 0, computedCount: 0, declaredAmount: 0, computedAmount: 0, agrees: true },
    ]);
  });
});

describe('goods cart', () => {
  it('adds, caps and removes lines and totals at catalogue prices', async () => {
    const { setQuantity, cartLines, cartTotal, MAX_LINES } = await import('./cart');
    let c = setQuantity({}, 'WATER', 2);
    c = setQuantity(c, 'COLA', 1000);
    expect(cartLines(c)).toEqual([{ sku: 'WATER', quantity: 2 }, { sku: 'COLA', quantity: 999 }]);
    expect(cartTotal(c, [{ sku: 'WATER', unitPrice: 300 }, { sku: 'COLA', unitPrice: 350 }])).toBe(600 + 999 * 350);
    expect(cartLines(setQuantity(c, 'COLA', 0))).toEqual([{ sku: 'WATER', quantity: 2 }]);
    let full = {};
    for (let i = 0; i < MAX_LINES; i++) full = setQuantity(full, `S${i}`, 1);
    expect(setQuantity(full, 'ONE_MORE', 1)).toBe(full);
  });
});
