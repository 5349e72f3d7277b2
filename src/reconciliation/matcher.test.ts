import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StatementLine } from '../payments/index.js';
import { daysBetween, isPaid, itemEffect, lineState, matchStatement, type MatchOptions, type MatchResult, type PendingEntry, type PlatformPayment, type PlatformRefund } from './matcher.js';

const BILL = '2026-11-20';
const opts: MatchOptions = { channel: 'wechat', billDate: BILL, poolDays: 3 };

function line(over: Partial<StatementLine> & Pick<StatementLine, 'lineNo' | 'kind' | 'amount'>): StatementLine {
  return { channelTxnId: null, orderNo: null, refundNo: null, channelRefundId: null, feeMfen: 0, status: over.kind === 'payment' ? 'SUCCESS' : 'SUCCESS', occurredAt: null, raw: '', ...over };
}
const pay = (i: number, over: Partial<PlatformPayment> = {}): PlatformPayment => ({
  id: `o${String(i).padStart(4, '0')}`,
  orderNo: `P2026112000000000${String(i).padStart(3, '0')}`,
  channelTxnId: `T${i}`,
  amount: 10_000,
  status: 'credited',
  dayOffset: 0,
  seenElsewhere: false,
  ...over,
});
const refund = (i: number, over: Partial<PlatformRefund> = {}): PlatformRefund => ({
  id: `r${String(i).padStart(4, '0')}`,
  refundNo: `F2026112000000000${String(i).padStart(3, '0')}`,
  channelRefundId: `RT${i}`,
  orderId: null,
  orderNo: null,
  amount: 500,
  status: 'succeeded',
  dayOffset: 0,
  seenElsewhere: false,
  ...over,
});
const lineOf = (p: PlatformPayment, lineNo: number, over: Partial<StatementLine> = {}) =>
  line({ lineNo, kind: 'payment', amount: p.amount, channelTxnId: p.channelTxnId, orderNo: p.orderNo, ...over });
const refundLineOf = (r: PlatformRefund, lineNo: number, over: Partial<StatementLine> = {}) =>
  line({ lineNo, kind: 'refund', amount: r.amount, refundNo: r.refundNo, channelRefundId: r.channelRefundId, ...over });

// ── Generators ──────────────────────────────────────────────────────────────────────────────
const statusArb = fc.constantFrom<PlatformPayment['status']>('created', 'paying', 'paid', 'credited', 'closed', 'failed', 'refunded');
const paymentsArb = fc.array(fc.record({ status: statusArb, amount: fc.integer({ min: 1, max: 1_000_000 }), day: fc.constantFrom(-1, 0, 0, 0, 1), seen: fc.boolean() }), { maxLength: 25 }).map((xs) =>
  xs.map((x, i) =>
    pay(i, isPaid(x.status) ? { status: x.status, amount: x.amount, dayOffset: x.day, seenElsewhere: x.seen } : { status: x.status, amount: x.amount, dayOffset: null, channelTxnId: null }),
  ),
);
const refundStatusArb = fc.constantFrom<PlatformRefund['status']>('requested', 'processing', 'succeeded', 'failed');
const refundsArb = fc.array(fc.record({ status: refundStatusArb, amount: fc.integer({ min: 1, max: 100_000 }), day: fc.constantFrom(-1, 0, 0, 1), seen: fc.boolean() }), { maxLength: 10 }).map((xs) =>
  xs.map((x, i) => refund(i, { status: x.status, amount: x.amount, dayOffset: x.status === 'failed' ? null : x.day, seenElsewhere: x.seen })),
);

/** Lines drawn from the records (some altered, some repeated) and some the platform never saw. */
function scenarioArb() {
  return fc.tuple(paymentsArb, refundsArb).chain(([payments, refunds]) => {
    const fromPayment = payments.length
      ? fc.record({
          i: fc.integer({ min: 0, max: payments.length - 1 }),
          amountDelta: fc.constantFrom(0, 0, 0, 1, -1),
          byOrderNo: fc.boolean(),
          status: fc.constantFrom('SUCCESS', 'SUCCESS', 'SUCCESS', 'CLOSED'),
          otherTxn: fc.constantFrom(false, false, false, true),
        })
      : fc.constant(null);
    const fromRefund = refunds.length
      ? fc.record({ i: fc.integer({ min: 0, max: refunds.length - 1 }), amountDelta: fc.constantFrom(0, 0, 1), status: fc.constantFrom('SUCCESS', 'PROCESSING', 'ABNORMAL', 'CLOSED') })
      : fc.constant(null);
    return fc
      .record({
        pLines: fc.array(fromPayment, { maxLength: 30 }),
        rLines: fc.array(fromRefund, { maxLength: 10 }),
        strays: fc.array(fc.record({ kind: fc.constantFrom<'payment' | 'refund'>('payment', 'refund'), amount: fc.integer({ min: 1, max: 50_000 }) }), { maxLength: 5 }),
        pendingPick: fc.array(fc.record({ kind: fc.constantFrom<'payment' | 'refund'>('payment', 'refund'), i: fc.nat(40), age: fc.integer({ min: 0, max: 6 }) }), { maxLength: 8 }),
        lineNos: fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 60, maxLength: 60 }),
      })
      .map(({ pLines, rLines, strays, pendingPick, lineNos }) => {
        const lines: StatementLine[] = [];
        let n = 0;
        for (const x of pLines) {
          if (!x) continue;
          const p = payments[x.i]!;
          const txn = x.otherTxn ? `X${n}` : (p.channelTxnId ?? `U${p.id}`);
          lines.push(line({ lineNo: lineNos[n++]!, kind: 'payment', amount: Math.max(1, p.amount + x.amountDelta), channelTxnId: x.byOrderNo ? null : txn, orderNo: p.orderNo, status: x.status }));
        }
        for (const x of rLines) {
          if (!x) continue;
          const r = refunds[x.i]!;
          lines.push(line({ lineNo: lineNos[n++]!, kind: 'refund', amount: Math.max(1, r.amount + x.amountDelta), refundNo: r.refundNo, channelRefundId: r.channelRefundId, status: x.status }));
        }
        strays.forEach((s, k) =>
          lines.push(
            s.kind === 'payment'
              ? line({ lineNo: lineNos[n++]!, kind: 'payment', amount: s.amount, channelTxnId: `S${k}`, orderNo: `Q${k}` })
              : line({ lineNo: lineNos[n++]!, kind: 'refund', amount: s.amount, refundNo: `G${k}`, channelRefundId: `SR${k}` }),
          ),
        );
        const pending: PendingEntry[] = [];
        const seen = new Set<string>();
        for (const pp of pendingPick) {
          const list = pp.kind === 'payment' ? payments : refunds;
          if (list.length === 0) continue;
          const rec = list[pp.i % list.length]!;
          if (seen.has(`${pp.kind}:${rec.id}`)) continue;
          seen.add(`${pp.kind}:${rec.id}`);
          const d = new Date(Date.parse(`${BILL}T00:00:00Z`) - pp.age * 86_400_000).toISOString().slice(0, 10);
          pending.push({ kind: pp.kind, id: rec.id, firstSeen: d });
        }
        return { payments, refunds, lines, pending };
      });
  });
}

function expectedKeys(payments: PlatformPayment[], refunds: PlatformRefund[], pending: PendingEntry[]): Set<string> {
  const keys = new Set<string>();
  for (const p of payments) if (isPaid(p.status) && p.dayOffset === 0 && !p.seenElsewhere) keys.add(`payment:${p.id}`);
  for (const r of refunds) if (r.status !== 'failed' && r.dayOffset === 0 && !r.seenElsewhere) keys.add(`refund:${r.id}`);
  for (const e of pending) {
    const rec = e.kind === 'payment' ? payments.find((p) => p.id === e.id) : refunds.find((r) => r.id === e.id);
    if (rec && (e.kind === 'payment' ? isPaid(rec.status) : rec.status !== 'failed')) keys.add(`${e.kind}:${e.id}`);
  }
  return keys;
}

function places(result: MatchResult) {
  const lineCount = new Map<number, number>();
  const recordCount = new Map<string, number>();
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const m of result.matched) {
    bump(lineCount, m.lineNo);
    bump(recordCount, `${m.kind}:${m.recordId}`);
  }
  for (const it of result.items) {
    if (it.lineNo !== null) bump(lineCount, it.lineNo);
    if (it.owns) bump(recordCount, `${it.owns.kind}:${it.owns.id}`);
  }
  for (const e of [...result.pool.add, ...result.pool.keep]) bump(recordCount, `${e.kind}:${e.id}`);
  return { lineCount, recordCount };
}

describe('matchStatement (properties)', () => {
  it('puts every line and every expected or pooled record in exactly one place', () => {
    fc.assert(
      fc.property(scenarioArb(), ({ payments, refunds, lines, pending }) => {
        const r = matchStatement(lines, payments, refunds, pending, opts);
        const { lineCount, recordCount } = places(r);
        for (const l of lines) expect(lineCount.get(l.lineNo)).toBe(1);
        expect([...lineCount.keys()].sort()).toEqual(lines.map((l) => l.lineNo).sort());
        for (const k of expectedKeys(payments, refunds, pending)) expect(recordCount.get(k), k).toBe(1);
        for (const [, n] of recordCount) expect(n).toBe(1);
        // A pool entry either stays, is released, or never existed: not two of these.
        const poolKeys = [...r.pool.keep, ...r.pool.release].map((e) => `${e.kind}:${e.id}`);
        expect(new Set(poolKeys).size).toBe(poolKeys.length);
        for (const e of r.pool.add) expect(pending.some((p) => p.kind === e.kind && p.id === e.id)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('matches only equal amounts, and gives every discrepancy its own key', () => {
    fc.assert(
      fc.property(scenarioArb(), ({ payments, refunds, lines, pending }) => {
        const r = matchStatement(lines, payments, refunds, pending, opts);
        for (const m of r.matched) {
          const l = lines.find((x) => x.lineNo === m.lineNo)!;
          const rec = m.kind === 'payment' ? payments.find((p) => p.id === m.recordId)! : refunds.find((x) => x.id === m.recordId)!;
          expect(l.kind).toBe(m.kind);
          expect(l.amount).toBe(rec.amount);
        }
        const keys = r.items.map((i) => i.dedupeKey);
        expect(new Set(keys).size).toBe(keys.length);
        expect(r.totals.statementPaymentTotal + r.totals.statementRefundTotal).toBe(lines.reduce((s, l) => s + l.amount, 0));
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of its inputs', () => {
    fc.assert(
      fc.property(
        scenarioArb().chain((s) =>
          fc.record({
            s: fc.constant(s),
            lines: fc.shuffledSubarray(s.lines, { minLength: s.lines.length }),
            payments: fc.shuffledSubarray(s.payments, { minLength: s.payments.length }),
            refunds: fc.shuffledSubarray(s.refunds, { minLength: s.refunds.length }),
            pending: fc.shuffledSubarray(s.pending, { minLength: s.pending.length }),
          }),
        ),
        ({ s, lines, payments, refunds, pending }) => {
          expect(matchStatement(lines, payments, refunds, pending, opts)).toEqual(matchStatement(s.lines, s.payments, s.refunds, s.pending, opts));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds nothing to report in a statement that shows exactly the platform’s day', () => {
    fc.assert(
      fc.property(paymentsArb, refundsArb, fc.boolean(), (payments, refunds, withFees) => {
        const expP = payments.filter((p) => isPaid(p.status) && p.dayOffset === 0 && !p.seenElsewhere);
        const expR = refunds.filter((r) => r.status !== 'failed' && r.dayOffset === 0 && !r.seenElsewhere);
        const lines = [
          ...expP.map((p, i) => lineOf(p, i + 1, { feeMfen: withFees ? p.amount * 6 : 0 })),
          ...expR.map((r, i) => refundLineOf(r, expP.length + i + 1, { status: r.status === 'succeeded' ? 'SUCCESS' : 'PROCESSING' })),
        ];
        const r = matchStatement(lines, payments, refunds, [], { ...opts, feeRatePpm: withFees ? 6000 : null });
        expect(r.items).toEqual([]);
        expect(r.pool.add).toEqual([]);
        expect(r.totals.matched).toBe(lines.length);
        expect(r.totals.matchedCrossDay).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('matchStatement (cases)', () => {
  it('reports a line the platform never saw, and a payment the channel never showed only after the pool days', () => {
    const p = pay(1);
    const stray = line({ lineNo: 1, kind: 'payment', amount: 777, channelTxnId: 'STRAY', orderNo: 'ZZ' });
    const day0 = matchStatement([stray], [p], [], [], opts);
    expect(day0.items.map((i) => [i.code, i.suggestedAction, i.channelAmount])).toEqual([['CHANNEL_ONLY', 'investigate', 777]]);
    expect(day0.pool.add).toEqual([{ kind: 'payment', id: p.id, firstSeen: BILL }]);
    const later = (d: number) => new Date(Date.parse(`${BILL}T00:00:00Z`) + d * 86_400_000).toISOString().slice(0, 10);
    const pooled = [{ kind: 'payment' as const, id: p.id, firstSeen: BILL }];
    const moved = { ...p, dayOffset: -2 };
    expect(matchStatement([], [moved], [], pooled, { ...opts, billDate: later(2) }).pool.keep).toEqual(pooled);
    const reported = matchStatement([], [{ ...p, dayOffset: -3 }], [], pooled, { ...opts, billDate: later(3) });
    expect(reported.items.map((i) => [i.code, i.orderId, i.platformAmount, i.suggestedAction])).toEqual([['PLATFORM_ONLY', p.id, 10_000, 'investigate']]);
    expect(reported.pool.release).toEqual(pooled);
    expect(itemEffect(reported.items[0]!)).toBe(-10_000);
  });

  it('matches across midnight in both directions and empties the pool', () => {
    const late = pay(1, { dayOffset: -1 });
    const early = pay(2, { dayOffset: 1 });
    const r = matchStatement([lineOf(late, 1), lineOf(early, 2)], [late, early], [], [{ kind: 'payment', id: late.id, firstSeen: '2026-11-19' }], opts);
    expect(r.items).toEqual([]);
    expect(r.totals).toMatchObject({ matched: 2, matchedCrossDay: 2 });
    expect(r.pool.release).toEqual([{ kind: 'payment', id: late.id, firstSeen: '2026-11-19' }]);
  });

  it('tells amount, status and duplicate apart', () => {
    const a = pay(1);
    const closed = pay(2, { status: 'closed', channelTxnId: null, dayOffset: null });
    const b = pay(3);
    const lines = [
      lineOf(a, 1, { amount: 9_999 }),
      lineOf(closed, 2, { channelTxnId: 'LATE' }),
      lineOf(b, 3),
      lineOf(b, 4),
      lineOf(b, 5, { channelTxnId: 'SECOND' }),
    ];
    const r = matchStatement(lines, [a, closed, b], [], [], opts);
    expect(r.items.map((i) => [i.lineNo, i.code, i.suggestedAction, itemEffect(i)])).toEqual([
      [1, 'AMOUNT_DIFFERS', 'investigate', -1],
      [2, 'STATUS_DIFFERS', 'credit_card', 10_000],
      [4, 'DUPLICATE', 'refund', 10_000],
      [5, 'DUPLICATE', 'refund', 10_000],
    ]);
    expect(r.items[1]!.orderId).toBe(closed.id);
    expect(r.items[2]!.orderId).toBe(b.id);
    expect(r.totals.matched).toBe(1);
  });

  it('reports a credited payment the channel says failed, and the refund versions', () => {
    const a = pay(1);
    const r1 = refund(1, { orderId: a.id, orderNo: a.orderNo });
    const r2 = refund(2, { status: 'failed', dayOffset: null });
    const r3 = refund(3);
    const r = matchStatement(
      [lineOf(a, 1, { status: 'REVOKED' }), refundLineOf(r1, 2, { amount: 400 }), refundLineOf(r2, 3), refundLineOf(r3, 4), refundLineOf(r3, 5), line({ lineNo: 6, kind: 'refund', amount: 10, refundNo: 'F-unknown' })],
      [a],
      [r1, r2, r3],
      [],
      opts,
    );
    expect(r.items.map((i) => [i.lineNo, i.code, itemEffect(i)])).toEqual([
      [1, 'STATUS_DIFFERS', -10_000],
      [2, 'REFUND_AMOUNT_DIFFERS', 100],
      [3, 'REFUND_STATUS_DIFFERS', -500],
      [5, 'REFUND_DUPLICATE', -500],
      [6, 'REFUND_CHANNEL_ONLY', -10],
    ]);
    expect(r.items[1]!.orderId).toBe(a.id);
  });

  it('compares fees only against a configured rate', () => {
    const a = pay(1);
    const l = lineOf(a, 1, { feeMfen: 90_000 });
    expect(matchStatement([l], [a], [], [], opts).items).toEqual([]);
    const r = matchStatement([l], [a], [], [], { ...opts, feeRatePpm: 6000 });
    expect(r.items.map((i) => [i.code, i.feeDiffMfen, i.suggestedAction])).toEqual([['FEE_DIFFERS', 30_000, 'explain']]);
  });

  it('reads the channels’ status words', () => {
    expect(['SUCCESS', '交易', '00', 'TRADE_SUCCESS', 'REFUND', '收入'].map(lineState)).toEqual(Array(6).fill('success'));
    expect(['PROCESSING', 'ABNORMAL', 'CLOSED', '失败'].map(lineState)).toEqual(['processing', 'processing', 'failed', 'failed']);
    expect(daysBetween('2026-02-28', '2026-03-01')).toBe(1);
  });
});
