import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, maskCardNo, pageSize } from '../platform/index.js';
import { requireCard } from '../cards/index.js';

export interface StatementLine {
  type: 'sale' | 'recharge' | 'refund' | 'reversal';
  id: string;
  at: string;
  /** Signed from the cardholder's view: recharges positive, sales and refunds negative (fen). */
  amount: number;
  status: string;
  cardNo: string;
  stationId: number | null;
  terminalId: string | null;
  grade: string | null;
  volumeMl: number | null;
  unitPrice: number | null;
  channel: string | null;
  receiptNo: string | null;
  approvalCode: string | null;
  declineCode: string | null;
  balanceAfter: number | null;
}

export interface StatementQuery {
  from?: Date;
  to?: Date;
  type?: 'sale' | 'recharge' | 'refund' | 'reversal';
  includeDeclined?: boolean;
  limit?: number;
  cursor?: string;
}

export const MAX_STATEMENT_PAGE = 200;

/**
 * A card's statement: its sales, recharges and refunds, newest first, keyset-paged.
 * A replacement card's statement includes the cards it replaced (same accounts, same holder).
 */
export async function cardStatement(db: Executor, cardNo: string, q: StatementQuery): Promise<{ items: StatementLine[]; nextCursor: string | null }> {
  const card = await requireCard(db, cardNo);
  const limit = pageSize(q.limit, MAX_STATEMENT_PAGE);
  const cursor = decodeCursor(q.cursor);
  // As UTC text: pg would write a Date in the process's local zone.
  const from = q.from?.toISOString() ?? null;
  const to = q.to?.toISOString() ?? null;
  const r = await sql<{
    type: StatementLine['type'];
    id: string;
    at: Date;
    amount: number;
    status: string;
    card_no: string;
    station_id: number | null;
    terminal_id: string | null;
    grade: string | null;
    volume_ml: number | null;
    unit_price: number | null;
    channel: string | null;
    receipt_no: string | null;
    approval_code: string | null;
    decline_code: string | null;
    balance_after: number | null;
    cursor_at: string;
  }>`
    with recursive lineage(id) as (
      select ${card.id}::bigint
      union all
      select c.replaces from cards c join lineage l on c.id = l.id where c.replaces is not null
    ), lines as (
      select 'sale' as type, s.id::text as id, s.created_at as at,
             -- A declined sale moved nothing, nor did an offline sale the station bears (its hot list held the card).
             -- A reversed or voided sale did move money: its own 'reversal' line gives it back.
             case when s.status <> 'declined' and s.liability = 'programme' then -s.amount else 0 end as amount, s.status, c.card_no, s.station_id, s.terminal_id,
             s.grade, s.volume_ml, s.unit_price, null::text as channel, null::text as receipt_no, s.approval_code, s.decline_code, s.balance_after
        from sales s join cards c on c.id = s.card_id
        where s.card_id in (select id from lineage) and (${q.includeDeclined === true} or s.status <> 'declined')
      union all
      select 'reversal', v.id::text, v.created_at, v.amount, v.kind, c.card_no, s.station_id, s.terminal_id,
             s.grade, s.volume_ml, s.unit_price, null, null, s.approval_code, null, null
        from sale_reversals v join sales s on s.id = v.sale_id join cards c on c.id = s.card_id
        where s.card_id in (select id from lineage) and v.amount > 0
      union all
      select 'recharge', r.id::text, r.created_at, r.amount, 'completed', c.card_no, null, null, null, null, null, r.channel, r.receipt_no, null, null, r.balance_after
        from recharges r join cards c on c.id = r.card_id where r.card_id in (select id from lineage)
      union all
      select 'refund', f.id::text, f.created_at, -f.amount, f.status, c.card_no, null, null, null, null, null, f.method, null, null, null, 0
        from card_refunds f join cards c on c.id = f.card_id where f.card_id in (select id from lineage)
      union all
      -- A recharge refund leaves the card when it is requested; a failed one came back, so it moved nothing.
      select 'refund', p.id::text, p.created_at, -p.amount, p.status, c.card_no, null, null, null, null, null, p.channel, p.refund_no, null, null, null
        from payment_refunds p join cards c on c.id = p.card_id
        where p.kind = 'recharge' and p.status <> 'failed' and p.card_id in (select id from lineage)
    )
    select *, to_char(at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at from lines
    where (${q.type ?? null}::text is null or type = ${q.type ?? null})
      and (${from}::timestamptz is null or at >= ${from}::timestamptz)
      and (${to}::timestamptz is null or at < ${to}::timestamptz)
      and (${cursor?.at ?? null}::timestamptz is null or (at, id) < (${cursor?.at ?? null}::timestamptz, ${cursor?.id ?? null}::text))
    order by at desc, id desc
    limit ${limit + 1}`.execute(db);
  const page = r.rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((l) => ({
      type: l.type,
      id: l.id,
      at: l.at.toISOString(),
      amount: l.amount,
      status: l.status,
      cardNo: maskCardNo(l.card_no),
      stationId: l.station_id,
      terminalId: l.terminal_id,
      grade: l.grade,
      volumeMl: l.volume_ml,
      unitPrice: l.unit_price,
      channel: l.channel,
      receiptNo: l.receipt_no,
      approvalCode: l.approval_code,
      declineCode: l.decline_code,
      balanceAfter: l.balance_after,
    })),
    nextCursor: r.rows.length > limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}
