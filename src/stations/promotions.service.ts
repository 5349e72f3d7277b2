import { sql } from 'kysely';
import type { Actor, Db, Executor } from '../platform/index.js';
import { audit, platformError } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stationsError } from './stations.errors.js';
import { promotionsError } from './promotions.errors.js';

/**
 * Promotions the station finder shows (油站活动: 满减, 会员日, 洗车优惠 …): one station's, every
 * station of a province's, or every station's, for a period, optionally for one grade. Ending
 * one early keeps its announced period and records when and by whom (ended_at).
 */

export interface Promotion {
  id: number;
  stationId: number | null;
  province: string | null;
  titleZh: string;
  titleEn: string;
  grade: string | null;
  startsAt: string;
  endsAt: string;
  /** scheduled: not begun; active: in its period; ended: past its period or ended early. */
  status: 'scheduled' | 'active' | 'ended';
  endedAt: string | null;
  endedBy: string | null;
  createdBy: string;
  createdAt: string;
}

type PromotionRow = {
  id: string;
  station_id: string | null;
  province: string | null;
  title_zh: string;
  title_en: string;
  grade: string | null;
  starts_at: Date;
  ends_at: Date;
  ended_at: Date | null;
  ended_by: string | null;
  created_by: string;
  created_at: Date;
  status: Promotion['status'];
};

const STATUS = sql<string>`case when ended_at is not null or ends_at <= now() then 'ended' when starts_at > now() then 'scheduled' else 'active' end`;

const toPromotion = (r: PromotionRow): Promotion => ({
  id: Number(r.id),
  stationId: r.station_id === null ? null : Number(r.station_id),
  province: r.province,
  titleZh: r.title_zh,
  titleEn: r.title_en,
  grade: r.grade,
  startsAt: r.starts_at.toISOString(),
  endsAt: r.ends_at.toISOString(),
  status: r.status,
  endedAt: r.ended_at?.toISOString() ?? null,
  endedBy: r.ended_by,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

export interface PromotionInput {
  stationId?: number;
  province?: string;
  titleZh: string;
  titleEn: string;
  grade?: string;
  startsAt: Date;
  endsAt: Date;
}

export async function createPromotion(db: Db, actor: Actor, input: PromotionInput): Promise<Promotion> {
  if (input.stationId !== undefined && input.province !== undefined) throw promotionsError('PROMOTION_SCOPE_INVALID', { field: 'body.province' });
  if (input.endsAt.getTime() <= input.startsAt.getTime()) throw promotionsError('PROMOTION_PERIOD_INVALID', { field: 'body.endsAt', reason: 'not after startsAt' });
  if (input.endsAt.getTime() <= Date.now()) throw promotionsError('PROMOTION_PERIOD_INVALID', { field: 'body.endsAt', reason: 'in the past' });
  return db.transaction().execute(async (trx) => {
    if (input.stationId !== undefined) await getStation(trx, input.stationId);
    if (input.grade !== undefined) {
      const g = await sql`select 1 from fuel_grades where code = ${input.grade}`.execute(trx);
      if (g.rows.length === 0) throw stationsError('GRADE_UNKNOWN', { field: 'body.grade', grade: input.grade });
    }
    const r = await sql<PromotionRow>`insert into station_promotions (station_id, province, title_zh, title_en, grade, starts_at, ends_at, created_by)
      values (${input.stationId ?? null}, ${input.province ?? null}, ${input.titleZh}, ${input.titleEn}, ${input.grade ?? null},
        ${input.startsAt}, ${input.endsAt}, ${actor.name})
      returning *, ${STATUS} as status`.execute(trx);
    const promotion = toPromotion(r.rows[0]!);
    await audit(trx, actor, { action: 'promotion.create', targetType: 'promotion', targetId: promotion.id, details: { ...promotion } });
    return promotion;
  });
}

/** Ends a scheduled or running promotion now (the finder stops showing it at once). Audited. */
export async function endPromotion(db: Db, actor: Actor, id: number): Promise<Promotion> {
  return db.transaction().execute(async (trx) => {
    const cur = await sql<PromotionRow>`select *, ${STATUS} as status from station_promotions where id = ${id} for update`.execute(trx);
    const row = cur.rows[0];
    if (!row) throw promotionsError('PROMOTION_NOT_FOUND', { promotionId: id });
    if (row.status === 'ended') throw promotionsError('PROMOTION_ALREADY_ENDED', { promotionId: id, endedAt: (row.ended_at ?? row.ends_at).toISOString() });
    const r = await sql<PromotionRow>`update station_promotions set ended_at = now(), ended_by = ${actor.name} where id = ${id}
      returning *, ${STATUS} as status`.execute(trx);
    const promotion = toPromotion(r.rows[0]!);
    await audit(trx, actor, { action: 'promotion.end', targetType: 'promotion', targetId: id, details: { statusBefore: row.status, titleZh: row.title_zh } });
    return promotion;
  });
}

const ID_CURSOR = /^[1-9][0-9]{0,17}$/;

/** Newest first (by id), keyset paged. active=true: in their period now and not ended. */
export async function listPromotions(
  db: Executor,
  q: { active?: boolean; stationId?: number; cursor?: string; limit: number },
): Promise<{ items: Promotion[]; nextCursor: string | null }> {
  if (q.cursor !== undefined && !ID_CURSOR.test(q.cursor)) throw platformError('VALIDATION_FAILED', { field: 'cursor' });
  const r = await sql<PromotionRow>`select *, ${STATUS} as status from station_promotions where true
    ${q.active === true ? sql`and ended_at is null and starts_at <= now() and ends_at > now()` : sql``}
    ${q.active === false ? sql`and not (ended_at is null and starts_at <= now() and ends_at > now())` : sql``}
    ${q.stationId !== undefined ? sql`and station_id = ${q.stationId}` : sql``}
    ${q.cursor !== undefined ? sql`and id < ${q.cursor}::bigint` : sql``}
    order by id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  return { items: rows.map(toPromotion), nextCursor: r.rows.length > q.limit && rows.length > 0 ? String(rows[rows.length - 1]!.id) : null };
}

export interface FinderPromotion {
  id: number;
  titleZh: string;
  titleEn: string;
  grade: string | null;
  endsAt: string;
}

/** A finder answer shows at most this many promotions per station: a list a driver reads at a glance. */
export const FINDER_MAX_PROMOTIONS = 5;

/**
 * The promotions running now at each of the given stations (its own, its province's, everyone's),
 * in one statement: the finder's batch. At most FINDER_MAX_PROMOTIONS per station, soonest ending
 * first (the ones a driver may miss), ties by id.
 */
export async function activePromotionsFor(db: Executor, stations: ReadonlyArray<{ id: number; province: string }>): Promise<Map<number, FinderPromotion[]>> {
  const out = new Map<number, FinderPromotion[]>();
  if (stations.length === 0) return out;
  const provinces = [...new Set(stations.map((s) => s.province).filter((p) => p !== ''))];
  const r = await sql<{ id: string; station_id: string | null; province: string | null; title_zh: string; title_en: string; grade: string | null; ends_at: Date }>`
    select id, station_id, province, title_zh, title_en, grade, ends_at from station_promotions
    where ended_at is null and starts_at <= now() and ends_at > now()
      and (station_id = any(${stations.map((s) => s.id)}::bigint[]) or province = any(${provinces}::text[]) or (station_id is null and province is null))
    order by ends_at, id`.execute(db);
  for (const s of stations) {
    out.set(
      s.id,
      r.rows
        .filter((p) => (p.station_id === null ? p.province === null || p.province === s.province : Number(p.station_id) === s.id))
        .slice(0, FINDER_MAX_PROMOTIONS)
        .map((p) => ({ id: Number(p.id), titleZh: p.title_zh, titleEn: p.title_en, grade: p.grade, endsAt: p.ends_at.toISOString() })),
    );
  }
  return out;
}
