import { sql } from 'kysely';
import type { Db } from '../platform/index.js';
import { raiseStockAlert } from './stock.alerts.js';

/**
 * Demo stock for `fuelcard seed-demo`: a tank per grade at each station, two gauge readings a
 * day apart with a delivery between them, a promotion at the first station and one for every
 * station, and — so the console has something to show — the last station's last tank low, with
 * its open low-stock alert. Readings are in the past, so the book stock afterwards also counts
 * whatever the demo sold since.
 */
export async function seedDemoStock(
  db: Db,
  stations: ReadonlyArray<{ id: number; grades: readonly string[] }>,
): Promise<{ tanks: number; readings: number; deliveries: number; promotions: number; alerts: number }> {
  const out = { tanks: 0, readings: 0, deliveries: 0, promotions: 0, alerts: 0 };
  await db.transaction().execute(async (trx) => {
    for (const [si, st] of stations.entries()) {
      for (const [gi, grade] of st.grades.entries()) {
        const tank = gi + 1;
        const diesel = grade.endsWith('#') && Number.parseInt(grade, 10) <= 0;
        const capacityMl = diesel ? 40_000_000 : 30_000_000;
        const lowLevelMl = 4_000_000;
        const isLow = si === stations.length - 1 && gi === st.grades.length - 1;
        await sql`insert into station_tanks (station_id, tank, grade, capacity_ml, low_level_ml)
          values (${st.id}, ${tank}, ${grade}, ${capacityMl}, ${lowLevelMl}) on conflict (station_id, tank) do nothing`.execute(trx);
        out.tanks += 1;
        const firstMl = isLow ? 9_000_000 : Math.round(capacityMl * (0.35 + ((si * 7 + gi * 3) % 10) / 40));
        const deliveredMl = isLow ? 0 : 12_000_000;
        const secondMl = isLow ? 3_200_000 : Math.min(capacityMl, firstMl + deliveredMl - 5_000_000 - ((si + gi) % 5) * 100_000);
        await sql`insert into tank_readings (station_id, tank, grade, volume_ml, water_ml, temperature_dc, read_at) values
          (${st.id}, ${tank}, ${grade}, ${firstMl}, 0, 182, now() - interval '2 days'),
          (${st.id}, ${tank}, ${grade}, ${secondMl}, 0, 176, now() - interval '1 day')
          on conflict (station_id, tank, read_at) do nothing`.execute(trx);
        out.readings += 2;
        if (deliveredMl > 0) {
          await sql`insert into fuel_deliveries (station_id, tank, grade, volume_ml, delivered_at, reference, created_by)
            values (${st.id}, ${tank}, ${grade}, ${deliveredMl}, now() - interval '36 hours', ${`DEMO-${st.id}-${tank}`}, 'seed-demo')
            on conflict do nothing`.execute(trx);
          out.deliveries += 1;
        }
        if (isLow) {
          await raiseStockAlert(trx, {
            stationId: st.id,
            tank,
            grade,
            kind: 'low_stock',
            details: { volumeMl: secondMl, lowLevelMl, demo: true },
          });
          out.alerts += 1;
        }
      }
    }
    if (stations.length > 0) {
      const first = stations[0]!;
      await sql`insert into station_promotions (station_id, title_zh, title_en, grade, starts_at, ends_at, created_by) values
        (${first.id}, '加满 300 元立减 10 元', '¥10 off a ¥300 fill', ${first.grades[0] ?? null}, now() - interval '1 day', now() + interval '30 days', 'seed-demo')`.execute(trx);
      await sql`insert into station_promotions (title_zh, title_en, starts_at, ends_at, created_by) values
        ('每月 8 日会员日：便利店 9 折', 'Members'' day on the 8th: 10% off in the store', now() - interval '1 day', now() + interval '60 days', 'seed-demo')`.execute(trx);
      out.promotions += 2;
    }
  });
  return out;
}
