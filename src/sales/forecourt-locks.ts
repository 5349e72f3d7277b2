import { sql } from 'kysely';
import type { Trx } from '../platform/index.js';
import { platformError } from '../platform/index.js';

/**
 * The terminal's open shift, created when it has none (its first transaction after a close),
 * taken FOR SHARE for the rest of the caller's transaction. Closing a shift updates its row, so
 * a close waits for every sale still in flight in it, and a sale that waited for a close finds the
 * row no longer open and starts the next shift: nothing slips into a closed shift.
 */
export async function openShiftFor(trx: Trx, terminal: { id: string; stationId: number }): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const open = await sql<{ id: number }>`select id from terminal_shifts where terminal_id = ${terminal.id} and closed_at is null for share`.execute(trx);
    if (open.rows[0]) return open.rows[0].id;
    // A concurrent first sale may create it first: either unique index makes this a no-op, and the next read finds it.
    await sql`insert into terminal_shifts (terminal_id, station_id, shift_no)
      select ${terminal.id}, ${terminal.stationId}, coalesce(max(shift_no), 0) + 1 from terminal_shifts where terminal_id = ${terminal.id}
      on conflict do nothing`.execute(trx);
  }
  throw new Error(`no open shift could be found or created for terminal ${terminal.id}`);
}

/**
 * Serialises everything that names one terminal reference (an original's Idempotency-Key or
 * offline sequence): the original and its reversal may race, and whichever runs second must see
 * the first. Held until the transaction ends.
 */
export async function lockTerminalRef(trx: Trx, terminalId: string, ref: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(7401, hashtext(${`${terminalId}\n${ref}`}))`.execute(trx);
}

/**
 * Takes a terminal reference for a new original, in one round trip after the lock
 * (lockTerminalRef): refuses it when it already names another original of this terminal, and says
 * whether a reversal of it arrived first (the late original is then declined ALREADY_REVERSED).
 *
 * One terminal reference names one original: a reversal of it must undo exactly that. Each kind of
 * original keeps its Idempotency-Key under its own scope (pos-sale, pos-completion,
 * pos-authorisation, pos-pump-sale), and a retry on the same endpoint is answered from there
 * before this is reached, so any original already recorded under the reference here is another
 * one: 409 IDEMPOTENCY_KEY_REUSED. Under the lock, two requests with one reference on two
 * endpoints see each other.
 */
export async function claimTerminalRef(trx: Trx, terminalId: string, ref: string): Promise<{ reversed: boolean }> {
  await lockTerminalRef(trx, terminalId, ref);
  const r = await sql<{ other: string | null; reversed: boolean }>`select
      (select 'sale' from sales where terminal_id = ${terminalId} and terminal_ref = ${ref}
        union all select 'authorisation' from pump_authorisations where terminal_id = ${terminalId} and terminal_ref = ${ref}
        union all select 'pump_sale' from pump_sales where terminal_id = ${terminalId} and terminal_ref = ${ref}
        limit 1) as other,
      exists (select 1 from sale_reversals where terminal_id = ${terminalId} and original_ref = ${ref}) as reversed`.execute(trx);
  const { other, reversed } = r.rows[0]!;
  if (other) throw platformError('IDEMPOTENCY_KEY_REUSED', { key: ref, reason: `this terminal reference already names a ${other.replace('_', ' ')}`, original: other });
  return { reversed };
}
