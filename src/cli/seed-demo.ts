import { sql } from 'kysely';
import type { Actor, Config, Db, Role, TerminalPrincipal, Trx } from '../platform/index.js';
import { audit, businessDay, fieldCipherFor, isAppError, pgErrorCode, PgCode } from '../platform/index.js';
import { createStaff } from '../staff/index.js';
import { createGoods, createGoodsCategory, createStation, listStations, registerTerminal, seedDemoStock, setNozzles, setPrice, setPumps } from '../stations/index.js';
import { createCustomer } from '../customers/index.js';
import { allocateToSubCard, generateCardNo, issueCard } from '../cards/index.js';
import { rechargeAtCounter } from '../payments/index.js';
import { authoriseSale, closeShift, currentShift, type SaleAnswer } from '../sales/index.js';
import { verifyLedger, type VerifyReport } from '../ledger/index.js';
import { bankReference, CITY_REGION, DEMO_GOODS, DEMO_GOODS_CATEGORIES, DEMO_STATIONS, NATIONAL_PRICE, openingHoursOf, PROVINCE_PRICE_MARKUP, pumpLayout, Rng, type Grade } from './demo-data.js';
import { setPortalPassword } from '../portal/index.js';
import { buildPlan, DEMO_CARDHOLDER_PHONE, nextTopUp, type CardPlan, type PlanEvent, type SaleEvent } from './seed-plan.js';
import { createProgress, silentProgress, type Progress } from './progress.js';

/**
 * `fuelcard seed-demo`: a believable Chinese dataset for trying the platform — stations in
 * five cities (region, hours, services) with a terminal, pumps and nozzles each, national prices
 * (with one adjustment in the period and one station's own diesel price) and a scheduled
 * Guangdong price change, store goods, demo staff for every back-office role, individual
 * customers with personal cards, anonymous cards, a fleet with a master card and sub cards,
 * counter recharges and a few weeks of sales. Every step goes through the modules' use
 * cases (money only through the ledger), so `ledger verify` holds afterwards; the seed
 * checks it before it reports success.
 */

/** Known demo logins, printed at start; the passwords are public, so never seed a production database. */
export const DEMO_LOGINS: Array<{ username: string; password: string; role: Role }> = [
  { username: 'demo.operator', password: 'operator-demo-pass', role: 'operator' },
  { username: 'demo.finance', password: 'finance-demo-pass', role: 'finance' },
  { username: 'demo.risk', password: 'risk-demo-pass', role: 'risk' },
  { username: 'demo.cashier', password: 'cashier-demo-pass', role: 'station_staff' },
  // 三员分立: the people who manage accounts and read the audit log are not the administrator.
  { username: 'demo.security', password: 'security-demo-pass', role: 'security_officer' },
  { username: 'demo.auditor', password: 'auditor-demo-pass', role: 'auditor' },
  // Bound to the demo fleet (the master card's customer): sees that enterprise's cards only.
  { username: 'demo.fleet', password: 'fleet-demo-pass', role: 'enterprise_admin' },
];
const DISPLAY_NAMES: Record<string, string> = {
  'demo.operator': '运营专员 王晓燕',
  'demo.finance': '财务 李静',
  'demo.risk': '风控 赵磊',
  'demo.cashier': '收银员 陈晨（北京朝阳北路站）',
  'demo.security': '安全管理员 孙伟',
  'demo.auditor': '审计管理员 周敏',
  'demo.fleet': '车队管理员 吴刚',
};
/** The demo fleet's administrator is created once its customer exists. */
const FLEET_LOGIN = 'demo.fleet';
/** The station the demo cashier works at. */
export const CASHIER_STATION = 'BJ001';
/** Every demo card's PIN, so the POS simulator and curl examples can buy fuel with any of them. */
export const DEMO_CARD_PIN = '123456';
/** A cardholder who can sign into the portal at once (the first sign-in with a code works for every demo customer too). */
export const DEMO_CARDHOLDER = { name: '刘洋', phone: DEMO_CARDHOLDER_PHONE, password: 'cardholder-demo-pass', idNumber: '110105199003077431', opening: 100_000 } as const;
const WRONG_PIN = '654321';

export const DEMO_DEFAULTS = { customers: 200, days: 28 } as const;
export const DEMO_LIMITS = { customers: { min: 1, max: 20_000 }, days: { min: 1, max: 366 } } as const;

const WORKERS = 6;

/** Demo data is already there (completely or from an interrupted run): seeding again would duplicate people and money. */
export class DemoDataExistsError extends Error {
  readonly code = 'DEMO_DATA_EXISTS';
  constructor(readonly found: string[]) {
    const list = found.slice(0, 3).join(', ') + (found.length > 3 ? ` … (+${found.length - 3})` : '');
    super(
      `数据库中已有演示数据（${list}），不再重复导入；如需重新导入，请使用新的数据库或新的 FUELCARD_DATA_DIR / ` +
        `demo data already exists (${list}); not seeding twice — use a fresh database or a new FUELCARD_DATA_DIR to seed again`,
    );
    this.name = 'DemoDataExistsError';
  }
}

export interface SeedOptions {
  quiet?: boolean;
  customers?: number;
  days?: number;
  /** Fixes the random choices, to reproduce a dataset. */
  seed?: number;
  actor?: Actor;
  /** Stops between steps (Ctrl-C in the CLI); what committed stays committed. */
  signal?: AbortSignal;
}

export interface SeedSummary {
  seed: number;
  period: { from: string; to: string };
  stations: number;
  pumps: number;
  nozzles: number;
  /** Price rows written (the history the demo sales were made at, and the scheduled province change). */
  prices: number;
  goods: number;
  tanks: number;
  /** Terminal secrets are shown once, here, so a POS simulator can sign requests for the demo. */
  terminals: Array<{ stationCode: string; terminalId: string; secret: string }>;
  /** The ready-made portal login and its card. */
  cardholder: { phone: string; password: string; cardNo: string } | null;
  staff: number;
  customers: number;
  cards: Record<CardPlan['kind'], number>;
  recharges: { count: number; amountFen: number };
  allocations: { count: number; amountFen: number; refused: number };
  sales: { approved: number; declined: number; declinesByCode: Record<string, number>; amountFen: number; volumeMl: number };
  ledger: VerifyReport;
  elapsedMs: number;
}

const seedActor: Actor = { staffId: null, name: 'seed-demo', role: 'system', ip: null, requestId: null };

/** One unit of work in its own transaction; a deadlock between parallel workers is retried, not fatal. */
async function inTransaction<T>(db: Db, work: (trx: Trx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (err) {
      const code = pgErrorCode(err);
      if ((code === PgCode.deadlockDetected || code === PgCode.serializationFailure) && attempt < 5) continue;
      throw err;
    }
  }
}

async function runPool<T>(items: readonly T[], workers: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      await fn(items[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, worker));
}

async function existingDemoData(db: Db): Promise<string[]> {
  const found: string[] = [];
  const codes = new Set(DEMO_STATIONS.map((s) => s.code));
  for (let offset = 0; ; offset += 500) {
    const page = await listStations(db, { limit: 500, offset });
    for (const s of page.items) if (codes.has(s.code)) found.push(`station ${s.code}`);
    if (page.items.length < 500) break;
  }
  // staff exports no lookup by name; this read only decides whether to refuse before anything is written.
  const users = await sql<{ username: string }>`select username from staff_users where username = any(${DEMO_LOGINS.map((l) => l.username)}::text[])`.execute(db);
  for (const u of users.rows) found.push(`staff ${u.username}`);
  return found;
}

/**
 * 分配 from the master card's reserve to a sub card. Returns false when it is refused (the reserve
 * cannot cover it, or a card may not take part): nothing moved, the demo goes on.
 */
async function allocate(trx: Trx, actor: Actor, masterCardNo: string, subCardNo: string, amount: number): Promise<boolean> {
  try {
    await allocateToSubCard(trx, actor, { masterCardNo, subCardNo, amount });
    return true;
  } catch (err) {
    if (isAppError(err) && (err.code === 'LEDGER_INSUFFICIENT_FUNDS' || err.code === 'CARD_OPERATION_NOT_ALLOWED')) return false;
    throw err;
  }
}

export async function seedDemo(db: Db, config: Config, opts: SeedOptions = {}): Promise<SeedSummary> {
  const started = Date.now();
  const actor = opts.actor ?? seedActor;
  const progress: Progress = opts.quiet ? silentProgress : createProgress();
  const signal = opts.signal;
  const deps = { db, config, cipher: fieldCipherFor(config) };

  const found = await existingDemoData(db);
  if (found.length > 0) throw new DemoDataExistsError(found);

  const plan = buildPlan({ customers: opts.customers ?? DEMO_DEFAULTS.customers, days: opts.days ?? DEMO_DEFAULTS.days, nowMs: Date.now(), seed: opts.seed });
  const rng = new Rng(plan.seed ^ 0x5eed);
  const summary: Omit<SeedSummary, 'ledger' | 'elapsedMs'> = {
    seed: plan.seed,
    period: { from: new Date(plan.startMs).toISOString(), to: new Date(plan.endMs).toISOString() },
    stations: 0,
    pumps: 0,
    nozzles: 0,
    tanks: 0,
    prices: 0,
    goods: 0,
    terminals: [],
    cardholder: null,
    staff: 0,
    customers: 0,
    cards: { personal: 0, anonymous: 0, master: 0, sub: 0 },
    recharges: { count: 0, amountFen: 0 },
    allocations: { count: 0, amountFen: 0, refused: 0 },
    sales: { approved: 0, declined: 0, declinesByCode: {}, amountFen: 0, volumeMl: 0 },
  };

  // Stations and their terminals.
  progress.phase('油站与终端 stations & terminals', DEMO_STATIONS.length);
  const terminals = new Map<string, TerminalPrincipal>();
  const stationIds = new Map<string, number>();
  for (const s of DEMO_STATIONS) {
    signal?.throwIfAborted();
    const station = await createStation(db, actor, {
      code: s.code,
      name: s.name,
      address: s.address,
      lat: s.lat,
      lng: s.lng,
      ...CITY_REGION[s.city],
      district: s.district,
      phone: s.phone,
      openingHours: openingHoursOf(s),
      services: [...s.services],
    });
    const terminal = await registerTerminal(db, deps.cipher, actor, station.id);
    stationIds.set(s.code, station.id);
    terminals.set(s.code, { id: terminal.terminalId, stationId: station.id });
    summary.terminals.push({ stationCode: s.code, terminalId: terminal.terminalId, secret: terminal.secret });
    summary.stations++;
    progress.tick();
  }

  // Each forecourt's nozzles, and the price history the sales below were made at.
  progress.phase('加油机、油枪与油价 pumps, nozzles & prices', DEMO_STATIONS.length + plan.prices.length);
  for (const s of DEMO_STATIONS) {
    signal?.throwIfAborted();
    summary.pumps += (await setPumps(db, actor, stationIds.get(s.code)!, pumpLayout(s))).items.length;
    summary.nozzles += (await setNozzles(db, actor, stationIds.get(s.code)!, plan.nozzles[s.code]!)).length;
    progress.tick();
  }
  for (const p of plan.prices) {
    signal?.throwIfAborted();
    const stationId = p.stationCode === null ? null : stationIds.get(p.stationCode)!;
    await setPrice(db, actor, { grade: p.grade, unitPrice: p.unitPrice, stationId }, { effectiveFrom: p.effectiveFrom });
    summary.prices++;
    progress.tick();
  }
  // The province's own list from the next 24:00 (Asia/Shanghai, UTC+8 all year): scheduled, so no
  // demo sale was made at it, and the Guangdong terminals show it as their next price.
  const nextMidnight = new Date((Math.floor((Date.now() + 8 * 3_600_000) / 86_400_000) + 1) * 86_400_000 - 8 * 3_600_000);
  for (const [province, markup] of Object.entries(PROVINCE_PRICE_MARKUP)) {
    for (const [grade, up] of Object.entries(markup) as Array<[Grade, number]>) {
      await setPrice(db, actor, { grade, unitPrice: NATIONAL_PRICE[grade] + up, province }, { effectiveFrom: nextMidnight });
      summary.prices++;
    }
  }

  // The store catalogue every station sells from.
  progress.phase('便利店商品 store goods', DEMO_GOODS.length);
  const categoryIds = new Map<string, number>();
  for (const c of DEMO_GOODS_CATEGORIES) categoryIds.set(c.code, (await createGoodsCategory(db, actor, c)).id);
  for (const g of DEMO_GOODS) {
    await createGoods(db, actor, { sku: g.sku, categoryId: categoryIds.get(g.category)!, nameZh: g.nameZh, nameEn: g.nameEn, unitPrice: g.unitPrice });
    summary.goods++;
    progress.tick();
  }

  // Tanks with gauge readings and a delivery, a low tank with its alert, and promotions, so the
  // stock screens and the station finder have something to show.
  progress.phase('油罐、库存与促销 tanks, stock & promotions', 1);
  const stock = await seedDemoStock(
    db,
    DEMO_STATIONS.map((s) => ({ id: stationIds.get(s.code)!, grades: [...new Set(plan.nozzles[s.code]!.map((n) => n.grade))] })),
  );
  summary.tanks = stock.tanks;
  progress.tick();

  // Demo staff, all or none.
  progress.phase('演示员工 demo staff', DEMO_LOGINS.length - 1);
  await db.transaction().execute(async (trx) => {
    for (const login of DEMO_LOGINS) {
      if (login.username === FLEET_LOGIN) continue;
      await createStaff(trx, actor, {
        username: login.username,
        password: login.password,
        role: login.role,
        displayName: DISPLAY_NAMES[login.username],
        stationId: login.role === 'station_staff' ? stationIds.get(CASHIER_STATION)! : null,
      });
      progress.tick();
    }
  });
  summary.staff = DEMO_LOGINS.length - 1;

  // Customers and their cards.
  progress.phase('客户与发卡 customers & cards', plan.customers.length + plan.cards.length);
  const customerIds: number[] = new Array(plan.customers.length);
  await runPool([...plan.customers.keys()], WORKERS, signal, async (i) => {
    const c = plan.customers[i]!;
    customerIds[i] = (await createCustomer(deps, actor, { name: c.name, phone: c.phone, idType: c.idType, idNumber: c.idNumber })).id;
    summary.customers++;
    progress.tick();
  });
  const cardNos: string[] = new Array(plan.cards.length);
  const issue = async (i: number) => {
    const p = plan.cards[i]!;
    const card = await issueCard(deps, actor, {
      kind: p.kind,
      pin: DEMO_CARD_PIN,
      ...(p.customer !== null ? { customerId: customerIds[p.customer]! } : {}),
      ...(p.kind === 'sub' ? { masterCardNo: cardNos[plan.masterIndex]!, sharedBalance: p.sharedBalance } : {}),
    });
    cardNos[i] = card.cardNo;
    summary.cards[p.kind]++;
    progress.tick();
  };
  await issue(plan.masterIndex); // sub cards need their master first
  await runPool([...plan.cards.keys()].filter((i) => i !== plan.masterIndex), WORKERS, signal, issue);

  // The fleet's enterprise administrator, bound to the master card's customer.
  const fleet = DEMO_LOGINS.find((l) => l.username === FLEET_LOGIN)!;
  const fleetCustomer = plan.cards[plan.masterIndex]!.customer;
  await createStaff(db, actor, {
    username: fleet.username,
    password: fleet.password,
    role: fleet.role,
    displayName: DISPLAY_NAMES[fleet.username],
    customerId: fleetCustomer === null ? null : customerIds[fleetCustomer]!,
  });
  summary.staff++;

  // Opening balances: counter recharges, then the fleet manager's first allocations.
  const balances: number[] = new Array(plan.cards.length).fill(0);
  const doRecharge = async (i: number, amount: number, channel: 'cash' | 'bank_transfer', reference: string | undefined, at: Date) => {
    const r = await inTransaction(db, (trx) => rechargeAtCounter(trx, config, actor, { cardNo: cardNos[i]!, amount, channel, ...(reference ? { reference } : {}) }, at));
    balances[i] = r.balance;
    summary.recharges.count++;
    summary.recharges.amountFen += amount;
  };
  const doAllocate = async (i: number, amount: number) => {
    const ok = await inTransaction(db, (trx) => allocate(trx, actor, cardNos[plan.masterIndex]!, cardNos[i]!, amount));
    if (ok) {
      summary.allocations.count++;
      summary.allocations.amountFen += amount;
    } else summary.allocations.refused++;
  };
  const openings = [...plan.cards.keys()].filter((i) => plan.cards[i]!.opening !== null);
  const allocations = [...plan.cards.keys()].filter((i) => plan.cards[i]!.openingAllocation !== null);
  progress.phase('开户充值与分配 opening recharges & allocations', openings.length + allocations.length);
  await runPool(openings, WORKERS, signal, async (i) => {
    const o = plan.cards[i]!.opening!;
    await doRecharge(i, o.amount, o.channel, o.reference, o.at);
    progress.tick();
  });
  await runPool(allocations, WORKERS, signal, async (i) => {
    await doAllocate(i, plan.cards[i]!.openingAllocation!);
    progress.tick();
  });

  // A few weeks of sales, each card's events in time order; cards run in parallel.
  const sell = async (cardNo: string, e: SaleEvent, pin: string, at: Date): Promise<SaleAnswer> => {
    const terminal = terminals.get(e.stationCode)!;
    const answer = await inTransaction(db, (trx) =>
      authoriseSale(trx, { db, config }, terminal, { cardNo, pin, grade: e.grade, volumeMl: e.volumeMl, unitPrice: e.unitPrice, amount: e.amount, nozzle: e.nozzle }, at),
    );
    if (answer.status === 'approved') {
      summary.sales.approved++;
      summary.sales.amountFen += e.amount;
      summary.sales.volumeMl += e.volumeMl;
    } else {
      summary.sales.declined++;
      const code = answer.declineCode ?? 'UNKNOWN';
      summary.sales.declinesByCode[code] = (summary.sales.declinesByCode[code] ?? 0) + 1;
    }
    return answer;
  };
  const usedReferences = new Set(plan.cards.flatMap((c) => [c.opening, ...c.events]).flatMap((e) => (e?.kind === 'recharge' && e.reference ? [e.reference] : [])));
  const uniqueReference = (at: Date) => {
    for (;;) {
      const r = bankReference(rng, businessDay(at, 'Asia/Shanghai'));
      if (!usedReferences.has(r)) {
        usedReferences.add(r);
        return r;
      }
    }
  };
  const play = async (i: number, e: PlanEvent) => {
    const p = plan.cards[i]!;
    if (e.kind === 'recharge') return doRecharge(i, e.amount, e.channel, e.reference, e.at);
    if (e.kind === 'allocate') return doAllocate(i, e.amount);
    // Individuals top up at the counter when they see the balance will not cover a fill (most of the time).
    if (p.topsUp && balances[i]! < e.amount && rng.chance(0.8)) {
      const bank = rng.chance(0.3);
      // Topped up at the counter a little before the fill.
      await doRecharge(i, nextTopUp(rng, e.amount), bank ? 'bank_transfer' : 'cash', bank ? uniqueReference(e.at) : undefined, new Date(e.at.getTime() - 20 * 60_000));
    }
    if (e.wrongPinFirst) await sell(cardNos[i]!, e, WRONG_PIN, e.at);
    const answer = await sell(cardNos[i]!, e, DEMO_CARD_PIN, e.wrongPinFirst ? new Date(e.at.getTime() + 40_000) : e.at);
    if (answer.balance !== null) balances[i] = answer.balance;
  };
  const eventCount = plan.cards.reduce((s, c) => s + c.events.length, 0) + plan.unknownCardSales.length;
  progress.phase('交易 sales', eventCount);
  await runPool([...plan.cards.keys()], WORKERS, signal, async (i) => {
    for (const e of plan.cards[i]!.events) {
      signal?.throwIfAborted();
      await play(i, e);
      progress.tick();
    }
  });
  for (const e of plan.unknownCardSales) {
    await sell(generateCardNo(config.cardIssuerPrefix), e, DEMO_CARD_PIN, e.at);
    progress.tick();
  }

  // The ready-made cardholder: a personal card with money on it and a portal password.
  const holder = await createCustomer(deps, actor, { name: DEMO_CARDHOLDER.name, phone: DEMO_CARDHOLDER.phone, idType: 'resident_id', idNumber: DEMO_CARDHOLDER.idNumber });
  const holderCard = await issueCard(deps, actor, { kind: 'personal', pin: DEMO_CARD_PIN, customerId: holder.id });
  await inTransaction(db, (trx) => rechargeAtCounter(trx, config, actor, { cardNo: holderCard.cardNo, amount: DEMO_CARDHOLDER.opening, channel: 'cash' }, new Date(plan.startMs - 86_400_000)));
  await setPortalPassword({ db, config }, actor, { phone: DEMO_CARDHOLDER.phone, password: DEMO_CARDHOLDER.password });
  summary.customers++;
  summary.cards.personal++;
  summary.recharges.count++;
  summary.recharges.amountFen += DEMO_CARDHOLDER.opening;
  summary.cardholder = { phone: DEMO_CARDHOLDER.phone, password: DEMO_CARDHOLDER.password, cardNo: holderCard.cardNo };

  // The cards were issued before the history began (their opening recharges), not today: the
  // console's dashboard counts cards issued today.
  await sql`update cards c set created_at = coalesce((select min(r.created_at) from recharges r where r.card_id = c.id), ${new Date(plan.startMs)}::timestamptz) - interval '30 minutes'
    where c.id in (select id from cards where card_no = any(${[...cardNos, holderCard.cardNo]}::text[]))`.execute(db);

  // The demo's weeks of sales happened in shifts long since closed: close each terminal's, balanced,
  // so the first shift someone closes on a fresh install holds only what they did.
  for (const t of summary.terminals) {
    const terminal = { id: t.terminalId, stationId: stationIds.get(t.stationCode)! };
    await db.transaction().execute(async (trx) => {
      const open = await currentShift(trx, terminal);
      await closeShift(trx, terminal, { cashier: 'seed-demo', endOfDay: true, declared: open.computed }, config.timeZone);
    });
  }

  progress.phase('核对账本 ledger verify', 1);
  const ledger = await verifyLedger(db);
  progress.tick();
  await audit(db, actor, {
    action: 'demo.seed',
    targetType: 'database',
    targetId: null,
    details: { seed: plan.seed, stations: summary.stations, pumps: summary.pumps, nozzles: summary.nozzles, prices: summary.prices, goods: summary.goods, customers: summary.customers, cards: summary.cards, recharges: summary.recharges, allocations: summary.allocations, sales: summary.sales },
  });
  progress.done(`完成 / done: ${summary.sales.approved + summary.sales.declined} 笔交易 sales`);
  if (!ledger.ok) {
    // A use case broke an invariant: that is a bug to fix, not a dataset to hand out.
    throw new Error(`ledger verify failed after seeding: ${JSON.stringify(ledger.problems.slice(0, 5))}`);
  }
  return { ...summary, ledger, elapsedMs: Date.now() - started };
}
