import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Config, Trx } from '../platform/index.js';
import { audit, maskCardNo, publish } from '../platform/index.js';
import { closeAccount, getAccount, lockAccounts, orThrow, systemAccount, transfer, uuidFrom } from '../ledger/index.js';
import { cardsError } from './cards.errors.js';
import { CAPABILITIES } from './card.state.js';
import { requireLossWaitOver } from './card.loss.js';
import { findCardById, lockCardByNo, type CardRow } from './cards.repository.js';

/**
 * The money side of closing a card (销户): every account linked to the card that no other open
 * card uses (its own account, and any account opened for it) pays its balance back to the holder
 * (cash at the counter, or payable through the original channel) — for a sub card, back to the
 * master's reserve — and then closes. Accounts another open card still uses (a sub card's share
 * of the master's reserve, an account linked to the holder's other card) stay as they are.
 * Anonymous balances are refunded only if the operator allows it.
 */
export async function closeCardMoney(
  trx: Trx,
  config: Config,
  actor: Actor,
  card: CardRow,
  method: 'cash' | 'original_channel',
  operationId: string,
): Promise<{ amount: number; method: 'cash' | 'original_channel' | 'recalled_to_master'; refundId: string | null }> {
  if (card.kind === 'master') {
    const open = await sql<{ n: number }>`select count(*)::int n from cards where master_card_id = ${card.id} and status not in ('closed','replaced')`.execute(trx);
    if ((open.rows[0]?.n ?? 0) > 0) throw cardsError('CARD_HAS_ACTIVE_SUB_CARDS');
  }
  const linkedIds = card.account_ids.includes(card.own_account_id) ? card.account_ids : [card.own_account_id, ...card.account_ids];
  const shared = await sql<{ account_id: number }>`select distinct ca.account_id from card_accounts ca join cards c on c.id = ca.card_id
    where ca.account_id = any(${linkedIds}::bigint[]) and c.id <> ${card.id} and c.status not in ('closed','replaced')`.execute(trx);
  const sharedIds = new Set(shared.rows.map((r) => r.account_id));
  // The own account first, then the others in priority order; locked (in id order) before any check.
  const ownFirst = [card.own_account_id, ...linkedIds.filter((id) => id !== card.own_account_id)].filter((id) => !sharedIds.has(id));
  const accounts = await lockAccounts(trx, ownFirst);
  for (const a of accounts) {
    if (a.status === 'closed') continue;
    if (a.debitsPending > 0 || a.creditsPending > 0) throw cardsError('CARD_HOLDS_OUTSTANDING', { accountId: a.id });
    if (a.balance < 0) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { operation: 'close', reason: 'arrears outstanding', arrears: -a.balance, accountId: a.id });
  }
  const total = accounts.reduce((s, a) => s + (a.status === 'closed' ? 0 : a.balance), 0);
  if (total > 0 && card.kind === 'anonymous' && !config.anonymousCardsRefundable) throw cardsError('CARD_ANONYMOUS_NOT_REFUNDABLE', { balance: total });

  const master = card.kind === 'sub' ? await findCardById(trx, card.master_card_id!) : undefined;
  let refundId: string | null = null;
  for (const a of accounts) {
    if (a.status === 'closed') continue;
    if (a.balance > 0) {
      // Deterministic ids: a retried close (same Idempotency-Key) can never pay twice.
      const transferId = uuidFrom(a.id === card.own_account_id ? `card-close:${card.id}:${operationId}` : `card-close:${card.id}:${a.id}:${operationId}`);
      if (master) {
        orThrow(await transfer(trx, { id: transferId, debitAccountId: a.id, creditAccountId: master.own_account_id, amount: a.balance, code: 'recall', metadata: { reason: 'sub card closed', cardId: card.id } }));
      } else {
        const counter =
          method === 'cash'
            ? await systemAccount(trx, 'channel_clearing', 'cash', '现金清算')
            : await systemAccount(trx, 'refunds_payable', 'card_close', '待退款（原路退回）');
        orThrow(await transfer(trx, { id: transferId, debitAccountId: a.id, creditAccountId: counter.id, amount: a.balance, code: 'refund', metadata: { cardId: card.id, method } }));
        await sql`insert into card_refunds (id, card_id, account_id, amount, method, transfer_id, status, staff_id)
          values (${transferId}, ${card.id}, ${a.id}, ${a.balance}, ${method}, ${transferId}, ${method === 'cash' ? 'paid' : 'payable'}, ${actor.staffId})`.execute(trx);
        refundId ??= transferId;
      }
    }
    await closeAccount(trx, a.id);
  }
  if (master) return { amount: total, method: 'recalled_to_master', refundId: null };
  return { amount: total, method, refundId };
}

export interface AllocationResult {
  transferId: string;
  amount: number;
  masterCardNo: string;
  subCardNo: string;
  masterBalance: number;
  subBalance: number;
}

async function masterAndSub(trx: Trx, masterCardNo: string, subCardNo: string): Promise<{ master: CardRow; sub: CardRow }> {
  const master = await lockCardByNo(trx, masterCardNo);
  if (!master) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(masterCardNo) });
  if (master.kind !== 'master') throw cardsError('CARD_NOT_MASTER');
  const sub = await lockCardByNo(trx, subCardNo);
  if (!sub) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(subCardNo) });
  if (sub.master_card_id !== master.id) throw cardsError('CARD_NOT_SUB_OF_MASTER');
  return { master, sub };
}

/** 分配: move money from the master's reserve to a sub card's own account. */
export async function allocateToSubCard(
  trx: Trx,
  actor: Actor,
  input: { masterCardNo: string; subCardNo: string; amount: number },
): Promise<AllocationResult> {
  const { master, sub } = await masterAndSub(trx, input.masterCardNo, input.subCardNo);
  for (const c of [master, sub]) {
    if (!CAPABILITIES[c.status].allocate) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: c.status, operation: 'allocate', card: maskCardNo(c.card_no) });
  }
  const res = orThrow(
    await transfer(trx, { id: randomUUID(), debitAccountId: master.own_account_id, creditAccountId: sub.own_account_id, amount: input.amount, code: 'allocation', metadata: { masterCardId: master.id, subCardId: sub.id } }),
    { masterCardNo: maskCardNo(master.card_no) },
  );
  await audit(trx, actor, { action: 'card.allocate', targetType: 'card', targetId: maskCardNo(master.card_no), details: { subCard: maskCardNo(sub.card_no), amount: input.amount, transferId: res.transferId } });
  await publish(trx, 'card.allocated', String(master.id), { masterCardId: master.id, subCardId: sub.id, amount: input.amount, transferId: res.transferId });
  return {
    transferId: res.transferId,
    amount: input.amount,
    masterCardNo: master.card_no,
    subCardNo: sub.card_no,
    masterBalance: res.debitBalanceAfter ?? (await getAccount(trx, master.own_account_id)).balance,
    subBalance: res.creditBalanceAfter ?? (await getAccount(trx, sub.own_account_id)).balance,
  };
}

/** 回收: move money from a sub card back to the master's reserve; without an amount, all it has available. */
export async function recallFromSubCard(
  trx: Trx,
  config: Config,
  actor: Actor,
  input: { masterCardNo: string; subCardNo: string; amount?: number },
): Promise<AllocationResult> {
  const { master, sub } = await masterAndSub(trx, input.masterCardNo, input.subCardNo);
  if (master.status === 'closed' || master.status === 'replaced' || sub.status === 'closed' || sub.status === 'replaced') {
    throw cardsError('CARD_OPERATION_NOT_ALLOWED', { operation: 'recall' });
  }
  // A lost sub card (or its replacement inside the waiting period) may still be spent offline:
  // its money stays put until the loss waiting period has passed.
  requireLossWaitOver(sub, config, new Date());
  const [subAccount] = await lockAccounts(trx, [sub.own_account_id]);
  const amount = input.amount ?? Math.max(0, subAccount!.available);
  const res = orThrow(
    await transfer(trx, { id: randomUUID(), debitAccountId: sub.own_account_id, creditAccountId: master.own_account_id, amount, code: 'recall', metadata: { masterCardId: master.id, subCardId: sub.id } }),
    { subCardNo: maskCardNo(sub.card_no) },
  );
  await audit(trx, actor, { action: 'card.recall', targetType: 'card', targetId: maskCardNo(master.card_no), details: { subCard: maskCardNo(sub.card_no), amount, transferId: res.transferId } });
  await publish(trx, 'card.recalled', String(master.id), { masterCardId: master.id, subCardId: sub.id, amount, transferId: res.transferId });
  return {
    transferId: res.transferId,
    amount,
    masterCardNo: master.card_no,
    subCardNo: sub.card_no,
    masterBalance: res.creditBalanceAfter!,
    subBalance: res.debitBalanceAfter!,
  };
}
