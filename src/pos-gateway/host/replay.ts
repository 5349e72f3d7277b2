/**
 * Replay guard of the terminal host: exactly-once answers over a link that repeats messages.
 *
 * A request is identified by terminal (DE 41) + message class (MTI with the repeat digit folded:
 * 1221 → 1220) + STAN (DE 11) + local date/time (DE 12). The first transmission is processed and
 * its response bytes stored; any later transmission with the same identity and the same content
 * gets those bytes again, byte for byte. The same identity with different content is a conflict
 * (913). The DB-backed guard (db-replay.ts) is the production journal; the in-memory one here
 * serves tests and the simulator, and defines the contract. docs/pos-journal.md: capacity, quota,
 * expiry of claims, pruning.
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
  | { readonly kind: 'conflict' }
  /**
   * Not recorded and must NOT be processed: the journal cannot take a new identity without
   * forgetting one a replay inside the time window could still use (docs/pos-journal.md).
   * Retry-later: nothing was stored, so a later transmission is judged afresh.
   */
  | { readonly kind: 'refused'; readonly reason: ReplayRefusal };

/**
 * Why `begin` refused: `capacity`, the in-memory guard is full of entries younger than twice the
 * window; `terminal-quota`, this terminal already has its quota of entries inside that span.
 */
export type ReplayRefusal = 'capacity' | 'terminal-quota';

/** The DE 7 window the pipeline applies when none is configured (inbound.ts), 5 minutes. */
export const DEFAULT_TRANSMISSION_WINDOW_MS = 5 * 60_000;

/**
 * Entries younger than this are never forgotten: a captured message can be replayed while its DE 7
 * is inside the window, i.e. up to one window after the host clock and the original's DE 7 were a
 * window apart the other way, so 2 × the window after the original was first seen.
 */
export function replayProtectionMs(windowMs: number): number {
  return 2 * windowMs;
}

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
  /** When the current handler claimed it (first sight, or the last takeover of a dead claim). */
  claimedAt: number;
}

export interface InMemoryReplayGuardOptions {
  /** How long an entry lives after first sight; default 24 h. Must exceed 2 × `skewWindowMs`. */
  retentionMs?: number;
  /** Most entries held; default 100 000. When full of entries it may not forget, `begin` refuses. */
  maxEntries?: number;
  /** The pipeline's DE 7 window (`transmissionWindowMs`); default 5 minutes. */
  skewWindowMs?: number;
  /** An entry in progress for longer than this has a dead handler and is taken over; default 60 000 ms, as the DB guard. */
  claimTimeoutMs?: number;
}

/**
 * In-memory guard. Entries live `retentionMs` after first sight. When full it forgets the oldest
 * entries that are expired, or answered (or dead claims) and older than 2 × the DE 7 window; it
 * never forgets a younger one, and refuses the new identity instead (`refused: capacity`), because
 * forgetting it would let a replay of that message inside the window be processed again.
 */
export class InMemoryReplayGuard implements ReplayGuard {
  readonly #entries = new Map<string, Entry>();
  readonly #retentionMs: number;
  readonly #maxEntries: number;
  readonly #protectMs: number;
  readonly #claimTimeoutMs: number;

  constructor(opts: InMemoryReplayGuardOptions = {}) {
    this.#retentionMs = opts.retentionMs ?? 24 * 3600_000;
    this.#maxEntries = opts.maxEntries ?? 100_000;
    this.#protectMs = replayProtectionMs(opts.skewWindowMs ?? DEFAULT_TRANSMISSION_WINDOW_MS);
    this.#claimTimeoutMs = opts.claimTimeoutMs ?? 60_000;
    if (this.#retentionMs <= this.#protectMs) {
      throw new RangeError('replay retention must exceed twice the transmission-time window');
    }
    if (!(this.#maxEntries >= 1) || !(this.#claimTimeoutMs > 0)) throw new RangeError('maxEntries and claimTimeoutMs must be positive');
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Makes room for one entry; false when every entry left is one it may not forget. */
  #makeRoom(now: number): boolean {
    // Map iteration is insertion order, i.e. first sight: oldest first. Entries may leave out of
    // order (abandon), never join out of order, so the first protected entry ends the scan.
    for (const [k, e] of this.#entries) {
      const age = now - e.firstSeen;
      const expired = age > this.#retentionMs;
      if (!expired && this.#entries.size < this.#maxEntries) return true;
      if (!expired && age < this.#protectMs) break;
      // A live claim is never forgotten: its repeat would be processed while the first still runs.
      const deadClaim = e.response === null && now - e.claimedAt > this.#claimTimeoutMs;
      if (expired || e.response !== null || deadClaim) this.#entries.delete(k);
    }
    return this.#entries.size < this.#maxEntries;
  }

  async begin(key: ReplayKey, fingerprint: string, now: Date): Promise<ReplayBegin> {
    const t = now.getTime();
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (!e || t - e.firstSeen > this.#retentionMs) {
      // Room is made only for a new identity, so a lookup never pushes out an entry.
      this.#entries.delete(k);
      if (!this.#makeRoom(t)) return { kind: 'refused', reason: 'capacity' };
      this.#entries.set(k, { fingerprint, response: null, firstSeen: t, claimedAt: t });
      return { kind: 'new' };
    }
    if (e.fingerprint !== fingerprint) return { kind: 'conflict' };
    if (e.response) return { kind: 'duplicate', response: Buffer.from(e.response) };
    // The handler that claimed it died (or its answer could not be stored): the repeat takes it over,
    // as the DB guard does after its claim timeout, so no request stays unanswerable.
    if (t - e.claimedAt > this.#claimTimeoutMs) {
      e.claimedAt = t;
      return { kind: 'new' };
    }
    return { kind: 'in-progress' };
  }

  async complete(key: ReplayKey, fingerprint: string, response: Buffer, now: Date): Promise<void> {
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (e && e.fingerprint === fingerprint) e.response = Buffer.from(response);
    // Another request's entry is never overwritten (as the DB guard's insert … on conflict do nothing).
    else if (!e) this.#entries.set(k, { fingerprint, response: Buffer.from(response), firstSeen: now.getTime(), claimedAt: now.getTime() });
  }

  async abandon(key: ReplayKey): Promise<void> {
    const k = replayKeyString(key);
    const e = this.#entries.get(k);
    if (e && e.response === null) this.#entries.delete(k);
  }
}
