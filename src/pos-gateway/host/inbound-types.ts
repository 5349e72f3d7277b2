import type { KeyStore } from '../crypto/index.js';
import type { FieldValue, IsoMessage, IsoProfile } from '../iso8583/index.js';
import type { ReplayGuard } from './replay.js';
import type { TerminalDirectory, TerminalRecord } from './session-directory.js';

/** A request that passed decoding, terminal lookup, MAC verification, the time window and the replay guard. */
export interface InboundRequest {
  readonly message: IsoMessage;
  readonly terminal: TerminalRecord;
  /** The profile it was decoded with (the terminal's, plus DE 96). */
  readonly profile: IsoProfile;
  /** TAK version the request's MAC verified under. */
  readonly macKeyVersion: number;
  readonly receivedAt: Date;
  /** 1221 / 1421 / 1521 (a repeat seen for the first time is processed like the original). */
  readonly repeat: boolean;
}

export interface HandlerResult {
  /** DE 39, three digits. */
  readonly actionCode: string;
  /** Response fields besides the echoed ones; they win over an echoed value. */
  readonly fields?: ReadonlyMap<number, FieldValue>;
  /**
   * TAK version to MAC the response under; the request's by default. A sign-on answer is MACed
   * under the new key it delivers (docs/pos-session.md §3).
   */
  readonly macKeyVersion?: number;
}

export type InboundHandler = (req: InboundRequest, ctx: InboundContext) => Promise<HandlerResult>;

/** Handlers by request MTI; a repeat MTI (1221) falls back to its original's (1220). */
export type HandlerTable = Readonly<Record<string, InboundHandler>>;

export interface InboundContext {
  readonly directory: TerminalDirectory;
  readonly replay: ReplayGuard;
  readonly keyStore: KeyStore;
  /** Business handlers; the network management ones (1804, 1820) are built in unless overridden. */
  readonly handlers: HandlerTable;
  /** The listener's wire profile (IFSF ASCII by default). */
  readonly profile?: IsoProfile;
  readonly now?: () => Date;
  /** Accepted distance between DE 7 and the host clock, default 5 minutes. */
  readonly transmissionWindowMs?: number;
  /** After a key change, how long the previous TAK/TPK version is accepted (config.posKeyRolloverMs); no deadline when absent. */
  readonly keyRolloverMs?: number;
  /** Requests (not advices) refused until the terminal signs on; default true. */
  readonly requireSignOn?: boolean;
}

/** Stable outcome codes of one inbound message, for metrics and the support log. */
export type InboundOutcome =
  | 'OK'
  | 'DUPLICATE'
  | 'FORMAT_ERROR'
  | 'UNKNOWN_MTI'
  | 'UNKNOWN_TERMINAL'
  | 'TERMINAL_DISABLED'
  | 'MAC_MISSING'
  | 'MAC_INVALID'
  | 'MAC_KEY_SYNC'
  | 'STALE_TRANSMISSION'
  | 'REPLAY_CONFLICT'
  | 'IN_PROGRESS'
  /** The replay journal refused a new entry (full, or the terminal's quota): not processed, retry later. */
  | 'CAPACITY'
  | 'NOT_SIGNED_ON'
  | 'UNSUPPORTED'
  | 'HANDLER_FAILED'
  | 'INTERNAL';

export interface InboundResult {
  /** Bytes to write back (without the transport length header), or null = no answer. */
  readonly response: Buffer | null;
  readonly outcome: InboundOutcome;
  readonly actionCode?: string;
  readonly terminalId?: string;
  readonly mti?: string;
  readonly detail?: string;
}

/** The action codes the session layer answers with: one table for the whole host (action-codes.ts). */
export { ACTION } from './action-codes.js';
