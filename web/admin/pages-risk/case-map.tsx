import { useT } from '../../shared/i18n';
import { rk } from './i18n';

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
  kmh: number | null;
}

/** What impossible_travel judges (its built-in defaults unless the catalogue says otherwise). */
export interface TravelLimits {
  minKm: number;
  maxKmh: number;
}

export function isImpossible(leg: MapLeg, limits: TravelLimits): boolean {
  return leg.fromStationId !== leg.toStationId && leg.km > limits.minKm && (leg.kmh === null || leg.kmh > limits.maxKmh);
}

const W = 720;
const H = 420;
const PAD = 56;

/**
 * The card's sales on a map drawn here, from the stations' coordinates alone: no tiles, no
 * network. Equirectangular projection of the bounding box (longitude scaled by the cosine of the
 * mid latitude, so distances look right at this scale), a dot per station, an arrow per leg
 * between consecutive sales labelled with its km and km/h; impossible legs in red.
 */
export function CaseMap({ stations, path, limits }: { stations: MapStation[]; path: MapLeg[]; limits: TravelLimits }) {
  const t = useT(rk);
  if (!stations.length) return <div data-testid="case-map-empty">{t('noMap')}</div>;
  const lats = stations.map((s) => s.lat);
  const lngs = stations.map((s) => s.lng);
  const minLat = Math.min(...lats);
  const maxLat = Math.max(...lats);
  const minLng = Math.min(...lngs);
  const maxLng = Math.max(...lngs);
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = (maxLng - minLng) * k;
  const spanY = maxLat - minLat;
  const scale = Math.min(spanX > 0 ? (W - 2 * PAD) / spanX : Infinity, spanY > 0 ? (H - 2 * PAD) / spanY : Infinity);
  const s = Number.isFinite(scale) ? scale : 1;
  // Centre the drawing in the box (one station, or all on a line, sits in the middle).
  const offX = (W - spanX * s) / 2;
  const offY = (H - spanY * s) / 2;
  const pos = new Map(stations.map((st) => [st.id, { x: offX + (st.lng - minLng) * k * s, y: offY + (maxLat - st.lat) * s }]));
  // Legs between the same two stations are drawn once per direction, their labels stacked.
  const seen = new Map<string, number>();
  return (
    <svg viewBox={`0 0 ${W} ${H}`} width="100%" style={{ maxWidth: W, background: '#f6f8fa', border: '1px solid #e5e7eb', borderRadius: 6 }} role="img" aria-label={t('map')} data-testid="case-map">
      <defs>
        <marker id="fc-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#1677ff" />
        </marker>
        <marker id="fc-arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#cf1322" />
        </marker>
      </defs>
      {path.map((leg, i) => {
        if (leg.fromStationId === leg.toStationId) return null;
        const a = pos.get(leg.fromStationId);
        const b = pos.get(leg.toStationId);
        if (!a || !b) return null;
        const bad = isImpossible(leg, limits);
        const key = `${leg.fromStationId}>${leg.toStationId}`;
        const n = seen.get(key) ?? 0;
        seen.set(key, n + 1);
        // Stop the arrow short of the dot, and bend it a little so the two directions do not overlap.
        const dx = b.x - a.x;
        const dy = b.y - a.y;
        const len = Math.hypot(dx, dy) || 1;
        const ux = dx / len;
        const uy = dy / len;
        const x1 = a.x + ux * 10;
        const y1 = a.y + uy * 10;
        const x2 = b.x - ux * 10;
        const y2 = b.y - uy * 10;
        const bend = 18;
        const cx = (x1 + x2) / 2 - uy * bend;
        const cy = (y1 + y2) / 2 + ux * bend;
        const color = bad ? '#cf1322' : '#1677ff';
        // The label sits beside the curve, on its outer side, so it never crosses the arrow.
        const nx = -uy;
        const ny = ux;
        const lx = cx + nx * 6;
        const ly = cy + ny * 6 + n * 14;
        const anchor = Math.abs(nx) < 0.3 ? 'middle' : nx > 0 ? 'start' : 'end';
        const label = `${leg.km} ${t('km')}${leg.kmh === null ? '' : ` · ${leg.kmh} ${t('kmh')}`}`;
        return (
          <g key={`${leg.fromSaleId}-${i}`} data-testid="map-leg" data-impossible={bad ? 'yes' : 'no'} data-from={leg.fromStationId} data-to={leg.toStationId}>
            <path d={`M ${x1} ${y1} Q ${cx} ${cy} ${x2} ${y2}`} fill="none" stroke={color} strokeWidth={bad ? 2.5 : 1.5} strokeDasharray={bad ? undefined : '5 3'} markerEnd={`url(#${bad ? 'fc-arrow-bad' : 'fc-arrow'})`} />
            <text x={lx} y={ly} fontSize={12} fill={color} textAnchor={anchor} paintOrder="stroke" stroke="#f6f8fa" strokeWidth={3} data-testid="map-leg-label">
              {label}
            </text>
          </g>
        );
      })}
      {stations.map((st) => {
        const p = pos.get(st.id)!;
        return (
          <g key={st.id} data-testid="map-station" data-station-id={st.id}>
            <circle cx={p.x} cy={p.y} r={7} fill="#0f6e5f" stroke="#fff" strokeWidth={2} />
            <text x={p.x} y={p.y - 12} fontSize={12} textAnchor="middle" fill="#1f2937" paintOrder="stroke" stroke="#f6f8fa" strokeWidth={3}>
              {st.name} ({st.sales})
            </text>
          </g>
        );
      })}
    </svg>
  );
}
