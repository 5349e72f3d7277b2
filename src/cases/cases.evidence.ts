import { sql } from 'kysely';
import type { Executor } from '../platform/index.js';
import { distanceKm } from '../risk/index.js';
import type { CaseRow } from './cases.queries.js';

/** Evidence reaches back this far before the case opened; the map and the sales list are capped. */
export const EVIDENCE_DAYS = 7;
export const EVIDENCE_MAX_SALES = 200;

export interface EvidenceSale {
  id: string;
  at: string;
  amount: number;
  grade: string | null;
  volumeMl: number | null;
  stationId: number;
  terminalId: string;
  status: string;
  declineCode: string | null;
  flow: string;
  /** An item of this case. */
  inCase: boolean;
}

export interface MapStation {
  id: number;
  name: string;
  lat: number;
  lng: number;
  sales: number;
}

export interface MapLeg {
  fromSaleId: string;
  toSaleId: string;
  fromStationId: number;
  toStationId: number;
  km: number;
  minutes: number;
  /** null when both sales have the same time. */
  kmh: number | null;
}

export interface Evidence {
  from: string;
  to: string;
  sales: EvidenceSale[];
  truncated: boolean;
  map: { stations: MapStation[]; path: MapLeg[] };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * The card's sales from EVIDENCE_DAYS before the case opened to now (or to its resolution), and the
 * map the console draws: each station with its coordinates, and the legs between consecutive sales
 * with distance and the speed they imply (what impossible_travel judged).
 */
export async function caseEvidence(db: Executor, c: CaseRow, now: Date): Promise<Evidence> {
  const from = new Date(c.created_at.getTime() - EVIDENCE_DAYS * 86_400_000);
  const to = c.resolved_at ?? now;
  const r = await sql<{ id: string; created_at: Date; amount: number; grade: string | null; volume_ml: number | null; station_id: number; station_name: string; lat: number; lng: number; terminal_id: string; status: string; decline_code: string | null; flow: string; in_case: boolean }>`
    select s.id, s.created_at, s.amount, s.grade, s.volume_ml, s.station_id, st.name as station_name, st.lat, st.lng, s.terminal_id, s.status,
      s.decline_code, s.flow, exists (select 1 from risk_case_items i where i.case_id = ${c.id} and i.sale_id = s.id) as in_case
    from sales s join stations st on st.id = s.station_id
    where s.card_id = ${c.card_id} and s.created_at >= ${from} and s.created_at <= ${to}
    order by s.created_at desc, s.id limit ${EVIDENCE_MAX_SALES + 1}`.execute(db);
  const truncated = r.rows.length > EVIDENCE_MAX_SALES;
  const rows = r.rows.slice(0, EVIDENCE_MAX_SALES).reverse();
  const stations = new Map<number, MapStation>();
  for (const s of rows) {
    const id = Number(s.station_id);
    const st = stations.get(id) ?? { id, name: s.station_name, lat: s.lat, lng: s.lng, sales: 0 };
    st.sales++;
    stations.set(id, st);
  }
  const path: MapLeg[] = [];
  for (let k = 1; k < rows.length; k++) {
    const a = rows[k - 1]!;
    const b = rows[k]!;
    const km = distanceKm(a.lat, a.lng, b.lat, b.lng);
    const ms = b.created_at.getTime() - a.created_at.getTime();
    path.push({
      fromSaleId: a.id,
      toSaleId: b.id,
      fromStationId: Number(a.station_id),
      toStationId: Number(b.station_id),
      km: round1(km),
      minutes: round1(ms / 60_000),
      kmh: ms > 0 ? round1(km / (ms / 3_600_000)) : null,
    });
  }
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    truncated,
    sales: rows
      .slice()
      .reverse()
      .map((s) => ({
        id: s.id,
        at: s.created_at.toISOString(),
        amount: Number(s.amount),
        grade: s.grade,
        volumeMl: s.volume_ml === null ? null : Number(s.volume_ml),
        stationId: Number(s.station_id),
        terminalId: s.terminal_id,
        status: s.status,
        declineCode: s.decline_code,
        flow: s.flow,
        inCase: s.in_case,
      })),
    map: { stations: [...stations.values()], path },
  };
}
