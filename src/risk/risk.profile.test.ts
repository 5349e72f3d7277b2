import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCard, newStation, type TestTerminal } from '../../test/support/cards-factory.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import type { Trx } from '../platform/index.js';
import { DEFAULT_PARAM_SET, evaluate, loadRiskContext, type AmountStats, type RiskContextInput } from './index.js';
import { PROFILE_IN_FLIGHT_MARGIN_MS, PROFILE_LOCK_SPACE, readRiskProfile, refreshRiskProfiles, storeRiskProfiles } from './risk.profile.js';

const TZ = 'Asia/Shanghai';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MARGIN = PROFILE_IN_FLIGHT_MARGIN_MS;

let server: TestServer;
let terminal: TestTerminal;

/** A deterministic generator: a failing seed reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }>`select date_trunc('milliseconds', clock_timestamp()) as now`.execute(server.db.db)).rows[0]!.now;
}

async function newCard(): Promise<number> {
  const issued = await issueCard(server, { funds: 0 });
  return Number((await sql<{ id: number }>`select id from cards where card_no = ${issued.cardNo}`.execute(server.db.db)).rows[0]!.id);
}

type Status = 'approved' | 'declined' | 'reversed';
/** Sales written as rows: the statistics are about what sales holds, whatever flow wrote it. */
async function addSales(cardId: number, sales: Array<{ at: Date; amount: number; status?: Status }>): Promise<string[]> {
  const ids: string[] = [];
  for (const s of sales) {
    const status = s.status ?? 'approved';
    const r = await sql<{ id: string }>`
      insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status, approval_code, decline_code, business_day, created_at)
      values (gen_random_uuid(), ${cardId}, '6000****0000', ${terminal.stationId}, ${terminal.terminalId}, 1, '92#', ${s.amount}, 1000, ${s.amount},
              ${status}, ${status === 'declined' ? null : '000000'}, ${status === 'declined' ? 'PIN_WRONG' : null},
              (${s.at}::timestamptz at time zone ${TZ})::date, ${s.at})
      returning id`.execute(server.db.db);
    ids.push(r.rows[0]!.id);
  }
  return ids;
}

/** The statistics query the loader ran before profiles existed, verbatim: the reference. */
async function referenceStats(cardId: number, at: Date, excludeSaleId = '00000000-0000-0000-0000-000000000000'): Promise<AmountStats> {
  const r = await sql<{ n: number; mean: number; sd: number; p95: number; hours: number[] | null }>`
    select count(*)::int as n, coalesce(avg(amount), 0)::float8 as mean, coalesce(stddev_pop(amount), 0)::float8 as sd,
           coalesce(percentile_cont(0.95) within group (order by amount), 0)::float8 as p95,
           array_agg(extract(hour from created_at at time zone ${TZ})::int) as hours
    from sales
    where card_id = ${cardId} and status = 'approved'
      and created_at > ${new Date(at.getTime() - 90 * DAY)} and created_at < ${at} and id <> ${excludeSaleId}::uuid`.execute(server.db.db);
  const sr = r.rows[0]!;
  const hourCounts = new Array<number>(24).fill(0);
  for (const hr of sr.hours ?? []) hourCounts[hr]!++;
  return { days: 90, count: sr.n, mean: sr.mean, sd: sr.sd, p95: sr.p95, hourCounts };
}

function input(cardId: number, at: Date, over: Partial<RiskContextInput> = {}): RiskContextInput {
  return { cardId, amount: 30_000, volumeMl: 30_000, grade: '92#', stationId: terminal.stationId, terminalId: terminal.terminalId, at, channel: 'online', timeZone: TZ, ...over };
}

const load = async (i: RiskContextInput) => (await loadRiskContext(server.db.db, i))!;
const asOf = async (cardId: number) => (await readRiskProfile(server.db.db, cardId))?.asOf.getTime() ?? null;

/** A random history over ~100 days: duplicates, declines, reversals, sales on the window's edges. */
function history(r: () => number, at: Date, n: number): Array<{ at: Date; amount: number; status: Status }> {
  const out: Array<{ at: Date; amount: number; status: Status }> = [];
  for (let i = 0; i < n; i++) {
    const edge = r();
    const t = edge < 0.05 ? at.getTime() - 90 * DAY : edge < 0.1 ? at.getTime() - 90 * DAY + 1 : at.getTime() - Math.floor(r() * 100 * DAY) - 1;
    const amount = r() < 0.2 ? 20_000 : 500 + Math.floor(r() * 60_000);
    const s = r();
    out.push({ at: new Date(t), amount, status: s < 0.8 ? 'approved' : s < 0.9 ? 'declined' : 'reversed' });
  }
  return out;
}

beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
});

afterAll(async () => {
  await server?.close();
});

describe('card risk profile', () => {
  it('holds exactly the full query’s statistics, and the loader adds the sales since and drops those that left the window (random histories)', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const cardId = await newCard();
      const t1 = new Date((await dbNow()).getTime() - 2 * DAY);
      await addSales(cardId, history(r, t1, Math.floor(r() * 120)));
      await storeRiskProfiles(server.db.db, [cardId], t1, TZ);
      const p = (await readRiskProfile(server.db.db, cardId))!;
      const { asOf: _a, timeZone: _z, saleTimes, amounts, ...profileStats } = p;
      expect(profileStats, `seed ${seed}`).toEqual(await referenceStats(cardId, t1));
      expect(saleTimes.length).toBe(amounts.length);
      // A moment later, nothing sold: the stored statistics as they are (unless a sale left the window).
      const soon = new Date(t1.getTime() + 1);
      expect((await load(input(cardId, soon))).stats, `seed ${seed}`).toEqual(await referenceStats(cardId, soon));

      // Sales after the profile (one exactly at as_of, some reversed), then a sale up to 23 h later:
      // the window has slid, so the profile's oldest sales must drop out and the new ones count.
      const t2 = new Date(t1.getTime() + Math.floor(r() * 23 * HOUR) + 1);
      const later = [{ at: t1, amount: 7_000, status: 'approved' as Status }];
      for (let i = 0; i < Math.floor(r() * 6); i++) later.push({ at: new Date(t1.getTime() + Math.floor(r() * (t2.getTime() - t1.getTime()))), amount: 1_000 + Math.floor(r() * 50_000), status: r() < 0.8 ? 'approved' : 'declined' });
      await addSales(cardId, later);
      const ctx = await load(input(cardId, t2));
      expect(ctx.stats, `seed ${seed}`).toEqual(await referenceStats(cardId, t2));
      expect(await asOf(cardId), 'the loader used the profile, not a recomputation').toBe(t1.getTime());
      // The backtest path computes from sales as of the sale, profile or not.
      expect((await load(input(cardId, t2, { usageFrom: 'sales' }))).stats).toEqual(ctx.stats);
    }
  });

  it('is computed once and stored when a card has none, as of the sale', async () => {
    const cardId = await newCard();
    const now = await dbNow();
    await addSales(cardId, [
      { at: new Date(now.getTime() - 3 * DAY), amount: 10_000 },
      { at: new Date(now.getTime() - 2 * DAY), amount: 12_000 },
    ]);
    expect(await readRiskProfile(server.db.db, cardId)).toBeNull();
    const ctx = await load(input(cardId, now));
    expect(ctx.stats).toMatchObject({ count: 2, mean: 11_000 });
    const p = (await readRiskProfile(server.db.db, cardId))!;
    expect(p.asOf.getTime()).toBe(now.getTime() - MARGIN);
    expect(p).toMatchObject({ count: 2, mean: 11_000, timeZone: TZ, amounts: [10_000, 12_000] });
    // A backtest neither reads nor writes profiles.
    const other = await newCard();
    await addSales(other, [{ at: new Date(now.getTime() - DAY), amount: 5_000 }]);
    expect((await load(input(other, now, { usageFrom: 'sales' }))).stats.count).toBe(1);
    expect(await readRiskProfile(server.db.db, other)).toBeNull();
  });

  it('is not used when older than the 24 h window, computed after the sale, or holding the excluded sale', async () => {
    const cardId = await newCard();
    const now = await dbNow();
    const [ex] = await addSales(cardId, [
      { at: new Date(now.getTime() - 10 * HOUR), amount: 40_000 },
      { at: new Date(now.getTime() - 5 * DAY), amount: 20_000 },
      { at: new Date(now.getTime() - 30 * DAY), amount: 30_000 },
    ]);
    // A wrong profile, so using it would show: one sale of 999 fen.
    const plant = async (at: Date) => {
      await sql`delete from card_risk_profile where card_id = ${cardId}`.execute(server.db.db);
      await sql`insert into card_risk_profile (card_id, as_of, time_zone, days, sales, mean, sd, p95, hour_counts, sale_times, amounts)
        values (${cardId}, ${at}, ${TZ}, 90, 1, 999, 0, 999, ${new Array<number>(24).fill(0).map((_, h) => (h === 3 ? 1 : 0))}::int[],
                array[${new Date(at.getTime() - DAY)}::timestamptz], array[999::bigint])`.execute(server.db.db);
    };
    const truth = await referenceStats(cardId, now);
    expect(truth.count).toBe(3);

    // Fresh (1 h old): used, which proves the planted row is what a used profile looks like.
    await plant(new Date(now.getTime() - HOUR));
    expect((await load(input(cardId, now))).stats.count).toBe(1);

    // 25 h old: the full query, and the card's profile is replaced by a right one as of the sale.
    await plant(new Date(now.getTime() - 25 * HOUR));
    expect((await load(input(cardId, now))).stats).toEqual(truth);
    expect(await asOf(cardId)).toBe(now.getTime() - MARGIN);
    expect((await readRiskProfile(server.db.db, cardId))!.count).toBe(3);

    // Computed after the sale (an offline upload checked as of the terminal's time): the full query
    // as of that time; the newer profile stays.
    const offlineAt = new Date(now.getTime() - 2 * HOUR);
    await plant(new Date(now.getTime() - HOUR));
    expect((await load(input(cardId, offlineAt, { channel: 'offline' }))).stats).toEqual(await referenceStats(cardId, offlineAt));
    expect(await asOf(cardId)).toBe(now.getTime() - HOUR);

    // The excluded sale is inside the profile: the full query without it.
    await storeRiskProfiles(server.db.db, [cardId], new Date(now.getTime() - HOUR), TZ);
    const without = await load(input(cardId, now, { excludeSaleId: ex }));
    expect(without.stats).toEqual(await referenceStats(cardId, now, ex));
    expect(without.stats.count).toBe(2);
  });

  it('unusual_amount and night_sale decide the same with the profile as with the full query', async () => {
    for (let seed = 100; seed < 108; seed++) {
      const r = rng(seed);
      const cardId = await newCard();
      // The sale: the latest 02:30 Beijing time; the profile a few hours older.
      const now = await dbNow();
      const night = new Date(now.getTime());
      night.setUTCHours(18, 30, 0, 0);
      const at = night.getTime() > now.getTime() ? new Date(night.getTime() - DAY) : night;
      const t1 = new Date(at.getTime() - HOUR - Math.floor(r() * 20 * HOUR));
      // A daytime card (15 to 40 sales, ¥100–¥300), three of them about to leave the window.
      const sales = Array.from({ length: 15 + Math.floor(r() * 25) }, (_, i) => {
        const local = new Date(t1.getTime() - (i < 3 ? 90 : 1 + Math.floor(r() * 88)) * DAY);
        local.setUTCHours(1 + Math.floor(r() * 9)); // 09:00–17:59 Beijing
        return { at: local, amount: 10_000 + Math.floor(r() * 20_000) };
      });
      await addSales(cardId, sales);
      await storeRiskProfiles(server.db.db, [cardId], t1, TZ);
      for (const amount of [25_000, 200_000]) {
        const withProfile = await load(input(cardId, at, { amount }));
        const fromSales = await load(input(cardId, at, { amount, usageFrom: 'sales' }));
        expect(await asOf(cardId)).toBe(t1.getTime());
        expect(withProfile.stats).toEqual(fromSales.stats);
        const pick = (c: typeof withProfile) =>
          evaluate(DEFAULT_PARAM_SET, c)
            .hits.filter((h) => h.rule === 'unusual_amount' || h.rule === 'night_sale')
            .map((h) => [h.rule, h.inputs]);
        expect(pick(withProfile), `seed ${seed} amount ${amount}`).toEqual(pick(fromSales));
        if (amount === 200_000) expect(pick(withProfile).map(([rule]) => rule)).toContain('unusual_amount');
        else expect(pick(withProfile).map(([rule]) => rule)).not.toContain('unusual_amount');
        expect(withProfile.sale.localHour).toBe(2);
        expect(pick(withProfile).map(([rule]) => rule)).toContain('night_sale');
      }
    }
  });
});

describe('refreshRiskProfiles', () => {
  it('refreshes cards that sold since their profile, profiles past their age, creates missing ones, and leaves fresh ones', async () => {
    const now = await dbNow();
    const [soldSince, aged, fresh, missing, idle] = [await newCard(), await newCard(), await newCard(), await newCard(), await newCard()];
    await addSales(soldSince, [{ at: new Date(now.getTime() - 5 * DAY), amount: 10_000 }]);
    await storeRiskProfiles(server.db.db, [soldSince], new Date(now.getTime() - 3 * HOUR), TZ);
    await addSales(soldSince, [{ at: new Date(now.getTime() - HOUR), amount: 11_000 }]);
    await addSales(aged, [{ at: new Date(now.getTime() - 5 * DAY), amount: 10_000 }]);
    await storeRiskProfiles(server.db.db, [aged], new Date(now.getTime() - 13 * HOUR), TZ);
    await addSales(fresh, [{ at: new Date(now.getTime() - 5 * DAY), amount: 10_000 }]);
    await storeRiskProfiles(server.db.db, [fresh], new Date(now.getTime() - 2 * HOUR), TZ);
    await addSales(missing, [{ at: new Date(now.getTime() - 2 * HOUR), amount: 10_000 }]);
    await addSales(idle, [{ at: new Date(now.getTime() - 40 * DAY), amount: 10_000 }]);

    const run = await refreshRiskProfiles(server.db.db, { now, batch: 10_000, timeZone: TZ });
    expect(run.refreshed).toBeGreaterThanOrEqual(3);
    expect(await asOf(soldSince)).toBe(now.getTime() - MARGIN);
    expect((await readRiskProfile(server.db.db, soldSince))!.count).toBe(2);
    expect(await asOf(aged)).toBe(now.getTime() - MARGIN);
    expect(await asOf(missing)).toBe(now.getTime() - MARGIN);
    expect(await asOf(fresh)).toBe(now.getTime() - 2 * HOUR);
    // A card without a profile that has not sold lately: the backfill, after the others.
    expect(await asOf(idle)).toBe(now.getTime() - MARGIN);
    expect((await readRiskProfile(server.db.db, idle))!.count).toBe(1);
    // Nothing left to do for these cards a moment later.
    const again = await refreshRiskProfiles(server.db.db, { now: new Date(now.getTime() + 1000), batch: 10_000, timeZone: TZ });
    expect(await asOf(soldSince)).toBe(now.getTime() - MARGIN);
    expect(again.refreshed).toBe(0);
  });

  it('takes at most a batch, cards that sold before the backfill', async () => {
    const now = await dbNow();
    const quiet = await newCard();
    const cards = [await newCard(), await newCard(), await newCard()];
    for (const c of cards) await addSales(c, [{ at: new Date(now.getTime() - HOUR), amount: 10_000 }]);
    const run = await refreshRiskProfiles(server.db.db, { now: new Date(now.getTime() + 2000), batch: 3, timeZone: TZ });
    expect(run.refreshed).toBe(3);
    for (const c of cards) expect(await asOf(c)).toBe(now.getTime() + 2000 - MARGIN);
    expect(await readRiskProfile(server.db.db, quiet)).toBeNull();
    expect((await refreshRiskProfiles(server.db.db, { now: new Date(now.getTime() + 3000), batch: 3, timeZone: TZ })).refreshed).toBeGreaterThanOrEqual(1);
    expect((await readRiskProfile(server.db.db, quiet))!.count).toBe(0);
  });
});

describe('profile window and in-flight sales', () => {
  it('counts a sale stamped before the job ran but committed after it (the profile is as of now − the in-flight margin)', async () => {
    const now = await dbNow();
    const cardId = await newCard();
    await addSales(cardId, [{ at: new Date(now.getTime() - 3 * DAY), amount: 10_000 }]);
    const run = await refreshRiskProfiles(server.db.db, { now, batch: 10_000, timeZone: TZ });
    expect(run.asOf.getTime()).toBe(now.getTime() - MARGIN);
    expect(await asOf(cardId)).toBe(now.getTime() - MARGIN);
    // A sale whose transaction began 30 s before the job's clock and committed after the job: the
    // job could not see it, its created_at is before the job's clock, yet after the profile's as_of.
    await addSales(cardId, [{ at: new Date(now.getTime() - 30_000), amount: 90_000 }]);
    const at = new Date(now.getTime() + 1000);
    const ctx = await load(input(cardId, at));
    expect(ctx.stats.count).toBe(2);
    expect(ctx.stats).toEqual(await referenceStats(cardId, at));
    expect(await asOf(cardId), 'the loader used the profile').toBe(now.getTime() - MARGIN);
    // The next run folds it into the profile.
    const later = new Date(now.getTime() + MARGIN + 5 * 60_000);
    await refreshRiskProfiles(server.db.db, { now: later, batch: 10_000, timeZone: TZ });
    expect(await asOf(cardId)).toBe(later.getTime() - MARGIN);
    expect((await readRiskProfile(server.db.db, cardId))!.count).toBe(2);
  });
});

/** Runs `body` in a transaction on its own connection and keeps it open until the returned function is called. */
async function holdOpen(body: (trx: Trx) => Promise<void>): Promise<() => Promise<void>> {
  let release!: () => void;
  let ready!: () => void;
  let failed!: (err: unknown) => void;
  const held = new Promise<void>((r) => (release = r));
  const started = new Promise<void>((r, j) => ((ready = r), (failed = j)));
  const done = server.db.db
    .transaction()
    .execute(async (trx) => {
      await body(trx);
      ready();
      await held;
    })
    .catch((err: unknown) => failed(err));
  await started;
  return async () => {
    release();
    await done;
  };
}

/** The sale path's conditions: the sale's transaction, under the gate's 200 ms statement_timeout. */
async function loadInSale(i: RiskContextInput): Promise<{ ctx: AmountStats; ms: number; lockTimeout: string; statementTimeout: string }> {
  return server.db.db.transaction().execute(async (trx) => {
    await sql`set local statement_timeout = '200'`.execute(trx);
    const t0 = Date.now();
    const ctx = (await loadRiskContext(trx, i))!;
    const ms = Date.now() - t0;
    const r = (await sql<{ lt: string; st: string }>`select current_setting('lock_timeout') as lt, current_setting('statement_timeout') as st`.execute(trx)).rows[0]!;
    return { ctx: ctx.stats, ms, lockTimeout: r.lt, statementTimeout: r.st };
  });
}

describe('the lazy profile store never makes a sale wait', () => {
  it('skips the store while the job holds the card (its uncommitted upsert), and keeps the computed context', async () => {
    const now = await dbNow();
    const cardId = await newCard();
    await addSales(cardId, [{ at: new Date(now.getTime() - 2 * DAY), amount: 10_000 }, { at: new Date(now.getTime() - DAY), amount: 14_000 }]);
    // The job mid-chunk: the card's profile lock taken and its row inserted, not yet committed.
    const finish = await holdOpen(async (trx) => {
      await sql`select pg_advisory_xact_lock(${PROFILE_LOCK_SPACE}, ${cardId}::int)`.execute(trx);
      await storeRiskProfiles(trx, [cardId], new Date(now.getTime() - HOUR), TZ);
    });
    try {
      const r = await loadInSale(input(cardId, now));
      expect(r.ctx).toEqual(await referenceStats(cardId, now));
      expect(r.ms).toBeLessThan(150);
      expect(r.statementTimeout).toBe('200ms');
    } finally {
      await finish();
    }
    expect(await asOf(cardId), 'the job’s row, not the sale’s').toBe(now.getTime() - HOUR);
  });

  it('gives up after its own lock_timeout on a row lock it meets anyway, undoing only the store', async () => {
    const now = await dbNow();
    const cardId = await newCard();
    await addSales(cardId, [{ at: new Date(now.getTime() - DAY), amount: 12_000 }]);
    const before = (await sql<{ lt: string }>`select current_setting('lock_timeout') as lt`.execute(server.db.db)).rows[0]!.lt;
    // A writer outside the lock protocol (an operator's manual insert): a uniqueness wait for the store.
    const finish = await holdOpen(async (trx) => {
      await storeRiskProfiles(trx, [cardId], new Date(now.getTime() - HOUR), TZ);
    });
    try {
      const r = await loadInSale(input(cardId, now));
      expect(r.ctx).toEqual(await referenceStats(cardId, now));
      expect(r.ms).toBeLessThan(150);
      expect(r.lockTimeout, 'the transaction’s own lock_timeout is back').toBe(before);
      expect(r.statementTimeout).toBe('200ms');
    } finally {
      await finish();
    }
    expect(await asOf(cardId)).toBe(now.getTime() - HOUR);
  });

  it('the job skips a card whose profile a sale is storing, and takes it on the next run', async () => {
    const now = await dbNow();
    const cardId = await newCard();
    await addSales(cardId, [{ at: new Date(now.getTime() - HOUR), amount: 12_000 }]);
    const finish = await holdOpen(async (trx) => {
      await sql`select pg_advisory_xact_lock(${PROFILE_LOCK_SPACE}, ${cardId}::int)`.execute(trx);
    });
    const t0 = Date.now();
    try {
      await refreshRiskProfiles(server.db.db, { now, batch: 10_000, timeZone: TZ });
    } finally {
      await finish();
    }
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await readRiskProfile(server.db.db, cardId)).toBeNull();
    await refreshRiskProfiles(server.db.db, { now: new Date(now.getTime() + 1000), batch: 10_000, timeZone: TZ });
    expect(await asOf(cardId)).toBe(now.getTime() + 1000 - MARGIN);
  });
});
