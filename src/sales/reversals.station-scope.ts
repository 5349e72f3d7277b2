import { platformError } from '../platform/index.js';

/**
 * Station staff bound to a station read that station's shifts, voids, statements and offline batches only: a
 * cashier has no business with another station's takings. Other readers see what they ask for.
 * Returns the station the query is to be limited to (undefined: all).
 */
export function scopedStationId(who: { readonly role: string; readonly stationId?: number | null } | undefined, requested: number | undefined): number | undefined {
  const own = who?.role === 'station_staff' ? who.stationId : null;
  if (own === null || own === undefined) return requested;
  if (requested !== undefined && requested !== own) throw platformError('FORBIDDEN', { stationId: requested, reason: 'station staff see their own station only' });
  return own;
}
