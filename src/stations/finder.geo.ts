/**
 * Geometry of the station finder, pure. No PostGIS: stations are found by a latitude/longitude
 * box on the (lat, lng) btree, then measured exactly here or in SQL (haversine).
 */

/** Mean Earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8;
const M_PER_DEG = (Math.PI / 180) * EARTH_RADIUS_M;

export interface Point {
  lat: number;
  lng: number;
}

/** A latitude/longitude range; boxes never cross the antimeridian (one that would is split in two). */
export interface Box {
  latMin: number;
  latMax: number;
  lngMin: number;
  lngMax: number;
}

const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres. */
export function haversineM(a: Point, b: Point): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Longitude difference b − a folded into [−180, 180). */
const lngDelta = (a: number, b: number) => ((((b - a + 180) % 360) + 360) % 360) - 180;

/**
 * The box(es) that hold every point within `radiusM` of the ones given: a latitude margin of
 * radius / metres-per-degree, a longitude margin widened by 1/cos of the latitude farthest from
 * the equator. Near a pole every longitude is in; across the antimeridian the box is split.
 */
export function boxesAround(points: readonly Point[], radiusM: number): Box[] {
  const dLat = radiusM / M_PER_DEG;
  let latMin = Infinity;
  let latMax = -Infinity;
  for (const p of points) {
    latMin = Math.min(latMin, p.lat);
    latMax = Math.max(latMax, p.lat);
  }
  latMin = Math.max(-90, latMin - dLat);
  latMax = Math.min(90, latMax + dLat);
  const widest = Math.max(Math.abs(latMin), Math.abs(latMax));
  if (widest >= 89.9) return [{ latMin, latMax, lngMin: -180, lngMax: 180 }];
  const dLng = dLat / Math.cos(rad(widest));
  // Longitudes as one run starting at the first point (a path may step over the antimeridian).
  const first = points[0]!.lng;
  let lo = first;
  let hi = first;
  for (const p of points) {
    const l = first + lngDelta(first, p.lng);
    lo = Math.min(lo, l);
    hi = Math.max(hi, l);
  }
  lo -= dLng;
  hi += dLng;
  if (hi - lo >= 360) return [{ latMin, latMax, lngMin: -180, lngMax: 180 }];
  const wrap = (l: number) => ((((l + 180) % 360) + 360) % 360) - 180;
  const a = wrap(lo);
  const b = a + (hi - lo);
  if (b <= 180) return [{ latMin, latMax, lngMin: a, lngMax: b }];
  return [
    { latMin, latMax, lngMin: a, lngMax: 180 },
    { latMin, latMax, lngMin: -180, lngMax: b - 360 },
  ];
}

/** A path's length in metres (great-circle legs). */
export function pathLengthM(path: readonly Point[]): number {
  let total = 0;
  for (let i = 1; i < path.length; i++) total += haversineM(path[i - 1]!, path[i]!);
  return total;
}

/**
 * Boxes covering a corridor of `corridorM` either side of the path: each leg cut into pieces of
 * at most `pieceM`, each piece boxed with the margin, so a long diagonal leg does not become one
 * huge box (the index then reads only the strip along the road).
 */
export function corridorBoxes(path: readonly Point[], corridorM: number, pieceM: number): Box[] {
  const boxes: Box[] = [];
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]!;
    const b = path[i]!;
    const pieces = Math.max(1, Math.ceil(haversineM(a, b) / pieceM));
    const dl = lngDelta(a.lng, b.lng);
    for (let k = 0; k < pieces; k++) {
      const p = { lat: a.lat + ((b.lat - a.lat) * k) / pieces, lng: a.lng + (dl * k) / pieces };
      const q = { lat: a.lat + ((b.lat - a.lat) * (k + 1)) / pieces, lng: a.lng + (dl * (k + 1)) / pieces };
      boxes.push(...boxesAround([p, q], corridorM));
    }
  }
  return boxes;
}

/** Route pieces are at most this long: over one piece a single cos(latitude) scale is exact enough. */
export const PATH_PIECE_MAX_M = 10_000;

/** A piece of a route on the flat projection around its start, with one east-west scale for the piece and every point measured against it. */
export interface PathPiece {
  from: Point;
  /** Metres per degree of longitude at the piece's middle latitude. */
  k: number;
  dx: number;
  dy: number;
  lengthM: number;
  /** Metres along the route to the piece's start. */
  startM: number;
  latMin: number;
  latMax: number;
}

/**
 * The route cut into pieces of at most PATH_PIECE_MAX_M, the legs taken as straight in latitude and
 * longitude (as corridorBoxes boxes them). One scale per piece: with the leg's scale for the leg and
 * another for the point, a point on a 580 km diagonal leg read 1.5 km off it, on a 3 000 km leg 40 km.
 */
export function pathPieces(path: readonly Point[]): PathPiece[] {
  const pieces: PathPiece[] = [];
  let startM = 0;
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]!;
    const b = path[i]!;
    const n = Math.max(1, Math.ceil(haversineM(a, b) / PATH_PIECE_MAX_M));
    const dLat = (b.lat - a.lat) / n;
    const dLng = lngDelta(a.lng, b.lng) / n;
    for (let j = 0; j < n; j++) {
      const from = { lat: a.lat + dLat * j, lng: a.lng + dLng * j };
      const to = { lat: from.lat + dLat, lng: from.lng + dLng };
      const k = Math.cos(rad(from.lat + dLat / 2)) * M_PER_DEG;
      const lengthM = haversineM(from, to);
      pieces.push({ from, k, dx: dLng * k, dy: dLat * M_PER_DEG, lengthM, startM, latMin: Math.min(from.lat, to.lat), latMax: Math.max(from.lat, to.lat) });
      startM += lengthM;
    }
  }
  return pieces;
}

/**
 * How far a point is from a route (cut by pathPieces), and how far along the route its nearest spot
 * is (metres from the start). A piece farther in latitude alone than the best so far is skipped.
 */
export function placeOnPieces(point: Point, pieces: readonly PathPiece[]): { distanceM: number; alongM: number } {
  let best = { distanceM: Infinity, alongM: 0 };
  for (const p of pieces) {
    if (Math.max(0, p.latMin - point.lat, point.lat - p.latMax) * M_PER_DEG >= best.distanceM) continue;
    const px = lngDelta(p.from.lng, point.lng) * p.k;
    const py = (point.lat - p.from.lat) * M_PER_DEG;
    const len2 = p.dx * p.dx + p.dy * p.dy;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, (px * p.dx + py * p.dy) / len2));
    const distanceM = Math.hypot(px - t * p.dx, py - t * p.dy);
    if (distanceM < best.distanceM) best = { distanceM, alongM: p.startM + t * p.lengthM };
  }
  return best;
}

/** placeOnPath for one point; for many, cut the path once with pathPieces. */
export function placeOnPath(point: Point, path: readonly Point[]): { distanceM: number; alongM: number } {
  return placeOnPieces(point, pathPieces(path));
}
