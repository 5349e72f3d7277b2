/**
 * A pure in-memory reference model of the ledger's semantics (TigerBeetle's Auditor idea):
 * the property tests replay every request against it and require the same reply from
 * PostgreSQL. Used only by tests. It mirrors ledger_apply (migrations/002_ledger.sql) rule
 * for rule, in the same order, but shares no code with it.
 * Not modelled: expiry (timeouts are long in the property tests; the example tests cover it)
 * and closing accounts.
 */

export const NO_OVERDRAFT = 1;

export type ModelOp =
  | { type: 'transfer'; id: string; debit: number; credit: number; amount: number; code: string; forced: boolean }
  | { type: 'hold'; id: string; debit: number; credit: number; amount: number; code: string }
  | { type: 'post'; id: string; pendingId: string; amount: number | null; code: string }
  | { type: 'void'; id: string; pendingId: string; code: string };

export type ModelReply =
  | {
      kind: 'ok';
      replayed: boolean;
      amount: number;
      debitAccountId: number;
      creditAccountId: number;
      debitBalanceAfter: number | null;
      creditBalanceAfter: number | null;
      debitAvailableAfter: number | null;
    }
  | { kind: 'refused'; code: string; alreadyFailed: boolean }
  | { kind: 'thrown'; code: string };

export interface ModelAccount {
  id: number;
  flags: number;
  currency: string;
  debitsPending: number;
  debitsPosted: number;
  creditsPending: number;
  creditsPosted: number;
  arrears: number;
}

type Kind = 'posted' | 'pending' | 'post_pending' | 'void_pending';
interface ModelTransfer {
  kind: Kind;
  debit: number;
  credit: number;
  amount: number;
  code: string;
  pendingId: string | null;
  forced: boolean;
  debitBalanceAfter: number;
  creditBalanceAfter: number;
}
type HoldState = 'pending' | 'posted' | 'voided';

const KIND: Record<ModelOp['type'], Kind> = { transfer: 'posted', hold: 'pending', post: 'post_pending', void: 'void_pending' };

/** A canonical text for a reply, so replies compare with ===. */
export function replyKey(r: ModelReply): string {
  if (r.kind === 'ok') {
    return `ok ${r.replayed} ${r.amount} ${r.debitAccountId}->${r.creditAccountId} ${r.debitBalanceAfter} ${r.creditBalanceAfter} ${r.debitAvailableAfter}`;
  }
  return r.kind === 'refused' ? `refused ${r.code} ${r.alreadyFailed}` : `thrown ${r.code}`;
}

export class LedgerModel {
  readonly accounts = new Map<number, ModelAccount>();
  private readonly transfers = new Map<string, ModelTransfer>();
  private readonly failures = new Map<string, { code: string; hash: string }>();
  private readonly holds = new Map<string, { amount: number; state: HoldState }>();
  /** Accounts a forced post ever took below zero. */
  readonly alerted = new Set<number>();

  addAccount(id: number, flags: number, currency = 'CNY'): void {
    this.accounts.set(id, { id, flags, currency, debitsPending: 0, debitsPosted: 0, creditsPending: 0, creditsPosted: 0, arrears: 0 });
  }

  holdState(id: string): HoldState | undefined {
    return this.holds.get(id)?.state;
  }

  /** Apply one request; `undo` restores the state exactly as it was (for the serial-order search). */
  apply(op: ModelOp): { reply: ModelReply; undo: () => void } {
    const saved = [...this.accounts.values()].map((a) => ({ ...a }));
    const hadAlerted = new Set(this.alerted);
    const addedTransfer: string[] = [];
    const addedFailure: string[] = [];
    const addedHold: string[] = [];
    let holdPrev: [string, HoldState] | null = null;
    const undo = () => {
      for (const a of saved) this.accounts.set(a.id, a);
      for (const k of addedTransfer) this.transfers.delete(k);
      for (const k of addedFailure) this.failures.delete(k);
      for (const k of addedHold) this.holds.delete(k);
      if (holdPrev) {
        const h = this.holds.get(holdPrev[0]);
        if (h) h.state = holdPrev[1];
      }
      this.alerted.clear();
      for (const a of hadAlerted) this.alerted.add(a);
    };

    const kind = KIND[op.type];
    const d = op.type === 'transfer' || op.type === 'hold' ? op.debit : null;
    const c = op.type === 'transfer' || op.type === 'hold' ? op.credit : null;
    const a = op.type === 'void' ? null : op.amount;
    const p = op.type === 'post' || op.type === 'void' ? op.pendingId : null;
    const forced = op.type === 'transfer' && op.forced;
    const hash = JSON.stringify([kind, d, c, a, op.code, p, forced]);

    const t = this.transfers.get(op.id);
    if (t) {
      const differs =
        t.kind !== kind ||
        (d !== null && t.debit !== d) ||
        (c !== null && t.credit !== c) ||
        (a !== null && kind !== 'void_pending' && t.amount !== a) ||
        t.code !== op.code ||
        t.pendingId !== p ||
        t.forced !== forced;
      if (differs) return { reply: { kind: 'thrown', code: 'LEDGER_TRANSFER_CONFLICT' }, undo };
      return {
        reply: {
          kind: 'ok',
          replayed: true,
          amount: t.amount,
          debitAccountId: t.debit,
          creditAccountId: t.credit,
          debitBalanceAfter: t.debitBalanceAfter,
          creditBalanceAfter: t.creditBalanceAfter,
          debitAvailableAfter: null,
        },
        undo,
      };
    }
    const f = this.failures.get(op.id);
    if (f) {
      if (f.hash !== hash) return { reply: { kind: 'thrown', code: 'LEDGER_TRANSFER_CONFLICT' }, undo };
      return { reply: { kind: 'refused', code: f.code, alreadyFailed: true }, undo };
    }

    let fail: string | null = null;
    let amount = a;
    let debit = d;
    let credit = c;
    let heldAmount = 0;
    if (p !== null) {
      const h = this.holds.get(p);
      const pt = this.transfers.get(p);
      if (!h || !pt) fail = 'LEDGER_PENDING_NOT_FOUND';
      else if (h.state !== 'pending') fail = `LEDGER_PENDING_ALREADY_${h.state.toUpperCase()}`;
      else {
        debit = pt.debit;
        credit = pt.credit;
        heldAmount = h.amount;
        if (kind === 'post_pending') {
          amount = amount ?? h.amount;
          if (amount < 0) fail = 'LEDGER_AMOUNT_INVALID';
          else if (amount > h.amount) fail = 'LEDGER_EXCEEDS_PENDING_AMOUNT';
        } else amount = h.amount;
      }
    } else if (amount === null || amount <= 0) fail = 'LEDGER_AMOUNT_INVALID';
    else if (debit === null || credit === null || debit === credit) fail = 'LEDGER_ACCOUNTS_INVALID';

    let shortfall = 0;
    const D = debit === null ? undefined : this.accounts.get(debit);
    const C = credit === null ? undefined : this.accounts.get(credit);
    if (fail === null) {
      if (!D) fail = 'LEDGER_ACCOUNT_NOT_FOUND';
      else if (!C) fail = 'LEDGER_ACCOUNT_NOT_FOUND';
      else if (D.currency !== C.currency) fail = 'LEDGER_CURRENCY_MISMATCH';
      else if ((kind === 'posted' || kind === 'pending') && (D.flags & NO_OVERDRAFT) === NO_OVERDRAFT) {
        const need = D.debitsPending + D.debitsPosted + (amount ?? 0) - D.creditsPosted;
        if (need > 0) {
          if (kind === 'posted' && forced) shortfall = Math.max(0, Math.min(amount ?? 0, need - D.arrears));
          else fail = 'LEDGER_INSUFFICIENT_FUNDS';
        }
      }
    }
    if (fail !== null || !D || !C || amount === null) {
      const code = fail ?? 'LEDGER_ACCOUNT_NOT_FOUND';
      this.failures.set(op.id, { code, hash });
      addedFailure.push(op.id);
      return { reply: { kind: 'refused', code, alreadyFailed: false }, undo };
    }

    // Counters move exactly as in ledger_apply.
    const delta = {
      posted: { dpe: 0, dpo: amount, cpe: 0, cpo: amount },
      pending: { dpe: amount, dpo: 0, cpe: amount, cpo: 0 },
      post_pending: { dpe: -heldAmount, dpo: amount, cpe: -heldAmount, cpo: amount },
      void_pending: { dpe: -heldAmount, dpo: 0, cpe: -heldAmount, cpo: 0 },
    }[kind];
    D.debitsPending += delta.dpe;
    D.debitsPosted += delta.dpo;
    D.arrears = Math.min(D.arrears + shortfall, Math.max(0, D.debitsPending + D.debitsPosted - D.creditsPosted));
    C.creditsPending += delta.cpe;
    C.creditsPosted += delta.cpo;
    C.arrears = Math.min(C.arrears, Math.max(0, C.debitsPending + C.debitsPosted - C.creditsPosted));
    if (shortfall > 0) this.alerted.add(D.id);

    const debitBalanceAfter = D.creditsPosted - D.debitsPosted;
    const creditBalanceAfter = C.creditsPosted - C.debitsPosted;
    this.transfers.set(op.id, { kind, debit: D.id, credit: C.id, amount, code: op.code, pendingId: p, forced, debitBalanceAfter, creditBalanceAfter });
    addedTransfer.push(op.id);
    if (kind === 'pending') {
      this.holds.set(op.id, { amount, state: 'pending' });
      addedHold.push(op.id);
    } else if (p !== null) {
      const h = this.holds.get(p);
      if (h) {
        holdPrev = [p, h.state];
        h.state = kind === 'post_pending' ? 'posted' : 'voided';
      }
    }
    return {
      reply: {
        kind: 'ok',
        replayed: false,
        amount,
        debitAccountId: D.id,
        creditAccountId: C.id,
        debitBalanceAfter,
        creditBalanceAfter,
        debitAvailableAfter: debitBalanceAfter - D.debitsPending,
      },
      undo,
    };
  }

  /**
   * Find an order of `ops` in which the model gives exactly `replies` (each op was its own
   * transaction, so PostgreSQL must have applied them in some serial order). On success the
   * model is left in the state after that order; on failure it is unchanged.
   */
  findSerialOrder(ops: readonly ModelOp[], replies: readonly ModelReply[], budget = 200_000): number[] | null {
    const want = replies.map(replyKey);
    const used = ops.map(() => false);
    const order: number[] = [];
    let left = budget;
    const dfs = (): boolean => {
      if (order.length === ops.length) return true;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        if (used[i] || !op) continue;
        if (--left < 0) throw new Error('serial-order search budget exhausted');
        const { reply, undo } = this.apply(op);
        if (replyKey(reply) === want[i]) {
          used[i] = true;
          order.push(i);
          if (dfs()) return true;
          order.pop();
          used[i] = false;
        }
        undo();
      }
      return false;
    };
    return dfs() ? order : null;
  }
}
