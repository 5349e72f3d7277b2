import { sql } from 'kysely';
import type { Executor, Trx } from '../platform/index.js';
import type { CardStatus } from './card.state.js';

export type CardKind = 'personal' | 'anonymous' | 'master' | 'sub';

export interface CardRow {
  id: number;
  card_no: string;
  kind: CardKind;
  customer_id: number | null;
  master_card_id: number | null;
  status: CardStatus;
  resume_status: CardStatus | null;
  pin_verify: string;
  pin_subject: string;
  pin_failures: number;
  pin_locked_until: Date | null;
  own_account_id: number;
  shared_balance: boolean;
  replaced_by: number | null;
  replaces: number | null;
  lost_at: Date | null;
  closed_at: Date | null;
  limit_sale_amount: number | null;
  limit_day_amount: number | null;
  limit_week_amount: number | null;
  limit_month_amount: number | null;
  limit_sale_volume: number | null;
  limit_day_volume: number | null;
  limit_week_volume: number | null;
  limit_month_volume: number | null;
  limit_day_fills: number | null;
  limit_week_fills: number | null;
  limit_month_fills: number | null;
  min_fill_interval_s: number | null;
  allowed_grades: string[] | null;
  /** A fleet restriction: store goods are declined (GOODS_NOT_ALLOWED). */
  fuel_only: boolean;
  last_sale_at: Date | null;
  /** A replacement for a lost card spends only from this time (the loss waiting period). */
  usable_from: Date | null;
  created_at: Date;
  updated_at: Date;
  /** Linked account ids in priority order (selected alongside the card). */
  account_ids: number[];
  master_card_no: string | null;
  /** The master card's status (sub cards), read with the card. */
  master_status: CardStatus | null;
  /** The database's clock when the card was read (after its lock, when locked). */
  read_at: Date;
}

const CARD_SELECT = sql`c.*,
  coalesce((select array_agg(ca.account_id order by ca.priority) from card_accounts ca where ca.card_id = c.id), '{}') as account_ids,
  (select m.card_no from cards m where m.id = c.master_card_id) as master_card_no,
  (select m.status from cards m where m.id = c.master_card_id) as master_status,
  clock_timestamp() as read_at`;

export async function findCardByNo(db: Executor, cardNo: string): Promise<CardRow | undefined> {
  const r = await sql<CardRow>`select ${CARD_SELECT} from cards c where c.card_no = ${cardNo}`.execute(db);
  return r.rows[0];
}

export async function findCardById(db: Executor, id: number): Promise<CardRow | undefined> {
  const r = await sql<CardRow>`select ${CARD_SELECT} from cards c where c.id = ${id}`.execute(db);
  return r.rows[0];
}

/**
 * Lock the card row for the rest of the transaction. Everything that changes a card
 * (operations, PIN tries, limits, sales) takes this lock first, so checks on the card
 * are never raced.
 */
export async function lockCardByNo(trx: Trx, cardNo: string): Promise<CardRow | undefined> {
  // Two statements on purpose. Under READ COMMITTED a statement that waited for the lock sees the
  // locked row as committed, but its subqueries (linked accounts, the master's status) keep the
  // snapshot taken before the wait; the second statement takes a fresh one.
  const locked = await sql<{ id: number }>`select id from cards where card_no = ${cardNo} for update`.execute(trx);
  const id = locked.rows[0]?.id;
  return id === undefined ? undefined : findCardById(trx, id);
}

export async function recordCardEvent(
  db: Executor,
  cardId: number,
  action: string,
  from: CardStatus | null,
  to: CardStatus,
  details: Record<string, unknown> = {},
): Promise<void> {
  await sql`insert into card_events (card_id, action, from_status, to_status, details)
    values (${cardId}, ${action}, ${from}, ${to}, ${JSON.stringify(details)}::jsonb)`.execute(db);
}

export async function listCardsOfCustomer(db: Executor, customerId: number): Promise<CardRow[]> {
  const r = await sql<CardRow>`select ${CARD_SELECT} from cards c where c.customer_id = ${customerId} order by c.id limit 500`.execute(db);
  return r.rows;
}

export async function listSubCards(db: Executor, masterId: number): Promise<CardRow[]> {
  const r = await sql<CardRow>`select ${CARD_SELECT} from cards c where c.master_card_id = ${masterId} order by c.id limit 5000`.execute(db);
  return r.rows;
}
