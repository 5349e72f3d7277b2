/**
 * The finder's arithmetic, pure: where to look from when the browser does not say, how to write a
 * distance, and where a station goes on the small map-like plot (x east, y north of the user).
 */

export interface Point {
  lat: number;
  lng: number;
}

/** City centres to look from when the position is unknown or refused (the first is the default). */
export const CITY_CENTRES: Array<Point & { id: string; zh: string; en: string }> = [
  { id: 'shanghai', zh: '上海', en: 'Shanghai', lat: 31.2304, lng: 121.4737 },
  { id: 'beijing', zh: '北京', en: 'Beijing', lat: 39.9042, lng: 116.4074 },
  { id: 'guangzhou', zh: '广州', en: 'Guangzhou', lat: 23.1291, lng: 113.2644 },
  { id: 'shenzhen', zh: '深圳', en: 'Shenzhen', lat: 22.5431, lng: 114.0579 },
  { id: 'hangzhou', zh: '杭州', en: 'Hangzhou', lat: 30.2741, lng: 120.1551 },
  { id: 'chengdu', zh: '成都', en: 'Chengdu', lat: 30.5728, lng: 104.0668 },
  { id: 'wuhan', zh: '武汉', en: 'Wuhan', lat: 30.5928, lng: 114.3055 },
  { id: 'xian', zh: '西安', en: "Xi'an", lat: 34.3416, lng: 108.9398 },
];

/** "850 m" under a kilometre, "3.2 km" under 100 km, "123 km" beyond. */
export function distanceText(m: number): string {
  if (m < 1000) return `${Math.round(m)} m`;
  if (m < 100_000) return `${(m / 1000).toFixed(1)} km`;
  return `${Math.round(m / 1000)} km`;
}

/** Metres east (x) and north (y) of the origin: an equirectangular view, exact enough within 100 km. */
export function offsetMetres(origin: Point, p: Point): { x: number; y: number } {
  const R = 6_371_000;
  const rad = Math.PI / 180;
  return {
    x: (p.lng - origin.lng) * rad * R * Math.cos(((origin.lat + p.lat) / 2) * rad),
    y: (p.lat - origin.lat) * rad * R,
  };
}

/**
 * Position on a square plot of `size` px centred on the user, `radiusM` reaching the edge (less a
 * margin); points beyond are pulled in to the edge so every listed station shows.
 */
export function plotPosition(origin: Point, p: Point, radiusM: number, size: number, margin = 14): { x: number; y: number; clipped: boolean } {
  const { x, y } = offsetMetres(origin, p);
  const half = size / 2;
  const scale = (half - margin) / radiusM;
  let px = x * scale;
  let py = y * scale;
  const r = Math.hypot(px, py);
  const max = half - margin;
  const clipped = r > max;
  if (clipped) {
    px = (px / r) * max;
    py = (py / r) * max;
  }
  return { x: half + px, y: half - py, clipped };
}

/** Typed coordinates ("31.23, 121.47" or two fields): null unless both are numbers in range. */
export function parseCoords(lat: string, lng: string): Point | null {
  const a = Number(lat.trim());
  const b = Number(lng.trim());
  if (lat.trim() === '' || lng.trim() === '' || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  if (a < -90 || a > 90 || b < -180 || b > 180) return null;
  return { lat: a, lng: b };
}
