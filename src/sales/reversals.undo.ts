import { sql } from 'kysely';
import type { Trx } from '../platform/index.js';
import { publish } from '../platform/index.js';
import { lockAccounts, transfer, uuidFrom } from '../ledger/index.js';
import { releaseCardUse } from '../cards/index.js';
import { reversalsError } from './reversals.errors.js';
import { voidAuthorisationHolds } from './authorisations.jobs.js';

/** What undoing a sale needs of it, read under its row lock. */
export interface SaleToUndo {
  id: string;
  card_id: number | null;
  station_id: number;
  terminal_id: string;
  terminal_ref: string | null;
  status: 'approved' | 'declined' | 'reversed' | 'voided';
  amount: number;
  volume_ml: number | null;
  transfers: Array<{ transferId: string; accountId: number; amount: number }>;
  business_day: string;
  authorisation_id: string | null;
  pump_sale_id: string | null;
  shift_id: number | null;
  liability: 'programme' | 'station';
}

export async function lockSale(trx: Trx, saleId: string): Promise<SaleToUndo | null> {
  const r = await sql<SaleToUndo>`select id, card_id, station_id, terminal_id, terminal_ref, status, amount, volume_ml, transfers,
      to_char(business_day, 'YYYY-MM-DD') as business_day, authorisation_id, pump_sale_id, shift_id, liability
    from sales where id = ${saleId} for update`.execute(trx);
  return r.rows[0] ?? null;
}

/**
 * The authorisation a completion sale came from, locked before the sale itself: the reversal of
 * an authorisation locks it first and then its sale, so every path takes the two in that order.
 */
export async function lockAuthorisationOfSale(trx: Trx, saleId: string): Promise<void> {
  await sql`select 1 from pump_authorisations where id = (select authorisation_id from sales where id = ${saleId}) for update`.execute(trx);
}

/**
 * Give an approved sale's money back exactly as it was debited: one transfer from the station's
 * settlement account to each card account the sale took from, for the amount it took. A forced
 * sale left arrears; the ledger lets a credit repay them, so the account ends where it was. A
 * station-liability sale moved nothing and gives nothing back. The card's usage is released,
 * the sale marked reversed or voided, a post-pay sale's pump sale is unpaid again, and the event
 * goes out with it. Returns the amount given back. The caller holds the sale's row lock.
 */
export async function giveBack(trx: Trx, sale: SaleToUndo, to: 'reversed' | 'voided'): Promise<number> {
  if (sale.status !== 'approved') throw new Error(`giveBack of a ${sale.status} sale ${sale.id}`);
  // The pump sale it paid, then the card, in the sale path's order: a sale and a reversal on one
  // card (or one pump sale) queue there and never wait on each other crosswise.
  if (sale.pump_sale_id !== null) await sql`select 1 from pump_sales where id = ${sale.pump_sale_id} for update`.execute(trx);
  // A station-liability sale was never counted against the card (the card was on the terminal's hot list).
  if (sale.card_id !== null && sale.liability === 'programme') await releaseCardUse(trx, sale.card_id, { amount: sale.amount, volumeMl: sale.volume_ml ?? 0 }, sale.business_day);
  const parts = sale.transfers.filter((t) => t.amount > 0);
  let returned = 0;
  if (parts.length > 0) {
    const st = await sql<{ settlement_account_id: number }>`select settlement_account_id from stations where id = ${sale.station_id}`.execute(trx);
    const settlementAccountId = st.rows[0]!.settlement_account_id;
    await lockAccounts(trx, [...new Set(parts.map((p) => p.accountId))]);
    for (const part of parts) {
      // Derived from the sale and its debit: a repeat of this very step can never credit twice.
      const res = await transfer(trx, {
        id: uuidFrom(`sale-undo:${sale.id}:${part.transferId}`),
        debitAccountId: settlementAccountId,
        creditAccountId: part.accountId,
        amount: part.amount,
        code: to === 'voided' ? 'sale_void' : 'sale_reversal',
        metadata: { saleId: sale.id, terminalId: sale.terminal_id, originalTransferId: part.transferId },
      });
      if (!res.ok) {
        if (res.code === 'LEDGER_ACCOUNT_CLOSED') throw reversalsError('REVERSAL_ACCOUNT_CLOSED', { saleId: sale.id, accountId: part.accountId });
        throw new Error(`ledger refused a sale's give-back: ${res.code}`);
      }
      returned += part.amount;
    }
  }
  await sql`update sales set status = ${to}, reversed_at = clock_timestamp() where id = ${sale.id}`.execute(trx);
  if (sale.pump_sale_id !== null) {
    // Paid by this sale, so the fill is owed again: the customer pays another way or another card.
    await sql`update pump_sales set status = 'unpaid', sale_id = null, resolved_at = null, resolved_by = null
      where id = ${sale.pump_sale_id} and sale_id = ${sale.id}`.execute(trx);
  }
  if (sale.authorisation_id !== null) {
    // The completion's money is back: the authorisation can never be completed again.
    await sql`update pump_authorisations set status = 'reversed' where id = ${sale.authorisation_id} and status in ('completed','forced')`.execute(trx);
  }
  await publish(trx, `sale.${to}`, sale.id, { saleId: sale.id, cardId: sale.card_id, stationId: sale.station_id, terminalId: sale.terminal_id, amount: sale.amount, returned });
  return returned;
}

export interface AuthorisationToUndo {
  id: string;
  status: 'held' | 'review' | 'completed' | 'reversed' | 'expired' | 'forced' | 'declined';
  sale_id: string | null;
  holds: Array<{ transferId: string; accountId: number; amount: number }>;
}

export async function lockAuthorisationByRef(trx: Trx, terminalId: string, ref: string): Promise<AuthorisationToUndo | null> {
  const r = await sql<AuthorisationToUndo>`select id, status, sale_id, holds from pump_authorisations
    where terminal_id = ${terminalId} and terminal_ref = ${ref} for update`.execute(trx);
  return r.rows[0] ?? null;
}

/**
 * Release an open authorisation's holds (the pump never ran, or the terminal gave up): each hold
 * voided in the ledger. A hold the ledger already expired released itself; it counts for nothing.
 * Returns the amount released. The caller holds the authorisation's row lock.
 */
export async function releaseHolds(trx: Trx, auth: AuthorisationToUndo): Promise<number> {
  const released = await voidAuthorisationHolds(trx, auth, { idPrefix: 'authorisation-reversal', code: 'authorisation_reversal' });
  await sql`update pump_authorisations set status = 'reversed', resolved_at = clock_timestamp() where id = ${auth.id}`.execute(trx);
  await publish(trx, 'authorisation.reversed', auth.id, { authorisationId: auth.id, released });
  return released;
}
