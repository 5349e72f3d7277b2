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

/**
 * A DUKPT terminal's key binding (docs/pos-dukpt.md): the BDK its device keys derive from and the
 * one device (initial KSN / AES initial key ID) it is. A message whose KSN names another device is
 * not this terminal's, whatever its MAC.
 */
export interface DukptBinding {
  readonly scheme: 'tdes' | 'aes';
  /** The BDK in the key store (usage 'bdk'). */
  readonly bdkRef: string;
  /** ksnDeviceKey of the device: `tdes:<initial KSN hex>` or `aes:<initial key ID hex>`. */
  readonly device: string;
}

export interface TerminalRecord {
  /** DE 41, 8 characters. */
  readonly terminalId: string;
  /**
   * The platform terminal this DE 41 acts for (its id and station): what the sales use cases take as
   * the principal. The database directory reads it with the record; directories without it (tests)
   * leave it out and the host looks it up.
   */
  readonly platform?: { readonly id: string; readonly stationId: number };
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
  /**
   * 'session' (default): MAC and PIN under session keys exchanged under the TMK at sign-on.
   * 'dukpt': a key per transaction from the BDK and the KSN in DE 53; `dukpt` says which.
   */
  readonly keyManagement?: 'session' | 'dukpt';
  readonly dukpt?: DukptBinding;
}

export interface TerminalSession {
  readonly signedOn: boolean;
  readonly lastSignOnAt: Date | null;
  readonly lastSignOffAt: Date | null;
  /** null before the first sign-on, and always for a DUKPT terminal (no session keys). */
  readonly keyVersions: { readonly tak: number; readonly tpk: number } | null;
}

export interface TerminalDirectory {
  get(terminalId: string): Promise<TerminalRecord | null>;
  session(terminalId: string): Promise<TerminalSession>;
  /** keyVersions null: a DUKPT terminal, which signs on without session keys. */
  recordSignOn(terminalId: string, at: Date, keyVersions: { tak: number; tpk: number } | null): Promise<void>;
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

  async recordSignOn(terminalId: string, at: Date, keyVersions: { tak: number; tpk: number } | null): Promise<void> {
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
