import { sql, type RawBuilder } from 'kysely';
import type { Db, Executor } from '../db.js';
import { blindIndex, currentValuePattern, type BlindIndexHash, type DataKey, type FieldCipher } from './field-cipher.js';
import { keysError } from './keys.errors.js';

/**
 * Key rotation (docs/keys.md): after a new data key is put first, the re-encryption job rewrites
 * every value still under an older key or another algorithm, a batch at a time. Each row is
 * rewritten only if it still holds the values the job read (compare-and-set), so an update the
 * application makes meanwhile is never overwritten. A run can stop anywhere: the next one finds
 * the values still to do by their prefix (the key id is in the value), so no cursor is kept.
 */

/** A blind index kept next to an encrypted column, recomputed when the blind-index key changes. */
export interface BlindIndexColumn {
  /** Column holding the index. */
  readonly column: string;
  /** The HMAC's domain (as the module computing it uses). */
  readonly domain: string;
  /** Encrypted column whose clear value the index is computed from. */
  readonly from: string;
  /** The module's normalisation of the value before indexing (identity when absent). */
  readonly normalise?: (clear: string) => string;
  /** Tables whose `column` holds the same index value (rewritten in the same transaction). */
  readonly references?: ReadonlyArray<{ readonly table: string; readonly unique?: boolean }>;
}

/** One table with encrypted columns. Adding an encrypted column is one line here. */
export interface EncryptedTable {
  readonly table: string;
  /** Primary key column (any type with an order). */
  readonly id?: string;
  /** Text columns holding field values. */
  readonly columns?: readonly string[];
  /** jsonb columns holding a field value at a top-level field: { column: 'payee', field: 'accountEnc' }. */
  readonly jsonFields?: ReadonlyArray<{ readonly column: string; readonly field: string }>;
  /** Column recording the data key the row was written with (customers.key_id). */
  readonly keyIdColumn?: string;
  readonly blindIndexes?: readonly BlindIndexColumn[];
  /** Column recording "<hash>:<blind-index key id>" the row's indexes were computed with. */
  readonly blindIndexKeyColumn?: string;
}

/** Must equal customers' normaliseName (a test compares them): the name index is computed from it. */
export function normaliseNameForIndex(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\u2022\u2027\u30fb\uff65\u2219]/g, '\u00b7')
    .replace(/\s*\u00b7\s*/g, '\u00b7')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/** Placeholders that are not an index of a value (privacy anonymisation): never recomputed. */
const PLACEHOLDER_INDEX = /^anonymised:/;

const PHONE_REFERENCES = [
  { table: 'portal_accounts', unique: true },
  { table: 'portal_codes' },
  { table: 'portal_sessions' },
  { table: 'portal_login_failures' },
  { table: 'portal_card_alerts', unique: true },
  { table: 'portal_alerts_sent' },
] as const;

/**
 * Every encrypted column of the platform. A test (keys.rotation.test.ts) fails when a table of
 * the schema has an *_enc column that is not listed here.
 */
export const ENCRYPTED_TABLES: readonly EncryptedTable[] = [
  {
    table: 'customers',
    columns: ['name_enc', 'phone_enc', 'id_number_enc'],
    keyIdColumn: 'key_id',
    blindIndexKeyColumn: 'bidx_key',
    blindIndexes: [
      { column: 'phone_bidx', domain: 'phone', from: 'phone_enc', references: PHONE_REFERENCES },
      { column: 'id_number_bidx', domain: 'id_number', from: 'id_number_enc' },
      { column: 'name_bidx', domain: 'name', from: 'name_enc', normalise: normaliseNameForIndex },
    ],
  },
  { table: 'terminals', columns: ['secret_enc'] },
  { table: 'messages', columns: ['to_enc', 'text_enc'] },
  { table: 'payment_refunds', jsonFields: [{ column: 'payee', field: 'accountEnc' }] },
  { table: 'staff_totp', id: 'staff_id', columns: ['secret_enc'] },
];

/** Something else holding data sealed under a data key (the POS key store): re-sealed by its owner. */
export interface SealedStore {
  readonly name: string;
  /** Count of entries per data key id. */
  usage(db: Db): Promise<Record<string, number>>;
  /** Re-seals up to `batch` entries not under the current data key; returns how many it did. */
  reseal(db: Db, batch: number): Promise<{ resealed: number; unreadable: number }>;
}

export interface BlindIndexKeys {
  readonly keys: readonly DataKey[];
  readonly hash: BlindIndexHash;
}

function bidxTag(b: BlindIndexKeys): string {
  return `${b.hash}:${b.keys[0]!.id}`;
}

const valueKeyId = (expr: RawBuilder<unknown>) =>
  sql<string>`case when split_part(${expr}, '.', 1) = 'v1' then 'aes-256-gcm/' || split_part(${expr}, '.', 2)
    when split_part(${expr}, '.', 1) = 'v2' then split_part(${expr}, '.', 2) || '/' || split_part(${expr}, '.', 3)
    else 'unreadable' end`;

interface ColumnRef {
  label: string;
  expr: RawBuilder<unknown>;
}

function columnRefs(t: EncryptedTable): ColumnRef[] {
  return [
    ...(t.columns ?? []).map((c) => ({ label: c, expr: sql`${sql.ref(c)}` })),
    ...(t.jsonFields ?? []).map((j) => ({ label: `${j.column}.${j.field}`, expr: sql`(${sql.ref(j.column)} ->> ${j.field})` })),
  ];
}

export interface ColumnUsage {
  table: string;
  column: string;
  /** Values per "<algorithm>/<key id>" ("unreadable": not a field value). */
  byKey: Record<string, number>;
}

export interface KeyUsageReport {
  current: { keyId: string; algorithm: string; blindIndex: string | null };
  columns: ColumnUsage[];
  /** Rows per "<hash>:<key id>" of their blind indexes ("none": written before ids were recorded). */
  blindIndexes: Array<{ table: string; byKey: Record<string, number> }>;
  stores: Array<{ name: string; byKey: Record<string, number> }>;
}

/** Counts per column how many values each key id holds (what `fuelcard keys status` shows). */
export async function keyUsage(
  db: Db,
  cipher: FieldCipher,
  opts: { tables?: readonly EncryptedTable[]; stores?: readonly SealedStore[]; blindIndex?: BlindIndexKeys } = {},
): Promise<KeyUsageReport> {
  const tables = opts.tables ?? ENCRYPTED_TABLES;
  const columns: ColumnUsage[] = [];
  const blindIndexes: KeyUsageReport['blindIndexes'] = [];
  for (const t of tables) {
    for (const c of columnRefs(t)) {
      const rows = (
        await sql<{ k: string; n: string }>`select ${valueKeyId(c.expr)} as k, count(*) as n from ${sql.table(t.table)}
          where ${c.expr} is not null group by 1 order by 1`.execute(db)
      ).rows;
      columns.push({ table: t.table, column: c.label, byKey: Object.fromEntries(rows.map((r) => [r.k, Number(r.n)])) });
    }
    if (t.blindIndexKeyColumn) {
      const rows = (
        await sql<{ k: string | null; n: string }>`select ${sql.ref(t.blindIndexKeyColumn)} as k, count(*) as n from ${sql.table(t.table)} group by 1 order by 1`.execute(db)
      ).rows;
      blindIndexes.push({ table: t.table, byKey: Object.fromEntries(rows.map((r) => [r.k ?? 'none', Number(r.n)])) });
    }
  }
  const stores = [];
  for (const s of opts.stores ?? []) stores.push({ name: s.name, byKey: await s.usage(db) });
  return {
    current: { keyId: cipher.currentKeyId, algorithm: cipher.algorithm, blindIndex: opts.blindIndex ? bidxTag(opts.blindIndex) : null },
    columns,
    blindIndexes,
    stores,
  };
}

export interface ReencryptOptions {
  /** Rows per batch (each batch is one short transaction). */
  batch?: number;
  tables?: readonly EncryptedTable[];
  stores?: readonly SealedStore[];
  /** Recompute blind indexes computed under another key or hash. */
  blindIndex?: BlindIndexKeys;
  /** Stop between batches. */
  signal?: AbortSignal;
  /** Called after each batch with the totals so far. */
  onProgress?: (p: ReencryptProgress) => void;
  /** Test hook: runs after a batch is read and before it is written. */
  beforeWrite?: (table: string, ids: unknown[]) => Promise<void>;
}

export interface ReencryptProgress {
  /** Rows rewritten per table (and re-sealed entries per store). */
  rewritten: Record<string, number>;
  /** Rows changed by someone else between read and write: left for the next run. */
  conflicts: number;
  /** Values that do not decrypt with any configured key (or are not field values). */
  unreadable: number;
  /** Whether the run walked everything (false: stopped by the signal). */
  complete: boolean;
}

/**
 * Rewrites every value not under the current key and algorithm, and every blind index not under
 * the current blind-index key. Safe to run while the application writes, and to run again.
 */
export async function reencryptFields(db: Db, cipher: FieldCipher, opts: ReencryptOptions = {}): Promise<ReencryptProgress> {
  const batch = Math.max(1, opts.batch ?? 200);
  const progress: ReencryptProgress = { rewritten: {}, conflicts: 0, unreadable: 0, complete: false };
  const pattern = currentValuePattern(cipher);
  for (const t of opts.tables ?? ENCRYPTED_TABLES) {
    const n = await reencryptTable(db, cipher, t, pattern, batch, opts, progress);
    if (n === null) return progress;
  }
  for (const s of opts.stores ?? []) {
    for (;;) {
      if (opts.signal?.aborted) return progress;
      const r = await s.reseal(db, batch);
      progress.rewritten[s.name] = (progress.rewritten[s.name] ?? 0) + r.resealed;
      progress.unreadable += r.unreadable;
      opts.onProgress?.(progress);
      if (r.resealed === 0) break;
    }
  }
  progress.complete = true;
  return progress;
}

async function reencryptTable(
  db: Db,
  cipher: FieldCipher,
  t: EncryptedTable,
  pattern: string,
  batch: number,
  opts: ReencryptOptions,
  progress: ReencryptProgress,
): Promise<number | null> {
  const id = t.id ?? 'id';
  const refs = columnRefs(t);
  const indexes = opts.blindIndex ? (t.blindIndexes ?? []) : [];
  const tag = opts.blindIndex ? bidxTag(opts.blindIndex) : null;
  const staleValue = refs.map((c) => sql`coalesce(${c.expr} not like ${pattern}, false)`);
  if (indexes.length > 0 && t.blindIndexKeyColumn) staleValue.push(sql`${sql.ref(t.blindIndexKeyColumn)} is distinct from ${tag}`);
  const where = sql.join(staleValue, sql` or `);
  progress.rewritten[t.table] ??= 0;
  const selected = [
    sql`${sql.ref(id)} as id`,
    ...(t.columns ?? []).map((c) => sql.ref(c)),
    ...(t.jsonFields ?? []).map((j) => sql.ref(j.column)),
    ...indexes.map((ix) => sql.ref(ix.column)),
  ];
  let after: unknown = null;
  let done = 0;
  for (;;) {
    if (opts.signal?.aborted) return null;
    const rows = (
      await sql<Record<string, unknown>>`select ${sql.join(selected)} from ${sql.table(t.table)}
        where (${where}) and ${after === null ? sql`true` : sql`${sql.ref(id)} > ${after}`}
        order by ${sql.ref(id)} limit ${batch}`.execute(db)
    ).rows;
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    await opts.beforeWrite?.(t.table, rows.map((r) => r.id));
    const n = await db.transaction().execute(async (trx) => {
      let rewritten = 0;
      for (const row of rows) {
        const r = await rewriteRow(trx, cipher, t, id, row, indexes, opts.blindIndex, tag, progress);
        if (r) rewritten++;
      }
      return rewritten;
    });
    done += n;
    progress.rewritten[t.table] = (progress.rewritten[t.table] ?? 0) + n;
    opts.onProgress?.(progress);
    if (rows.length < batch) break;
  }
  return done;
}

/** Rewrites one row under compare-and-set; false when it was not rewritten (changed meanwhile or unreadable). */
async function rewriteRow(
  trx: Executor,
  cipher: FieldCipher,
  t: EncryptedTable,
  id: string,
  row: Record<string, unknown>,
  indexes: readonly BlindIndexColumn[],
  bidx: BlindIndexKeys | undefined,
  tag: string | null,
  progress: ReencryptProgress,
): Promise<boolean> {
  const sets: RawBuilder<unknown>[] = [];
  const guards: RawBuilder<unknown>[] = [sql`${sql.ref(id)} = ${row.id}`];
  const clear = new Map<string, string>();
  try {
    for (const c of t.columns ?? []) {
      const v = row[c] as string | null;
      guards.push(sql`${sql.ref(c)} is not distinct from ${v}`);
      if (v === null) continue;
      const plain = cipher.decrypt(v);
      clear.set(c, plain);
      if (!cipher.isCurrent(v)) sets.push(sql`${sql.ref(c)} = ${cipher.encrypt(plain)}`);
    }
    for (const j of t.jsonFields ?? []) {
      const doc = row[j.column] as Record<string, unknown> | null;
      guards.push(sql`${sql.ref(j.column)} is not distinct from ${doc === null ? null : JSON.stringify(doc)}::jsonb`);
      const v = doc?.[j.field];
      if (typeof v !== 'string' || cipher.isCurrent(v)) continue;
      sets.push(sql`${sql.ref(j.column)} = jsonb_set(${sql.ref(j.column)}, ${`{${j.field}}`}::text[], to_jsonb(${cipher.encrypt(cipher.decrypt(v))}::text))`);
    }
  } catch {
    progress.unreadable++;
    return false;
  }
  if (t.keyIdColumn && sets.length > 0) sets.push(sql`${sql.ref(t.keyIdColumn)} = ${cipher.currentKeyId}`);
  const moved: Array<{ ix: BlindIndexColumn; from: string; to: string }> = [];
  if (bidx && indexes.length > 0) {
    for (const ix of indexes) {
      const old = row[ix.column] as string | null;
      guards.push(sql`${sql.ref(ix.column)} is not distinct from ${old}`);
      const plain = clear.get(ix.from);
      // A missing index is filled by its owner (name_bidx backfill); a placeholder stays.
      if (old === null || plain === undefined || PLACEHOLDER_INDEX.test(old)) continue;
      const fresh = blindIndex(bidx.keys[0]!.key, ix.domain, ix.normalise ? ix.normalise(plain) : plain, bidx.hash);
      if (fresh !== old) {
        sets.push(sql`${sql.ref(ix.column)} = ${fresh}`);
        moved.push({ ix, from: old, to: fresh });
      }
    }
    if (t.blindIndexKeyColumn) sets.push(sql`${sql.ref(t.blindIndexKeyColumn)} = ${tag}`);
  }
  if (sets.length === 0) return false;
  const r = await sql`update ${sql.table(t.table)} set ${sql.join(sets)} where ${sql.join(guards, sql` and `)}`.execute(trx);
  if (Number(r.numAffectedRows ?? 0) !== 1) {
    progress.conflicts++;
    return false;
  }
  for (const m of moved) {
    for (const ref of m.ix.references ?? []) {
      // Where the index is part of a key, a row already under the new index wins (the old one stays, unreachable).
      const clash = ref.unique ? sql` and not exists (select 1 from ${sql.table(ref.table)} x where x.${sql.ref(m.ix.column)} = ${m.to})` : sql``;
      await sql`update ${sql.table(ref.table)} set ${sql.ref(m.ix.column)} = ${m.to} where ${sql.ref(m.ix.column)} = ${m.from}${clash}`.execute(trx);
    }
  }
  return true;
}

/**
 * Refuses to retire a key while any value, index or sealed entry still uses it (or while it is
 * current), else records the retirement. Removing the key from the provider is the caller's step.
 */
export async function retireKey(
  db: Db,
  cipher: FieldCipher,
  req: { kind: 'data' | 'blind_index'; keyId: string; by: string; tables?: readonly EncryptedTable[]; stores?: readonly SealedStore[]; blindIndex?: BlindIndexKeys },
): Promise<void> {
  const usage = await keyUsage(db, cipher, { ...(req.tables ? { tables: req.tables } : {}), ...(req.stores ? { stores: req.stores } : {}), ...(req.blindIndex ? { blindIndex: req.blindIndex } : {}) });
  let inUse = 0;
  if (req.kind === 'data') {
    if (req.keyId === cipher.currentKeyId) throw keysError('KEY_IS_CURRENT', { keyId: req.keyId });
    if (!cipher.keyIds.includes(req.keyId)) throw keysError('KEY_UNKNOWN', { keyId: req.keyId });
    for (const c of usage.columns) for (const [k, n] of Object.entries(c.byKey)) if (k.split('/')[1] === req.keyId) inUse += n;
    for (const s of usage.stores) inUse += s.byKey[req.keyId] ?? 0;
  } else {
    const keys = req.blindIndex?.keys ?? [];
    if (keys[0]?.id === req.keyId) throw keysError('KEY_IS_CURRENT', { keyId: req.keyId });
    if (!keys.some((k) => k.id === req.keyId)) throw keysError('KEY_UNKNOWN', { keyId: req.keyId });
    // Rows whose indexes predate recorded ids ("none") may use any key: they count until recomputed.
    for (const b of usage.blindIndexes) for (const [k, n] of Object.entries(b.byKey)) if (k === 'none' || k.split(':')[1] === req.keyId) inUse += n;
  }
  if (inUse > 0) throw keysError('KEY_IN_USE', { keyId: req.keyId, values: inUse });
  await sql`insert into key_retirements (kind, key_id, retired_by) values (${req.kind}, ${req.keyId}, ${req.by})
    on conflict (kind, key_id) do nothing`.execute(db);
}

/**
 * The background re-encryption job: a pass now and then every `intervalMs`, each pass a no-op
 * once everything is current (one indexed-prefix query per column). Returns the stop function.
 */
export function startKeyRotationJobs(
  db: Db,
  cipher: FieldCipher,
  opts: Omit<ReencryptOptions, 'signal'> & { intervalMs?: number; onError?: (err: unknown) => void; onPass?: (p: ReencryptProgress) => void },
): () => Promise<void> {
  const controller = new AbortController();
  let running: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const pass = () => {
    running = reencryptFields(db, cipher, { ...opts, signal: controller.signal })
      .then((p) => opts.onPass?.(p))
      .catch((err) => opts.onError?.(err))
      .finally(() => {
        if (!controller.signal.aborted) timer = setTimeout(pass, opts.intervalMs ?? 3_600_000);
      });
  };
  pass();
  return async () => {
    controller.abort();
    if (timer) clearTimeout(timer);
    await running;
  };
}
