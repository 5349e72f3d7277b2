/**
 * Replay guard of the terminal host: exactly-once answers over a link that repeats messages.
 *
 * A request is identified by terminal (DE 41) + message class (MTI with the repeat digit folded:
 * 1221 → 1220) + STAN (DE 11) + local date/time (DE 12). The first transmission is processed and
 * its response bytes stored; any later transmission with the same identity and the same content
 * gets those bytes again, byte for byte. The same identity with different content is a conflict
 * (913). The DB-backed guard comes next wave; the in-memory one here serves tests and the
 * simulator, and defines the contract.
 */
import { createHash } from 'node:crypto';
import { encodeMessage, IFSF_PROFILE, type IsoMessage, type IsoProfile } from '../iso8583/index.js';

export interface ReplayKey {
  readonly terminalId: string;
  /** MTI with the repeat digit folded (1221 → 1220, 1421 → 1420, 1521 → 1520). */
  readonly messageClass: string;
  readonly stan: string;
  readonly localDateTime: string;
}

export type ReplayBegin =
  /** First time: process it, then `complete` (or `abandon` when processing failed). */
  | { readonly kind: 'new' }
  /** Seen and answered: send these bytes again. */
  | { readonly kind: 'duplicate'; readonly response: Buffer }
  /** Seen, still being processed (a pipelined repeat): no answer now, the terminal repeats later. */
  | { readonly kind: 'in-progress' }
  /** Same identity, different content: refused, never processed. */
  | { readonly kind: 'conflict' };

export interface ReplayGuard {
  begin(key: ReplayKey, fingerprint: string, now: Date): Promise<ReplayBegin>;
  /** Stores the answer; called before the answer is written to the connection. */
  complete(key: ReplayKey, fingerprint: string, response: Buffer, now: Date): Promise<void>;
  /** Forgets an identity whose processing failed, so a repeat is processed afresh. */
  abandon(key: ReplayKey): Promise<void>;
}

export function foldRepeatMti(mti: string): string {
  return mti === '1221' || mti === '1421' || mti === '1521' ? `${mti.slice(0, 3)}0` : mti;
}

export function replayKeyString(k: ReplayKey): string {
  return `${k.terminalId}\u0000${k.messageClass}\u0000${k.stan}\u0000${k.localDateTime}`;
}

/**
 * Content fingerprint of a request: SHA-256 of the re-encoded message without the fields that
 * legitimately change between transmissions: DE 7 (transmission time), the MAC (DE 64/128), DE 53
 * (a repeat may be MACed under a newer key version) and the repeat digit of the MTI.
 */
export function requestFingerprint(msg: IsoMessage, profile: IsoProfile = IFSF_PROFILE): string {
  const fields = new Map(msg.fields);
  for (const n of [7, 53, 64, 128]) fields.delete(n);
  if (fields.size === 0) fields.set(11, '000000');
  const bytes = encodeMessage({ mti: foldRepeatMti(msg.mti), fields }, profile);
  return createHash('sha256').update(bytes).digest('hex');
}

interface Entry {
  readonly fingerprint: string;
  response: Buffer | null;
  readonly firstSeen: number;
}

/**
 * In-memory guard. Entries live `retentionMs` after first sight; the host refuses transmission
 * times outside its skew window, so retention must exceed that window or a replay could outlive
 * its record (the constructor enforces it when given the window).
 */
export class InMemoryReplayGuard implements ReplayGuard {
  readonly #entries = new Map<string, Entry>();
  readonly #retentionMs: number;
  readonly #maxEntries: number;

  constructor(opts: { retentionMs?: number; maxEntries?: number; skewWindowMs?: number } = {}) {
    this.#retentionMs = opts.retentionMs ?? 24 * 3600_000;
    this.#maxEntries = opts.maxEntries ?? 100_000;
    if (opts.skewWindowMs !== undefined && this.#retentionMs <= 2 * opts.skewWindowMs) {
      throw new RangeError('replay retention must exceed twice the transmission-time window');
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    // Map iteration is insertion order: oldest first, so the first fresh entry ends the scan
    // unless the store is full. A full store drops answered entries only: forgetting one in
    // progress would let its repeat be processed twice.
    for (const [k, e] of this.#entries) {
      const expired = now - e.firstSeen > this.#retentionMs;
      if (!expired && this.#entries.size < this.#maxEntries) break;
      if (!expired && e.response === null) continue;
      this.#entries.delete(k);
    }
  }

  async begin(key: ReplayKey, fingerprint: string, now: Date): Promise<ReplayBegin> {
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (!e || now.getTime() - e.firstSeen > this.#retentionMs) {
      // Room is made only for a new identity, so a lookup never pushes out an entry.
      this.#entries.delete(k);
      this.#evict(now.getTime());
      this.#entries.set(k, { fingerprint, response: null, firstSeen: now.getTime() });
      return { kind: 'new' };
    }
    if (e.fingerprint !== fingerprint) return { kind: 'conflict' };
    return e.response ? { kind: 'duplicate', response: Buffer.from(e.response) } : { kind: 'in-progress' };
  }

  async complete(key: ReplayKey, fingerprint: string, response: Buffer, now: Date): Promise<void> {
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (e && e.fingerprint === fingerprint) e.response = Buffer.from(response);
    else this.#entries.set(k, { fingerprint, response: Buffer.from(response), firstSeen: now.getTime() });
  }

  async abandon(key: ReplayKey): Promise<void> {
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (e && e.response === null) this.#entries.delete(k);
  }
}
