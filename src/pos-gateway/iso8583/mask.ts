/**
 * A printable, masked view of a message for the per-terminal support log. PAN and track data
 * keep the first 6 and last 4 digits; PIN blocks, key material, MACs and chip data are reduced
 * to their length, so nothing secret reaches a log.
 */
import type { De48Value } from './de48.js';
import type { De63Value } from './de63.js';
import type { IsoMessage } from './message.js';

const REDACTED = new Set([52, 53, 55, 64, 127, 128]);

export function maskPan(pan: string): string {
  if (pan.length <= 10) return '*'.repeat(pan.length);
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

/** Track 2: mask the PAN part, drop everything after the separator (expiry, service code, discretionary data). */
export function maskTrack2(t2: string): string {
  const sep = t2.indexOf('=');
  return sep < 0 ? maskPan(t2) : `${maskPan(t2.slice(0, sep))}=***`;
}

function show48(v: De48Value): Record<string, unknown> {
  const out: Record<string, unknown> = { ...v };
  if (v.vehicleTrack2 !== undefined) out.vehicleTrack2 = maskTrack2(v.vehicleTrack2);
  if (v.other) out.other = Object.fromEntries([...v.other].map(([k, x]) => [k, Buffer.isBuffer(x) ? `[${x.length} bytes]` : x]));
  return out;
}

export function maskMessage(msg: IsoMessage): { mti: string; fields: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const [n, v] of [...msg.fields].sort((a, b) => a[0] - b[0])) {
    if (REDACTED.has(n) || (Buffer.isBuffer(v) && n !== 48)) {
      fields[n] = `[${Buffer.isBuffer(v) ? v.length : String(v).length} bytes]`;
    } else if (n === 2 && typeof v === 'string') {
      fields[n] = maskPan(v);
    } else if (n === 35 && typeof v === 'string') {
      fields[n] = maskTrack2(v);
    } else if (typeof v === 'object' && !Buffer.isBuffer(v) && v.kind === 'de48') {
      fields[n] = show48(v);
    } else if (typeof v === 'object' && !Buffer.isBuffer(v) && v.kind === 'de63') {
      fields[n] = { ...(v as De63Value) };
    } else {
      fields[n] = Buffer.isBuffer(v) ? `[${v.length} bytes]` : v;
    }
  }
  return { mti: msg.mti, fields };
}
