import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, Executor, TerminalPrincipal, Trx } from '../platform/index.js';
import { businessDay, maskCardNo, platformError } from '../platform/index.js';
import { getAccounts, lockAccounts, uuidFrom } from '../ledger/index.js';
import { authoriseCardUse, recordCardUse, type PinEntry } from '../cards/index.js';
import { checkSalePrice, MAX_STORE_LINES, priceStoreItems, type StoreLine } from '../stations/index.js';
import { claimTerminalRef, openShiftFor } from './forecourt-locks.js';
import { salesError } from './sales.errors.js';
import { assessRisk, saleRiskOf, type RiskConfirmation, type RiskGateDeps } from './sale-risk.js';
import {
  declineInfo,
  expectedFuelAmount,
  fuelAmountMatches,
  inArrears,
  insertSale,
  newApprovalCode,
  heldAmountOnce,
  planSpend,
  postDebits,
  spendable,
  stationFor,
  type FuelPart,
  type NewSale,
  type SaleTransfer,
} from './sale-parts.js';

export interface SaleRequest {
  cardNo: string;
  pin: PinEntry;
  /** The fuel part: grade, volumeMl, unitPrice and nozzle come together or not at all. */
  grade?: string;
  volumeMl?: number;
  unitPrice?: number;
  nozzle?: number;
  /** The whole amount, fen: the fuel's (volume × price, rounded either way) plus the goods total. */
  amount: number;
  /** Store goods (便利店商品), priced by the platform's catalogue. */
  items?: Array<{ sku: string; quantity: number }>;
  /** Pays an unpaid pump sale of this station (indoor post-pay): the fuel part comes from it. */
  pumpSaleId?: string;
  /** A step-up done for this attempt after a RISK_STEP_UP answer (docs/risk-sale-path.md). */
  riskConfirmation?: RiskConfirmation;
}

export interface SaleAnswer {
  saleId: string;
  status: 'approved' | 'declined';
  approvalCode?: string;
  declineCode?: string;
  /** ISO 8583 action code (DE 39) for the terminal. */
  actionCode: string;
  message?: string;
  amount: number;
  /** Available balance after the sale; null when the card or PIN was not accepted. */
  balance: number | null;
}

const FUEL_FIELDS = ['grade', 'volumeMl', 'unitPrice', 'nozzle'] as const;

const invalid = (field: string, reason: string) => platformError('VALIDATION_FAILED', { field: `body.${field}`, reason });

/** The request's parts: its fuel (all four fields or none), its goods, or the pump sale it pays. */
export function saleShape(req: SaleRequest): { fuel: FuelPart | null; items: Array<{ sku: string; quantity: number }>; pumpSaleId: string | null } {
  const present = FUEL_FIELDS.filter((f) => req[f] !== undefined);
  const items = req.items ?? [];
  if (items.length > MAX_STORE_LINES) throw invalid('items', `at most ${MAX_STORE_LINES} lines`);
  if (req.pumpSaleId !== undefined) {
    if (present.length > 0) throw invalid(present[0]!, 'a post-pay sale takes its fuel from the pump sale: leave the fuel fields out');
    return { fuel: null, items, pumpSaleId: req.pumpSaleId };
  }
  if (present.length > 0 && present.length < FUEL_FIELDS.length) {
    throw invalid(FUEL_FIELDS.find((f) => req[f] === undefined)!, 'grade, volumeMl, unitPrice and nozzle come together');
  }
  if (present.length === 0 && items.length === 0) throw invalid('items', 'a sale needs a fuel part, store items or a pumpSaleId');
  const fuel = present.length === 0 ? null : { grade: req.grade!, volumeMl: req.volumeMl!, unitPrice: req.unitPrice!, nozzle: req.nozzle! };
  return { fuel, items, pumpSaleId: null };
}

/** Store lines priced from the catalogue, or the request refused naming the line. */
export async function priceGoods(trx: Trx, items: ReadonlyArray<{ sku: string; quantity: number }>): Promise<{ lines: StoreLine[]; total: number }> {
  const priced = await priceStoreItems(trx, items);
  if (!priced.ok) {
    const index = items.findIndex((i) => i.sku === priced.sku);
    throw salesError(priced.code, { field: `body.items.${index}.sku`, sku: priced.sku });
  }
  return { lines: priced.lines, total: priced.total };
}

/**
 * The one path every sale takes: card state, PIN, grade, limits (cards), then balance across
 * the card's accounts in priority order, the debits, the sale record and its outbox event, in
 * the caller's transaction. A decline moves no money but is recorded (and a wrong PIN counted).
 */
export async function authoriseSale(
  trx: Trx,
  deps: { db: Db; config: Config },
  terminal: TerminalPrincipal,
  req: SaleRequest,
  /** When the fuel was sold; only data loaders (seed-demo) pass a past time. The ledger always records its own time. */
  at?: Date,
): Promise<SaleAnswer> {
  const decided = await decideSale(trx, deps, terminal, req, at);
  await decided.debit?.(trx);
  return decided.answer;
}

interface PumpSaleRow {
  id: string;
  nozzle: number;
  grade: string;
  volume_ml: number;
  unit_price: number;
  amount: number;
  status: string;
  created_at: Date;
}

/** The pump sale being paid, locked: two counters paying it at once find it paid once. */
async function lockUnpaidPumpSale(trx: Trx, stationId: number, id: string): Promise<PumpSaleRow> {
  const r = await sql<PumpSaleRow>`select id, nozzle, grade, volume_ml, unit_price, amount, status, created_at from pump_sales
    where id = ${id} and station_id = ${stationId} for update`.execute(trx);
  const row = r.rows[0];
  if (!row) throw salesError('PUMP_SALE_NOT_FOUND', { field: 'body.pumpSaleId', pumpSaleId: id });
  if (row.status !== 'unpaid') throw salesError('PUMP_SALE_NOT_UNPAID', { pumpSaleId: id, status: row.status });
  return row;
}

async function databaseNow(trx: Trx): Promise<Date> {
  const r = await sql<{ now: Date }>`select clock_timestamp() as now`.execute(trx);
  return r.rows[0]!.now;
}

/**
 * authoriseSale in two steps. `decideSale` does every check and writes the sale record, the usage
 * and the outbox event; `debit` then posts the ledger transfers. The debits lock the station's
 * settlement account, which every sale at that station shares, so the caller runs them as the
 * very last statements before commit: the hot row's lock is held for one statement and the commit.
 * The accounts are locked and checked in decideSale, so the debits cannot be refused.
 *
 * Locks, in order: the terminal reference (against its reversal), the pump sale, the card, the
 * card's accounts (id order), the settlement account last.
 */
export async function decideSale(
  trx: Trx,
  deps: { db: Db; config: Config; logger?: RiskGateDeps['logger'] },
  terminal: TerminalPrincipal,
  req: SaleRequest,
  at?: Date,
  opts: { terminalRef?: string } = {},
): Promise<{ answer: SaleAnswer; debit?: (trx: Trx) => Promise<void> }> {
  const shape = saleShape(req);
  const station = await stationFor(deps.db, trx, terminal.stationId);
  if (!station.active) throw salesError('SALE_STATION_CLOSED', { stationId: terminal.stationId });
  const terminalRef = opts.terminalRef ?? null;
  const saleId = randomUUID();

  const sale: NewSale = {
    saleId,
    cardId: null,
    cardNoMasked: maskCardNo(req.cardNo),
    stationId: terminal.stationId,
    terminalId: terminal.id,
    fuel: shape.fuel,
    amount: req.amount,
    items: [],
    goodsAmount: 0,
    flow: shape.pumpSaleId ? 'postpay' : 'online',
    terminalRef,
    shiftId: 0,
    authorisationId: null,
    pumpSaleId: null,
    businessDay: '',
    at: at ?? new Date(0),
  };
  const decline = async (code: string, balance: number | null): Promise<{ answer: SaleAnswer }> => {
    await insertSale(trx, sale, { status: 'declined', code, balance });
    const info = declineInfo(code);
    return { answer: { saleId, status: 'declined', declineCode: code, actionCode: info.iso, message: `${info.zh} / ${info.en}`, amount: req.amount, balance } };
  };

  // A reversal recorded first for this reference: the late original is refused, nothing moves.
  if (terminalRef !== null) {
    if ((await claimTerminalRef(trx, terminal.id, terminalRef)).reversed) {
      sale.shiftId = await openShiftFor(trx, terminal);
      sale.at = at ?? (await databaseNow(trx));
      sale.businessDay = businessDay(sale.at, deps.config.timeZone);
      return decline('ALREADY_REVERSED', null);
    }
  }

  const pumpSale = shape.pumpSaleId ? await lockUnpaidPumpSale(trx, terminal.stationId, shape.pumpSaleId) : null;
  if (pumpSale) {
    sale.fuel = { grade: pumpSale.grade, volumeMl: pumpSale.volume_ml, unitPrice: pumpSale.unit_price, nozzle: pumpSale.nozzle };
    sale.pumpSaleId = pumpSale.id;
  }
  const goods = await priceGoods(trx, shape.items);
  sale.items = goods.lines;
  sale.goodsAmount = goods.total;
  const fuel = sale.fuel;
  const fuelAmount = req.amount - goods.total;
  const amountOk = pumpSale ? fuelAmount === pumpSale.amount : fuel ? fuelAmountMatches(fuel.volumeMl, fuel.unitPrice, fuelAmount) : fuelAmount === 0;
  if (!amountOk) {
    const expected = (pumpSale ? pumpSale.amount : fuel ? expectedFuelAmount(fuel.volumeMl, fuel.unitPrice) : 0) + goods.total;
    throw salesError('SALE_AMOUNT_MISMATCH', { field: 'amount', expected, goodsAmount: goods.total });
  }
  sale.shiftId = await openShiftFor(trx, terminal);

  const heldOf = heldAmountOnce(trx);
  const decision = await authoriseCardUse(
    trx,
    deps.config,
    {
      cardNo: req.cardNo,
      pin: req.pin,
      grade: fuel?.grade ?? null,
      volumeMl: fuel?.volumeMl ?? 0,
      amount: req.amount,
      goods: goods.lines.length > 0,
      pendingAmount: heldOf,
    },
    at,
  );
  sale.at = decision.at;
  sale.businessDay = decision.businessDay;
  sale.cardId = decision.card?.id ?? null;

  if (!decision.ok) {
    // The balance is shown only to someone who knew the PIN.
    const balance = decision.pinVerified && decision.card ? spendable(await getAccounts(trx, decision.card.account_ids)) : null;
    return decline(decision.declineCode, balance);
  }

  // The risk engine after the card's own checks, under the card's lock (docs/risk-sale-path.md).
  const risk = await assessRisk(trx, deps, {
    card: decision.card,
    channel: pumpSale ? 'postpay' : 'online',
    amount: req.amount,
    volumeMl: fuel?.volumeMl ?? null,
    grade: fuel?.grade ?? null,
    stationId: terminal.stationId,
    terminalId: terminal.id,
    at: decision.at,
    pendingAmount: await heldOf(decision.card.id),
    saleId,
    shiftId: sale.shiftId,
    ...(req.riskConfirmation ? { confirmation: req.riskConfirmation } : {}),
  });
  sale.risk = saleRiskOf(risk);
  if (risk.action !== 'approve') {
    const balance = spendable(await getAccounts(trx, decision.card.account_ids));
    return decline(risk.declineCode ?? 'RISK_DECLINED', balance);
  }

  // The price after the card's own checks, so a wrong PIN is still counted and answered as such.
  // A pump sale is priced as of when the pump delivered it, not when the customer reached the counter.
  if (fuel) {
    const price = await checkSalePrice(deps.db, trx, {
      stationId: terminal.stationId,
      grade: fuel.grade,
      unitPrice: fuel.unitPrice,
      graceMs: deps.config.priceChangeGraceMs,
      at: pumpSale ? pumpSale.created_at : at,
    });
    if (!price.ok) return decline('PRICE_MISMATCH', null);
  }

  // Lock the card's accounts (id order) and spend them in priority order.
  const accounts = await lockAccounts(trx, decision.accountIds);
  const total = spendable(accounts);
  if (inArrears(accounts)) return decline('CARD_IN_ARREARS', total);
  if (total < req.amount) return decline('INSUFFICIENT_FUNDS', total);

  const transfers: SaleTransfer[] = planSpend(accounts, req.amount).map((p) => ({ ...p, transferId: uuidFrom(`sale:${saleId}:${p.accountId}`) }));
  await recordCardUse(trx, decision.card.id, { amount: req.amount, volumeMl: fuel?.volumeMl ?? 0 }, decision.businessDay, decision.at);
  const code = newApprovalCode();
  const balance = total - req.amount;
  await insertSale(trx, sale, { status: 'approved', approvalCode: code, transfers, balance });
  if (pumpSale) {
    await sql`update pump_sales set status = 'paid', sale_id = ${saleId}, resolved_by = ${terminal.id}, resolved_at = ${decision.at}
      where id = ${pumpSale.id}`.execute(trx);
  }
  return {
    answer: { saleId, status: 'approved', approvalCode: code, actionCode: '000', amount: req.amount, balance },
    debit: (t: Trx) => postDebits(t, transfers, station.settlementAccountId, { saleId, terminalId: terminal.id, nozzle: fuel?.nozzle ?? null }),
  };
}

export interface SaleRecord {
  saleId: string;
  cardNo: string;
  stationId: number;
  terminalId: string;
  nozzle: number | null;
  grade: string | null;
  volumeMl: number | null;
  unitPrice: number | null;
  amount: number;
  status: 'approved' | 'declined' | 'reversed' | 'voided';
  approvalCode: string | null;
  declineCode: string | null;
  transfers: SaleTransfer[];
  balanceAfter: number | null;
  businessDay: string;
  createdAt: string;
  flow: 'online' | 'completion' | 'postpay' | 'offline';
  items: StoreLine[];
  goodsAmount: number;
  forced: boolean;
  flags: string[];
  liability: 'programme' | 'station';
  shiftId: number | null;
  authorisationId: string | null;
  pumpSaleId: string | null;
  terminalRef: string | null;
  offlineAt: string | null;
  reversedAt: string | null;
}

export type SaleRow = {
  id: string;
  card_no_masked: string;
  station_id: number;
  terminal_id: string;
  nozzle: number | null;
  grade: string | null;
  volume_ml: number | null;
  unit_price: number | null;
  amount: number;
  status: SaleRecord['status'];
  approval_code: string | null;
  decline_code: string | null;
  transfers: SaleRecord['transfers'];
  balance_after: number | null;
  business_day: string;
  created_at: Date;
  flow: SaleRecord['flow'];
  items: StoreLine[];
  goods_amount: number;
  forced: boolean;
  flags: string[];
  liability: SaleRecord['liability'];
  shift_id: number | null;
  authorisation_id: string | null;
  pump_sale_id: string | null;
  terminal_ref: string | null;
  offline_at: Date | null;
  reversed_at: Date | null;
};

/** The columns toSaleRecord reads, for callers selecting from `sales s`. */
export const SALE_COLUMNS = sql`s.id, s.card_no_masked, s.station_id, s.terminal_id, s.nozzle, s.grade, s.volume_ml, s.unit_price,
  s.amount, s.status, s.approval_code, s.decline_code, s.transfers, s.balance_after,
  to_char(s.business_day, 'YYYY-MM-DD') as business_day, s.created_at, s.flow, s.items, s.goods_amount, s.forced, s.flags,
  s.liability, s.shift_id, s.authorisation_id, s.pump_sale_id, s.terminal_ref, s.offline_at, s.reversed_at`;

export function toSaleRecord(r: SaleRow): SaleRecord {
  return {
    saleId: r.id,
    cardNo: r.card_no_masked,
    stationId: r.station_id,
    terminalId: r.terminal_id,
    nozzle: r.nozzle,
    grade: r.grade,
    volumeMl: r.volume_ml,
    unitPrice: r.unit_price,
    amount: r.amount,
    status: r.status,
    approvalCode: r.approval_code,
    declineCode: r.decline_code,
    transfers: r.transfers,
    balanceAfter: r.balance_after,
    businessDay: r.business_day,
    createdAt: r.created_at.toISOString(),
    flow: r.flow ?? 'online',
    items: r.items ?? [],
    goodsAmount: r.goods_amount ?? 0,
    forced: r.forced ?? false,
    flags: r.flags ?? [],
    liability: r.liability ?? 'programme',
    shiftId: r.shift_id ?? null,
    authorisationId: r.authorisation_id ?? null,
    pumpSaleId: r.pump_sale_id ?? null,
    terminalRef: r.terminal_ref ?? null,
    offlineAt: r.offline_at ? r.offline_at.toISOString() : null,
    reversedAt: r.reversed_at ? r.reversed_at.toISOString() : null,
  };
}

/**
 * One sale. The card number is shown in full to callers who may see card numbers (as in the sales
 * list), read from the card; the sale itself keeps only the mask (its number may be unknown).
 */
export async function getSale(db: Executor, saleId: string, opts: { fullCardNo?: boolean } = {}): Promise<SaleRecord> {
  const r = await sql<SaleRow & { card_no: string | null }>`select ${SALE_COLUMNS}, c.card_no
    from sales s left join cards c on c.id = s.card_id where s.id = ${saleId}`.execute(db);
  const row = r.rows[0];
  if (!row) throw salesError('SALE_NOT_FOUND', { saleId });
  const record = toSaleRecord(row);
  return opts.fullCardNo && row.card_no !== null ? { ...record, cardNo: row.card_no } : record;
}
