import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, TerminalPrincipal, Trx } from '../platform/index.js';
import { businessDay } from '../platform/index.js';
import { lockAccounts, postHold, uuidFrom, voidHold } from '../ledger/index.js';
import { recordCardUse, requireLockedCard, type CardRow } from '../cards/index.js';
import { checkSalePrice } from '../stations/index.js';
import { claimTerminalRef, openShiftFor } from './forecourt-locks.js';
import { salesError } from './sales.errors.js';
import { priceGoods, type SaleAnswer } from './sales.service.js';
import { declineInfo, expectedFuelAmount, fuelAmountMatches, inArrears, insertSale, openHeldAmount, planSpend, postDebits, spendable, stationFor, type NewSale, type SaleTransfer } from './sale-parts.js';
import { releaseExpired } from './authorisations.jobs.js';
import type { AuthorisationHold } from './authorisations.service.js';

export interface CompletionRequest {
  volumeMl: number;
  unitPrice: number;
  /** The fuel delivered, fen: volume × price rounded either way; at most the amount held. */
  amount: number;
  items?: Array<{ sku: string; quantity: number }>;
}

interface AuthorisationRow {
  id: string;
  station_id: number;
  nozzle: number;
  grade: string;
  card_id: number;
  card_no_masked: string;
  held_amount: number;
  holds: AuthorisationHold[];
  status: 'held' | 'completed' | 'reversed' | 'expired' | 'forced';
  approval_code: string;
  sale_id: string | null;
  due: boolean;
}

const STATUS_DECLINE: Record<string, string> = { pending: 'CARD_NOT_ACTIVE', frozen: 'CARD_FROZEN', lost: 'CARD_LOST', replaced: 'CARD_REPLACED', closed: 'CARD_CLOSED' };

/** Store goods added at a completion are new spending: refused as a sale would refuse them. */
function goodsDecline(card: CardRow): string | null {
  if (STATUS_DECLINE[card.status]) return STATUS_DECLINE[card.status]!;
  if (card.kind === 'sub' && card.master_status === 'frozen') return 'MASTER_CARD_FROZEN';
  if (card.fuel_only === true) return 'GOODS_NOT_ALLOWED';
  return null;
}

/**
 * Complete a pump authorisation with what the pump delivered: the fuel amount is posted from the
 * holds (priority order) and the rest released; store goods, if any, are debited as a sale's. After
 * expiry the fuel is posted anyway, as a forced sale flagged 'completed_after_expiry' (it was
 * delivered). Resolved once: the row lock orders this against a second completion, the expiry job
 * and a reversal, and whichever comes second sees the first's status.
 */
export async function completeAuthorisation(
  trx: Trx,
  deps: { db: Db; config: Config },
  terminal: TerminalPrincipal,
  authorisationId: string,
  req: CompletionRequest,
  terminalRef: string,
): Promise<{ answer: SaleAnswer; last?: (trx: Trx) => Promise<void> }> {
  if (!fuelAmountMatches(req.volumeMl, req.unitPrice, req.amount)) {
    throw salesError('SALE_AMOUNT_MISMATCH', { field: 'amount', expected: expectedFuelAmount(req.volumeMl, req.unitPrice) });
  }
  const station = await stationFor(deps.db, trx, terminal.stationId);
  const { reversed } = await claimTerminalRef(trx, terminal.id, terminalRef);

  const r = await sql<AuthorisationRow>`select id, station_id, nozzle, grade, card_id, card_no_masked, held_amount, holds, status, approval_code, sale_id,
      expires_at <= clock_timestamp() as due
    from pump_authorisations where id = ${authorisationId} for update`.execute(trx);
  const auth = r.rows[0];
  if (!auth || auth.station_id !== terminal.stationId) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId });

  const goods = await priceGoods(trx, req.items ?? []);
  const total = req.amount + goods.total;
  const saleId = randomUUID();
  const sale: NewSale = {
    saleId,
    cardId: auth.card_id,
    cardNoMasked: auth.card_no_masked,
    stationId: terminal.stationId,
    terminalId: terminal.id,
    fuel: { grade: auth.grade, volumeMl: req.volumeMl, unitPrice: req.unitPrice, nozzle: auth.nozzle },
    amount: total,
    items: goods.lines,
    goodsAmount: goods.total,
    flow: 'completion',
    terminalRef,
    shiftId: 0,
    authorisationId: auth.id,
    pumpSaleId: null,
    businessDay: '',
    at: new Date(0),
  };
  const decline = async (code: string, balance: number | null): Promise<{ answer: SaleAnswer }> => {
    await insertSale(trx, sale, { status: 'declined', code, balance });
    const info = declineInfo(code);
    return { answer: { saleId, status: 'declined', declineCode: code, actionCode: info.iso, message: `${info.zh} / ${info.en}`, amount: total, balance } };
  };

  // The card first (the sale path's lock order), then the shift and the clock.
  const cardNo = (await sql<{ card_no: string }>`select card_no from cards where id = ${auth.card_id}`.execute(trx)).rows[0]!.card_no;
  const card = await requireLockedCard(trx, cardNo);
  sale.at = card.read_at;
  sale.businessDay = businessDay(card.read_at, deps.config.timeZone);
  sale.shiftId = await openShiftFor(trx, terminal);

  // A reversal of this completion's reference arrived first: refused; the authorisation stays as it is.
  if (reversed) return decline('ALREADY_REVERSED', null);
  if (auth.status === 'completed' || auth.status === 'forced') throw salesError('AUTHORISATION_ALREADY_COMPLETED', { authorisationId, saleId: auth.sale_id });
  if (auth.status === 'reversed') throw salesError('AUTHORISATION_REVERSED', { authorisationId });
  if (req.amount > auth.held_amount) throw salesError('COMPLETION_EXCEEDS_HOLD', { field: 'amount', heldAmount: auth.held_amount });

  if (goods.lines.length > 0) {
    const code = goodsDecline(card);
    if (code) return decline(code, null);
  }
  const price = await checkSalePrice(deps.db, trx, { stationId: terminal.stationId, grade: auth.grade, unitPrice: req.unitPrice, graceMs: deps.config.priceChangeGraceMs });
  if (!price.ok) return decline('PRICE_MISMATCH', null);

  // Time decides expiry, not the job's timing: a hold past its time is released here, as the job would.
  let late = auth.status === 'expired';
  if (auth.status === 'held' && auth.due) {
    await releaseExpired(trx, auth);
    late = true;
  }

  const holdAccounts = auth.holds.map((h) => h.accountId);
  const accounts = await lockAccounts(trx, [...card.account_ids, ...holdAccounts.filter((id) => !card.account_ids.includes(id))]);
  const free = spendable(accounts);
  const transfers: Array<SaleTransfer & { forced?: boolean }> = [];
  let fromHolds: Array<{ hold: AuthorisationHold; amount: number }> = [];

  if (!late) {
    // The fuel from the holds in priority order; goods from what is free besides.
    let remaining = req.amount;
    fromHolds = auth.holds.map((h) => {
      const part = Math.min(remaining, h.amount);
      remaining -= part;
      return { hold: h, amount: part };
    });
    if (goods.total > 0) {
      if (inArrears(accounts)) return decline('CARD_IN_ARREARS', free);
      if (free < goods.total) return decline('INSUFFICIENT_FUNDS', free);
    }
    for (const p of fromHolds.filter((p) => p.amount > 0)) {
      transfers.push({ transferId: uuidFrom(`completion:${auth.id}:${p.hold.transferId}`), accountId: p.hold.accountId, amount: p.amount });
    }
  } else {
    // Forced: the fuel is posted whatever the balance; what the accounts lack becomes arrears on the first.
    if (goods.total > 0) {
      if (inArrears(accounts)) return decline('CARD_IN_ARREARS', free);
      if (free - req.amount < goods.total) return decline('INSUFFICIENT_FUNDS', Math.max(0, free - req.amount));
    }
    const parts = planSpend(accounts, req.amount);
    for (const p of parts) transfers.push({ ...p, transferId: uuidFrom(`sale:${saleId}:${p.accountId}`) });
    const shortfall = req.amount - parts.reduce((s, p) => s + p.amount, 0);
    if (shortfall > 0) {
      const first = accounts[0]!;
      if (first.status === 'closed') throw salesError('COMPLETION_NOT_POSTABLE', { authorisationId, accountId: first.id });
      transfers.push({ transferId: uuidFrom(`sale:${saleId}:${first.id}:forced`), accountId: first.id, amount: shortfall, forced: true });
    }
  }
  const goodsTransfers: SaleTransfer[] = [];
  if (goods.total > 0) {
    // What the fuel left free on each account (the forced path's fuel spends the same accounts first).
    const used = new Map<number, number>();
    if (late) for (const t of transfers) used.set(t.accountId, (used.get(t.accountId) ?? 0) + t.amount);
    const left = accounts.map((a) => ({ id: a.id, available: a.available - (used.get(a.id) ?? 0) }));
    for (const p of planSpend(left, goods.total)) goodsTransfers.push({ ...p, transferId: uuidFrom(`sale:${saleId}:${p.accountId}:goods`) });
  }

  // The fuel was authorised within the limits (its hold); goods added now are new spending and must fit them.
  const overLimit = await recordCardUse(trx, card.id, { amount: total, volumeMl: req.volumeMl }, sale.businessDay, sale.at, {
    newAmount: goods.total,
    pendingAmount: await openHeldAmount(trx, card.id, auth.id),
  });
  if (overLimit) return decline(overLimit, free);
  const released = late ? 0 : auth.held_amount - req.amount;
  const balance = free + released - goods.total - (late ? req.amount : 0);
  const flags = late ? ['completed_after_expiry'] : [];
  await insertSale(trx, sale, { status: 'approved', approvalCode: auth.approval_code, transfers: [...transfers, ...goodsTransfers].map(({ transferId, accountId, amount }) => ({ transferId, accountId, amount })), balance, forced: late, flags });
  await sql`update pump_authorisations set status = ${late ? 'forced' : 'completed'}, sale_id = ${saleId}, resolved_at = coalesce(resolved_at, clock_timestamp())
    where id = ${auth.id}`.execute(trx);

  const metadata = { saleId, authorisationId: auth.id, terminalId: terminal.id, nozzle: auth.nozzle };
  return {
    answer: { saleId, status: 'approved', approvalCode: auth.approval_code, actionCode: '000', amount: total, balance },
    last: async (t: Trx) => {
      for (const p of fromHolds) {
        const res =
          p.amount > 0
            ? await postHold(t, { id: uuidFrom(`completion:${auth.id}:${p.hold.transferId}`), pendingId: p.hold.transferId, amount: p.amount, code: 'completion', metadata })
            : await voidHold(t, { id: uuidFrom(`release:${auth.id}:${p.hold.transferId}`), pendingId: p.hold.transferId, code: 'completion_release', metadata });
        // Held under this authorisation's row lock and not yet due: a refusal is a broken invariant.
        if (!res.ok) throw new Error(`ledger refused a completion of a checked hold: ${res.code}`);
      }
      await postDebits(t, late ? transfers : [], station.settlementAccountId, { ...metadata, forcedReason: 'completed_after_expiry' });
      await postDebits(t, goodsTransfers, station.settlementAccountId, metadata);
    },
  };
}
