import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { Db, Trx } from '../platform/index.js';
import { isAppError } from '../platform/index.js';
import { accountEntries, MAX_PAGE } from './ledger.entries.js';
import { concurrentlySettled, expectVerified, tx } from './ledger.fixtures.js';
import { LedgerModel, NO_OVERDRAFT, replyKey, type ModelOp, type ModelReply } from './ledger.model.js';
import { forceTransfer, getAccounts, hold, openAccount, postHold, transfer, voidHold, type TransferRefusal, type TransferResult } from './ledger.service.js';

const MAX_BATCH = 8;
let h: TestDatabase;
let db: Db;

beforeAll(async () => {
  h = await createTestDatabase(MAX_BATCH + 1);
  db = h.db;
});
afterAll(async () => h.close());

// ---- abstract commands (what fast-check generates) ----
// Account slots: 0-2 customers (no overdraft), 3-4 system accounts, 5 a POINTS account.
const CUSTOMERS = 3;
const SLOTS = 6;
type Cmd =
  | { t: 'transfer'; d: number; c: number; amount: number; forced: boolean }
  | { t: 'hold'; d: number; c: number; amount: number }
  | { t: 'post'; ref: number; amount: number | null }
  | { t: 'void'; ref: number }
  | { t: 'retry'; ref: number }
  | { t: 'conflict'; ref: number; mut: number };

const FUNDING = 500;
const slot = fc.nat({ max: SLOTS - 1 });
const customerSlot = fc.nat({ max: CUSTOMERS - 1 });
const debitSlot = fc.oneof({ arbitrary: customerSlot, weight: 5 }, { arbitrary: slot, weight: 1 });
const creditSlot = fc.oneof({ arbitrary: fc.constantFrom(3, 4), weight: 5 }, { arbitrary: customerSlot, weight: 2 }, { arbitrary: slot, weight: 1 });
const amount = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 400 }), weight: 12 }, { arbitrary: fc.constantFrom(0, -1), weight: 1 });
const ref = fc.nat({ max: 1000 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('transfer' as const), d: debitSlot, c: creditSlot, amount, forced: fc.nat({ max: 3 }).map((n) => n === 0) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('hold' as const), d: debitSlot, c: creditSlot, amount }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('post' as const), ref, amount: fc.option(fc.integer({ min: 0, max: 450 }), { nil: null }) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('void' as const), ref }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('retry' as const), ref }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('conflict' as const), ref, mut: fc.nat({ max: 3 }) }), weight: 1 },
);

/** Turns abstract commands into concrete requests, remembering what was issued so far. */
class Issuer {
  readonly issued: ModelOp[] = [];
  readonly holdIds: string[] = [];
  constructor(private readonly ids: readonly number[]) {}

  private acct(i: number): number {
    const id = this.ids[i % this.ids.length];
    if (id === undefined) throw new Error('no account');
    return id;
  }

  issue(c: Cmd): ModelOp {
    const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
    // Mostly one of the last few: that is where posts, voids and retries race.
    const recent = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[xs.length - 1 - (i % Math.min(4, xs.length))] : undefined);
    let op: ModelOp;
    switch (c.t) {
      case 'transfer':
        op = { type: 'transfer', id: randomUUID(), debit: this.acct(c.d), credit: this.acct(c.c), amount: c.amount, code: c.forced ? 'offline_sale' : 'xfer', forced: c.forced };
        break;
      case 'hold':
        op = { type: 'hold', id: randomUUID(), debit: this.acct(c.d), credit: this.acct(c.c), amount: c.amount, code: 'preauth' };
        this.holdIds.push(op.id);
        break;
      case 'post':
        op = { type: 'post', id: randomUUID(), pendingId: (c.ref % 5 ? recent : pick)(this.holdIds, c.ref) ?? randomUUID(), amount: c.amount, code: 'sale' };
        break;
      case 'void':
        op = { type: 'void', id: randomUUID(), pendingId: (c.ref % 5 ? recent : pick)(this.holdIds, c.ref) ?? randomUUID(), code: 'cancel' };
        break;
      case 'retry':
        op = (c.ref % 2 ? recent : pick)(this.issued, c.ref) ?? { type: 'void', id: randomUUID(), pendingId: randomUUID(), code: 'cancel' };
        break;
      case 'conflict': {
        const base = (c.ref % 2 ? recent : pick)(this.issued, c.ref);
        if (!base) return this.issue({ t: 'transfer', d: 0, c: 3, amount: 1, forced: false });
        op = mutate(base, c.mut, (x) => this.acct(x));
      }
    }
    this.issued.push(op);
    return op;
  }
}

/** The same id with one field changed. */
function mutate(op: ModelOp, mut: number, acct: (i: number) => number): ModelOp {
  if (mut === 0 || op.type === 'void') return { ...op, code: `${op.code}!` };
  if (op.type === 'post') return { ...op, amount: (op.amount ?? 0) + 1 };
  if (mut === 1) return { ...op, amount: op.amount + 1 };
  if (mut === 2 && op.type === 'transfer') return { ...op, forced: !op.forced };
  const credit = [3, 4, 0].map(acct).find((x) => x !== op.credit && x !== op.debit) ?? op.credit;
  return { ...op, credit };
}

async function execute(trx: Trx, op: ModelOp): Promise<TransferResult | TransferRefusal> {
  switch (op.type) {
    case 'transfer': {
      const req = { id: op.id, debitAccountId: op.debit, creditAccountId: op.credit, amount: op.amount, code: op.code };
      return op.forced ? forceTransfer(trx, { ...req, reason: 'offline_upload' }) : transfer(trx, req);
    }
    case 'hold':
      return hold(trx, { id: op.id, debitAccountId: op.debit, creditAccountId: op.credit, amount: op.amount, code: op.code, timeoutMs: 3_600_000 });
    case 'post':
      return postHold(trx, { id: op.id, pendingId: op.pendingId, amount: op.amount, code: op.code });
    case 'void':
      return voidHold(trx, { id: op.id, pendingId: op.pendingId, code: op.code });
  }
}

/** Reduce how a request settled to the model's reply shape. */
function toReply(op: ModelOp, s: PromiseSettledResult<TransferResult | TransferRefusal>): ModelReply {
  if (s.status === 'rejected') {
    if (isAppError(s.reason)) return { kind: 'thrown', code: s.reason.code };
    throw s.reason; // anything else (deadlock, constraint violation) is a bug
  }
  const r = s.value;
  if (!r.ok) return { kind: 'refused', code: r.code, alreadyFailed: r.alreadyFailed };
  expect(r.transferId).toBe(op.id);
  const { replayed, amount: amt, debitAccountId, creditAccountId, debitBalanceAfter, creditBalanceAfter, debitAvailableAfter } = r;
  return { kind: 'ok', replayed, amount: amt, debitAccountId, creditAccountId, debitBalanceAfter, creditBalanceAfter, debitAvailableAfter };
}

/** Run one request in its own transaction. */
async function run(op: ModelOp): Promise<ModelReply> {
  const [settled] = await Promise.allSettled([tx(db, (trx) => execute(trx, op))]);
  if (!settled) throw new Error('unreachable');
  return toReply(op, settled);
}

/** Fresh accounts for one run, funded, registered in a fresh model. */
async function setup(): Promise<{ model: LedgerModel; issuer: Issuer }> {
  const model = new LedgerModel();
  const ids: number[] = [];
  for (let i = 0; i < SLOTS; i++) {
    const isCustomer = i < CUSTOMERS;
    const a = await openAccount(db, {
      kind: isCustomer ? 'customer' : i === 5 ? 'points_liability' : 'channel_clearing',
      name: `prop ${i}`,
      currency: i === 5 ? 'POINTS' : 'CNY',
      noOverdraft: isCustomer,
    });
    model.addAccount(a.id, isCustomer ? NO_OVERDRAFT : 0, a.currency);
    ids.push(a.id);
  }
  const issuer = new Issuer(ids);
  for (let i = 0; i < CUSTOMERS; i++) {
    const op = issuer.issue({ t: 'transfer', d: 3, c: i, amount: FUNDING, forced: false });
    expect(replyKey(await run(op))).toBe(replyKey(model.apply(op).reply));
  }
  return { model, issuer };
}

/** The database's accounts equal the model's, counter for counter. */
async function expectAccountsMatch(model: LedgerModel): Promise<void> {
  const ids = [...model.accounts.keys()];
  const rows = await getAccounts(db, ids);
  const pick = (a: { id: number; debitsPending: number; debitsPosted: number; creditsPending: number; creditsPosted: number; arrears: number }) => ({
    id: a.id, debitsPending: a.debitsPending, debitsPosted: a.debitsPosted, creditsPending: a.creditsPending, creditsPosted: a.creditsPosted, arrears: a.arrears,
  });
  expect(rows.map(pick)).toEqual(ids.map((id) => { const m = model.accounts.get(id); if (!m) throw new Error('no model account'); return pick(m); }));
  for (const a of rows) {
    if ((a.flags & NO_OVERDRAFT) === 0) continue;
    // Below zero (holds included) only as far as forced posts took it, and only if one did.
    expect(a.debitsPending + a.debitsPosted - a.creditsPosted).toBeLessThanOrEqual(a.arrears);
    if (a.arrears > 0) expect(model.alerted.has(a.id)).toBe(true);
  }
}

/** Every account's statement is a running balance: balance_after follows the entry order. */
async function expectStatementsRun(model: LedgerModel): Promise<void> {
  for (const id of model.accounts.keys()) {
    let running = 0;
    for (const e of (await accountEntries(db, id, { limit: MAX_PAGE })).items.reverse()) {
      if (!e.pending) running += e.amount;
      expect(e.balanceAfter).toBe(running);
    }
  }
}

/** Each hold resolved at most once, and its state is the model's. */
async function expectHoldsMatch(model: LedgerModel, holdIds: readonly string[]): Promise<void> {
  if (holdIds.length === 0) return;
  const rows = await db.selectFrom('ledger_pending').select(['id', 'state']).where('id', 'in', [...holdIds]).execute();
  for (const r of rows) expect(r.state).toBe(model.holdState(r.id));
  const resolutions = await db
    .selectFrom('ledger_transfers')
    .select(['pending_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('pending_id', 'in', [...holdIds])
    .groupBy('pending_id')
    .execute();
  for (const r of resolutions) expect(Number(r.n)).toBe(1);
}

describe('ledger against its reference model', () => {
  it('sequential: every reply and every counter equals the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 40 }), async (cmds) => {
        const { model, issuer } = await setup();
        for (const c of cmds) {
          const op = issuer.issue(c);
          const got = await run(op);
          expect(replyKey(got), JSON.stringify(op)).toBe(replyKey(model.apply(op).reply));
        }
        await expectAccountsMatch(model);
        await expectHoldsMatch(model, issuer.holdIds);
        await expectStatementsRun(model);
        await expectVerified(db);
      }),
      { numRuns: 50 },
    );
  });

  it('concurrent batches: replies are explained by some serial order; invariants hold after every batch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(cmd, { minLength: 2, maxLength: MAX_BATCH }), { minLength: 1, maxLength: 4 }), async (batches) => {
        const { model, issuer } = await setup();
        for (const batch of batches) {
          const ops = batch.map((c) => issuer.issue(c));
          // Every request of the batch at once, each in its own transaction on its own connection.
          const settled = await concurrentlySettled(db, ops.length, (trx, i) => {
            const op = ops[i];
            if (!op) throw new Error('no op');
            return execute(trx, op);
          });
          const replies = ops.map((op, i) => {
            const s = settled[i];
            if (!s) throw new Error('no reply');
            return toReply(op, s);
          });
          const order = model.findSerialOrder(ops, replies);
          expect(order, `no serial order explains ${JSON.stringify(replies)} for ${JSON.stringify(ops)}`).not.toBeNull();
          await expectAccountsMatch(model);
          await expectHoldsMatch(model, issuer.holdIds);
          await expectStatementsRun(model);
          await expectVerified(db);
        }
      }),
      { numRuns: 40 },
    );
  });
});
