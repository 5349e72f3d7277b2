import type { Actor, Config, Trx } from '../platform/index.js';
import { getAccounts } from '../ledger/index.js';
import { paymentsError } from './payments.errors.js';
import { counterCredit } from './orders.service.js';

export const COUNTER_CHANNELS = ['cash', 'bank_transfer'] as const;
export type CounterChannel = (typeof COUNTER_CHANNELS)[number];

export interface Recharge {
  rechargeId: string;
  receiptNo: string;
  cardNo: string;
  accountId: number;
  amount: number;
  channel: CounterChannel;
  reference: string | null;
  /** The card's balance across its accounts after the recharge (fen). */
  balance: number;
  accountBalance: number;
  createdAt: string;
}

/**
 * 柜台充值: money taken at the counter (cash, or a bank transfer the cashier can see) is
 * credited to the card's account through the channel's clearing account, as a recharge order
 * created and credited at once (docs/payments.md). Runs in the caller's transaction (the
 * idempotency record commits with it).
 */
export async function rechargeAtCounter(
  trx: Trx,
  config: Config,
  actor: Actor,
  input: { cardNo: string; amount: number; channel: CounterChannel; reference?: string; accountId?: number },
  /** When it happened: the demo data's history only; the counter always records now. */
  at?: Date,
): Promise<Recharge> {
  // A bank reference credits once: compare it without the spaces and letter case a cashier may type.
  const typed = input.reference ?? '';
  const reference = (input.channel === 'bank_transfer' ? typed.replace(/\s+/g, '').toUpperCase() : typed.trim()) || null;
  if (input.channel === 'bank_transfer' && !reference) throw paymentsError('RECHARGE_REFERENCE_REQUIRED', { field: 'reference' });
  const r = await counterCredit(
    trx,
    config,
    actor,
    { cardNo: input.cardNo, amount: input.amount, channel: input.channel, reference, ...(input.accountId !== undefined ? { accountId: input.accountId } : {}) },
    at,
  );
  const accounts = await getAccounts(trx, r.card.account_ids);
  return {
    rechargeId: r.rechargeId,
    receiptNo: r.receiptNo,
    cardNo: r.card.card_no,
    accountId: r.order.account_id,
    amount: input.amount,
    channel: input.channel,
    reference,
    balance: accounts.reduce((s, a) => s + a.balance, 0),
    accountBalance: r.accountBalance,
    createdAt: (at ?? new Date()).toISOString(),
  };
}
