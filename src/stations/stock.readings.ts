import { sql } from 'kysely';
import type { Actor, Config, Db, Trx } from '../platform/index.js';
import { audit, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, parseTimeBound } from '../platform/index.js';
import { getStation } from './stations.service.js';
import { stockError } from './stock.errors.js';
import { raiseStockAlert, type StockAlert } from './stock.alerts.js';
import { requireOwnStation } from './stock.service.js';

/**
 * Tank gauge readings (液位仪读数), uploaded by the station's terminal or entered by staff after
 * a manual dip (人工量油). A reading is identified by station, tank and readAt: the gauge's
 * upload retried after a lost answer records nothing twice and raises no alert twice.
 */

export const MAX_READINGS = 100;
/** A gauge that was cut off may upload its backlog later, but not forever. */
const MAX_READING_AGE_MS = 31 * 24 * 3600_000;

export interface ReadingInput {
  tank: number;
  volumeMl: number;
  waterMl?: number;
  temperatureDc?: number;
  readAt: string;
}

export interface ReadingsOutcome {
  accepted: number;
  duplicates: number;
  alerts: Array<StockAlert & { isNew: boolean }>;
}

type TankRow = { tank: number; grade: string; capacity_ml: string; low_level_ml: string; grade_tanks: string };

export async function recordReadings(
  db: Db,
  config: Pick<Config, 'terminalClockSkewMs' | 'stockVarianceBp' | 'stockVarianceMinMl'>,
  actor: Actor,
  stationId: number,
  readings: readonly ReadingInput[],
): Promise<ReadingsOutcome> {
  requireOwnStation(actor, stationId);
  const now = Date.now();
  const parsed = readings.map((r, i) => {
    const at = parseTimeBound(r.readAt, `body.readings.${i}.readAt`);
    if (at.at.getTime() > now + config.terminalClockSkewMs) throw stockError('TANK_READING_INVALID', { field: `body.readings.${i}.readAt`, reason: 'in the future' });
    if (at.at.getTime() < now - MAX_READING_AGE_MS) throw stockError('TANK_READING_INVALID', { field: `body.readings.${i}.readAt`, reason: 'older than 31 days' });
    return { ...r, index: i, at };
  });
  return db.transaction().execute(async (trx) => {
    await getStation(trx, stationId);
    const wantedTanks = [...new Set(parsed.map((r) => r.tank))];
    // Locked so that two uploads for one tank work out variances one after the other.
    const t = await sql<TankRow>`select t.tank, t.grade, t.capacity_ml, t.low_level_ml,
        (select count(*) from station_tanks o where o.station_id = t.station_id and o.grade = t.grade) as grade_tanks
      from station_tanks t where t.station_id = ${stationId} and t.tank = any(${wantedTanks}::int[]) order by t.tank for update`.execute(trx);
    const tanks = new Map(t.rows.map((row) => [row.tank, row]));
    for (const r of parsed) {
      const tank = tanks.get(r.tank);
      if (!tank) throw stockError('TANK_UNKNOWN', { field: `body.readings.${r.index}.tank`, tank: r.tank });
      if (r.volumeMl > Number(tank.capacity_ml)) {
        throw stockError('TANK_READING_INVALID', { field: `body.readings.${r.index}.volumeMl`, reason: 'more than the tank holds', capacityMl: Number(tank.capacity_ml) });
      }
    }
    const out: ReadingsOutcome = { accepted: 0, duplicates: 0, alerts: [] };
    // Oldest first: each reading's variance is against the one before it.
    for (const r of [...parsed].sort((a, b) => a.at.at.getTime() - b.at.at.getTime())) {
      const tank = tanks.get(r.tank)!;
      const ins = await sql<{ id: string }>`insert into tank_readings (station_id, tank, grade, volume_ml, water_ml, temperature_dc, read_at)
        values (${stationId}, ${r.tank}, ${tank.grade}, ${r.volumeMl}, ${r.waterMl ?? 0}, ${r.temperatureDc ?? null}, ${r.at.utc}::timestamptz)
        on conflict (station_id, tank, read_at) do nothing returning id`.execute(trx);
      const readingId = ins.rows[0]?.id;
      if (readingId === undefined) {
        out.duplicates += 1;
        continue;
      }
      out.accepted += 1;
      out.alerts.push(...(await checkReading(trx, config, stationId, tank, { id: Number(readingId), volumeMl: r.volumeMl, readAt: r.at.utc })));
    }
    if (actor.role !== 'terminal' && out.accepted > 0) {
      await audit(trx, actor, { action: 'stock.manual_dip', targetType: 'station', targetId: stationId, details: { readings: readings.map((r) => ({ ...r })), accepted: out.accepted } });
    }
    return out;
  });
}

/** The alerts one new reading raises: below the low level, and off from what the books expected beyond tolerance. */
async function checkReading(
  trx: Trx,
  config: Pick<Config, 'stockVarianceBp' | 'stockVarianceMinMl'>,
  stationId: number,
  tank: TankRow,
  reading: { id: number; volumeMl: number; readAt: string },
): Promise<Array<StockAlert & { isNew: boolean }>> {
  const alerts: Array<StockAlert & { isNew: boolean }> = [];
  const lowLevelMl = Number(tank.low_level_ml);
  if (reading.volumeMl < lowLevelMl) {
    alerts.push(
      await raiseStockAlert(trx, {
        stationId,
        tank: tank.tank,
        grade: tank.grade,
        kind: 'low_stock',
        details: { readingId: reading.id, readAt: reading.readAt, volumeMl: reading.volumeMl, lowLevelMl },
      }),
    );
  }
  const p = await sql<{ id: string; volume_ml: string; read_at: Date; delivered_ml: string; sold_ml: string }>`
    select p.id, p.volume_ml, p.read_at,
      coalesce((select sum(f.volume_ml) from fuel_deliveries f where f.station_id = ${stationId} and f.tank = ${tank.tank}
        and f.delivered_at > p.read_at and f.delivered_at <= ${reading.readAt}::timestamptz), 0) as delivered_ml,
      coalesce((select sum(s.volume_ml) from sales s where s.station_id = ${stationId} and s.grade = ${tank.grade} and s.status = 'approved'
        and s.created_at > p.read_at and coalesce(s.offline_at, s.created_at) > p.read_at
        and coalesce(s.offline_at, s.created_at) <= ${reading.readAt}::timestamptz), 0) as sold_ml
    from tank_readings p
    where p.station_id = ${stationId} and p.tank = ${tank.tank} and p.read_at < ${reading.readAt}::timestamptz
    order by p.read_at desc limit 1`.execute(trx);
  const prev = p.rows[0];
  if (!prev) return alerts;
  const soldMl = Math.round(Number(prev.sold_ml) / Number(tank.grade_tanks));
  const deliveredMl = Number(prev.delivered_ml);
  const expectedMl = Number(prev.volume_ml) + deliveredMl - soldMl;
  const differenceMl = reading.volumeMl - expectedMl;
  const toleranceMl = Math.max(Math.round((config.stockVarianceBp * soldMl) / 10_000), config.stockVarianceMinMl);
  if (Math.abs(differenceMl) > toleranceMl) {
    alerts.push(
      await raiseStockAlert(trx, {
        stationId,
        tank: tank.tank,
        grade: tank.grade,
        kind: 'variance',
        details: {
          readingId: reading.id,
          readAt: reading.readAt,
          volumeMl: reading.volumeMl,
          previousReadingId: Number(prev.id),
          previousReadAt: prev.read_at.toISOString(),
          previousVolumeMl: Number(prev.volume_ml),
          deliveredMl,
          soldMl,
          expectedMl,
          differenceMl,
          toleranceMl,
        },
      }),
    );
  }
  return alerts;
}

export interface StoredReading {
  readingId: number;
  tank: number;
  grade: string;
  volumeMl: number;
  waterMl: number;
  temperatureDc: number | null;
  readAt: string;
  receivedAt: string;
}

/** A station's readings, newest readAt first, keyset paged. */
export async function listReadings(
  db: Db,
  stationId: number,
  q: { tank?: number; cursor?: string; limit: number },
): Promise<{ items: StoredReading[]; nextCursor: string | null }> {
  await getStation(db, stationId);
  const after = decodeCursor(q.cursor, 'bigint');
  const r = await sql<{ id: string; tank: number; grade: string; volume_ml: string; water_ml: string; temperature_dc: number | null; read_at: Date; received_at: Date; cursor_at: string }>`
    select id, tank, grade, volume_ml, water_ml, temperature_dc, read_at, received_at, to_char(read_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at
    from tank_readings where station_id = ${stationId}
    ${q.tank !== undefined ? sql`and tank = ${q.tank}` : sql``}
    ${after ? sql`and (read_at, id) < (${after.at}::timestamptz, ${after.id}::bigint)` : sql``}
    order by read_at desc, id desc limit ${q.limit + 1}`.execute(db);
  const rows = r.rows.slice(0, q.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map((x) => ({
      readingId: Number(x.id),
      tank: x.tank,
      grade: x.grade,
      volumeMl: Number(x.volume_ml),
      waterMl: Number(x.water_ml),
      temperatureDc: x.temperature_dc,
      readAt: x.read_at.toISOString(),
      receivedAt: x.received_at.toISOString(),
    })),
    nextCursor: r.rows.length > q.limit && last ? encodeCursor(last.cursor_at, last.id) : null,
  };
}
