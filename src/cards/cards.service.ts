import { sql } from 'kysely';
import type { Actor, Config, Db, Executor, FieldCipher, Role, Trx } from '../platform/index.js';
import { audit, maskCardNo, pgConstraint, pgErrorCode, PgCode, publish, startOfNextBusinessDay } from '../platform/index.js';
import { getAccounts, openAccount } from '../ledger/index.js';
import { customerExists } from '../customers/index.js';
import { cardsError } from './cards.errors.js';
import { generateCardNo } from './card.numbers.js';
import { checkPinFormat, pinEntryMatches, pinVerifyValue, type PinEntry } from './card.pin.js';
import { CAPABILITIES, nextStatus, type CardOperation, type CardStatus } from './card.state.js';
import { isFuelOnly, LIMIT_COLUMNS, limitsOf, type CardLimits } from './card.limits.js';
import { findCardById, findCardByNo, lockCardByNo, recordCardEvent, type CardKind, type CardRow } from './cards.repository.js';
import { closeCardMoney } from './cards.money.js';
import { lossWaitEnd, requireLossWaitOver } from './card.loss.js';

export interface CardDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
}

export interface CardAccountView {
  accountId: number;
  priority: number;
  kind: string;
  own: boolean;
  balance: number;
  available: number;
}

export interface CardView {
  cardNo: string;
  kind: CardKind;
  status: CardStatus;
  customerId: number | null;
  masterCardNo: string | null;
  sharedBalance: boolean;
  /** Posted balance across linked accounts (fen). */
  balance: number;
  /** What the card can spend now: balance less holds (fen). */
  available: number;
  accounts: CardAccountView[];
  limits: CardLimits;
  /** Fuel only: store goods are declined (set with the limits). */
  fuelOnly: boolean;
  pinLocked: boolean;
  lostAt: string | null;
  /** A replacement for a lost card can buy fuel from this time (the loss waiting period); null = now. */
  usableFrom: string | null;
  replacedByCardNo: string | null;
  replacesCardNo: string | null;
  closedAt: string | null;
  createdAt: string;
}

/** Roles that see full card numbers; others see first 6 and last 4 digits. */
export function maySeeCardNumbers(role: Role | 'system' | 'terminal' | undefined): boolean {
  return role === 'admin' || role === 'operator' || role === 'risk' || role === 'station_staff' || role === 'system';
}

export async function presentCard(db: Executor, card: CardRow, role: Role | 'system' | 'terminal' | undefined, now = new Date()): Promise<CardView> {
  const accounts = await getAccounts(db, card.account_ids);
  const priorities = await sql<{ account_id: number; priority: number }>`select account_id, priority from card_accounts where card_id = ${card.id}`.execute(db);
  const prio = new Map(priorities.rows.map((p) => [p.account_id, p.priority]));
  const related = await sql<{ id: number; card_no: string }>`select id, card_no from cards where id = any(${[card.replaced_by ?? 0, card.replaces ?? 0]}::bigint[])`.execute(db);
  const noOf = (id: number | null) => (id === null ? null : (related.rows.find((r) => r.id === id)?.card_no ?? null));
  const show = (no: string | null) => (no === null ? null : maySeeCardNumbers(role) ? no : maskCardNo(no));
  const views = accounts.map((a) => ({
    accountId: a.id,
    priority: prio.get(a.id) ?? 0,
    kind: a.kind,
    own: a.id === card.own_account_id,
    balance: a.balance,
    available: a.available,
  }));
  return {
    cardNo: show(card.card_no)!,
    kind: card.kind,
    status: card.status,
    customerId: card.customer_id,
    masterCardNo: show(card.master_card_no),
    sharedBalance: card.shared_balance,
    balance: views.reduce((s, a) => s + a.balance, 0),
    available: views.reduce((s, a) => s + Math.max(0, a.available), 0),
    accounts: views,
    limits: limitsOf(card),
    fuelOnly: isFuelOnly(card),
    pinLocked: card.pin_locked_until !== null && card.pin_locked_until > now,
    lostAt: card.lost_at?.toISOString() ?? null,
    usableFrom: card.usable_from !== null && card.usable_from > now ? card.usable_from.toISOString() : null,
    replacedByCardNo: show(noOf(card.replaced_by)),
    replacesCardNo: show(noOf(card.replaces)),
    closedAt: card.closed_at?.toISOString() ?? null,
    createdAt: card.created_at.toISOString(),
  };
}

export async function getCard(deps: CardDeps, cardNo: string, role: Role | undefined): Promise<CardView> {
  const card = await findCardByNo(deps.db, cardNo);
  if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  return presentCard(deps.db, card, role);
}

export async function requireCard(db: Executor, cardNo: string): Promise<CardRow> {
  const card = await findCardByNo(db, cardNo);
  if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  return card;
}

export async function requireLockedCard(trx: Trx, cardNo: string): Promise<CardRow> {
  const card = await lockCardByNo(trx, cardNo);
  if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  return card;
}

export interface IssueCardInput {
  kind: CardKind;
  customerId?: number;
  pin: string;
  masterCardNo?: string;
  /** Sub card only: may also spend the master's reserve (shared balance), after its own. */
  sharedBalance?: boolean;
}

async function insertCard(
  trx: Trx,
  config: Config,
  values: Omit<Partial<CardRow>, 'account_ids' | 'master_card_no'> & { kind: CardKind; status: CardStatus; own_account_id: number; pin_verify?: string; pin_subject?: string },
  pin: string | null,
): Promise<CardRow> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cardNo = generateCardNo(config.cardIssuerPrefix);
    const verify = pin === null ? values.pin_verify! : pinVerifyValue(config.pinKey, cardNo, pin);
    const subject = pin === null ? values.pin_subject! : cardNo;
    try {
      const r = await sql<{ id: number }>`insert into cards (card_no, kind, customer_id, master_card_id, status, pin_verify, pin_subject,
          own_account_id, shared_balance, replaces, limit_sale_amount, limit_day_amount, limit_week_amount, limit_month_amount,
          limit_sale_volume, limit_day_volume, limit_week_volume, limit_month_volume, limit_day_fills, limit_week_fills,
          limit_month_fills, min_fill_interval_s, allowed_grades)
        values (${cardNo}, ${values.kind}, ${values.customer_id ?? null}, ${values.master_card_id ?? null}, ${values.status},
          ${verify}, ${subject}, ${values.own_account_id}, ${values.shared_balance ?? false}, ${values.replaces ?? null},
          ${values.limit_sale_amount ?? null}, ${values.limit_day_amount ?? null}, ${values.limit_week_amount ?? null}, ${values.limit_month_amount ?? null},
          ${values.limit_sale_volume ?? null}, ${values.limit_day_volume ?? null}, ${values.limit_week_volume ?? null}, ${values.limit_month_volume ?? null},
          ${values.limit_day_fills ?? null}, ${values.limit_week_fills ?? null}, ${values.limit_month_fills ?? null},
          ${values.min_fill_interval_s ?? null}, ${values.allowed_grades ?? null})
        returning id`.execute(trx);
      return (await findCardById(trx, r.rows[0]!.id))!;
    } catch (err) {
      // A generated number collided with an existing card: draw again.
      if (pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'cards_card_no_key') continue;
      throw err;
    }
  }
  throw new Error('could not allocate a unique card number');
}

async function linkAccount(trx: Trx, cardId: number, accountId: number, priority: number): Promise<void> {
  await sql`insert into card_accounts (card_id, account_id, priority) values (${cardId}, ${accountId}, ${priority})`.execute(trx);
}

export async function issueCard(deps: CardDeps, actor: Actor, input: IssueCardInput, inTrx?: Trx): Promise<CardView> {
  checkPinFormat(input.pin);
  if ((input.kind === 'personal' || input.kind === 'master') && input.customerId === undefined) {
    throw cardsError('CARD_CUSTOMER_REQUIRED', { field: 'customerId' });
  }
  if (input.kind === 'anonymous' && input.customerId !== undefined) throw cardsError('CARD_CUSTOMER_NOT_ALLOWED', { field: 'customerId' });
  if (input.kind === 'sub' && !input.masterCardNo) throw cardsError('CARD_MASTER_REQUIRED', { field: 'masterCardNo' });
  const issue = async (trx: Trx): Promise<CardView> => {
    if (input.customerId !== undefined && !(await customerExists(trx, input.customerId))) {
      throw cardsError('CARD_CUSTOMER_REQUIRED', { field: 'customerId', reason: 'customer not found' });
    }
    let master: CardRow | undefined;
    if (input.kind === 'sub') {
      master = await lockCardByNo(trx, input.masterCardNo!);
      // New sub cards only under a master in good standing (not frozen, lost, replaced or closed).
      if (!master || master.kind !== 'master' || (master.status !== 'active' && master.status !== 'pending')) {
        throw cardsError('CARD_MASTER_INVALID', { field: 'masterCardNo' });
      }
    }
    const account = await openAccount(trx, {
      kind: input.kind === 'master' ? 'reserve' : 'customer',
      name: input.kind === 'master' ? '主卡备用金' : input.kind === 'sub' ? '副卡账户' : '卡账户',
    });
    const card = await insertCard(
      trx,
      deps.config,
      {
        kind: input.kind,
        customer_id: input.customerId ?? master?.customer_id ?? null,
        master_card_id: master?.id ?? null,
        status: deps.config.newCardStatus,
        own_account_id: account.id,
        shared_balance: input.kind === 'sub' && input.sharedBalance === true,
      },
      input.pin,
    );
    await linkAccount(trx, card.id, account.id, 1);
    if (master && input.sharedBalance) await linkAccount(trx, card.id, master.own_account_id, 2);
    await recordCardEvent(trx, card.id, 'issue', null, card.status, { kind: input.kind });
    await audit(trx, actor, { action: 'card.issue', targetType: 'card', targetId: maskCardNo(card.card_no), details: { kind: input.kind, customerId: card.customer_id } });
    await publish(trx, 'card.issued', String(card.id), { cardId: card.id, kind: card.kind, customerId: card.customer_id });
    const fresh = (await findCardById(trx, card.id))!;
    return presentCard(trx, fresh, actor.role);
  };
  // In the caller's transaction (an idempotent request), or in one of our own.
  return inTrx ? issue(inTrx) : deps.db.transaction().execute(issue);
}

export interface CardOperationResult {
  card: CardView;
  /** replace: the new card. */
  newCard?: CardView;
  /** close: what was paid back or moved. */
  refund?: { amount: number; method: 'cash' | 'original_channel' | 'recalled_to_master'; refundId: string | null };
}

/**
 * Apply one operation of the state machine. Runs inside the caller's transaction
 * (money may move on close), with the card locked.
 */
export async function operateCard(
  trx: Trx,
  deps: CardDeps,
  actor: Actor,
  cardNo: string,
  op: CardOperation,
  body: { reason?: string; refundMethod?: 'cash' | 'original_channel'; operationId: string },
): Promise<CardOperationResult> {
  const card = await requireLockedCard(trx, cardNo);
  const now = new Date();
  const next = nextStatus(card.status, op, card.resume_status);
  if (next === null) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: op });
  if (card.kind === 'anonymous' && (op === 'report-loss' || op === 'cancel-loss') && !deps.config.anonymousCardsReportableLost) {
    throw cardsError('CARD_ANONYMOUS_NOT_REPORTABLE');
  }
  const result: Partial<CardOperationResult> = {};
  switch (op) {
    case 'report-loss':
      await sql`update cards set status = 'lost', resume_status = ${card.status}, lost_at = ${now}, updated_at = ${now} where id = ${card.id}`.execute(trx);
      break;
    case 'freeze':
      await sql`update cards set status = 'frozen', resume_status = ${card.status}, updated_at = ${now} where id = ${card.id}`.execute(trx);
      break;
    case 'cancel-loss':
    case 'unfreeze':
    case 'activate':
      await sql`update cards set status = ${next}, resume_status = null, lost_at = case when ${op} = 'cancel-loss' then null else lost_at end,
        updated_at = ${now} where id = ${card.id}`.execute(trx);
      break;
    case 'replace': {
      // New number, same accounts, same limits and PIN; the old card is dead from this commit.
      // After a loss the replacement is handed over at once but spends only once the waiting
      // period has passed: until then an offline terminal may still accept the lost card.
      // A lost card's replacement keeps what the card was under before the loss: still pending
      // activation, or still frozen (a freeze is a risk decision that a loss report must not lift).
      const replacement = await insertCard(
        trx,
        deps.config,
        {
          ...card,
          status: card.status === 'lost' && (card.resume_status === 'pending' || card.resume_status === 'frozen') ? card.resume_status : 'active',
          replaces: card.id,
          pin_verify: card.pin_verify,
          pin_subject: card.pin_subject,
        },
        null,
      );
      await sql`insert into card_accounts (card_id, account_id, priority)
        select ${replacement.id}, account_id, priority from card_accounts where card_id = ${card.id}`.execute(trx);
      // The period limits and the minimum interval count what the old card already used:
      // replacing a card must not reset its day, week and month totals.
      await sql`insert into card_usage_daily (card_id, day, amount, volume_ml, fills)
        select ${replacement.id}, day, amount, volume_ml, fills from card_usage_daily where card_id = ${card.id}`.execute(trx);
      const usableFrom = lossWaitEnd(card, deps.config, now);
      await sql`update cards set last_sale_at = ${card.last_sale_at}, usable_from = ${usableFrom} where id = ${replacement.id}`.execute(trx);
      await sql`update cards set status = 'replaced', replaced_by = ${replacement.id}, resume_status = null, updated_at = ${now} where id = ${card.id}`.execute(trx);
      if (card.kind === 'master') {
        await sql`update cards set master_card_id = ${replacement.id}, updated_at = ${now} where master_card_id = ${card.id}`.execute(trx);
      }
      await recordCardEvent(trx, replacement.id, 'issue', null, replacement.status, { replaces: maskCardNo(card.card_no) });
      result.newCard = await presentCard(trx, (await findCardById(trx, replacement.id))!, actor.role);
      break;
    }
    case 'close': {
      // Closing refunds the balance: like a replacement, it waits until offline terminals have learnt of a loss.
      requireLossWaitOver(card, deps.config, now);
      const refund = await closeCardMoney(trx, deps.config, actor, card, body.refundMethod ?? 'cash', body.operationId);
      await sql`update cards set status = 'closed', resume_status = null, closed_at = ${now}, updated_at = ${now} where id = ${card.id}`.execute(trx);
      result.refund = refund;
      break;
    }
  }
  await recordCardEvent(trx, card.id, op, card.status, next, body.reason ? { reason: body.reason } : {});
  await audit(trx, actor, {
    action: `card.${op}`,
    targetType: 'card',
    targetId: maskCardNo(card.card_no),
    details: { from: card.status, to: next, ...(body.reason ? { reason: body.reason } : {}), ...(result.refund ? { refund: result.refund } : {}) },
  });
  await publish(trx, `card.${op}`, String(card.id), { cardId: card.id, from: card.status, to: next });
  const fresh = (await findCardById(trx, card.id))!;
  return { card: await presentCard(trx, fresh, actor.role), ...result };
}

export type PinCheck = 'ok' | 'wrong' | 'locked';

/**
 * Check a PIN and count failures on the locked card. The caller must commit even when
 * the PIN is wrong, or the try would not count.
 */
export async function checkPin(trx: Trx, config: Config, card: CardRow, pin: PinEntry, now: Date): Promise<PinCheck> {
  const lockActive = card.pin_locked_until !== null && card.pin_locked_until > now;
  if (lockActive) return 'locked';
  const failures = card.pin_locked_until !== null ? 0 : card.pin_failures; // an expired lock starts afresh
  if (await pinEntryMatches(config.pinKey, pin, card.pin_subject, card.pin_verify)) {
    if (failures !== 0 || card.pin_locked_until !== null) {
      await sql`update cards set pin_failures = 0, pin_locked_until = null where id = ${card.id}`.execute(trx);
    }
    return 'ok';
  }
  const tries = failures + 1;
  if (tries >= config.pinMaxTries) {
    const until = config.pinLockMode === 'reset' ? 'infinity' : startOfNextBusinessDay(now, config.timeZone).toISOString();
    await sql`update cards set pin_failures = ${tries}, pin_locked_until = ${until}::timestamptz where id = ${card.id}`.execute(trx);
    await recordCardEvent(trx, card.id, 'pin-locked', card.status, card.status, { tries });
    return 'locked';
  }
  await sql`update cards set pin_failures = ${tries}, pin_locked_until = null where id = ${card.id}`.execute(trx);
  return 'wrong';
}

export async function changePin(deps: CardDeps, actor: Actor, cardNo: string, oldPin: string, newPin: string): Promise<void> {
  checkPinFormat(newPin, 'newPin');
  const outcome = await deps.db.transaction().execute(async (trx) => {
    const card = await requireLockedCard(trx, cardNo);
    if (!CAPABILITIES[card.status].pin) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'pin-change' });
    const check = await checkPin(trx, deps.config, card, oldPin, new Date());
    if (check !== 'ok') return check; // commit the counted try, then refuse
    await sql`update cards set pin_verify = ${pinVerifyValue(deps.config.pinKey, card.card_no, newPin)}, pin_subject = ${card.card_no},
      updated_at = now() where id = ${card.id}`.execute(trx);
    await recordCardEvent(trx, card.id, 'pin-change', card.status, card.status);
    await audit(trx, actor, { action: 'card.pin_change', targetType: 'card', targetId: maskCardNo(card.card_no) });
    return check;
  });
  if (outcome === 'wrong') throw cardsError('CARD_PIN_WRONG', { field: 'oldPin' });
  if (outcome === 'locked') throw cardsError('CARD_PIN_LOCKED');
}

/** Staff reset after checking the holder's ID: sets a new PIN and clears any lock. */
export async function resetPin(deps: CardDeps, actor: Actor, cardNo: string, newPin: string): Promise<void> {
  checkPinFormat(newPin, 'newPin');
  await deps.db.transaction().execute(async (trx) => {
    const card = await requireLockedCard(trx, cardNo);
    if (!CAPABILITIES[card.status].pin) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'pin-reset' });
    await sql`update cards set pin_verify = ${pinVerifyValue(deps.config.pinKey, card.card_no, newPin)}, pin_subject = ${card.card_no},
      pin_failures = 0, pin_locked_until = null, updated_at = now() where id = ${card.id}`.execute(trx);
    await recordCardEvent(trx, card.id, 'pin-reset', card.status, card.status);
    await audit(trx, actor, { action: 'card.pin_reset', targetType: 'card', targetId: maskCardNo(card.card_no) });
  });
}

/** Replace all limits at once; in force for the next sale (sales read them under the card lock). */
export async function setLimits(deps: CardDeps, actor: Actor, cardNo: string, limits: Partial<CardLimits> & { fuelOnly?: boolean }): Promise<CardView> {
  return deps.db.transaction().execute(async (trx) => {
    const card = await requireLockedCard(trx, cardNo);
    if (!CAPABILITIES[card.status].limits) throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'limits' });
    const sets = Object.entries(LIMIT_COLUMNS).map(([k, col]) => sql`${sql.ref(col)} = ${(limits as Record<string, number | null | undefined>)[k] ?? null}`);
    const grades = limits.allowedGrades === undefined || limits.allowedGrades === null ? null : [...new Set(limits.allowedGrades)];
    await sql`update cards set ${sql.join(sets)}, allowed_grades = ${grades}, fuel_only = ${limits.fuelOnly ?? isFuelOnly(card)}, updated_at = now() where id = ${card.id}`.execute(trx);
    await recordCardEvent(trx, card.id, 'limits', card.status, card.status, { limits });
    await audit(trx, actor, { action: 'card.limits', targetType: 'card', targetId: maskCardNo(card.card_no), details: { before: { ...limitsOf(card), fuelOnly: isFuelOnly(card) }, after: limits } });
    return presentCard(trx, (await findCardById(trx, card.id))!, actor.role);
  });
}

/**
 * Link another account to the card (一卡多户): an existing open account, or a new one.
 * Priority decides the spending order at the pump; the card's own account is 1.
 */
export async function linkCardAccount(deps: CardDeps, actor: Actor, cardNo: string, input: { accountId?: number; priority?: number }): Promise<CardView> {
  return deps.db.transaction().execute(async (trx) => {
    const card = await requireLockedCard(trx, cardNo);
    if (card.status === 'closed' || card.status === 'replaced') throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'link-account' });
    const existing = await sql<{ account_id: number; priority: number }>`select account_id, priority from card_accounts where card_id = ${card.id}`.execute(trx);
    const used = new Set(existing.rows.map((r) => r.priority));
    const priority = input.priority ?? [...Array(9).keys()].map((i) => i + 1).find((p) => !used.has(p));
    if (priority === undefined || used.has(priority) || priority < 1 || priority > 9) {
      throw cardsError('CARD_ACCOUNT_LINK_INVALID', { field: 'priority', reason: 'priority taken or out of 1..9' });
    }
    let accountId = input.accountId;
    if (accountId === undefined) {
      accountId = (await openAccount(trx, { kind: 'customer', name: '附加账户' })).id;
    } else {
      if (existing.rows.some((r) => r.account_id === accountId)) throw cardsError('CARD_ACCOUNT_LINK_INVALID', { field: 'accountId', reason: 'already linked' });
      const [acct] = await getAccounts(trx, [accountId]);
      if (!acct || acct.status !== 'open' || (acct.kind !== 'customer' && acct.kind !== 'reserve') || acct.currency !== 'CNY') {
        throw cardsError('CARD_ACCOUNT_LINK_INVALID', { field: 'accountId' });
      }
      // Only accounts of the same holder (or the master's reserve) may be linked.
      const owners = await sql<{ customer_id: number | null; id: number }>`select c.customer_id, c.id from card_accounts ca join cards c on c.id = ca.card_id
        where ca.account_id = ${accountId}`.execute(trx);
      const sameHolder = owners.rows.every((o) => (o.customer_id !== null && o.customer_id === card.customer_id) || o.id === card.master_card_id);
      if (!sameHolder) throw cardsError('CARD_ACCOUNT_LINK_INVALID', { field: 'accountId', reason: 'account belongs to another holder' });
    }
    await linkAccount(trx, card.id, accountId, priority);
    await audit(trx, actor, { action: 'card.link_account', targetType: 'card', targetId: maskCardNo(card.card_no), details: { accountId, priority } });
    return presentCard(trx, (await findCardById(trx, card.id))!, actor.role);
  });
}

/** Set the spending order: the given account ids, first = priority 1. Must name every linked account. */
export async function reorderCardAccounts(deps: CardDeps, actor: Actor, cardNo: string, order: number[]): Promise<CardView> {
  return deps.db.transaction().execute(async (trx) => {
    const card = await requireLockedCard(trx, cardNo);
    if (card.status === 'closed' || card.status === 'replaced') throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'reorder-accounts' });
    const linked = [...card.account_ids].sort((a, b) => a - b);
    const wanted = [...order].sort((a, b) => a - b);
    if (linked.length !== wanted.length || linked.some((id, i) => id !== wanted[i])) {
      throw cardsError('CARD_ACCOUNT_LINK_INVALID', { field: 'order', reason: 'must list every linked account once' });
    }
    // Delete and re-insert, so the unique (card, priority) constraint never sees a duplicate mid-way.
    await sql`delete from card_accounts where card_id = ${card.id}`.execute(trx);
    for (const [i, accountId] of order.entries()) await linkAccount(trx, card.id, accountId, i + 1);
    await audit(trx, actor, { action: 'card.reorder_accounts', targetType: 'card', targetId: maskCardNo(card.card_no), details: { order } });
    return presentCard(trx, (await findCardById(trx, card.id))!, actor.role);
  });
}
