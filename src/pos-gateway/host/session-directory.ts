/**
 * The terminal directory: what the host knows about a terminal (DE 41) before trusting any of
 * its messages — its wire profile, MAC algorithm, PIN block format and key references — and its
 * session state. The DB-backed directory comes next wave; the in-memory one serves tests.
 */
import type { KeyAlgorithm, MacAlgorithm, PinBlockFormat, WrapMethod } from '../crypto/index.js';
import type { IsoProfile } from '../iso8583/index.js';

export interface TerminalKeyRefs {
  /** Terminal master key: wraps the session keys sent at sign-on / key change. */
  readonly tmk: string;
  /** Session MAC key (TAK). Installation loads version 1 with the TMK, so the first sign-on is MACed. */
  readonly tak: string;
  /** Session PIN key (TPK). */
  readonly tpk: string;
  /** Session data key (TDK), when the terminal encrypts track data. */
  readonly tdk?: string;
}

export interface TerminalRecord {
  /** DE 41, 8 characters. */
  readonly terminalId: string;
  readonly status: 'active' | 'disabled';
  /** Wire profile; the listener's profile when absent. */
  readonly profile?: IsoProfile;
  /** Length header the terminal uses (the transport decides it per connection; kept for operations). */
  readonly framing: 'binary' | 'ascii';
  readonly macAlgorithm: MacAlgorithm;
  readonly pinFormat: PinBlockFormat;
  readonly keys: TerminalKeyRefs;
  /** Algorithm and length of the session keys generated at sign-on. */
  readonly sessionKeys: { readonly algorithm: KeyAlgorithm; readonly length?: number; readonly wrapMethod?: WrapMethod };
  /**
   * Accept a sign-on (1804/801) without a valid MAC. Off by default: an unauthenticated sign-on
   * lets anyone rotate a terminal's keys. Only for terminals that lose their session keys on
   * reboot; the keys still travel only under the TMK.
   */
  readonly signOnWithoutMac?: boolean;
}

export interface TerminalSession {
  readonly signedOn: boolean;
  readonly lastSignOnAt: Date | null;
  readonly lastSignOffAt: Date | null;
  readonly keyVersions: { readonly tak: number; readonly tpk: number } | null;
}

export interface TerminalDirectory {
  get(terminalId: string): Promise<TerminalRecord | null>;
  session(terminalId: string): Promise<TerminalSession>;
  recordSignOn(terminalId: string, at: Date, keyVersions: { tak: number; tpk: number }): Promise<void>;
  recordSignOff(terminalId: string, at: Date): Promise<void>;
  /** Key change (811): new key versions, session state unchanged. */
  recordKeyChange(terminalId: string, at: Date, keyVersions: { tak: number; tpk: number }): Promise<void>;
}

const NO_SESSION: TerminalSession = { signedOn: false, lastSignOnAt: null, lastSignOffAt: null, keyVersions: null };

export class InMemoryTerminalDirectory implements TerminalDirectory {
  readonly #terminals = new Map<string, TerminalRecord>();
  readonly #sessions = new Map<string, TerminalSession>();

  constructor(terminals: readonly TerminalRecord[] = []) {
    for (const t of terminals) this.put(t);
  }

  put(t: TerminalRecord): void {
    this.#terminals.set(t.terminalId, t);
  }

  async get(terminalId: string): Promise<TerminalRecord | null> {
    return this.#terminals.get(terminalId) ?? null;
  }

  async session(terminalId: string): Promise<TerminalSession> {
    return this.#sessions.get(terminalId) ?? NO_SESSION;
  }

  async recordSignOn(terminalId: string, at: Date, keyVersions: { tak: number; tpk: number }): Promise<void> {
    const s = await this.session(terminalId);
    this.#sessions.set(terminalId, { ...s, signedOn: true, lastSignOnAt: at, keyVersions });
  }

  async recordSignOff(terminalId: string, at: Date): Promise<void> {
    const s = await this.session(terminalId);
    this.#sessions.set(terminalId, { ...s, signedOn: false, lastSignOffAt: at });
  }

  async recordKeyChange(terminalId: string, _at: Date, keyVersions: { tak: number; tpk: number }): Promise<void> {
    const s = await this.session(terminalId);
    this.#sessions.set(terminalId, { ...s, keyVersions });
  }
}
