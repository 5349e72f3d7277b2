import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { balanceOf, expectLedgerOk, moneySnapshot, newCard, newStation, newTerminal, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { approvedSale, CLOSE_PATH, closeShift, reverse, saleRow, terminalGet, voidSale } from './reversals.fixtures.js';

/** Voids within the shift, shift close with declared against computed totals, and their races. */
let server: TestServer;
let stationId: number;
let anotherStation: { stationId: number; terminal: Terminal };

beforeAll(async () => {
  server = await startTestServer();
  const st = await newStation(server);
  stationId = st.stationId;
  anotherStation = await newStation(server);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const zero = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'].map((kind) => ({ kind, count: 0, amount: 0 }));
const total = (list: Array<{ kind: string; count: number; amount: number }>, kind: string) => list.find((x) => x.kind === kind)!;

describe('void (撤销) by the cashier', () => {
  it('voids an approved sale of the open shift: money back, status voided, audited, and refuses a second void', async () => {
    const t = await newTerminal(server, stationId);
    const cardNo = await newCard(server, { funds: 20_000 });
    const { saleId, ref } = await approvedSale(server, t, cardNo, 6_000);
    const v = await voidSale(server, t, saleId, { cashier: '王芳', reason: '顾客改用现金' });
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ saleId, status: 'voided', amount: 6_000 });
    expect(await balanceOf(server, cardNo)).toBe(20_000);
    expect((await saleRow(server, saleId)).status).toBe('voided');
    const audit = await sql<{ action: string; actor_role: string; details: any }>`select action, actor_role, details from audit_log where target_id = ${saleId}`.execute(server.db.db);
    expect(audit.rows).toEqual([expect.objectContaining({ action: 'sale.void', actor_role: 'terminal', details: expect.objectContaining({ cashier: '王芳', amount: 6_000 }) })]);
    const row = await sql<{ kind: string; reason: string; staff: string; note: string; original_ref: string }>`
      select kind, reason, staff, note, original_ref from sale_reversals where id = ${v.body.reversalId}`.execute(server.db.db);
    expect(row.rows[0]).toEqual({ kind: 'void', reason: 'cashier_void', staff: '王芳', note: '顾客改用现金', original_ref: ref });

    const before = await moneySnapshot(server.db.db);
    const again = await voidSale(server, t, saleId);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'SALE_NOT_VOIDABLE', details: { status: 'voided' } });
    // A reversal naming the voided sale answers with the void: the money went back once.
    const r = await reverse(server, t, ref);
    expect(r.body).toMatchObject({ reversalId: v.body.reversalId, target: 'sale', saleId, status: 'reversed', amount: 6_000 });
    expect(await moneySnapshot(server.db.db)).toEqual(before);
  });

  it('refuses another terminal’s sale (404), a declined or reversed sale (409), and a sale of a closed shift (409)', async () => {
    const t = await newTerminal(server, stationId);
    const cardNo = await newCard(server, { funds: 10_000 });
    const { saleId, ref } = await approvedSale(server, t, cardNo, 2_000);
    expect((await voidSale(server, anotherStation.terminal, saleId)).body.error.code).toBe('SALE_NOT_FOUND');
    expect((await voidSale(server, anotherStation.terminal, saleId)).status).toBe(404);
    expect((await voidSale(server, t, randomUUID())).status).toBe(404);

    const declined = await sell(server, t, saleBody(cardNo, 90_000), { idempotencyKey: randomUUID() });
    expect(declined.body.status).toBe('declined');
    const d = await voidSale(server, t, declined.body.saleId);
    expect(d.status).toBe(409);
    expect(d.body.error).toMatchObject({ code: 'SALE_NOT_VOIDABLE', details: { status: 'declined' } });

    await reverse(server, t, ref);
    expect((await voidSale(server, t, saleId)).body.error).toMatchObject({ code: 'SALE_NOT_VOIDABLE', details: { status: 'reversed' } });

    const old = await approvedSale(server, t, cardNo, 1_000);
    expect((await closeShift(server, t, [])).status).toBe(200);
    const late = await voidSale(server, t, old.saleId);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('VOID_OUTSIDE_SHIFT');
    expect((await saleRow(server, old.saleId)).status).toBe('approved');
    expect(await balanceOf(server, cardNo)).toBe(9_000);
  });

  it('refuses a bad body', async () => {
    const t = await newTerminal(server, stationId);
    const long = await voidSale(server, t, randomUUID(), { cashier: 'x'.repeat(41) });
    expect(long.status).toBe(400);
    const notUuid = await terminalPost(server, t, '/api/v1/pos/sales/123/void', {});
    expect(notUuid.status).toBe(400);
  });
});

describe('shift close (班结)', () => {
  it('shows the running totals, closes balanced when the terminal agrees, and opens the next shift', async () => {
    const t = await newTerminal(server, stationId);
    const cardNo = await newCard(server, { funds: 100_000 });
    const a = await approvedSale(server, t, cardNo, 5_000);
    await approvedSale(server, t, cardNo, 3_000);
    const c = await approvedSale(server, t, cardNo, 2_000);
    const v = await approvedSale(server, t, cardNo, 1_000);
    await reverse(server, t, c.ref);
    await voidSale(server, t, v.saleId);
    await sell(server, t, saleBody(cardNo, 500_000), { idempotencyKey: randomUUID() }); // declined: counts nowhere

    const current = await terminalGet(server, t, '/api/v1/pos/shifts/current');
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ terminalId: t.terminalId, stationId, shiftNo: 1, closedAt: null, balanced: null, declared: null });
    expect(total(current.body.computed, 'online')).toEqual({ kind: 'online', count: 2, amount: 8_000 });
    expect(total(current.body.computed, 'reversed')).toEqual({ kind: 'reversed', count: 1, amount: 2_000 });
    expect(total(current.body.computed, 'voided')).toEqual({ kind: 'voided', count: 1, amount: 1_000 });

    const declared = [
      { kind: 'online', count: 2, amount: 8_000 },
      { kind: 'reversed', count: 1, amount: 2_000 },
      { kind: 'voided', count: 1, amount: 1_000 },
    ];
    const close = await closeShift(server, t, declared, { cashier: '李雷', endOfDay: true });
    expect(close.status).toBe(200);
    expect(close.body).toMatchObject({
      shiftId: current.body.shiftId,
      shiftNo: 1,
      terminalId: t.terminalId,
      stationId,
      cashier: '李雷',
      endOfDay: true,
      differences: [],
      balanced: true,
      actionCode: '500',
      openAuthorisations: 0,
    });
    expect(close.body.closedAt).not.toBeNull();
    expect(close.body.businessDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(close.body.computed).toHaveLength(7);

    const next = await terminalGet(server, t, '/api/v1/pos/shifts/current');
    expect(next.body).toMatchObject({ shiftNo: 2, closedAt: null });
    expect(next.body.computed).toEqual(zero);
    // A sale after the close belongs to the next shift.
    const after = await approvedSale(server, t, cardNo, 700);
    expect((await saleRow(server, after.saleId)).shift_id).toBe(next.body.shiftId);
    expect((await saleRow(server, a.saleId)).shift_id).toBe(current.body.shiftId);
  });

  it('reports each difference, undeclared kinds counting as zero, out of balance (501)', async () => {
    const t = await newTerminal(server, stationId);
    const cardNo = await newCard(server, { funds: 50_000 });
    await approvedSale(server, t, cardNo, 4_000);
    const r = await approvedSale(server, t, cardNo, 1_500);
    await reverse(server, t, r.ref);
    const close = await closeShift(server, t, [{ kind: 'online', count: 2, amount: 5_500 }]);
    expect(close.status).toBe(200);
    expect(close.body.balanced).toBe(false);
    expect(close.body.actionCode).toBe('501');
    expect(close.body.differences).toEqual([
      { kind: 'online', declaredCount: 2, computedCount: 1, declaredAmount: 5_500, computedAmount: 4_000 },
      { kind: 'reversed', declaredCount: 0, computedCount: 1, declaredAmount: 0, computedAmount: 1_500 },
    ]);
    const detail = await server.api('GET', `/api/v1/shifts/${close.body.shiftId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ balanced: false, differences: close.body.differences, declared: [{ kind: 'online', count: 2, amount: 5_500 }] });
  });

  it('closes a shift with no transactions (all zeros), replays a retry with the same key, requires the key', async () => {
    const t = await newTerminal(server, stationId);
    const key = randomUUID();
    const first = await closeShift(server, t, [], {}, key);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ shiftNo: 1, balanced: true, differences: [] });
    expect(first.body.computed).toEqual(zero);
    const retry = await closeShift(server, t, [], {}, key);
    expect(retry.body).toEqual(first.body);
    const noKey = await closeShift(server, t, [], {}, null);
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    const second = await closeShift(server, t, []);
    expect(second.body.shiftNo).toBe(2);
  });

  it('refuses a kind declared twice, an unknown kind, a negative amount', async () => {
    const t = await newTerminal(server, stationId);
    const twice = await closeShift(server, t, [{ kind: 'online', count: 1, amount: 1 }, { kind: 'online', count: 1, amount: 1 }]);
    expect(twice.status).toBe(400);
    expect(twice.body.error).toMatchObject({ code: 'SHIFT_DECLARED_INVALID', details: { field: 'declared/1/kind' } });
    expect((await closeShift(server, t, [{ kind: 'cash', count: 1, amount: 1 }])).status).toBe(400);
    expect((await closeShift(server, t, [{ kind: 'online', count: 1, amount: -1 }])).status).toBe(400);
    expect((await terminalPost(server, t, CLOSE_PATH, { declared: [], cashier: 'x'.repeat(41) }, { idempotencyKey: randomUUID() })).status).toBe(400);
  });
});

describe('races with a close', () => {
  it('a void racing a close either happens in the shift or is refused VOID_OUTSIDE_SHIFT; the totals agree', async () => {
    const outcomes = { voidedInShift: 0, refused: 0 };
    for (let round = 0; round < 8; round++) {
      const t = await newTerminal(server, stationId);
      const cardNo = await newCard(server, { funds: 20_000 });
      const keep = await approvedSale(server, t, cardNo, 3_000);
      const target = await approvedSale(server, t, cardNo, 2_000);
      const [v, close] = await Promise.all([voidSale(server, t, target.saleId), closeShift(server, t, [{ kind: 'online', count: 2, amount: 5_000 }])]);
      expect(close.status).toBe(200);
      const status = (await saleRow(server, target.saleId)).status;
      if (v.status === 200) {
        // The void committed before the close took the shift: the close counted it.
        expect(status).toBe('voided');
        expect(total(close.body.computed, 'voided')).toEqual({ kind: 'voided', count: 1, amount: 2_000 });
        expect(total(close.body.computed, 'online')).toEqual({ kind: 'online', count: 1, amount: 3_000 });
        expect(close.body.balanced).toBe(false);
        expect(await balanceOf(server, cardNo)).toBe(17_000);
        outcomes.voidedInShift++;
      } else {
        expect(v.status).toBe(409);
        expect(v.body.error.code).toBe('VOID_OUTSIDE_SHIFT');
        expect(status).toBe('approved');
        expect(total(close.body.computed, 'voided')).toEqual({ kind: 'voided', count: 0, amount: 0 });
        expect(close.body.balanced).toBe(true);
        expect(await balanceOf(server, cardNo)).toBe(15_000);
        outcomes.refused++;
      }
      // What the close stored is what the shift holds now: nothing changed it after the close.
      const stored = await server.api('GET', `/api/v1/shifts/${close.body.shiftId}`);
      const live = await sql<{ voided: number; online: number }>`select count(*) filter (where status = 'voided')::int as voided,
          count(*) filter (where status = 'approved')::int as online from sales where shift_id = ${close.body.shiftId}`.execute(server.db.db);
      expect(total(stored.body.computed, 'voided').count).toBe(live.rows[0]!.voided);
      expect(total(stored.body.computed, 'online').count).toBe(live.rows[0]!.online);
      expect((await saleRow(server, keep.saleId)).shift_id).toBe(close.body.shiftId);
    }
    expect(outcomes.voidedInShift + outcomes.refused).toBe(8);
  });

  it('a sale in flight during a close lands in exactly one shift, and that shift’s totals count it', async () => {
    for (let round = 0; round < 8; round++) {
      const t = await newTerminal(server, stationId);
      const cardNo = await newCard(server, { funds: 50_000 });
      await approvedSale(server, t, cardNo, 1_000);
      const sales = Array.from({ length: 3 }, () => sell(server, t, saleBody(cardNo, 2_000), { idempotencyKey: randomUUID() }));
      const [close, ...sold] = await Promise.all([closeShift(server, t, []), ...sales]);
      expect(close.status).toBe(200);
      let inClosed = 0;
      for (const s of sold) {
        expect(s.body.status).toBe('approved');
        const row = await saleRow(server, s.body.saleId);
        expect(row.shift_id).not.toBeNull();
        if (row.shift_id === close.body.shiftId) inClosed++;
      }
      // The closed shift's stored totals hold exactly the sales that landed in it.
      expect(total(close.body.computed, 'online')).toEqual({ kind: 'online', count: 1 + inClosed, amount: 1_000 + 2_000 * inClosed });
      const next = await terminalGet(server, t, '/api/v1/pos/shifts/current');
      expect(next.body.shiftId).not.toBe(close.body.shiftId);
      expect(total(next.body.computed, 'online')).toEqual({ kind: 'online', count: 3 - inClosed, amount: 2_000 * (3 - inClosed) });
      const open = await sql<{ n: number }>`select count(*)::int as n from terminal_shifts where terminal_id = ${t.terminalId} and closed_at is null`.execute(server.db.db);
      expect(open.rows[0]!.n).toBe(1);
      expect(await balanceOf(server, cardNo)).toBe(50_000 - 1_000 - 6_000);
    }
  });
});

describe('staff views of shifts', () => {
  it('lists shifts newest first with filters and paging, and hides other stations from station staff', async () => {
    const t = await newTerminal(server, stationId);
    await closeShift(server, t, []);
    await closeShift(server, t, [{ kind: 'online', count: 1, amount: 1 }]);
    const list = await server.api('GET', `/api/v1/shifts?terminalId=${t.terminalId}&limit=1`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ terminalId: t.terminalId, shiftNo: 2, balanced: false, differenceCount: 1 });
    const page2 = await server.api('GET', `/api/v1/shifts?terminalId=${t.terminalId}&limit=1&cursor=${list.body.nextCursor}`);
    expect(page2.body.items[0]).toMatchObject({ shiftNo: 1, balanced: true });
    const day = list.body.items[0].businessDay;
    const byDay = await server.api('GET', `/api/v1/shifts?stationId=${stationId}&day=${day}&limit=100`);
    expect(byDay.body.items.length).toBeGreaterThanOrEqual(2);
    expect(byDay.body.items.every((s: any) => s.businessDay === day && s.stationId === stationId)).toBe(true);
    expect((await server.api('GET', '/api/v1/shifts/999999999')).status).toBe(404);
    expect((await server.api('GET', '/api/v1/shifts?day=2026-02-30')).status).toBe(400);

    // Station staff bound to the other station.
    const staff = await server.api('POST', '/api/v1/staff', { body: { username: `ss${Date.now()}`, password: 'staff-test-password', role: 'station_staff', stationId: anotherStation.stationId } });
    expect(staff.status).toBe(201);
    const login = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: staff.body.username, password: 'staff-test-password' } });
    const token = login.body.token as string;
    expect((await server.api('GET', `/api/v1/shifts?stationId=${stationId}`, { token })).status).toBe(403);
    const own = await server.api('GET', '/api/v1/shifts', { token });
    expect(own.body.items.every((s: any) => s.stationId === anotherStation.stationId)).toBe(true);
    expect((await server.api('GET', `/api/v1/shifts/${list.body.items[0].shiftId}`, { token })).status).toBe(404);
  });
});
