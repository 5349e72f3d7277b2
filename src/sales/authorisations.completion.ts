import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, TerminalPrincipal, Trx } from '../platform/index.js';
import { businessDay } from '../platform/index.js';
import { lockAccounts, postHold, uuidFrom, voidHold } from '../ledger/index.js';
import { recordCardUse, requireLockedCard, type CardRow } from '../cards/index.js';
import { checkSalePrice, priceStoreItems, type StoreLine } from '../stations/index.js';
import { claimTerminalRef, lockTerminalRef, openShiftFor } from './forecourt-locks.js';
import { salesError } from './sales.errors.js';
import { priceGoods, type SaleAnswer } from './sales.service.js';
import { declineInfo, expectedFuelAmount, fuelAmountMatches, inArrears, insertSale, openHeldAmount, planSpend, postDebits, spendable, stationFor, type NewSale, type SaleTransfer } from './sale-parts.js';
import { releaseExpired } from './authorisations.jobs.js';
import { assessRisk, saleRiskOf, type RiskGateDeps } from './sale-risk.js';
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
  status: 'held' | 'review' | 'completed' | 'reversed' | 'expired' | 'forced' | 'declined';
  approval_code: string;
  sale_id: string | null;
  due: boolean;
  /** The pump was released (approved, or released by a reviewer): false for one that only ever was in review. */
  released: boolean;
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
 * An ISO 8583 completion advice (1220, function code 201/202): the fuel is already out of the
 * nozzle and the terminal cannot ask again once answered, so nothing the pump delivered is refused.
 * `terminalTotal` is the advice's DE 4 (fuel and goods as the terminal rang them up).
 */
export interface CompletionOptions {
  advice?: { terminalTotal: number };
}

/** Why an advice's sale needs a look (sales.flags), besides 'completed_after_expiry'. */
export type AdviceFlag = 'pump_overrun' | 'price_mismatch' | 'goods_not_posted' | 'fuel_amount_mismatch' | 'total_mismatch';

/** The answer a sale already gave (an advice repeated under another or the same reference). */
async function answerOfSale(trx: Trx, saleId: string): Promise<SaleAnswer> {
  const r = await sql<{ id: string; approval_code: string | null; decline_code: string | null; amount: number; balance_after: number | null }>`
    select id, approval_code, decline_code, amount, balance_after from sales where id = ${saleId}`.execute(trx);
  const s = r.rows[0]!;
  if (s.approval_code !== null) return { saleId: s.id, status: 'approved', approvalCode: s.approval_code, actionCode: '000', amount: s.amount, balance: s.balance_after };
  const info = declineInfo(s.decline_code ?? '');
  return { saleId: s.id, status: 'declined', declineCode: s.decline_code ?? undefined, actionCode: info.iso, message: `${info.zh} / ${info.en}`, amount: s.amount, balance: s.balance_after };
}

/**
 * Complete a pump authorisation with what the pump delivered: the fuel amount is posted from the
 * holds (priority order) and the rest released; store goods, if any, are debited as a sale's. After
 * expiry the fuel is posted anyway, as a forced sale flagged 'completed_after_expiry' (it was
 * delivered). Resolved once: the row lock orders this against a second completion, the expiry job
 * and a reversal, and whichever comes second sees the first's status.
 *
 * With `opts.advice` (ISO completion advice) the delivered fuel is never refused: an overrun is
 * posted past the holds (free balance first, then arrears: a forced sale flagged 'pump_overrun'), a
 * price not in force is posted and flagged, and goods that do not fit (card, funds, limits, or a
 * total other than the terminal's) are dropped and flagged, the answer's amount then being what
 * was posted. A repeat of a completed advice answers the first sale. Only an unknown or reversed
 * authorisation, and a reversal of this reference recorded first, are still refused.
 */
export async function completeAuthorisation(
  trx: Trx,
  deps: { db: Db; config: Config; logger?: RiskGateDeps['logger'] },
  terminal: TerminalPrincipal,
  authorisationId: string,
  req: CompletionRequest,
  terminalRef: string,
  opts: CompletionOptions = {},
): Promise<{ answer: SaleAnswer; last?: (trx: Trx) => Promise<void> }> {
  const advice = opts.advice;
  const adviceFlags: AdviceFlag[] = [];
  if (!fuelAmountMatches(req.volumeMl, req.unitPrice, req.amount)) {
    // The pump's money counter is what the customer saw and paid attention to: an advice posts it.
    if (!advice) throw salesError('SALE_AMOUNT_MISMATCH', { field: 'amount', expected: expectedFuelAmount(req.volumeMl, req.unitPrice) });
    adviceFlags.push('fuel_amount_mismatch');
  }
  const station = await stationFor(deps.db, trx, terminal.stationId);
  if (advice) {
    // The same advice again under its own reference (its idempotency record lost): the first answer.
    await lockTerminalRef(trx, terminal.id, terminalRef);
    const prior = await sql<{ id: string }>`select id from sales where terminal_id = ${terminal.id} and terminal_ref = ${terminalRef}
      and authorisation_id::text = ${authorisationId}`.execute(trx);
    if (prior.rows[0]) return { answer: await answerOfSale(trx, prior.rows[0].id) };
  }
  const { reversed } = await claimTerminalRef(trx, terminal.id, terminalRef);

  const r = await sql<AuthorisationRow>`select id, station_id, nozzle, grade, card_id, card_no_masked, held_amount, holds, status, approval_code, sale_id,
      expires_at <= clock_timestamp() as due, released_at is not null as released
    from pump_authorisations where id = ${authorisationId} for update`.execute(trx);
  const auth = r.rows[0];
  if (!auth || auth.station_id !== terminal.stationId) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId });
  // Refused before the card's lock is asked for: a reviewer's answer locks card → case → authorisation,
  // so waiting for the card here while holding this row would deadlock with it. In review the pump was
  // never released; refused, nothing is held; expired or reversed while in review, it never was either
  // (no fuel can have come out, so there is no late completion to post).
  if (auth.status === 'review' || auth.status === 'declined' || (auth.status === 'expired' && !auth.released)) {
    throw salesError('AUTHORISATION_IN_REVIEW', { authorisationId, status: auth.status });
  }

  let goods: { lines: StoreLine[]; total: number };
  let goodsDropped = false;
  if (advice) {
    // An unknown or withdrawn SKU drops the goods, not the fuel.
    const priced = await priceStoreItems(trx, req.items ?? []);
    goods = priced.ok ? { lines: priced.lines, total: priced.total } : { lines: [], total: 0 };
    goodsDropped = !priced.ok;
  } else {
    goods = await priceGoods(trx, req.items ?? []);
  }
  const saleId = randomUUID();
  const sale: NewSale = {
    saleId,
    cardId: auth.card_id,
    cardNoMasked: auth.card_no_masked,
    stationId: terminal.stationId,
    terminalId: terminal.id,
    fuel: { grade: auth.grade, volumeMl: req.volumeMl, unitPrice: req.unitPrice, nozzle: auth.nozzle },
    amount: req.amount + goods.total,
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
  /** An advice's goods that cannot be posted: the fuel goes alone and the terminal sees the amount. */
  const dropGoods = () => {
    goods = { lines: [], total: 0 };
    goodsDropped = true;
    sale.amount = req.amount;
    sale.items = [];
    sale.goodsAmount = 0;
  };
  if (goodsDropped) dropGoods();
  const decline = async (code: string, balance: number | null): Promise<{ answer: SaleAnswer }> => {
    await insertSale(trx, sale, { status: 'declined', code, balance });
    const info = declineInfo(code);
    return { answer: { saleId, status: 'declined', declineCode: code, actionCode: info.iso, message: `${info.zh} / ${info.en}`, amount: sale.amount, balance } };
  };

  // The card first (the sale path's lock order), then the shift and the clock.
  const cardNo = (await sql<{ card_no: string }>`select card_no from cards where id = ${auth.card_id}`.execute(trx)).rows[0]!.card_no;
  const card = await requireLockedCard(trx, cardNo);
  sale.at = card.read_at;
  sale.businessDay = businessDay(card.read_at, deps.config.timeZone);
  sale.shiftId = await openShiftFor(trx, terminal);

  // A reversal of this completion's reference arrived first: refused; the authorisation stays as it is.
  if (reversed) return decline('ALREADY_REVERSED', null);
  if (auth.status === 'completed' || auth.status === 'forced') {
    // An advice repeated under a new reference: the fuel was posted once, by the first; answer it.
    if (advice && auth.sale_id) return { answer: await answerOfSale(trx, auth.sale_id) };
    throw salesError('AUTHORISATION_ALREADY_COMPLETED', { authorisationId, saleId: auth.sale_id });
  }
  if (auth.status === 'reversed') throw salesError('AUTHORISATION_REVERSED', { authorisationId });
  const overrun = Math.max(0, req.amount - auth.held_amount);
  if (overrun > 0) {
    if (!advice) throw salesError('COMPLETION_EXCEEDS_HOLD', { field: 'amount', heldAmount: auth.held_amount });
    adviceFlags.push('pump_overrun');
  }

  if (goods.lines.length > 0) {
    const code = goodsDecline(card);
    if (code) {
      if (!advice) return decline(code, null);
      dropGoods();
    }
  }
  if (advice) {
    // Goods are priced by the catalogue: posted only when the terminal rang up the same total.
    if (goods.lines.length > 0 && req.amount + goods.total !== advice.terminalTotal) dropGoods();
    if (!goodsDropped && req.amount !== advice.terminalTotal && goods.lines.length === 0) adviceFlags.push('total_mismatch');
  }
  const price = await checkSalePrice(deps.db, trx, { stationId: terminal.stationId, grade: auth.grade, unitPrice: req.unitPrice, graceMs: deps.config.priceChangeGraceMs });
  if (!price.ok) {
    if (!advice) return decline('PRICE_MISMATCH', null);
    adviceFlags.push('price_mismatch');
  }

  // Time decides expiry, not the job's timing: a hold past its time is released here, as the job would.
  let late = auth.status === 'expired';
  if (auth.status === 'held' && auth.due) {
    await releaseExpired(trx, auth);
    late = true;
  }

  const holdAccounts = auth.holds.map((h) => h.accountId);
  const accounts = await lockAccounts(trx, [...card.account_ids, ...holdAccounts.filter((id) => !card.account_ids.includes(id))]);
  const free = spendable(accounts);
  /** Fuel the holds cover (in time); what is left of the fuel is debited outside them. */
  const fromHoldsAmount = late ? 0 : Math.min(req.amount, auth.held_amount);
  const beyondHolds = req.amount - fromHoldsAmount;

  // Goods come from what is free besides the fuel beyond the holds (which the same accounts pay first).
  if (goods.total > 0) {
    const code = inArrears(accounts) ? 'CARD_IN_ARREARS' : free - beyondHolds < goods.total ? 'INSUFFICIENT_FUNDS' : null;
    if (code) {
      if (!advice) return decline(code, code === 'INSUFFICIENT_FUNDS' && late ? Math.max(0, free - req.amount) : free);
      dropGoods();
    }
  }

  const transfers: Array<SaleTransfer & { forced?: boolean }> = [];
  const fromHolds: Array<{ hold: AuthorisationHold; amount: number }> = [];
  if (!late) {
    // The fuel from the holds in priority order.
    let remaining = fromHoldsAmount;
    for (const h of auth.holds) {
      const part = Math.min(remaining, h.amount);
      remaining -= part;
      fromHolds.push({ hold: h, amount: part });
    }
    for (const p of fromHolds.filter((p) => p.amount > 0)) {
      transfers.push({ transferId: uuidFrom(`completion:${auth.id}:${p.hold.transferId}`), accountId: p.hold.accountId, amount: p.amount });
    }
  }
  // Fuel beyond the holds (all of it after expiry, an advice's overrun in time) is posted whatever
  // the balance: what the accounts have in priority order, what they lack as arrears on the first.
  const beyond: Array<SaleTransfer & { forced?: boolean }> = [];
  if (beyondHolds > 0) {
    const idOf = (accountId: number, forced: boolean) =>
      late ? uuidFrom(`sale:${saleId}:${accountId}${forced ? ':forced' : ''}`) : uuidFrom(`completion:${auth.id}:overrun:${accountId}${forced ? ':forced' : ''}`);
    const parts = planSpend(accounts, beyondHolds);
    for (const p of parts) beyond.push({ ...p, transferId: idOf(p.accountId, false) });
    const shortfall = beyondHolds - parts.reduce((s, p) => s + p.amount, 0);
    if (shortfall > 0) {
      // An advice cannot be refused: the first open account carries the arrears.
      const first = advice ? (accounts.find((a) => a.status !== 'closed') ?? accounts[0]!) : accounts[0]!;
      if (first.status === 'closed') throw salesError('COMPLETION_NOT_POSTABLE', { authorisationId, accountId: first.id });
      beyond.push({ transferId: idOf(first.id, true), accountId: first.id, amount: shortfall, forced: true });
    }
  }
  // The fuel was authorised within the limits (its hold); goods added now are new spending and must fit them.
  // An advice's fuel is counted even past a limit (it was delivered; an overrun is flagged).
  const use = { amount: req.amount + goods.total, volumeMl: req.volumeMl };
  const pendingAmount = await openHeldAmount(trx, card.id, auth.id);
  // The second look, with the real volume: the fuel is in the tank, so it can only flag, open a case
  // and freeze the card for what comes next; the completion itself is never refused for it. Before
  // recordCardUse: the period rules add this amount to the usage, which must not hold it yet.
  const risk = await assessRisk(trx, deps, {
    card,
    channel: 'completion',
    amount: req.amount + goods.total,
    volumeMl: req.volumeMl,
    grade: auth.grade,
    stationId: terminal.stationId,
    terminalId: terminal.id,
    at: sale.at,
    pendingAmount,
    saleId,
    authorisationId: auth.id,
  });
  sale.risk = saleRiskOf(risk);
  const check = { newAmount: goods.total, pendingAmount };
  let overLimit = await recordCardUse(trx, card.id, use, sale.businessDay, sale.at, check);
  if (overLimit && advice) {
    // recordCardUse counts nothing when it refuses: count the fuel alone.
    dropGoods();
    overLimit = await recordCardUse(trx, card.id, { amount: req.amount, volumeMl: req.volumeMl }, sale.businessDay, sale.at);
  }
  if (overLimit) return decline(overLimit, free);
  if (goodsDropped) adviceFlags.push('goods_not_posted');

  const goodsTransfers: SaleTransfer[] = [];
  if (goods.total > 0) {
    // What the fuel beyond the holds left free on each account.
    const used = new Map<number, number>();
    for (const t of beyond) used.set(t.accountId, (used.get(t.accountId) ?? 0) + t.amount);
    const left = accounts.map((a) => ({ id: a.id, available: a.available - (used.get(a.id) ?? 0) }));
    for (const p of planSpend(left, goods.total)) goodsTransfers.push({ ...p, transferId: uuidFrom(`sale:${saleId}:${p.accountId}:goods`) });
  }

  const total = req.amount + goods.total;
  const released = late ? 0 : auth.held_amount - fromHoldsAmount;
  const balance = free + released - goods.total - beyondHolds;
  // Posted past what was authorised (after expiry, or past the holds): a forced sale, alerted as one.
  const forced = late || overrun > 0;
  const flags: string[] = [...(late ? ['completed_after_expiry'] : []), ...adviceFlags, ...(risk.outcome !== 'approve' ? ['risk_flagged'] : [])];
  const recorded = [...transfers, ...beyond, ...goodsTransfers].map(({ transferId, accountId, amount }) => ({ transferId, accountId, amount }));
  await insertSale(trx, sale, { status: 'approved', approvalCode: auth.approval_code, transfers: recorded, balance, forced, flags });
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
      await postDebits(t, beyond, station.settlementAccountId, { ...metadata, forcedReason: late ? 'completed_after_expiry' : 'pump_overrun' });
      await postDebits(t, goodsTransfers, station.settlementAccountId, metadata);
    },
  };
}
