import {
  bankReference,
  chineseName,
  CITIES,
  DEMO_GRADES,
  DEMO_STATIONS,
  HOUR_WEIGHTS,
  MIGRANT_DISTRICTS,
  mobile,
  NATIONAL_PRICE,
  nozzleLayout,
  PRICE_RISE,
  residentId,
  Rng,
  STATION_DISCOUNTS,
  TRUCK_HOUR_WEIGHTS,
  unifiedSocialCreditCode,
  type CityCode,
  type DemoStation,
  type Grade,
} from './demo-data.js';

/**
 * The demo dataset as a plan: who the customers are, which cards they hold and what each
 * card does over the period, decided up front from one seed. Executing the plan
 * (seed-demo.ts) is then a matter of calling the modules' use cases in order.
 */

const DAY_MS = 86_400_000;
// The demo is set in China, which keeps UTC+8 all year (no daylight saving), so local
// hours can be placed with a fixed offset whatever FUELCARD_TZ the operator runs with.
const CST_OFFSET_MS = 8 * 3_600_000;

/** The ready-made demo cardholder's phone (seed-demo): no generated customer may share it. */
export const DEMO_CARDHOLDER_PHONE = '13800138000';

export interface SaleEvent {
  kind: 'sale';
  at: Date;
  stationCode: string;
  grade: Grade;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  nozzle: number;
  /** The driver mistypes the PIN first and tries again a little later. */
  wrongPinFirst: boolean;
}
export interface RechargeEvent {
  kind: 'recharge';
  at: Date;
  amount: number;
  channel: 'cash' | 'bank_transfer';
  reference?: string;
}
export interface AllocationEvent {
  kind: 'allocate';
  at: Date;
  amount: number;
}
export type PlanEvent = SaleEvent | RechargeEvent | AllocationEvent;

export interface CardPlan {
  kind: 'personal' | 'anonymous' | 'master' | 'sub';
  /** Index into the plan's customers; null for anonymous and sub cards (a sub card's holder is its master's). */
  customer: number | null;
  sharedBalance: boolean;
  /** Tops up at the counter when the balance runs short (individuals do; fleets are topped up by their manager). */
  topsUp: boolean;
  opening: RechargeEvent | null;
  /** Sub cards: first allocation from the master's reserve. */
  openingAllocation: number | null;
  events: PlanEvent[];
}

export interface CustomerPlan {
  name: string;
  phone: string;
  idType: 'resident_id' | 'other';
  idNumber: string;
}

/** A price as the stations module records it: national (stationCode null) or a station's own, from a time on. */
export interface PricePlan {
  grade: Grade;
  stationCode: string | null;
  unitPrice: number;
  effectiveFrom: Date;
}

export interface DemoPlan {
  seed: number;
  startMs: number;
  endMs: number;
  /** Each demo station's nozzles, by station code. */
  nozzles: Record<string, Array<{ nozzle: number; grade: Grade; pump: number }>>;
  /** The price history the sales were made at, oldest first; the last of each grade and station is in force now. */
  prices: PricePlan[];
  customers: CustomerPlan[];
  cards: CardPlan[];
  /** Index into `cards` of the fleet master card. */
  masterIndex: number;
  /** Sale attempts with a card number nobody issued (a misread magnetic stripe, a forged card). */
  unknownCardSales: SaleEvent[];
}

export interface PlanOptions {
  customers: number;
  days: number;
  nowMs: number;
  seed?: number;
}

export const RECHARGE_AMOUNTS_FEN = [50_000, 100_000, 200_000, 300_000, 500_000] as const;

export function buildPlan(opts: PlanOptions): DemoPlan {
  const rng = new Rng(opts.seed);
  // Sales stop a few minutes before now: a backdated sale must never lie in the future.
  const endMs = opts.nowMs - 5 * 60_000;
  const firstLocalMidnight = Math.floor((endMs - opts.days * DAY_MS + CST_OFFSET_MS) / DAY_MS) * DAY_MS - CST_OFFSET_MS + DAY_MS;
  const startMs = firstLocalMidnight;
  const dayStart = (d: number) => startMs + d * DAY_MS;
  // China moves pump prices at 24:00 on an adjustment day; put one in the middle of the period.
  // Before it, the prices in force since well before the period (and the first recharges).
  const priceRiseMs = dayStart(Math.floor(opts.days / 2));
  const prices: PricePlan[] = [];
  for (const [from, rise] of [[startMs - 60 * DAY_MS, false], [priceRiseMs, true]] as const) {
    for (const grade of DEMO_GRADES) {
      const national = NATIONAL_PRICE[grade] - (rise ? 0 : PRICE_RISE[grade]);
      prices.push({ grade, stationCode: null, unitPrice: national, effectiveFrom: new Date(from) });
      for (const [code, discounts] of Object.entries(STATION_DISCOUNTS)) {
        const off = discounts[grade];
        if (off !== undefined) prices.push({ grade, stationCode: code, unitPrice: national - off, effectiveFrom: new Date(from) });
      }
    }
  }
  // The price in force as the stations module decides it: the station's own before the national one, the latest that has begun.
  const priceOf = (stationCode: string, grade: Grade, at: number): number => {
    let best: PricePlan | undefined;
    for (const p of prices) {
      if (p.grade !== grade || p.effectiveFrom.getTime() > at || (p.stationCode !== null && p.stationCode !== stationCode)) continue;
      const better = !best || (p.stationCode !== null && best.stationCode === null) || ((p.stationCode === null) === (best.stationCode === null) && p.effectiveFrom >= best.effectiveFrom);
      if (better) best = p;
    }
    if (!best) throw new Error(`no demo price for ${grade} at ${stationCode}`);
    return best.unitPrice;
  };
  const nozzles = Object.fromEntries(DEMO_STATIONS.map((s) => [s.code, nozzleLayout(s)]));
  const atHour = (d: number, hours: ReadonlyArray<readonly [number, number]>) =>
    new Date(dayStart(d) + rng.weighted(hours) * 3_600_000 + rng.int(0, 3599) * 1000 + rng.int(0, 999));

  const stationsBy = new Map<CityCode, DemoStation[]>();
  for (const s of DEMO_STATIONS) stationsBy.set(s.city, [...(stationsBy.get(s.city) ?? []), s]);
  const cityWeights = [...stationsBy.entries()].map(([c, list]) => [c, list.reduce((s, x) => s + x.traffic, 0)] as const);
  const usedIds = new Set<string>();
  const usedPhones = new Set<string>([DEMO_CARDHOLDER_PHONE]);
  const usedRefs = new Set<string>();
  const reference = (at: number) => {
    for (;;) {
      const r = bankReference(rng, new Date(at + CST_OFFSET_MS).toISOString().slice(0, 10));
      if (!usedRefs.has(r)) {
        usedRefs.add(r);
        return r;
      }
    }
  };
  const recharge = (at: number, amount: number, bankShare: number): RechargeEvent =>
    rng.chance(bankShare) ? { kind: 'recharge', at: new Date(at), amount, channel: 'bank_transfer', reference: reference(at) } : { kind: 'recharge', at: new Date(at), amount, channel: 'cash' };
  const uniquePhone = () => {
    for (;;) {
      const p = mobile(rng);
      if (!usedPhones.has(p)) {
        usedPhones.add(p);
        return p;
      }
    }
  };

  const sale = (at: Date, station: DemoStation, grade: Grade, pick: { litres?: number; amountFen?: number }): SaleEvent => {
    const unitPrice = priceOf(station.code, grade, at.getTime());
    // Pumps show litres to two decimals (10 ml); a fixed-amount fill stops when the money is reached.
    const volumeMl = pick.amountFen !== undefined ? Math.round((pick.amountFen * 1000) / unitPrice) : Math.round(pick.litres! * 100) * 10;
    return {
      kind: 'sale',
      at,
      stationCode: station.code,
      grade,
      volumeMl,
      unitPrice,
      amount: Math.round((volumeMl * unitPrice) / 1000),
      nozzle: rng.pick(nozzles[station.code]!.filter((n) => n.grade === grade)).nozzle,
      wrongPinFirst: rng.chance(0.02),
    };
  };

  const customers: CustomerPlan[] = [];
  const cards: CardPlan[] = [];

  for (let i = 0; i < opts.customers; i++) {
    const city = rng.weighted(cityWeights);
    const male = rng.chance(0.68); // most cardholders in the programme's data are men
    const y = rng.int(1963, 2002);
    const birth = { y, m: rng.int(1, 12), d: rng.int(1, 28) };
    const district = rng.chance(0.75) ? rng.pick(CITIES[city].districts) : rng.pick(MIGRANT_DISTRICTS);
    let idNumber = residentId(rng, district, birth, male);
    while (usedIds.has(idNumber)) idNumber = residentId(rng, district, birth, male);
    usedIds.add(idNumber);
    customers.push({ name: chineseName(rng, male), phone: uniquePhone(), idType: 'resident_id', idNumber });

    const cardCount = rng.chance(0.08) ? 2 : 1; // a second car in the family
    for (let c = 0; c < cardCount; c++) {
      const local = stationsBy.get(city)!;
      const home = rng.weighted(local.map((s) => [s, s.traffic] as const));
      const grade = rng.weighted<Grade>([['92#', 62], ['95#', 28], ['98#', 4], ['0#', 6]]);
      const tankL = rng.int(40, 68);
      const fixedAmount = rng.chance(0.3);
      const interval = rng.int(4, 9);
      const events: PlanEvent[] = [];
      for (let d = rng.int(0, interval - 1); d < opts.days; d += Math.max(1, Math.round(interval * (0.6 + rng.next() * 0.8)))) {
        const at = atHour(d, HOUR_WEIGHTS);
        if (at.getTime() > endMs) break;
        const station = rng.chance(0.8) ? home : rng.pick(local);
        events.push(sale(at, station, grade, fixedAmount ? { amountFen: rng.pick([20_000, 30_000, 40_000]) } : { litres: tankL * (0.45 + rng.next() * 0.45) }));
      }
      const openingAmount = rng.weighted<number>([[100_000, 3], [200_000, 4], [300_000, 2], [500_000, 1]]);
      cards.push({
        kind: 'personal',
        customer: customers.length - 1,
        sharedBalance: false,
        topsUp: true,
        opening: recharge(startMs - rng.int(1, 20) * DAY_MS, openingAmount, 0.35),
        openingAllocation: null,
        events,
      });
    }
  }

  // 不记名卡: bought with cash, a few small fills in the two biggest cities.
  for (let i = 0; i < 3; i++) {
    const city: CityCode = i === 1 ? 'SH' : 'BJ';
    const events: PlanEvent[] = [];
    for (let d = rng.int(0, 5); d < opts.days; d += rng.int(5, 10)) {
      const at = atHour(d, HOUR_WEIGHTS);
      if (at.getTime() > endMs) break;
      events.push(sale(at, rng.pick(stationsBy.get(city)!), '92#', { amountFen: rng.pick([10_000, 20_000]) }));
    }
    cards.push({ kind: 'anonymous', customer: null, sharedBalance: false, topsUp: false, opening: { kind: 'recharge', at: new Date(startMs), amount: rng.pick([50_000, 100_000]), channel: 'cash' }, openingAllocation: null, events });
  }

  // A fleet (车队): a Chengdu logistics company with a master card holding the reserve and
  // one sub card per truck. Trucks run mostly in Chengdu, sometimes down to Guangzhou and Shenzhen.
  const fleetCustomer = customers.length;
  customers.push({ name: '成都蓉运物流有限公司', phone: uniquePhone(), idType: 'other', idNumber: unifiedSocialCreditCode(rng, '510116') });
  const masterEvents: PlanEvent[] = [];
  const midMs = dayStart(Math.floor(opts.days / 2)) + 10 * 3_600_000;
  if (midMs < endMs) masterEvents.push(recharge(midMs, 20_000_000, 1));
  // Someone tries the master card at the pump: it holds the reserve and cannot buy fuel.
  const tryAt = atHour(Math.min(opts.days - 1, 2), HOUR_WEIGHTS);
  if (tryAt.getTime() <= endMs) masterEvents.push(sale(tryAt, stationsBy.get('CD')![0]!, '0#', { litres: 150 }));
  const masterIndex = cards.length;
  cards.push({ kind: 'master', customer: fleetCustomer, sharedBalance: false, topsUp: false, opening: recharge(startMs - 3 * DAY_MS, 50_000_000, 1), openingAllocation: null, events: masterEvents });
  const trucks = 6;
  for (let t = 0; t < trucks; t++) {
    const shared = t >= trucks - 2; // two trucks may also draw on the company reserve
    const events: PlanEvent[] = [];
    for (let d = rng.int(0, 1); d < opts.days; d += rng.int(1, 3)) {
      const at = atHour(d, TRUCK_HOUR_WEIGHTS);
      if (at.getTime() > endMs) break;
      const region: CityCode = rng.chance(0.8) ? 'CD' : rng.pick(['GZ', 'SZ'] as const);
      events.push(sale(at, rng.pick(stationsBy.get(region)!), '0#', { litres: rng.int(120, 380) + rng.next() }));
    }
    // The fleet manager tops every non-shared truck up on Monday mornings (周一分配).
    if (!shared) {
      for (let d = 0; d < opts.days; d++) {
        const monday = new Date(dayStart(d) + CST_OFFSET_MS).getUTCDay() === 1;
        const at = dayStart(d) + 8.5 * 3_600_000;
        if (monday && d > 0 && at <= endMs) events.push({ kind: 'allocate', at: new Date(at), amount: 1_500_000 });
      }
    }
    events.sort((a, b) => a.at.getTime() - b.at.getTime());
    cards.push({ kind: 'sub', customer: null, sharedBalance: shared, topsUp: false, opening: null, openingAllocation: shared ? 300_000 : 1_500_000, events });
  }

  const unknownCardSales: SaleEvent[] = [];
  for (let i = 0; i < 2; i++) {
    const at = atHour(rng.int(0, opts.days - 1), HOUR_WEIGHTS);
    if (at.getTime() <= endMs) unknownCardSales.push(sale(at, rng.pick(DEMO_STATIONS), '92#', { amountFen: 30_000 }));
  }

  for (const c of cards) c.events.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { seed: rng.seed, startMs, endMs, nozzles, prices, customers, cards, masterIndex, unknownCardSales };
}

export function nextTopUp(rng: Rng, needed: number): number {
  return RECHARGE_AMOUNTS_FEN.find((a) => a >= needed * 2 && rng.chance(0.7)) ?? RECHARGE_AMOUNTS_FEN.find((a) => a >= needed) ?? needed;
}
