import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import {
  balanceOf,
  card,
  expectLedgerOk,
  metricValue,
  moneySnapshot,
  newCard,
  newStation,
  newTerminal,
  PIN,
  recharge,
  SALE_PATH,
  saleBody,
  sell,
  type Terminal,
} from '../../test/support/fuel.js';
import { CARD_DECLINES, luhnCheckDigit } from '../cards/index.js';
import { SALE_DECLINES } from './sales.errors.js';
import { silenceRisk } from './sale-risk.testkit.js';

/**
 * Sale authorisation end to end: signed terminal requests over HTTP against a real
 * PostgreSQL. Cards are issued pending (FUELCARD_NEW_CARD_STATUS=pending) so the
 * "not active" decline can be produced honestly; the factories activate the others.
 */
let server: TestServer;
let terminal: Terminal;
let stationId: number;

beforeAll(async () => {
  server = await startTestServer({ FUELCARD_NEW_CARD_STATUS: 'pending' });
  const st = await newStation(server);
  terminal = st.terminal;
  stationId = st.stationId;
});
afterAll(async () => server?.close());
// Every test here moves (or must not move) money: the invariants hold after each.
afterEach(async () => expectLedgerOk(server));

const DECLINE_ISO: Record<string, string> = Object.fromEntries(
  [...Object.entries(CARD_DECLINES), ...Object.entries(SALE_DECLINES)].map(([code, spec]) => [code, spec.iso]),
);

async function outboxFor(saleId: string) {
  const r = await sql<{ topic: string; aggregate_id: string; payload: Record<string, unknown> }>`
    select topic, aggregate_id, payload from outbox_events where aggregate_id = ${saleId}`.execute(server.db.db);
  return r.rows;
}

async function salesRowsFor(cardNo: string) {
  const r = await sql<{ id: string; status: string; amount: number }>`
    select s.id, s.status, s.amount from sales s join cards c on c.id = s.card_id where c.card_no = ${cardNo}`.execute(server.db.db);
  return r.rows;
}

describe('approval', () => {
  it('approves, debits the card, records the sale and its outbox event in one go', async () => {
    const cardNo = await newCard(server, { funds: 20_000 });
    const before = await moneySnapshot(server.db.db);
    const body = saleBody(cardNo, 3_000, { grade: '95#', unitPrice: 750, volumeMl: 4_000, nozzle: 7 });
    const r = await sell(server, terminal, body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'approved', actionCode: '000', amount: 3_000, balance: 17_000 });
    expect(r.body.approvalCode).toMatch(/^\d{6}$/);
    expect(r.body.declineCode).toBeUndefined();
    expect(r.body.saleId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await balanceOf(server, cardNo)).toBe(17_000);

    const after = await moneySnapshot(server.db.db);
    expect(after.transfers - before.transfers).toBe(1);
    expect(after.transferSum - before.transferSum).toBe(3_000);

    const c = await card(server, cardNo);
    const rec = await server.api('GET', `/api/v1/sales/${r.body.saleId}`);
    expect(rec.status).toBe(200);
    expect(rec.body).toMatchObject({
      saleId: r.body.saleId,
      stationId,
      terminalId: terminal.terminalId,
      nozzle: 7,
      grade: '95#',
      volumeMl: 4_000,
      unitPrice: 750,
      amount: 3_000,
      status: 'approved',
      approvalCode: r.body.approvalCode,
      declineCode: null,
      balanceAfter: 17_000,
    });
    // In full for roles that may see card numbers (as in the sales list), masked for the others.
    expect(rec.body.cardNo).toBe(cardNo);
    const masked = await server.api('GET', `/api/v1/sales/${r.body.saleId}`, { role: 'finance' });
    expect(masked.body.cardNo).toBe(`${cardNo.slice(0, 6)}*********${cardNo.slice(-4)}`);
    expect(rec.body.transfers).toEqual([{ transferId: expect.any(String), accountId: c.accounts[0]!.accountId, amount: 3_000 }]);
    expect(Math.abs(Date.parse(rec.body.createdAt) - Date.now())).toBeLessThan(60_000);
    expect(rec.body.businessDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    // The transfer the record names exists and moved the money to the station.
    const t = await sql<{ debit_account_id: number; credit_account_id: number; amount: number }>`
      select debit_account_id, credit_account_id, amount from ledger_transfers where id = ${rec.body.transfers[0].transferId}`.execute(server.db.db);
    expect(t.rows).toEqual([{ debit_account_id: c.accounts[0]!.accountId, credit_account_id: expect.any(Number), amount: 3_000 }]);

    const events = await outboxFor(r.body.saleId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ topic: 'sale.approved', payload: { saleId: r.body.saleId, stationId, terminalId: terminal.terminalId, amount: 3_000 } });
  });

  it('spends linked accounts in priority order and names each account used', async () => {
    const master = await newCard(server, { kind: 'master', funds: 1_000 });
    const sub = await newCard(server, { kind: 'sub', masterCardNo: master, sharedBalance: true });
    // Sub card's own account first (300), then the shared master reserve.
    const alloc = await server.api('POST', `/api/v1/cards/${master}/allocations`, { body: { subCardNo: sub, amount: 300 }, idempotencyKey: randomUUID() });
    expect(alloc.status).toBe(201);
    const view = await card(server, sub);
    const [own, shared] = [...(view.accounts as Array<{ accountId: number; priority: number }>)].sort((a, b) => a.priority - b.priority);

    const r = await sell(server, terminal, saleBody(sub, 800));
    expect(r.body).toMatchObject({ status: 'approved', balance: 200 });
    const rec = await server.api('GET', `/api/v1/sales/${r.body.saleId}`);
    expect(rec.body.transfers).toEqual([
      { transferId: expect.any(String), accountId: own!.accountId, amount: 300 },
      { transferId: expect.any(String), accountId: shared!.accountId, amount: 500 },
    ]);
    expect(rec.body.balanceAfter).toBe(200);
    expect(await balanceOf(server, master)).toBe(200);
  });

  it('approves a sale that spends the balance to exactly zero', async () => {
    const cardNo = await newCard(server, { funds: 1_000 });
    const r = await sell(server, terminal, saleBody(cardNo, 1_000));
    expect(r.body).toMatchObject({ status: 'approved', balance: 0 });
    expect(await balanceOf(server, cardNo)).toBe(0);
  });
});

describe('declines move no money', () => {
  type Setup = { cardNo: string; body?: Partial<ReturnType<typeof saleBody>>; amount?: number };
  const unknownCardNo = () => {
    const body = `900001${String(Date.now()).slice(-12)}`;
    return body + String(luhnCheckDigit(body));
  };
  const op = async (cardNo: string, action: string, body?: unknown) => {
    const r = await server.api('POST', `/api/v1/cards/${cardNo}/${action}`, { body: body ?? {} });
    expect(r.status, `${action}: ${JSON.stringify(r.body)}`).toBe(200);
    return r.body;
  };
  const limits = async (cardNo: string, body: unknown) => {
    const r = await server.api('PUT', `/api/v1/cards/${cardNo}/limits`, { body });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  };

  const cases: Array<[string, () => Promise<Setup>]> = [
    ['CARD_UNKNOWN', async () => ({ cardNo: unknownCardNo() })],
    ['CARD_UNKNOWN', async () => ({ cardNo: '9000010000000000001' })], // fails the Luhn check
    [
      'CARD_NOT_ACTIVE',
      async () => {
        const r = await server.api('POST', '/api/v1/cards', { body: { kind: 'anonymous', pin: PIN } });
        expect(r.body.status).toBe('pending');
        await recharge(server, r.body.cardNo, 5_000);
        return { cardNo: r.body.cardNo };
      },
    ],
    [
      'CARD_FROZEN',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await op(cardNo, 'freeze');
        return { cardNo };
      },
    ],
    [
      'CARD_LOST',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await op(cardNo, 'report-loss');
        return { cardNo };
      },
    ],
    [
      'CARD_CLOSED',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await op(cardNo, 'close', { refundMethod: 'cash' });
        return { cardNo };
      },
    ],
    [
      'CARD_REPLACED',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await op(cardNo, 'replace');
        return { cardNo };
      },
    ],
    ['CARD_NOT_FOR_SALE', async () => ({ cardNo: await newCard(server, { kind: 'master', funds: 5_000 }) })],
    ['PIN_WRONG', async () => ({ cardNo: await newCard(server, { funds: 5_000 }), body: { pin: '654321' } })],
    [
      'PIN_TRIES_EXCEEDED',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        // The first two wrong PINs are PIN_WRONG; the third locks the card's PIN.
        for (const expected of ['PIN_WRONG', 'PIN_WRONG', 'PIN_TRIES_EXCEEDED']) {
          const r = await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '000000' }));
          expect(r.body).toMatchObject({ status: 'declined', declineCode: expected });
        }
        // Locked: even the right PIN is refused now.
        return { cardNo };
      },
    ],
    [
      'GRADE_NOT_ALLOWED',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await limits(cardNo, { allowedGrades: ['0#', '95#'] });
        return { cardNo, body: { grade: '92#' } };
      },
    ],
    [
      'LIMIT_SALE_AMOUNT',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await limits(cardNo, { saleAmount: 999 });
        return { cardNo };
      },
    ],
    [
      'LIMIT_DAY_FILLS',
      async () => {
        const cardNo = await newCard(server, { funds: 5_000 });
        await limits(cardNo, { dayFills: 1 });
        expect((await sell(server, terminal, saleBody(cardNo, 1_000))).body.status).toBe('approved');
        return { cardNo };
      },
    ],
    ['INSUFFICIENT_FUNDS', async () => ({ cardNo: await newCard(server, { funds: 999 }) })],
    ['INSUFFICIENT_FUNDS', async () => ({ cardNo: await newCard(server, { kind: 'anonymous' }) })],
  ];

  it.each(cases)('%s is a 200 decline with its action code, recorded, with no money moved', async (code, setup) => {
    const s = await setup();
    const balanceBefore = code === 'CARD_UNKNOWN' ? null : await balanceOf(server, s.cardNo);
    const before = await moneySnapshot(server.db.db);
    const r = await sell(server, terminal, saleBody(s.cardNo, s.amount ?? 1_000, s.body));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'declined', declineCode: code, actionCode: DECLINE_ISO[code], amount: s.amount ?? 1_000 });
    expect(r.body.actionCode).not.toBe('000');
    expect(r.body.approvalCode).toBeUndefined();

    expect(await moneySnapshot(server.db.db)).toEqual(before);
    if (balanceBefore !== null) expect(await balanceOf(server, s.cardNo)).toBe(balanceBefore);

    const rec = await server.api('GET', `/api/v1/sales/${r.body.saleId}`);
    expect(rec.status).toBe(200);
    expect(rec.body).toMatchObject({ status: 'declined', declineCode: code, approvalCode: null, transfers: [], terminalId: terminal.terminalId, stationId });
    expect((await outboxFor(r.body.saleId)).map((e) => e.topic)).toEqual(['sale.declined']);
  });

  it('a wrong PIN does not reveal the balance; a limit decline does', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    expect((await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '111111' }))).body.balance).toBeNull();
    await limits(cardNo, { saleAmount: 500 });
    expect((await sell(server, terminal, saleBody(cardNo, 1_000))).body).toMatchObject({ declineCode: 'LIMIT_SALE_AMOUNT', balance: 5_000 });
  });

  it('a locked PIN stays locked for the right PIN; a reset unlocks it', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    for (let i = 0; i < 3; i++) await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '000000' }));
    expect((await sell(server, terminal, saleBody(cardNo, 1_000))).body.declineCode).toBe('PIN_TRIES_EXCEEDED');
    expect(await balanceOf(server, cardNo)).toBe(5_000);
    expect((await server.api('POST', `/api/v1/cards/${cardNo}/pin/reset`, { body: { newPin: '246810' } })).status).toBe(204);
    // Four PIN declines in a minute are card testing to the risk engine (freeze): the staff who reset
    // the PIN after checking the holder silences it, as a reviewer would (docs/risk-sale-path.md).
    await silenceRisk(server, cardNo, ['card_testing', 'velocity_declines'], 'PIN reset at the counter after an ID check');
    expect((await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '246810' }))).body).toMatchObject({ status: 'approved', balance: 4_000 });
  });

  it('a failed sale does not count against the limits; an approved one does', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    await limits(cardNo, { dayAmount: 2_000 });
    expect((await sell(server, terminal, saleBody(cardNo, 1_500, { pin: '999999' }))).body.declineCode).toBe('PIN_WRONG');
    expect((await sell(server, terminal, saleBody(cardNo, 1_500))).body.status).toBe('approved');
    expect((await sell(server, terminal, saleBody(cardNo, 600))).body.declineCode).toBe('LIMIT_DAY_AMOUNT');
    expect((await sell(server, terminal, saleBody(cardNo, 500))).body.status).toBe('approved');
    expect(await balanceOf(server, cardNo)).toBe(3_000);
  });
});

describe('bad requests', () => {
  it('refuses an amount that is not volume × unit price with 400 SALE_AMOUNT_MISMATCH and moves nothing', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    const before = await moneySnapshot(server.db.db);
    const r = await sell(server, terminal, saleBody(cardNo, 1_000, { volumeMl: 2_000 }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('SALE_AMOUNT_MISMATCH');
    expect(r.body.error.details.field).toBe('amount');
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await salesRowsFor(cardNo)).toEqual([]);
  });

  it('accepts the exact amount rounded either way, and nothing a fen beyond', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    // 1,001 ml at 5.00 yuan/L is 500.5 fen: 500 and 501 are right; 499 and 502 are not.
    for (const [amount, ok] of [[499, false], [500, true], [501, true], [502, false]] as const) {
      const r = await sell(server, terminal, { ...saleBody(cardNo, amount), volumeMl: 1_001, unitPrice: 500 });
      expect(r.status, `amount ${amount}`).toBe(ok ? 200 : 400);
      if (!ok) expect(r.body.error.code).toBe('SALE_AMOUNT_MISMATCH');
    }
    // An exact product admits exactly one amount.
    const r = await sell(server, terminal, { ...saleBody(cardNo, 1_001), volumeMl: 1_250, unitPrice: 800 });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('SALE_AMOUNT_MISMATCH');
    expect(await balanceOf(server, cardNo)).toBe(5_000 - 500 - 501);
  });

  const malformed: Array<[string, (b: Record<string, unknown>) => unknown]> = [
    ['cardNo', (b) => ({ ...b, cardNo: undefined })],
    ['cardNo', (b) => ({ ...b, cardNo: '62x8' })],
    ['pin', (b) => ({ ...b, pin: undefined })],
    ['grade', (b) => ({ ...b, grade: '92 #; drop table' })],
    ['volumeMl', (b) => ({ ...b, volumeMl: 0 })],
    ['volumeMl', (b) => ({ ...b, volumeMl: 'lots' })],
    ['unitPrice', (b) => ({ ...b, unitPrice: 7.5 })],
    ['amount', (b) => ({ ...b, amount: -100 })],
    ['amount', (b) => ({ ...b, amount: undefined })],
    ['nozzle', (b) => ({ ...b, nozzle: 100 })],
    ['surcharge', (b) => ({ ...b, surcharge: 5 })],
  ];
  it.each(malformed)('names the field %s in a 400 VALIDATION_FAILED', async (field, mutate) => {
    const cardNo = await newCard(server, { funds: 5_000 });
    const before = await moneySnapshot(server.db.db);
    const r = await sell(server, terminal, mutate(saleBody(cardNo, 1_000) as unknown as Record<string, unknown>));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
    expect(String(r.body.error.details.field).split('.')).toContain(field);
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await salesRowsFor(cardNo)).toEqual([]);
  });

  it('refuses a body that is not an object', async () => {
    for (const body of [[], 'sale', 42, null]) {
      const r = await sell(server, terminal, body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const cardNo = await newCard(server, { funds: 5_000 });
    const r = await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: 'has spaces and ünïcode' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(await balanceOf(server, cardNo)).toBe(5_000);
  });
});

describe('terminal signatures', () => {
  let cardNo: string;
  beforeAll(async () => {
    cardNo = await newCard(server, { funds: 50_000 });
  });
  const post = async (headers: Record<string, string>, payload: string) => {
    const res = await fetch(server.baseUrl + SALE_PATH, { method: 'POST', headers, body: payload });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const expectRefused = async (r: { status: number; body: any }, code: string) => {
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe(code);
    expect(await balanceOf(server, cardNo)).toBe(50_000);
  };

  it.each(['x-terminal-id', 'x-timestamp', 'x-nonce', 'x-signature'])('without %s is 401 TERMINAL_SIGNATURE_INVALID', async (name) => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    const headers = signTerminalRequest(terminal, 'POST', SALE_PATH, payload);
    delete headers[name];
    await expectRefused(await post(headers, payload), 'TERMINAL_SIGNATURE_INVALID');
  });

  it('a signature made with another secret is 401 TERMINAL_SIGNATURE_INVALID', async () => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    const headers = signTerminalRequest({ ...terminal, secret: `${terminal.secret}x` }, 'POST', SALE_PATH, payload);
    await expectRefused(await post(headers, payload), 'TERMINAL_SIGNATURE_INVALID');
  });

  it('a signature for another path or method is 401 TERMINAL_SIGNATURE_INVALID', async () => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    await expectRefused(await post(signTerminalRequest(terminal, 'POST', '/api/v1/pos/ping', payload), payload), 'TERMINAL_SIGNATURE_INVALID');
    await expectRefused(await post(signTerminalRequest(terminal, 'GET', SALE_PATH, payload), payload), 'TERMINAL_SIGNATURE_INVALID');
  });

  it('a tampered body is 401 TERMINAL_SIGNATURE_INVALID', async () => {
    const signed = JSON.stringify(saleBody(cardNo, 1_000));
    const sent = JSON.stringify(saleBody(cardNo, 10_000));
    await expectRefused(await post(signTerminalRequest(terminal, 'POST', SALE_PATH, signed), sent), 'TERMINAL_SIGNATURE_INVALID');
    // Even a whitespace change: the raw body is what is signed.
    await expectRefused(await post(signTerminalRequest(terminal, 'POST', SALE_PATH, signed), `${signed} `), 'TERMINAL_SIGNATURE_INVALID');
  });

  it('a body in another media type is refused (415), whatever was signed', async () => {
    // Only the JSON parser keeps the raw body the signature covers; nothing else may get through.
    const headers = { ...signTerminalRequest(terminal, 'POST', SALE_PATH, ''), 'content-type': 'text/plain' };
    const r = await post(headers, JSON.stringify(saleBody(cardNo, 1_000)));
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await balanceOf(server, cardNo)).toBe(50_000);
  });

  it.each([
    ['301 s in the past', -301],
    ['301 s in the future', 301],
    ['an hour in the past', -3_600],
  ])('a timestamp %s is 401 TERMINAL_TIMESTAMP_SKEW', async (_label, offset) => {
    const r = await sell(server, terminal, saleBody(cardNo, 1_000), { timestamp: Math.floor(Date.now() / 1000) + offset });
    await expectRefused(r, 'TERMINAL_TIMESTAMP_SKEW');
  });

  it('a timestamp that is not unix seconds is 401 TERMINAL_TIMESTAMP_SKEW', async () => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    const headers = { ...signTerminalRequest(terminal, 'POST', SALE_PATH, payload), 'x-timestamp': new Date().toISOString() };
    await expectRefused(await post(headers, payload), 'TERMINAL_TIMESTAMP_SKEW');
  });

  it('a timestamp inside the window is accepted', async () => {
    const r = await sell(server, terminal, saleBody(cardNo, 100), { timestamp: Math.floor(Date.now() / 1000) - 290 });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('approved');
    await recharge(server, cardNo, 100); // keep the block's balance
  });

  it('an unknown or disabled terminal is 401 TERMINAL_UNKNOWN', async () => {
    await expectRefused(await sell(server, { ...terminal, terminalId: 'T99999999' }, saleBody(cardNo, 1_000)), 'TERMINAL_UNKNOWN');
    const other = await newTerminal(server, stationId);
    expect((await server.api('POST', `/api/v1/terminals/${other.terminalId}/disable`)).status).toBe(204);
    await expectRefused(await sell(server, other, saleBody(cardNo, 1_000)), 'TERMINAL_UNKNOWN');
  });

  it('a staff bearer token is no terminal signature', async () => {
    const r = await server.api('POST', SALE_PATH, { body: saleBody(cardNo, 1_000) });
    await expectRefused(r, 'TERMINAL_SIGNATURE_INVALID');
  });

  it('a replayed request (same nonce) is 401 TERMINAL_NONCE_REPLAYED and debits once', async () => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    const headers = signTerminalRequest(terminal, 'POST', SALE_PATH, payload);
    const first = await post(headers, payload);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('approved');
    const before = await moneySnapshot(server.db.db);
    for (let i = 0; i < 3; i++) {
      const again = await post(headers, payload);
      expect(again.status).toBe(401);
      expect(again.body.error.code).toBe('TERMINAL_NONCE_REPLAYED');
    }
    // With an Idempotency-Key added (unsigned header) the replay is still refused.
    const withKey = await post({ ...headers, 'idempotency-key': randomUUID() }, payload);
    expect(withKey.body.error.code).toBe('TERMINAL_NONCE_REPLAYED');
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await balanceOf(server, cardNo)).toBe(49_000);
    await recharge(server, cardNo, 1_000);
  });

  it('concurrent replays of one nonce: exactly one gets through', async () => {
    const payload = JSON.stringify(saleBody(cardNo, 1_000));
    const headers = signTerminalRequest(terminal, 'POST', SALE_PATH, payload);
    const results = await Promise.all(Array.from({ length: 10 }, () => post(headers, payload)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401 && r.body.error.code === 'TERMINAL_NONCE_REPLAYED')).toHaveLength(9);
    expect(await balanceOf(server, cardNo)).toBe(49_000);
    await recharge(server, cardNo, 1_000);
  });
});

describe('idempotent retries', () => {
  it('a sequential retry with the same key returns the same answer and debits once', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    const body = saleBody(cardNo, 2_500);
    const first = await sell(server, terminal, body, { idempotencyKey: key });
    expect(first.body.status).toBe('approved');
    const before = await moneySnapshot(server.db.db);
    for (let i = 0; i < 3; i++) {
      // A real retry is a new signed request (new nonce) carrying the same key.
      const again = await sell(server, terminal, body, { idempotencyKey: key });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await balanceOf(server, cardNo)).toBe(7_500);
    expect(await salesRowsFor(cardNo)).toHaveLength(1);
  });

  it('20 concurrent retries with one key debit once and all answer the same saleId', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    const body = saleBody(cardNo, 1_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => sell(server, terminal, body, { idempotencyKey: key })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(results.map((r) => r.body.saleId)).size).toBe(1);
    expect(results.every((r) => r.body.status === 'approved' && r.body.balance === 9_000)).toBe(true);
    expect(await balanceOf(server, cardNo)).toBe(9_000);
    expect(await salesRowsFor(cardNo)).toHaveLength(1);
    expect(await outboxFor(results[0]!.body.saleId)).toHaveLength(1);
  });

  it('a decline is an answer too: a retry after a recharge still returns the decline', async () => {
    const cardNo = await newCard(server, { funds: 500 });
    const key = randomUUID();
    const first = await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    expect(first.body.declineCode).toBe('INSUFFICIENT_FUNDS');
    await recharge(server, cardNo, 5_000);
    const again = await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    expect(again.body).toEqual(first.body);
    expect(await balanceOf(server, cardNo)).toBe(5_500);
  });

  it('the same key with a different body is 409 IDEMPOTENCY_KEY_REUSED and moves nothing', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const key = randomUUID();
    expect((await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key })).body.status).toBe('approved');
    const before = await moneySnapshot(server.db.db);
    const r = await sell(server, terminal, saleBody(cardNo, 2_000), { idempotencyKey: key });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const r2 = await sell(server, terminal, saleBody(cardNo, 1_000, { nozzle: 4 }), { idempotencyKey: key });
    expect(r2.status).toBe(409);
    expect(await moneySnapshot(server.db.db)).toEqual(before);
    expect(await balanceOf(server, cardNo)).toBe(9_000);
  });

  it('keys belong to the terminal: another terminal with the same key makes its own sale', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const other = await newTerminal(server, stationId);
    const key = randomUUID();
    const a = await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    const b = await sell(server, other, saleBody(cardNo, 1_000), { idempotencyKey: key });
    expect(a.body.status).toBe('approved');
    expect(b.body.status).toBe('approved');
    expect(b.body.saleId).not.toBe(a.body.saleId);
    expect(await balanceOf(server, cardNo)).toBe(8_000);
  });

  it('without a key, two identical requests are two sales', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const body = saleBody(cardNo, 1_000);
    const a = await sell(server, terminal, body);
    const b = await sell(server, terminal, body);
    expect(a.body.saleId).not.toBe(b.body.saleId);
    expect(await balanceOf(server, cardNo)).toBe(8_000);
  });
});

describe('concurrency', () => {
  it('50 parallel sales of 1,000 on a card holding 20,500: exactly 20 approved, balance 500', async () => {
    const cardNo = await newCard(server, { funds: 20_500 });
    // 50 sales of one card in a second are what the velocity rule exists for; this test is about money.
    await silenceRisk(server, cardNo);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: `conc-${cardNo}-${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const approved = results.filter((r) => r.body.status === 'approved');
    const declined = results.filter((r) => r.body.status === 'declined');
    expect(approved).toHaveLength(20);
    expect(declined).toHaveLength(30);
    expect(declined.every((r) => r.body.declineCode === 'INSUFFICIENT_FUNDS')).toBe(true);
    // Each approval saw the balance its own debit left: 20 distinct values 19,500 … 500.
    expect(approved.map((r) => r.body.balance).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 500 + i * 1_000));
    expect(await balanceOf(server, cardNo)).toBe(500);
    const rows = await salesRowsFor(cardNo);
    expect(rows.filter((r) => r.status === 'approved')).toHaveLength(20);
  });

  it('a burst of sales at a station not yet cached does not starve the connection pool', async () => {
    // More concurrent sales than the pool has connections (16), all missing the station cache at once.
    const fresh = await newStation(server);
    const cards = [await newCard(server, { funds: 100_000 }), await newCard(server, { funds: 100_000 })];
    for (const c of cards) await silenceRisk(server, c);
    const burst = Promise.all(Array.from({ length: 40 }, (_, i) => sell(server, fresh.terminal, saleBody(cards[i % 2]!, 100))));
    const timeout = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 20_000).unref());
    const results = await Promise.race([burst, timeout]);
    expect(results).not.toBe('stuck');
    expect((results as Array<{ body: { status: string } }>).every((r) => r.body.status === 'approved')).toBe(true);
    expect((await balanceOf(server, cards[0]!)) + (await balanceOf(server, cards[1]!))).toBe(200_000 - 4_000);
  });

  it('two sub cards sharing one reserve never overspend it together', async () => {
    const master = await newCard(server, { kind: 'master', funds: 10_000 });
    const subs = [await newCard(server, { kind: 'sub', masterCardNo: master, sharedBalance: true }), await newCard(server, { kind: 'sub', masterCardNo: master, sharedBalance: true })];
    for (const c of subs) await silenceRisk(server, c);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => sell(server, terminal, saleBody(subs[i % 2]!, 500))));
    expect(results.filter((r) => r.body.status === 'approved')).toHaveLength(20);
    expect(results.filter((r) => r.body.declineCode === 'INSUFFICIENT_FUNDS')).toHaveLength(20);
    expect(await balanceOf(server, master)).toBe(0);
  });
});

describe('metrics', () => {
  it('/metrics counts sale outcomes by code, once per sale (not per retry)', async () => {
    const read = async () => (await server.api('GET', '/metrics', { role: null })).body as string;
    const name = 'fuelcard_sale_outcomes_total';
    const before = await read();
    const cardNo = await newCard(server, { funds: 1_500 });
    const key = randomUUID();
    await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    await sell(server, terminal, saleBody(cardNo, 1_000), { idempotencyKey: key });
    await sell(server, terminal, saleBody(cardNo, 1_000));
    await sell(server, terminal, saleBody(cardNo, 100, { pin: '000001' }));
    const after = await read();
    const delta = (labels: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta({ status: 'approved', code: 'APPROVED' })).toBe(1);
    expect(delta({ status: 'declined', code: 'INSUFFICIENT_FUNDS' })).toBe(1);
    expect(delta({ status: 'declined', code: 'PIN_WRONG' })).toBe(1);
  });
});

describe('a signed request that failed is spent too', () => {
  it('a refused request’s exact bytes are refused as a replay later (401), not run again', async () => {
    const s = await startTestServer();
    try {
      const { terminal } = await newStation(s);
      const cardNo = await newCard(s, { funds: 10_000 });
      const body = JSON.stringify({ cardNo, pin: '123456', grade: '92', volumeMl: 1000, unitPrice: 1000, amount: 999, nozzle: 1 });
      const headers = signTerminalRequest(terminal, 'POST', '/api/v1/pos/sales', body);
      const send = () => fetch(`${s.baseUrl}/api/v1/pos/sales`, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
      const first = await send();
      expect([first.status, first.body.error.code]).toEqual([400, 'SALE_AMOUNT_MISMATCH']);
      const again = await send();
      expect([again.status, again.body.error.code]).toEqual([401, 'TERMINAL_NONCE_REPLAYED']);
    } finally {
      await s.close();
    }
  });
});
