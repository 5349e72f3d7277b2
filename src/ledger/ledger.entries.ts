import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, pageSize } from '../platform/index.js';

export interface Entry {
  transferId: string;
  kind: string;
  code: string;
  /** Signed from the account's point of view: credit positive, debit negative. */
  amount: number;
  direction: 'debit' | 'credit';
  counterpartyAccountId: number;
  balanceAfter: number | null;
  pending: boolean;
  createdAt: string;
  metadata: unknown;
}

export interface EntryPage {
  items: Entry[];
  nextCursor: string | null;
}

export const MAX_PAGE = 200;

/**
 * An account's entries, newest first, keyset-paged by (created_at, id).
 * The cursor is opaque to callers: base64url of "<created_at to the microsecond>|<id>"
 * (a JS Date keeps only milliseconds, which would skip entries sharing a millisecond).
 */
export async function accountEntries(
  db: Executor,
  accountId: number,
  opts: { from?: Date; to?: Date; limit?: number; cursor?: string },
): Promise<EntryPage> {
  const limit = pageSize(opts.limit, MAX_PAGE);
  const cursor = decodeCursor(opts.cursor);
  // Only the filters given become conditions (no "$x is null or …"), so every page is an index
  // range read on each side, even under a cached generic plan.
  const filters = [
    ...(opts.from ? [sql`created_at >= ${opts.from}::timestamptz`] : []),
    ...(opts.to ? [sql`created_at < ${opts.to}::timestamptz`] : []),
    ...(cursor ? [sql`(created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`] : []),
  ];
  const side = (column: 'debit_account_id' | 'credit_account_id') =>
    sql`(select id, kind, code, amount, debit_account_id, credit_account_id, debit_balance_after, credit_balance_after, created_at, metadata
         from ledger_transfers where ${sql.join([sql`${sql.ref(column)} = ${accountId}`, ...filters], sql` and `)}
         order by created_at desc, id desc limit ${limit + 1})`;
  const rows = await sql<{
    id: string;
    kind: string;
    code: string;
    amount: number;
    debit_account_id: number;
    credit_account_id: number;
    debit_balance_after: number | null;
    credit_balance_after: number | null;
    created_at: Date;
    cursor_at: string;
    metadata: unknown;
  }>`select t.*, to_char(t.created_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
     from (${side('debit_account_id')} union all ${side('credit_account_id')}) t
     order by t.created_at desc, t.id desc
     limit ${limit + 1}`.execute(db);
  const page = rows.rows.slice(0, limit);
  const items = page.map((r): Entry => {
    const isDebit = r.debit_account_id === accountId;
    const moves = r.kind === 'posted' || r.kind === 'post_pending';
    return {
      transferId: r.id,
      kind: r.kind,
      code: r.code,
      amount: isDebit ? -r.amount : r.amount,
      direction: isDebit ? 'debit' : 'credit',
      counterpartyAccountId: isDebit ? r.credit_account_id : r.debit_account_id,
      balanceAfter: isDebit ? r.debit_balance_after : r.credit_balance_after,
      pending: !moves,
      createdAt: r.created_at.toISOString(),
      metadata: r.metadata,
    };
  });
  const last = page[page.length - 1];
  return {
    items,
    nextCursor: rows.rows.length > limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}
