/**
 * File action 1304/1314 (docs/pos-file-actions.md): a terminal downloads the hot-card list, the
 * offline whitelist, its station's prices and its offline parameters by name (DE 101) and version,
 * page by page (DE 72). The same data and the same versions as the HTTP terminal API
 * (src/stations/offline.routes.ts, whitelist.routes.ts, GET /api/v1/pos/forecourt), and a finished
 * list download is recorded the same way, under the platform terminal, because the offline batch
 * upload judges liability by what the terminal was given.
 *
 * The session layer has already verified the MAC, DE 7 and the replay journal; this handler only
 * reads. Bad input is a 1314 with a 3xx action code, never a throw.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, Executor } from '../../platform/index.js';
import { hotlistVersion } from '../../cards/index.js';
import { nextPrices, pricesInForce, recordListDownload } from '../../stations/index.js';
import { FUNCTION_CODE, type FieldValue } from '../iso8583/index.js';
import {
  encodeFilePage,
  isFileName,
  parseFileRequest,
  RECORD_KEY,
  recordsPerField,
  type FileName,
  type FileRecordTypes,
  type FileRequest,
  type HotlistRecord,
  type ParamRecord,
  type PriceRecord,
  type WhitelistRecord,
} from '../iso8583/file-records.js';
import type { HandlerResult, InboundHandler } from './inbound-types.js';
import { platformTerminalOf } from './platform-terminal.js';

/** DE 24 of a download request: ISO 8583:1993 "file inquiry" (the terminal asks, the host sends the file). */
export const FILE_INQUIRY_FUNCTION_CODE: string = FUNCTION_CODE.fileInquiry;

/** ISO 8583:1993 file action codes (DE 39 of a 1314) this handler answers with. */
export const FILE_ACTION = {
  accepted: '300',
  notSupported: '301',
  notSuccessful: '306',
  formatError: '307',
  unknownFile: '309',
} as const;

/** For the host's action code table (action-codes.ts ACTION_CODE_MEANINGS). */
export const FILE_ACTION_MEANINGS: Readonly<Record<string, string>> = {
  '300': 'file action accepted',
  '301': 'file action not supported by receiver',
  '306': 'file action not successful',
  '307': 'file action format error',
  '309': 'unknown file',
};

/** A limit on every answer; DE 72's own maximum (999 characters) usually binds first. */
export const MAX_RECORDS_PER_PAGE = 100;

/** Default DE 72 maximum when a profile does not define the field (ISO 8583:1993: LLL ans..999). */
const DE72_DEFAULT_MAX = 999;

export interface FileActionOptions {
  /** Fewer records per 1314 than DE 72 holds (tests, terminals with small buffers). */
  readonly maxRecordsPerPage?: number;
}

type Answer = HandlerResult;

function refuse(actionCode: string, name?: string): Answer {
  const fields = new Map<number, FieldValue>();
  if (name !== undefined) fields.set(101, name);
  return { actionCode, fields };
}

function accept(name: FileName, de72: string): Answer {
  return { actionCode: FILE_ACTION.accepted, fields: new Map<number, FieldValue>([[72, de72], [101, name]]) };
}

/** A version for a file the platform does not version itself: the content's digest, as a number a terminal stores like any other. */
function contentVersion(parts: readonly string[]): number {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\n');
  // 48 bits: far from a collision in practice, exact in a double, and fits n19.
  return Number.parseInt(h.digest('hex').slice(0, 12), 16) || 1;
}

interface Page<F extends FileName> {
  readonly records: FileRecordTypes[F][];
  readonly more: boolean;
}

function pageOf<F extends FileName>(file: F, all: readonly FileRecordTypes[F][], after: string | undefined, limit: number): Page<F> {
  const key = RECORD_KEY[file] as (r: FileRecordTypes[F]) => string;
  const rest = after === undefined ? all : all.filter((r) => key(r) > after);
  return { records: rest.slice(0, limit), more: rest.length > limit };
}

// ---- list files: hot list and whitelist, versioned by snapshot xmin like the HTTP API ----------

interface ListSource<F extends 'HOTLIST' | 'WHITELIST'> {
  readonly kind: 'hotlist' | 'whitelist';
  floor(db: Executor): Promise<number>;
  /** Records in card-number order after `after`; `since` null = the full (listed) list. */
  rows(db: Executor, since: number | null, after: string | null, limit: number): Promise<FileRecordTypes[F][]>;
}

// Paged reads of the lists the HTTP API serves whole (cards/hotlist.ts, stations/whitelist.service.ts):
// a 1314 holds some 47 card numbers, so each page is its own keyset query instead of the whole list sliced.
const HOTLIST_SOURCE: ListSource<'HOTLIST'> = {
  kind: 'hotlist',
  floor: async (db) => Number((await sql<{ floor: string }>`select floor::text from hotlist_floor`.execute(db)).rows[0]!.floor),
  async rows(db, since, after, limit) {
    const r = await sql<{ card_no: string; listed: boolean }>`select card_no, listed from hotlist
      where ${since === null ? sql`listed` : sql`changed_xid >= ${since}`}
        ${after === null ? sql`` : sql`and card_no > ${after}`}
      order by card_no limit ${limit}`.execute(db);
    return r.rows.map((x): HotlistRecord => ({ op: x.listed ? 'A' : 'R', cardNo: x.card_no }));
  },
};

const WHITELIST_SOURCE: ListSource<'WHITELIST'> = {
  kind: 'whitelist',
  floor: async (db) => Number((await sql<{ floor: string }>`select floor::text from offline_whitelist_floor`.execute(db)).rows[0]!.floor),
  async rows(db, since, after, limit) {
    const r = await sql<{ card_no: string; listed: boolean; floor_sale: string; floor_day: string }>`select card_no, listed,
        floor_sale::text, floor_day::text from offline_whitelist
      where ${since === null ? sql`listed` : sql`changed_xid >= ${since}`}
        ${after === null ? sql`` : sql`and card_no > ${after}`}
      order by card_no limit ${limit}`.execute(db);
    return r.rows.map(
      (x): WhitelistRecord =>
        x.listed ? { op: 'A', cardNo: x.card_no, floorSale: Number(x.floor_sale), floorDay: Number(x.floor_day) } : { op: 'R', cardNo: x.card_no, floorSale: 0, floorDay: 0 },
    );
  },
};

async function listFile<F extends 'HOTLIST' | 'WHITELIST'>(
  db: Db,
  file: F,
  source: ListSource<F>,
  req: FileRequest,
  terminalId: string,
  limit: number,
): Promise<Answer> {
  // Both lists are versioned by the same number, a fresh snapshot's xmin (offline.routes.ts reads them alike).
  const current = await hotlistVersion(db);
  const floor = await source.floor(db);
  let mode: 'F' | 'D';
  let version: number;
  const c = req.continuation;
  if (!c) {
    // As the HTTP API: no version, one older than the floor or one this database never gave → the full list.
    mode = req.held === 0 || req.held < floor || req.held > current ? 'F' : 'D';
    version = current;
  } else {
    // A page marker names a version this host gave: never one above now, and a delta's base is below it.
    if (c.version > current || (c.mode === 'D' && (req.held === 0 || req.held > c.version))) return refuse(FILE_ACTION.formatError, file);
    if (!/^[0-9]+$/.test(c.after)) return refuse(FILE_ACTION.formatError, file);
    // The delta can no longer be computed from the terminal's version: start again (a full list follows).
    if (c.mode === 'D' && req.held < floor) return refuse(FILE_ACTION.notSuccessful, file);
    mode = c.mode;
    version = c.version;
  }
  // Rows read after the version may be newer than it; the next delta from it repeats them (cards/hotlist.ts).
  const rows = await source.rows(db, mode === 'F' ? null : req.held, c?.after ?? null, limit + 1);
  const more = rows.length > limit;
  const records = rows.slice(0, limit);
  // What the terminal was given, once it has all of it: the offline upload judges liability by it (docs/offline.md).
  if (!more) await recordListDownload(db, terminalId, source.kind, version);
  return accept(file, encodeFilePage(file, { mode, version, more, records }));
}

// ---- snapshot files: prices and parameters, versioned by content ------------------------------

const byKey =
  <F extends FileName>(file: F) =>
  (a: FileRecordTypes[F], b: FileRecordTypes[F]): number => {
    const key = RECORD_KEY[file] as (r: FileRecordTypes[F]) => string;
    return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  };

/** The digest version of a snapshot file's records (those `versioned` keeps). */
function snapshotVersion<F extends 'PRICES' | 'PARAMS'>(file: F, records: readonly FileRecordTypes[F][]): number {
  return contentVersion([...records].sort(byKey(file)).map((r) => encodeFilePage(file, { mode: 'F', version: 1, more: false, records: [r] })));
}

async function snapshotFile<F extends 'PRICES' | 'PARAMS'>(
  file: F,
  all: FileRecordTypes[F][],
  version: number,
  req: FileRequest,
  limit: number,
  opts: { upToDate: boolean },
): Promise<Answer> {
  const sorted = [...all].sort(byKey(file));
  const c = req.continuation;
  if (!c) {
    if (opts.upToDate && req.held === version) return accept(file, encodeFilePage(file, { mode: 'U', version, more: false, records: [] }));
    const p = pageOf(file, sorted, undefined, limit);
    return accept(file, encodeFilePage(file, { mode: 'F', version, more: p.more, records: p.records }));
  }
  if (c.mode !== 'F') return refuse(FILE_ACTION.formatError, file);
  // The file changed since the first page: the pages would not add up to one version. Start again.
  if (c.version !== version) return refuse(FILE_ACTION.notSuccessful, file);
  const p = pageOf(file, sorted, c.after, limit);
  return accept(file, encodeFilePage(file, { mode: 'F', version, more: p.more, records: p.records }));
}

/** Grades and unit prices in force at the station, with the next scheduled change (same rules as GET /api/v1/pos/forecourt). */
async function priceRecords(db: Db, stationId: number): Promise<PriceRecord[]> {
  const [now, next] = await Promise.all([pricesInForce(db, stationId), nextPrices(db, stationId)]);
  const byGrade = new Map<string, PriceRecord>();
  for (const p of now) byGrade.set(p.grade, { grade: p.grade, unitPrice: p.unitPrice, next: null });
  for (const p of next) {
    // A grade with only a scheduled price is listed with unit price 0: not for sale until then.
    const cur = byGrade.get(p.grade);
    byGrade.set(p.grade, { grade: p.grade, unitPrice: cur?.unitPrice ?? 0, next: { unitPrice: p.unitPrice, effectiveFrom: new Date(p.effectiveFrom) } });
  }
  return [...byGrade.values()];
}

/** Parameters whose change makes a new PARAMS version; the list versions ride along, always current. */
const LIST_VERSION_PARAMS: ReadonlySet<string> = new Set(['HOTLISTVER', 'WHITELISTVER']);

async function paramRecords(db: Db, config: Config, terminal: { id: string; stationId: number }): Promise<ParamRecord[]> {
  const lists = await hotlistVersion(db);
  const pricesVersion = snapshotVersion('PRICES', await priceRecords(db, terminal.stationId));
  const p = (name: string, value: string | number): ParamRecord => ({ name, value: String(value) });
  return [
    p('CURRENCY', '156'),
    p('FLOORDAY', config.offlineFloorDay),
    p('FLOORSALE', config.offlineFloorSale),
    p('HOTLISTVER', lists),
    p('PRICESVER', pricesVersion),
    p('STATIONID', terminal.stationId),
    p('TERMINALID', terminal.id),
    p('TIMEZONE', config.timeZone),
    p('WHITELISTVER', lists),
  ];
}

/** The 1304 handler: `handlers: { '1304': fileActionHandler({ db, config }) }`. */
export function fileActionHandler(deps: { db: Db; config: Config }, opts: FileActionOptions = {}): InboundHandler {
  const { db, config } = deps;
  return async (req) => {
    const msg = req.message;
    const fc = msg.fields.get(24);
    const name = msg.fields.get(101);
    const de72 = msg.fields.get(72);
    const nameText = typeof name === 'string' ? name : undefined;
    if (typeof fc !== 'string') return refuse(FILE_ACTION.formatError, nameText);
    // Adding, changing or deleting records on the host is not a terminal's business.
    if (fc !== FILE_INQUIRY_FUNCTION_CODE) return refuse(FILE_ACTION.notSupported, nameText);
    if (nameText === undefined || nameText.trim() === '') return refuse(FILE_ACTION.formatError);
    const file = nameText.trimEnd();
    if (!isFileName(file)) return refuse(FILE_ACTION.unknownFile, nameText);
    if (de72 !== undefined && typeof de72 !== 'string') return refuse(FILE_ACTION.formatError, file);
    const parsed = parseFileRequest(de72);
    if (!parsed.ok) return refuse(FILE_ACTION.formatError, file);
    const request = parsed.value;

    const terminal = req.terminal.platform ?? (await platformTerminalOf(db, req.terminal.terminalId));
    // An ISO terminal not tied to a platform terminal has no station, and its downloads could not be recorded.
    if (!terminal) return refuse(FILE_ACTION.notSuccessful, file);

    const fieldMax = req.profile.fields.get(72)?.max ?? DE72_DEFAULT_MAX;
    const limit = Math.max(1, Math.min(opts.maxRecordsPerPage ?? MAX_RECORDS_PER_PAGE, MAX_RECORDS_PER_PAGE, recordsPerField(file, fieldMax)));
    switch (file) {
      case 'HOTLIST':
        return listFile(db, file, HOTLIST_SOURCE, request, terminal.id, limit);
      case 'WHITELIST':
        return listFile(db, file, WHITELIST_SOURCE, request, terminal.id, limit);
      case 'PRICES': {
        const records = await priceRecords(db, terminal.stationId);
        return snapshotFile(file, records, snapshotVersion(file, records), request, limit, { upToDate: true });
      }
      case 'PARAMS': {
        const records = await paramRecords(db, config, terminal);
        // Always answered in full: the list versions in it move with every transaction, and a terminal
        // asks for PARAMS to learn them (the version tells it whether a limit or the time zone changed).
        const version = snapshotVersion(file, records.filter((r) => !LIST_VERSION_PARAMS.has(r.name)));
        return snapshotFile(file, records, version, request, recordsPerField(file, fieldMax), { upToDate: false });
      }
    }
  };
}
