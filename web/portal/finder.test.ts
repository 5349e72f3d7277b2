import { describe, expect, it } from 'vitest';
import { CITY_CENTRES, distanceText, offsetMetres, parseCoords, plotPosition } from './finderMath';

describe('finder arithmetic', () => {
  const sh = CITY_CENTRES[0]!;

  it('writes distances as people read them', () => {
    expect(distanceText(850.4)).toBe('850 m');
    expect(distanceText(3240)).toBe('3.2 km');
    expect(distanceText(123_456)).toBe('123 km');
  });

  it('places points east and north of the user', () => {
    const east = offsetMetres(sh, { lat: sh.lat, lng: sh.lng + 0.01 });
    expect(east.x).toBeGreaterThan(940);
    expect(east.x).toBeLessThan(960);
    expect(Math.abs(east.y)).toBeLessThan(1e-6);
    const north = offsetMetres(sh, { lat: sh.lat + 0.01, lng: sh.lng });
    expect(Math.round(north.y)).toBe(1112);
  });

  it('plots north up, east right, and pulls far stations to the edge', () => {
    expect(plotPosition(sh, sh, 10_000, 300)).toEqual({ x: 150, y: 150, clipped: false });
    const ne = plotPosition(sh, { lat: sh.lat + 0.02, lng: sh.lng + 0.02 }, 10_000, 300);
    expect(ne.x).toBeGreaterThan(150);
    expect(ne.y).toBeLessThan(150);
    const far = plotPosition(sh, { lat: sh.lat + 1, lng: sh.lng }, 10_000, 300);
    expect(far.clipped).toBe(true);
    expect(far.y).toBeCloseTo(14, 5);
  });

  it('accepts typed coordinates only in range', () => {
    expect(parseCoords(' 31.23 ', '121.47')).toEqual({ lat: 31.23, lng: 121.47 });
    expect(parseCoords('91', '0')).toBeNull();
    expect(parseCoords('', '1')).toBeNull();
    expect(parseCoords('a', '1')).toBeNull();
  });
});
