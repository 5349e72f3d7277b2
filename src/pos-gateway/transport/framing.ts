import { TransportError, type FrameError } from './errors.js';

/**
 * Length-prefixed framing of ISO 8583 messages on a TCP stream.
 *
 * - `binary2`: 2-byte unsigned big-endian length, then the message (jPOS NACChannel style; most
 *   terminal links).
 * - `ascii4`: 4 ASCII digits, then the message (PayEx IFSF H2H style).
 * - `auto`: decided once per connection from its first two bytes. An ASCII header starts with two
 *   digits, i.e. a 16-bit value of at least 0x3030 ("00"); a binary header is the length itself. As
 *   long as the maximum message size is below 0x3030 (12336), a binary header's value is always
 *   below 0x3030 and an ASCII header's never is, so the first two bytes decide without ambiguity.
 *
 * The length never includes the header itself.
 */
export type FramingKind = 'binary2' | 'ascii4';
export type FramingMode = FramingKind | 'auto';

/** Largest payload each framing can express. */
export const FRAMING_LIMITS: Readonly<Record<FramingMode, number>> = {
  binary2: 0xffff,
  ascii4: 9999,
  // 0x3030 - 1: the largest binary length that cannot be mistaken for two ASCII digits.
  auto: 0x3030 - 1,
};

const HEADER_SIZE: Readonly<Record<FramingKind, number>> = { binary2: 2, ascii4: 4 };

/** Checks a configured maximum message size against what the framing can express. */
export function checkMaxMessageSize(framing: FramingMode, maxMessageSize: number): void {
  if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > FRAMING_LIMITS[framing]) {
    throw new TransportError(
      'CONFIG_INVALID',
      `maxMessageSize must be an integer in 1..${FRAMING_LIMITS[framing]} for framing ${framing}, got ${maxMessageSize}`,
    );
  }
}

/** Prefixes `payload` with its length header. Throws TransportError on an empty or too large payload. */
export function encodeFrame(payload: Uint8Array, framing: FramingKind, maxMessageSize = FRAMING_LIMITS[framing]): Buffer {
  const limit = Math.min(maxMessageSize, FRAMING_LIMITS[framing]);
  if (payload.length === 0) throw new TransportError('FRAME_EMPTY', 'cannot frame an empty message');
  if (payload.length > limit) {
    throw new TransportError('FRAME_OVERSIZE', `message of ${payload.length} bytes exceeds ${limit}`);
  }
  const header = Buffer.alloc(HEADER_SIZE[framing]);
  if (framing === 'binary2') header.writeUInt16BE(payload.length, 0);
  else header.write(String(payload.length).padStart(4, '0'), 'ascii');
  return Buffer.concat([header, payload]);
}

export interface FrameDecoderOptions {
  framing: FramingMode;
  maxMessageSize: number;
}

export interface FrameDecodeResult {
  /** Complete frames (payloads without header), in stream order. */
  readonly frames: Buffer[];
  /** Set when the stream became undecodable; frames before the bad header are still returned. */
  readonly error: FrameError | null;
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/**
 * Streaming decoder: chunks in, frames out. Work is linear in the bytes pushed (chunks are kept in a
 * list and joined once per frame, so a client trickling one byte at a time costs no quadratic
 * copying), and memory is bounded by one frame: an oversize header is refused before its body is
 * buffered. After an error the decoder is poisoned: the stream has lost its framing and every
 * later push returns no frames and the same error.
 */
export class FrameDecoder {
  private readonly maxMessageSize: number;
  private readonly mode: FramingMode;
  private kind: FramingKind | null;
  private chunks: Buffer[] = [];
  private length = 0;
  /** Stream offset of the first buffered byte. */
  private consumed = 0;
  /** Payload length announced by the header currently buffered, once read. */
  private expected: number | null = null;
  private failure: FrameError | null = null;

  constructor(opts: FrameDecoderOptions) {
    checkMaxMessageSize(opts.framing, opts.maxMessageSize);
    this.mode = opts.framing;
    this.maxMessageSize = opts.maxMessageSize;
    this.kind = opts.framing === 'auto' ? null : opts.framing;
  }

  /** The framing in use; null while `auto` has not seen two bytes yet. */
  get framing(): FramingKind | null {
    return this.kind;
  }

  /** Bytes of an incomplete frame (header included) held by the decoder. */
  get buffered(): number {
    return this.length;
  }

  get error(): FrameError | null {
    return this.failure;
  }

  push(chunk: Uint8Array): FrameDecodeResult {
    if (this.failure) return { frames: [], error: this.failure };
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.length += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expected === null) {
        const header = this.readHeader();
        if (header === null) break;
        if ('code' in header) {
          this.fail(header);
          break;
        }
        this.expected = header.length;
      }
      const headerSize = HEADER_SIZE[this.kind as FramingKind];
      if (this.length < headerSize + this.expected) break;
      const frame = this.take(headerSize + this.expected).subarray(headerSize);
      this.expected = null;
      frames.push(frame);
    }
    return { frames, error: this.failure };
  }

  private fail(error: FrameError): void {
    this.failure = error;
    this.chunks = [];
    this.length = 0;
  }

  /** Reads the header at the front of the buffer without consuming it; null if incomplete. */
  private readHeader(): { length: number } | FrameError | null {
    if (this.kind === null) {
      if (this.length < 2) return null;
      const first = this.peek(2);
      const value = first.readUInt16BE(0);
      if (value < 0x3030) this.kind = 'binary2';
      else if (isDigit(first[0] as number) && isDigit(first[1] as number)) this.kind = 'ascii4';
      else {
        return this.badHeader('FRAME_BAD_LENGTH', `first bytes ${first.toString('hex')} are neither a binary nor an ASCII length`);
      }
    }
    const size = HEADER_SIZE[this.kind];
    if (this.length < size) return null;
    const header = this.peek(size);
    let length: number;
    if (this.kind === 'binary2') {
      length = header.readUInt16BE(0);
    } else {
      if (!header.every(isDigit)) {
        return this.badHeader('FRAME_BAD_LENGTH', `ASCII length header ${header.toString('hex')} is not 4 digits`);
      }
      length = Number(header.toString('ascii'));
    }
    if (length === 0) return this.badHeader('FRAME_EMPTY', 'zero-length frame');
    if (length > this.maxMessageSize) {
      return this.badHeader('FRAME_OVERSIZE', `frame of ${length} bytes exceeds the maximum of ${this.maxMessageSize}`);
    }
    return { length };
  }

  private badHeader(code: FrameError['code'], detail: string): FrameError {
    return { code, offset: this.consumed, detail: this.mode === 'auto' ? `${detail} (auto framing)` : detail };
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, this.length).subarray(0, n);
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.length);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.length -= n;
    this.consumed += n;
    // Copy so a frame never pins a large socket chunk (or aliases bytes the caller may reuse).
    return Buffer.from(out);
  }
}
