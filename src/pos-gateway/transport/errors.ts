/**
 * Typed errors of the POS transport. Every failure that outside bytes can cause carries a stable
 * `code`; the server counts them by code (metrics) and never lets one escape as a bare Error.
 */
export type TransportErrorCode =
  /** The length header announces more than the configured maximum message size. */
  | 'FRAME_OVERSIZE'
  /** The length header is not a length (non-digits in a 4-digit ASCII header, undetectable framing). */
  | 'FRAME_BAD_LENGTH'
  /** A zero-length frame: no ISO 8583 message is empty, so it is treated as garbage. */
  | 'FRAME_EMPTY'
  /** The peer closed its side in the middle of a frame. */
  | 'FRAME_TRUNCATED'
  /** A frame was started but did not complete within the read timeout (slowloris). */
  | 'READ_TIMEOUT'
  /** No traffic and nothing in flight for the idle timeout. */
  | 'IDLE_TIMEOUT'
  /** The connection cap was reached; the new connection was dropped. */
  | 'CONNECTION_LIMIT'
  /** The request handler threw or rejected; the request got no answer. */
  | 'HANDLER_ERROR'
  /** The handler's answer cannot be framed (empty or larger than the framing allows). */
  | 'RESPONSE_TOO_LARGE'
  /** An answer completed after its connection was gone. */
  | 'RESPONSE_DROPPED'
  /** The socket reported an error (reset by peer…). */
  | 'SOCKET_ERROR'
  /** The TLS handshake failed or timed out. */
  | 'TLS_HANDSHAKE_FAILED'
  /** The server close grace period ran out and the connection was destroyed. */
  | 'CLOSE_GRACE_EXPIRED'
  /** The server options are inconsistent (thrown by startIsoServer / FrameDecoder constructors). */
  | 'CONFIG_INVALID';

/** A decoder error as a plain value (returned, never thrown). */
export interface FrameError {
  readonly code: Extract<TransportErrorCode, 'FRAME_OVERSIZE' | 'FRAME_BAD_LENGTH' | 'FRAME_EMPTY'>;
  /** Byte offset in the connection's stream where the bad header starts. */
  readonly offset: number;
  readonly detail: string;
}

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  readonly detail: string;

  constructor(code: TransportErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'TransportError';
    this.code = code;
    this.detail = detail;
  }
}
