import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../platform/index.js';
import { RECENT_WINDOW_MS, STATS_DAYS } from './risk.rules.js';
import type { AmountStats } from './risk.types.js';

/**
 * A profile is used for a sale only when it was computed at most this long before the sale (the
 * 24 h the loader reads recent sales over), so the sales the loader adds to it are at most a day's.
 * Older (a job that fell behind, a card idle for days) and the loader computes from sales.
 */
export const PROFILE_MAX_LAG_MS = RECENT_WINDOW_MS;
/** The job refreshes a profile this old even when the card has not sold: well inside PROFILE_MAX_LAG_MS. */
export const PROFILE_REFRESH_AGE_MS = 12 * 3_600_000;
/** How often startRiskProfileJobs runs, and how many cards one run refreshes at most. */
export const PROFILE_JOB_EVERY_MS = 5 * 60_000;
export const PROFILE_JOB_BATCH = 500;
/**
 * A sale's created_at is its transaction's start (the online path's clock, an offline upload's
 * `default now()`), so a sale in flight when a profile is computed is stamped before the profile's
 * clock yet invisible to it. Profiles are therefore computed as of this long before the clock: a
 * sale missing from one was stamped after as_of and the loader adds it as a sale "since". Longer
 * than any sale transaction: an online sale runs under a 200 ms risk budget, and the largest
 * offline batch (200 sales × that budget, one transaction) stays well under a minute.
 */
export const PROFILE_IN_FLIGHT_MARGIN_MS = 2 * 60_000;
/** Cards one job transaction writes: its row and advisory locks are held only this long. */
export const PROFILE_JOB_TX_CARDS = 100;
/**
 * The advisory lock key space (two-int form: (this, card id mod 2^31)) every writer of
 * card_risk_profile takes with a try-lock before writing a card's row, so no writer ever waits on
 * another: the job skips a card a sale is storing (the next run takes it), the sale path skips a
 * card the job is writing (the job's row is as good).
 */
export const PROFILE_LOCK_SPACE = 7501;

/** A row of amountStatsSql: `hours` holds each sale's local hour. */
export interface AmountStatsRow {
  n: number;
  mean: number;
  sd: number;
  p95: number;
  hours: number[];
}

const STATS_WINDOW = sql`${sql.lit(`${STATS_DAYS * 86_400} seconds`)}::interval`;

/**
 * Count, mean, population sd, p95 and sales per local hour of `source`, a subquery of
 * (amount, created_at) rows. The one definition of the statistics: the full query, the profile
 * path and the job all aggregate with it, so over the same sales they give the same numbers.
 */
export function amountStatsSql(source: RawBuilder<unknown>, timeZone: string): RawBuilder<AmountStatsRow> {
  // The hours come back as one array, binned by hourBins: 24 filtered counts would repeat the
  // zone conversion per bin once the planner inlines the subquery.
  return sql<AmountStatsRow>`
    select count(*)::int as n, coalesce(avg(a.amount), 0)::float8 as mean, coalesce(stddev_pop(a.amount), 0)::float8 as sd,
           coalesce(percentile_cont(0.95) within group (order by a.amount), 0)::float8 as p95,
           coalesce(array_agg(date_part('hour', a.created_at at time zone ${timeZone})::int), '{}') as hours
    from (${source}) a`;
}

/**
 * The card's approved sales with created_at in (at − STATS_DAYS × 24 h, at), other than
 * `excludeSaleId` (seconds, not days: a day of interval arithmetic follows the session zone's
 * daylight saving). `cardId` and `at` are SQL expressions so the job can run it per card of a batch.
 */
export function statsSalesSql(cardId: RawBuilder<unknown>, at: RawBuilder<unknown>, excludeSaleId: string | null): RawBuilder<unknown> {
  return sql`
    select amount, created_at from sales
    where card_id = ${cardId} and status = 'approved' and created_at > ${at} - ${STATS_WINDOW} and created_at < ${at}
      ${excludeSaleId === null ? sql`` : sql`and id <> ${excludeSaleId}::uuid`}`;
}

/**
 * The statistics of a card as of `at` from a stored profile `p` (a row of card_risk_profile, or all
 * nulls): the profile's sales still inside the window at `at`, plus the card's approved sales since
 * p.as_of. Without a profile that is the full 90 days from sales. Exact, not approximate: the same
 * sales as the full query, unless one was reversed after the profile was computed (it then counts
 * until the next refresh, at most PROFILE_REFRESH_AGE_MS).
 */
export function profileStatsSql(p: string, cardId: RawBuilder<unknown>, at: RawBuilder<unknown>, timeZone: string, excludeSaleId: string | null): RawBuilder<AmountStatsRow> {
  const pr = (col: string) => sql.ref(`${p}.${col}`);
  return amountStatsSql(
    sql`
      select k.amount, k.created_at from unnest(${pr('sale_times')}, ${pr('amounts')}) k(created_at, amount)
        where ${pr('card_id')} is not null and k.created_at > ${at} - ${STATS_WINDOW}
      union all
      select amount, created_at from sales
        where card_id = ${cardId} and status = 'approved' and created_at < ${at}
          and created_at > ${at} - ${STATS_WINDOW} and created_at >= coalesce(${pr('as_of')}, ${at} - ${STATS_WINDOW})
          ${excludeSaleId === null ? sql`` : sql`and id <> ${excludeSaleId}::uuid`}`,
    timeZone,
  );
}

/**
 * (Re)computes the profiles of `cardIds` as of `asOf` in one statement, unless a newer profile is
 * already there (the job and a sale may race; the later as_of wins). Returns the cards written.
 */
export async function storeRiskProfiles(db: Executor, cardIds: number[], asOf: Date, timeZone: string): Promise<number[]> {
  if (cardIds.length === 0) return [];
  const at = sql`${asOf}::timestamptz`;
  const r = await sql<{ card_id: number }>`
    insert into card_risk_profile (card_id, as_of, time_zone, days, sales, mean, sd, p95, hour_counts, sale_times, amounts)
    select ids.id, ${asOf}, ${timeZone}, ${STATS_DAYS}, st.n, st.mean, st.sd, st.p95,
           array(select count(hr.h)::int from generate_series(0, 23) b left join unnest(st.hours) hr(h) on hr.h = b group by b order by b),
           coalesce(h.sale_times, '{}'), coalesce(h.amounts, '{}')
    from unnest(${cardIds}::bigint[]) ids(id)
    cross join lateral (${amountStatsSql(statsSalesSql(sql`ids.id`, at, null), timeZone)}) st
    cross join lateral (select array_agg(x.created_at order by x.created_at) as sale_times, array_agg(x.amount order by x.created_at) as amounts
                        from (${statsSalesSql(sql`ids.id`, at, null)}) x) h
    on conflict (card_id) do update set
      as_of = excluded.as_of, computed_at = now(), time_zone = excluded.time_zone, days = excluded.days, sales = excluded.sales,
      mean = excluded.mean, sd = excluded.sd, p95 = excluded.p95, hour_counts = excluded.hour_counts,
      sale_times = excluded.sale_times, amounts = excluded.amounts
    where card_risk_profile.as_of < excluded.as_of or card_risk_profile.time_zone <> excluded.time_zone
    returning card_id`.execute(db);
  return r.rows.map((x) => Number(x.card_id));
}

/** The cards of `cardIds` (ascending) whose profile lock this transaction got; never waits. */
async function tryLockProfiles(trx: Executor, cardIds: number[]): Promise<number[]> {
  const sorted = [...new Set(cardIds)].sort((a, b) => a - b);
  // The volatile lock call is evaluated per row after the sort, in card id order.
  const r = await sql<{ id: string }>`
    select u.id::text as id from (select id from unnest(${sorted}::bigint[]) id order by id) u
    where pg_try_advisory_xact_lock(${PROFILE_LOCK_SPACE}, (u.id % 2147483648)::int)`.execute(trx);
  return r.rows.map((x) => Number(x.id));
}

/**
 * The sale path's lazy store of one card's profile as of `asOf`, which must never make the sale
 * wait: skipped when the job (or another sale) holds the card's profile lock, and run in its own
 * savepoint with a short lock_timeout, so a lock it still meets (a writer outside the protocol) or
 * the caller's statement_timeout only undoes the store. Returns whether it wrote.
 */
export async function storeRiskProfileNoWait(db: Executor, cardId: number, asOf: Date, timeZone: string): Promise<boolean> {
  const attempt = async (trx: Executor): Promise<boolean> => {
    if ((await tryLockProfiles(trx, [cardId])).length === 0) return false;
    return (await storeRiskProfiles(trx, [cardId], asOf, timeZone)).length > 0;
  };
  if (!db.isTransaction) {
    return db
      .transaction()
      .execute(async (trx) => {
        await sql`set local lock_timeout = ${sql.lit(`${PROFILE_STORE_LOCK_TIMEOUT_MS}ms`)}`.execute(trx);
        return attempt(trx);
      })
      .catch(() => false);
  }
  await sql.raw('savepoint risk_profile_store').execute(db);
  try {
    const prev = (await sql<{ prev: string }>`select current_setting('lock_timeout') as prev, set_config('lock_timeout', ${`${PROFILE_STORE_LOCK_TIMEOUT_MS}ms`}, true)`.execute(db)).rows[0]!.prev;
    const wrote = await attempt(db);
    // Released, the savepoint keeps its set_config: put the transaction's own lock_timeout back.
    await sql.raw('release savepoint risk_profile_store').execute(db);
    await sql`select set_config('lock_timeout', ${prev}, true)`.execute(db);
    return wrote;
  } catch {
    // Rolling back to the savepoint undoes the store, its lock and its set_config; the sale goes on.
    await sql.raw('rollback to savepoint risk_profile_store; release savepoint risk_profile_store').execute(db);
    return false;
  }
}

/** How long the sale path's lazy store may wait for a lock before it gives up (ms). */
export const PROFILE_STORE_LOCK_TIMEOUT_MS = 20;

/**
 * One job transaction: the cards whose profile lock it gets, written as of `asOf`. A card a sale
 * is storing is skipped (left for the next run), so the job never waits on a sale nor on another
 * process's job, and holds its locks for one chunk only.
 */
async function refreshChunk(db: Executor, cardIds: number[], asOf: Date, timeZone: string): Promise<number[]> {
  const write = async (trx: Executor) => storeRiskProfiles(trx, await tryLockProfiles(trx, cardIds), asOf, timeZone);
  return db.isTransaction ? write(db) : db.transaction().execute(write);
}

/** Each sale's local hour, counted into 24 bins. */
export function hourBins(hours: number[]): number[] {
  const bins = new Array<number>(24).fill(0);
  for (const h of hours) if (h >= 0 && h < 24) bins[h]!++;
  return bins;
}

export function toAmountStats(r: AmountStatsRow): AmountStats {
  return { days: STATS_DAYS, count: r.n, mean: r.mean, sd: r.sd, p95: r.p95, hourCounts: hourBins(r.hours.map(Number)) };
}

/** A stored profile as the loader would use it (null when none). */
export async function readRiskProfile(db: Executor, cardId: number): Promise<(AmountStats & { asOf: Date; timeZone: string; saleTimes: Date[]; amounts: number[] }) | null> {
  const r = await sql<{ as_of: Date; time_zone: string; days: number; sales: number; mean: number; sd: number; p95: number; hour_counts: number[]; sale_times: Date[]; amounts: number[] }>`
    select as_of, time_zone, days, sales, mean, sd, p95, hour_counts, sale_times, amounts from card_risk_profile where card_id = ${cardId}`.execute(db);
  const p = r.rows[0];
  return p
    ? { asOf: p.as_of, timeZone: p.time_zone, days: p.days, count: p.sales, mean: p.mean, sd: p.sd, p95: p.p95, hourCounts: p.hour_counts.map(Number), saleTimes: p.sale_times, amounts: p.amounts.map(Number) }
    : null;
}

export interface RefreshRiskProfilesOptions {
  /** The job's clock (the database's by default); the profiles are as of PROFILE_IN_FLIGHT_MARGIN_MS before it. */
  now?: Date;
  /** Cards refreshed at most (PROFILE_JOB_BATCH). */
  batch?: number;
  /** The operator's zone (config.timeZone): the hour histogram follows it. */
  timeZone: string;
  /** Refresh a profile this old even without new sales (PROFILE_REFRESH_AGE_MS). */
  maxAgeMs?: number;
}

/**
 * One run of the refresh job: recomputes, as of `now` − PROFILE_IN_FLIGHT_MARGIN_MS, at most
 * `batch` profiles, in this order: the cards that sold between their profile and that as_of (or
 * sold in the last 24 h and have none), the oldest profiles past `maxAgeMs` (or kept in another
 * zone), then cards with none at all (a new deployment's backfill, so no sale pays for the first
 * computation). Written PROFILE_JOB_TX_CARDS cards per transaction in card id order, skipping a
 * card whose profile a sale is storing at that moment. Returns how many were written.
 * A reversal does not touch created_at: a reversed sale leaves the profile at the next age refresh.
 */
export async function refreshRiskProfiles(db: Executor, opts: RefreshRiskProfilesOptions): Promise<{ refreshed: number; asOf: Date }> {
  const now = opts.now ?? (await sql<{ now: Date }>`select now() as now`.execute(db)).rows[0]!.now;
  const asOf = new Date(now.getTime() - PROFILE_IN_FLIGHT_MARGIN_MS);
  const batch = opts.batch ?? PROFILE_JOB_BATCH;
  const maxAge = opts.maxAgeMs ?? PROFILE_REFRESH_AGE_MS;
  const soldSince = new Date(now.getTime() - PROFILE_MAX_LAG_MS);
  // A sale stamped in [as_of, new as_of) is what a refresh adds; one after the new as_of is still
  // "since" for the loader, so refreshing for it would change nothing.
  const due = await sql<{ card_id: number }>`
    with sold as (
      select s.card_id, min(p.as_of) as as_of
      from sales s left join card_risk_profile p on p.card_id = s.card_id
      where s.created_at > ${soldSince} and s.created_at <= ${now} and s.status = 'approved'
        and (p.card_id is null or (s.created_at >= p.as_of and s.created_at < ${asOf}))
      group by s.card_id
      order by min(p.as_of) nulls first
      limit ${batch}
    ), old as (
      select p.card_id, p.as_of from card_risk_profile p
      where (p.as_of <= ${new Date(now.getTime() - maxAge)} or p.time_zone <> ${opts.timeZone} or p.days <> ${STATS_DAYS}) and p.as_of < ${asOf}
      order by p.as_of
      limit ${batch}
    ), missing as (
      select c.id as card_id from cards c
      where not exists (select 1 from card_risk_profile p where p.card_id = c.id)
      order by c.id
      limit ${batch}
    )
    select card_id from (select card_id, 0 as pri, as_of from sold
                         union all select card_id, 1, as_of from old
                         union all select card_id, 2, null from missing) d
    group by card_id order by min(pri), min(as_of) nulls first, card_id limit ${batch}`.execute(db);
  const ids = due.rows.map((r) => Number(r.card_id)).sort((a, b) => a - b);
  let refreshed = 0;
  for (let i = 0; i < ids.length; i += PROFILE_JOB_TX_CARDS) {
    refreshed += (await refreshChunk(db, ids.slice(i, i + PROFILE_JOB_TX_CARDS), asOf, opts.timeZone)).length;
  }
  return { refreshed, asOf };
}

interface JobLogger {
  error(obj: object, msg: string): void;
}

/**
 * The refresh job: a run every `everyMs` (PROFILE_JOB_EVERY_MS), more runs at once while a run
 * fills its batch (a backlog). Returns a stop function that waits for the run under way.
 */
export function startRiskProfileJobs(
  deps: { db: Executor; config: { timeZone: string }; logger: JobLogger },
  opts: { everyMs?: number; batch?: number } = {},
): () => Promise<void> {
  let stopped = false;
  let running: Promise<unknown> | null = null;
  const batch = opts.batch ?? PROFILE_JOB_BATCH;
  const run = () => {
    if (stopped || running) return;
    running = (async () => {
      // Catch up a backlog in batches, but yield to the sale path between them.
      for (let i = 0; i < 20 && !stopped; i++) {
        const { refreshed } = await refreshRiskProfiles(deps.db, { batch, timeZone: deps.config.timeZone });
        if (refreshed < batch) break;
      }
    })()
      .catch((err: unknown) => deps.logger.error({ err }, 'risk profile refresh failed'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(run, opts.everyMs ?? PROFILE_JOB_EVERY_MS);
  timer.unref?.();
  run();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
