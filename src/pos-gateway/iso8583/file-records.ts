/**
 * Record layouts of the file action messages 1304/1314 (docs/pos-file-actions.md): the request
 * control record a terminal puts in DE 72, and the header plus fixed-length records the host answers
 * in DE 72. Pure: no database, no host state. Parsing outside input never throws; it returns a typed
 * error the host turns into a 3xx action code. Encoding our own values throws IsoEncodeError, as the
 * codec does, because a bad value there is a host bug.
 */
import { IsoEncodeError } from './errors.js';

/** File names a terminal may request in DE 101. */
export const FILE_NAMES = ['HOTLIST', 'WHITELIST', 'PRICES', 'PARAMS'] as const;
export type FileName = (typeof FILE_NAMES)[number];

export function isFileName(s: string): s is FileName {
  return (FILE_NAMES as readonly string[]).includes(s);
}

/** Digits of a version on the wire. 19 holds any xid8 the platform can reach; values above 2^53−1 are refused. */
export const VERSION_DIGITS = 19;
/** Width of a continuation key: a 19-digit card number, or a grade code (at most 16 characters). */
export const KEY_CHARS = 19;

/** 'F' replaces what the terminal holds, 'D' is applied to it, 'U' means "what you hold is current" (no records). */
export type FileMode = 'F' | 'D' | 'U';

// ---- request: DE 72 of a 1304 ------------------------------------------------------------------

/** held version n19 | continuation mode a1 | download version n19 | after key ans19 */
export const REQUEST_RECORD_CHARS = VERSION_DIGITS + 1 + VERSION_DIGITS + KEY_CHARS;

export interface FileRequest {
  /** The version the terminal holds and applies pages to; 0 = none (a full file follows). */
  readonly held: number;
  /** Absent on the first page; on later pages what the previous 1314 said. */
  readonly continuation?: {
    readonly mode: 'F' | 'D';
    /** The file version of the first 1314 of this download. */
    readonly version: number;
    /** The last key the previous 1314 carried; records follow it in key order. */
    readonly after: string;
  };
}

export type FileRecordError = {
  readonly ok: false;
  readonly code: 'BAD_LENGTH' | 'BAD_VERSION' | 'BAD_CONTINUATION';
  readonly detail: string;
};

const ZEROS = '0'.repeat(VERSION_DIGITS);
const SPACES = ' '.repeat(KEY_CHARS);

function parseVersion(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** DE 72 of a 1304; `undefined` (no DE 72) is a first page with no version held. */
export function parseFileRequest(de72: string | undefined): { ok: true; value: FileRequest } | FileRecordError {
  if (de72 === undefined) return { ok: true, value: { held: 0 } };
  if (de72.length !== REQUEST_RECORD_CHARS) {
    return { ok: false, code: 'BAD_LENGTH', detail: `DE 72 of a 1304 is ${REQUEST_RECORD_CHARS} characters, got ${de72.length}` };
  }
  const held = parseVersion(de72.slice(0, VERSION_DIGITS));
  if (held === null) return { ok: false, code: 'BAD_VERSION', detail: 'held version is not 19 digits up to 2^53-1' };
  const mode = de72[VERSION_DIGITS]!;
  const versionText = de72.slice(VERSION_DIGITS + 1, 2 * VERSION_DIGITS + 1);
  const afterText = de72.slice(2 * VERSION_DIGITS + 1);
  if (mode === ' ') {
    // A first page carries nothing else: a stray marker would be a terminal bug worth seeing.
    if (versionText !== ZEROS || afterText !== SPACES) return { ok: false, code: 'BAD_CONTINUATION', detail: 'a first page has zeros and spaces after the held version' };
    return { ok: true, value: { held } };
  }
  if (mode !== 'F' && mode !== 'D') return { ok: false, code: 'BAD_CONTINUATION', detail: `continuation mode "${mode}" is not space, F or D` };
  const version = parseVersion(versionText);
  if (version === null || version === 0) return { ok: false, code: 'BAD_CONTINUATION', detail: 'download version is not a non-zero 19-digit number' };
  const after = afterText.trimEnd();
  if (after.length === 0 || !/^[\x21-\x7e]+$/.test(after)) return { ok: false, code: 'BAD_CONTINUATION', detail: 'after key is empty or not printable' };
  return { ok: true, value: { held, continuation: { mode, version, after } } };
}

const num = (n: number, width: number, what: string): string => {
  if (!Number.isSafeInteger(n) || n < 0) throw new IsoEncodeError('BAD_SUBFIELD', `${what} must be a non-negative integer`, 72);
  const s = String(n);
  if (s.length > width) throw new IsoEncodeError('BAD_SUBFIELD', `${what} ${n} does not fit ${width} digits`, 72);
  return s.padStart(width, '0');
};

const text = (s: string, width: number, what: string): string => {
  if (!/^[\x20-\x7e]*$/.test(s) || s.length > width) throw new IsoEncodeError('BAD_SUBFIELD', `${what} "${s}" is not printable ASCII of at most ${width}`, 72);
  return s.padEnd(width, ' ');
};

/** The terminal side: what it puts in DE 72 (the simulator and tests use it). */
export function encodeFileRequest(r: FileRequest): string {
  const c = r.continuation;
  return (
    num(r.held, VERSION_DIGITS, 'held version') +
    (c ? c.mode : ' ') +
    (c ? num(c.version, VERSION_DIGITS, 'download version') : ZEROS) +
    (c ? text(c.after, KEY_CHARS, 'after key') : SPACES)
  );
}

// ---- response: DE 72 of a 1314 -----------------------------------------------------------------

/** mode a1 | file version n19 | more a1 | record count n3 | next key ans19 */
export const RESPONSE_HEADER_CHARS = 1 + VERSION_DIGITS + 1 + 3 + KEY_CHARS;

export interface HotlistRecord {
  /** 'A': refuse this card (listed); 'R': no longer listed (only in a delta). */
  readonly op: 'A' | 'R';
  readonly cardNo: string;
}

export interface WhitelistRecord {
  readonly op: 'A' | 'R';
  readonly cardNo: string;
  /** fen; 0 on 'R'. */
  readonly floorSale: number;
  readonly floorDay: number;
}

export interface PriceRecord {
  readonly grade: string;
  /** fen per litre. */
  readonly unitPrice: number;
  /** The next scheduled price at this station, or null. */
  readonly next: { readonly unitPrice: number; readonly effectiveFrom: Date } | null;
}

export interface ParamRecord {
  readonly name: string;
  readonly value: string;
}

export interface FileRecordTypes {
  HOTLIST: HotlistRecord;
  WHITELIST: WhitelistRecord;
  PRICES: PriceRecord;
  PARAMS: ParamRecord;
}

/** Characters of one record of each file. */
export const RECORD_CHARS: Readonly<Record<FileName, number>> = {
  HOTLIST: 1 + KEY_CHARS,
  WHITELIST: 1 + KEY_CHARS + 10 + 10,
  PRICES: 16 + 6 + 6 + 14,
  PARAMS: 16 + 32,
};

/** UTC YYYYMMDDhhmmss: the same clock as DE 7, so a terminal needs no time-zone table. */
export function formatUtcStamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function parseUtcStamp(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, sec));
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && sec < 60 ? t : null;
}

const ENCODERS: { [F in FileName]: (r: FileRecordTypes[F]) => string } = {
  HOTLIST: (r) => r.op + text(r.cardNo, KEY_CHARS, 'card number'),
  WHITELIST: (r) => r.op + text(r.cardNo, KEY_CHARS, 'card number') + num(r.floorSale, 10, 'floor per sale') + num(r.floorDay, 10, 'floor per day'),
  PRICES: (r) =>
    text(r.grade, 16, 'grade') +
    num(r.unitPrice, 6, 'unit price') +
    (r.next ? num(r.next.unitPrice, 6, 'next unit price') + formatUtcStamp(r.next.effectiveFrom) : '0'.repeat(6 + 14)),
  PARAMS: (r) => text(r.name, 16, 'parameter name') + text(r.value, 32, 'parameter value'),
};

/** The key records of a file are ordered and paged by. */
export const RECORD_KEY: { [F in FileName]: (r: FileRecordTypes[F]) => string } = {
  HOTLIST: (r) => r.cardNo,
  WHITELIST: (r) => r.cardNo,
  PRICES: (r) => r.grade,
  PARAMS: (r) => r.name,
};

export interface FilePage<F extends FileName> {
  readonly mode: FileMode;
  readonly version: number;
  readonly more: boolean;
  readonly records: ReadonlyArray<FileRecordTypes[F]>;
}

export function encodeFilePage<F extends FileName>(file: F, page: FilePage<F>): string {
  if (page.mode === 'U' && (page.records.length > 0 || page.more)) throw new IsoEncodeError('BAD_SUBFIELD', 'an up-to-date answer carries no records', 72);
  const enc = ENCODERS[file] as (r: FileRecordTypes[F]) => string;
  const last = page.records[page.records.length - 1];
  const header =
    page.mode +
    num(page.version, VERSION_DIGITS, 'file version') +
    (page.more ? 'Y' : 'N') +
    num(page.records.length, 3, 'record count') +
    (last ? text((RECORD_KEY[file] as (r: FileRecordTypes[F]) => string)(last), KEY_CHARS, 'next key') : SPACES);
  return header + page.records.map(enc).join('');
}

/** How many records of `file` fit one DE 72 of `maxChars` characters. */
export function recordsPerField(file: FileName, maxChars: number): number {
  return Math.max(0, Math.floor((maxChars - RESPONSE_HEADER_CHARS) / RECORD_CHARS[file]));
}

export interface DecodedFilePage<F extends FileName> extends FilePage<F> {
  /** The key to send back as `after` for the next page ('' when no records). */
  readonly nextKey: string;
}

type Decoded<T> = { ok: true; value: T } | { ok: false; detail: string };

const DECODERS: { [F in FileName]: (s: string) => FileRecordTypes[F] | null } = {
  HOTLIST: (s) => {
    const op = s[0];
    const cardNo = s.slice(1).trimEnd();
    return (op === 'A' || op === 'R') && /^[0-9]+$/.test(cardNo) ? { op, cardNo } : null;
  },
  WHITELIST: (s) => {
    const op = s[0];
    const cardNo = s.slice(1, 1 + KEY_CHARS).trimEnd();
    const floorSale = parseVersion(s.slice(20, 30));
    const floorDay = parseVersion(s.slice(30, 40));
    return (op === 'A' || op === 'R') && /^[0-9]+$/.test(cardNo) && floorSale !== null && floorDay !== null ? { op, cardNo, floorSale, floorDay } : null;
  },
  PRICES: (s) => {
    const grade = s.slice(0, 16).trimEnd();
    const unitPrice = parseVersion(s.slice(16, 22));
    const nextPrice = parseVersion(s.slice(22, 28));
    const stamp = s.slice(28, 42);
    if (!grade || unitPrice === null || nextPrice === null) return null;
    if (nextPrice === 0 && stamp === '0'.repeat(14)) return { grade, unitPrice, next: null };
    const at = parseUtcStamp(stamp);
    return at ? { grade, unitPrice, next: { unitPrice: nextPrice, effectiveFrom: at } } : null;
  },
  PARAMS: (s) => {
    const name = s.slice(0, 16).trimEnd();
    return name ? { name, value: s.slice(16).trimEnd() } : null;
  },
};

/** The terminal side: parses DE 72 of a 1314 (the simulator and tests use it; never throws). */
export function decodeFilePage<F extends FileName>(file: F, de72: string): Decoded<DecodedFilePage<F>> {
  if (de72.length < RESPONSE_HEADER_CHARS) return { ok: false, detail: 'shorter than the header' };
  const mode = de72[0];
  if (mode !== 'F' && mode !== 'D' && mode !== 'U') return { ok: false, detail: `mode "${mode}"` };
  const version = parseVersion(de72.slice(1, 20));
  const moreFlag = de72[20];
  const count = parseVersion(de72.slice(21, 24));
  if (version === null || (moreFlag !== 'Y' && moreFlag !== 'N') || count === null) return { ok: false, detail: 'bad header' };
  const len = RECORD_CHARS[file];
  if (de72.length !== RESPONSE_HEADER_CHARS + count * len) return { ok: false, detail: `${count} records of ${len} do not fill ${de72.length - RESPONSE_HEADER_CHARS}` };
  const records: FileRecordTypes[F][] = [];
  const dec = DECODERS[file] as (s: string) => FileRecordTypes[F] | null;
  for (let i = 0; i < count; i++) {
    const r = dec(de72.slice(RESPONSE_HEADER_CHARS + i * len, RESPONSE_HEADER_CHARS + (i + 1) * len));
    if (!r) return { ok: false, detail: `record ${i + 1} does not parse` };
    records.push(r);
  }
  return { ok: true, value: { mode, version, more: moreFlag === 'Y', records, nextKey: de72.slice(24, 24 + KEY_CHARS).trimEnd() } };
}
