import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Config, Trx } from '../platform/index.js';
import { audit, businessDay, maskCardNo, pgConstraint, pgErrorCode, PgCode, publish } from '../platform/index.js';
import { getAccounts, orThrow, systemAccount, transfer } from '../ledger/index.js';
import { CAPABILITIES, requireLockedCard } from '../cards/index.js';
import { paymentsError } from './payments.errors.js';

export const COUNTER_CHANNELS = ['cash', 'bank_transfer'] as const;
export type CounterChannel = (typeof COUNTER_CHANNELS)[number];

const CHANNEL_NAMES: Record<CounterChannel, string> = { cash: '现金清算', bank_transfer: '银行转账清算' };

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
 * credited to the card's account through the channel's clearing account. Runs in the
 * caller's transaction (the idempotency record commits with it).
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
  const card = await requireLockedCard(trx, input.cardNo);
  if (!CAPABILITIES[card.status].recharge) throw paymentsError('RECHARGE_NOT_ALLOWED', { status: card.status });
  const accountId = input.accountId ?? card.account_ids[0]!;
  if (!card.account_ids.includes(accountId)) throw paymentsError('RECHARGE_ACCOUNT_NOT_LINKED', { field: 'accountId' });
  const clearing = await systemAccount(trx, 'channel_clearing', input.channel, CHANNEL_NAMES[input.channel]);
  const id = randomUUID();
  const now = at ?? new Date();
  const res = orThrow(
    await transfer(trx, {
      id,
      debitAccountId: clearing.id,
      creditAccountId: accountId,
      amount: input.amount,
      code: 'recharge',
      metadata: { cardId: card.id, channel: input.channel, reference },
    }),
  );
  const day = businessDay(now, config.timeZone).replaceAll('-', '');
  let receiptNo: string;
  try {
    const r = await sql<{ receipt_no: string; created_at: Date }>`insert into recharges (id, receipt_no, card_id, account_id, amount, channel, reference, staff_id, transfer_id, balance_after, created_at)
      values (${id}, 'R' || ${day} || lpad(nextval('recharge_receipt_seq')::text, 8, '0'), ${card.id}, ${accountId}, ${input.amount},
              ${input.channel}, ${reference}, ${actor.staffId}, ${res.transferId}, ${res.creditBalanceAfter}, ${at ?? sql`now()`})
      returning receipt_no, created_at`.execute(trx);
    receiptNo = r.rows[0]!.receipt_no;
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'recharges_bank_reference') {
      throw paymentsError('RECHARGE_REFERENCE_USED', { field: 'reference' });
    }
    throw err;
  }
  const accounts = await getAccounts(trx, card.account_ids);
  await audit(trx, actor, {
    action: 'recharge.counter',
    targetType: 'card',
    targetId: maskCardNo(card.card_no),
    details: { receiptNo, amount: input.amount, channel: input.channel, reference },
  });
  await publish(trx, 'recharge.completed', String(card.id), { rechargeId: id, receiptNo, cardId: card.id, accountId, amount: input.amount, channel: input.channel });
  return {
    rechargeId: id,
    receiptNo,
    cardNo: card.card_no,
    accountId,
    amount: input.amount,
    channel: input.channel,
    reference,
    balance: accounts.reduce((s, a) => s + a.balance, 0),
    accountBalance: res.creditBalanceAfter ?? 0,
    createdAt: now.toISOString(),
  };
}
