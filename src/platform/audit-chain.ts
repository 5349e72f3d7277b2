import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Executor } from './db.js';

/**
 * The audit log's hash chain (docs/audit.md). Business transactions insert audit rows unsealed;
 * the sealer, alone under one advisory lock, gives them seq 1, 2, 3… in the order it finds them
 * committed, and hash = SHA-256(previous hash || canonical row). Chaining at insert time instead
 * would make every audited write in the system wait on one lock.
 */

/** Advisory lock (class, key) held by whoever extends the chain. */
const SEAL_LOCK = [7601, 1] as const;
/** The hash before seq 1. */
export const GENESIS_HASH = Buffer.alloc(32);
const CANONICAL_VERSION = 'fuelcard-audit-v1';
const SEAL_BATCH = 1000;
const VERIFY_BATCH = 5000;
/** Unsealed rows older than this mean the sealer is not running (or cannot seal them). */
export const DEFAULT_STALE_UNSEALED_MS = 5 * 60_000;
const MAX_PROBLEMS = 100;

/** A row as the chain sees it: every column as text exactly as PostgreSQL renders it, so no JS parsing can blur an edit. */
export interface ChainRow {
  id: number;
  at: string;
  actor_id: string | null;
  actor_name: string;
  actor_role: string;
  action: string;
  target_type: string;
  target_id: string | null;
  details: string;
  ip: string | null;
  request_id: string | null;
}

// `at` in UTC with microseconds (a JS Date would drop them, and an edit with them); `details`
// as jsonb's own normalised text, not JSON.parse'd (which would turn 1.0 into 1 and round big numbers).
const CHAIN_COLUMNS = sql`a.id, to_char(a.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, a.actor_id::text as actor_id,
  a.actor_name, a.actor_role, a.action, a.target_type, a.target_id, a.details::text as details, a.ip, a.request_id`;

/** The bytes hashed for one row: a JSON array, so no field's content can pass for a separator. */
export function canonicalAuditRow(seq: number, r: ChainRow): string {
  return JSON.stringify([
    CANONICAL_VERSION,
    seq,
    r.id,
    r.at,
    r.actor_id,
    r.actor_name,
    r.actor_role,
    r.action,
    r.target_type,
    r.target_id,
    r.details,
    r.ip,
    r.request_id,
  ]);
}

export function chainHash(prev: Buffer, seq: number, row: ChainRow): Buffer {
  return createHash('sha256').update(prev).update(canonicalAuditRow(seq, row), 'utf8').digest();
}

export interface ChainHead {
  seq: number;
  hash: string;
  sealedAt: string;
}

async function readHead(db: Executor): Promise<{ seq: number; hash: Buffer; sealedAt: Date }> {
  const r = await sql<{ seq: number; hash: Buffer; sealed_at: Date }>`select seq, hash, sealed_at from audit_chain_head`.execute(db);
  const row = r.rows[0];
  if (!row) throw new Error('audit_chain_head has no row (migration 029 not applied?)');
  return { seq: row.seq, hash: row.hash, sealedAt: row.sealed_at };
}

/**
 * Seals every audit row committed so far and not yet sealed, in id order, batch by batch (each its
 * own short transaction, so business inserts never wait). A row that commits late — a smaller id
 * after bigger ones were sealed — is simply sealed in a later run, after them.
 */
export async function sealAuditLog(db: Db, opts: { batch?: number } = {}): Promise<{ sealed: number; head: ChainHead }> {
  const batch = opts.batch ?? SEAL_BATCH;
  let sealed = 0;
  for (;;) {
    const step = await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${SEAL_LOCK[0]}::int, ${SEAL_LOCK[1]}::int)`.execute(trx);
      const head = await readHead(trx);
      const rows = (await sql<ChainRow>`select ${CHAIN_COLUMNS} from audit_log a where a.seq is null order by a.id limit ${batch}`.execute(trx)).rows;
      if (rows.length === 0) return { n: 0, head };
      let prev = head.hash;
      let seq = head.seq;
      const ids: number[] = [];
      const seqs: number[] = [];
      const hashes: string[] = [];
      for (const row of rows) {
        seq++;
        prev = chainHash(prev, seq, row);
        ids.push(row.id);
        seqs.push(seq);
        hashes.push(prev.toString('hex'));
      }
      const upd = await sql`update audit_log a set seq = v.seq, hash = decode(v.h, 'hex')
        from unnest(${ids}::bigint[], ${seqs}::bigint[], ${hashes}::text[]) as v(id, seq, h)
        where a.id = v.id and a.seq is null`.execute(trx);
      // Under the lock nobody else seals; anything else means the table changed under us.
      if (Number(upd.numAffectedRows) !== rows.length) throw new Error(`audit sealer: sealed ${String(upd.numAffectedRows)} of ${rows.length} rows`);
      const h = await sql<{ sealed_at: Date }>`update audit_chain_head set seq = ${seq}, hash = decode(${prev.toString('hex')}, 'hex'), sealed_at = now() returning sealed_at`.execute(trx);
      return { n: rows.length, head: { seq, hash: prev, sealedAt: h.rows[0]!.sealed_at } };
    });
    sealed += step.n;
    if (step.n < batch) return { sealed, head: { seq: step.head.seq, hash: step.head.hash.toString('hex'), sealedAt: step.head.sealedAt.toISOString() } };
  }
}

export type ChainCheck = 'start' | 'gap' | 'hash' | 'head' | 'anchor' | 'unsealed';

export interface ChainProblem {
  check: ChainCheck;
  /** The first seq this problem breaks. */
  seq: number | null;
  id?: number;
  detail: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  checkedAt: string;
  /** Rows this run sealed before checking. */
  sealedNow: number;
  rowsChecked: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Every seq up to here chains intact from the start (or from an archive checkpoint). */
  verifiedSeq: number;
  /** The first seq at which the chain is broken, or null. */
  brokenSeq: number | null;
  head: ChainHead;
  unsealed: { stale: number; oldestId: number | null; oldestAt: string | null };
  problems: ChainProblem[];
}

export interface VerifyOptions {
  /** Seal first (default): the check then covers everything committed so far. */
  seal?: boolean;
  staleUnsealedMs?: number;
  /** Head hashes anchored elsewhere (the app log's `audit chain head` lines): each must still match. */
  anchors?: ReadonlyArray<{ seq: number; hash: string }>;
  /** Record the outcome for the console's indicator. */
  record?: 'job' | 'cli' | 'api';
}

/**
 * Recomputes the whole chain in one snapshot, so a sealer running meanwhile cannot produce a false
 * alarm. After a broken row the check resynchronises on that row's stored hash, so one edited row
 * is one problem and the rest of the chain is still checked.
 */
export async function verifyAuditChain(db: Db, opts: VerifyOptions = {}): Promise<AuditVerifyReport> {
  const sealedNow = opts.seal === false ? 0 : (await sealAuditLog(db)).sealed;
  const staleMs = opts.staleUnsealedMs ?? DEFAULT_STALE_UNSEALED_MS;
  const anchors = new Map<number, string>();
  for (const a of opts.anchors ?? []) anchors.set(a.seq, a.hash.toLowerCase());

  const report = await db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const checkedAt = (await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0]!.now;
      const head = await readHead(trx);
      const problems: ChainProblem[] = [];
      let brokenSeq: number | null = null;
      const problem = (p: ChainProblem) => {
        if (p.seq !== null && (brokenSeq === null || p.seq < brokenSeq)) brokenSeq = p.seq;
        if (problems.length < MAX_PROBLEMS) problems.push(p);
      };

      let prev: Buffer = GENESIS_HASH;
      let expected = 1;
      let rowsChecked = 0;
      let firstSeq: number | null = null;
      let lastSeq: number | null = null;
      let lastHash: Buffer = GENESIS_HASH;
      let after = 0;
      for (;;) {
        const rows = (
          await sql<ChainRow & { seq: number; hash: Buffer }>`select a.seq, a.hash, ${CHAIN_COLUMNS}
            from audit_log a where a.seq > ${after} order by a.seq limit ${VERIFY_BATCH}`.execute(trx)
        ).rows;
        for (const row of rows) {
          if (firstSeq === null) {
            firstSeq = row.seq;
            if (row.seq !== 1) {
              // Rows before it were archived (a checkpoint says where the chain stood) or are gone.
              const cp = await sql<{ hash: Buffer }>`select hash from audit_chain_checkpoints where seq = ${row.seq - 1}`.execute(trx);
              if (cp.rows[0]) {
                prev = cp.rows[0].hash;
                expected = row.seq;
              } else {
                problem({ check: 'start', seq: 1, detail: `the chain starts at seq ${row.seq} and no checkpoint covers seq 1..${row.seq - 1}: rows were deleted` });
                prev = row.hash;
                expected = row.seq + 1;
                lastSeq = row.seq;
                lastHash = row.hash;
                rowsChecked++;
                continue;
              }
            }
          }
          if (row.seq !== expected) {
            problem({ check: 'gap', seq: expected, id: row.id, detail: `seq ${expected}..${row.seq - 1} missing: rows were deleted or unsealed` });
            // Resynchronise: the rest of the chain is checked against what is stored.
            prev = row.hash;
          } else {
            const computed = chainHash(prev, row.seq, row);
            if (!computed.equals(row.hash)) {
              problem({ check: 'hash', seq: row.seq, id: row.id, detail: `row id ${row.id} at seq ${row.seq} does not match its hash: edited, reordered or re-sealed` });
            }
            prev = row.hash;
          }
          const anchor = anchors.get(row.seq);
          if (anchor !== undefined && anchor !== row.hash.toString('hex')) {
            problem({ check: 'anchor', seq: row.seq, id: row.id, detail: `seq ${row.seq} hash ${row.hash.toString('hex')} differs from the anchored ${anchor}` });
          }
          anchors.delete(row.seq);
          expected = row.seq + 1;
          lastSeq = row.seq;
          lastHash = row.hash;
          rowsChecked++;
        }
        if (rows.length < VERIFY_BATCH) break;
        after = rows[rows.length - 1]!.seq;
      }

      const endSeq = lastSeq ?? 0;
      if (head.seq !== endSeq) {
        problem({
          check: 'head',
          seq: Math.min(head.seq, endSeq) + 1,
          detail: `the head says the chain ends at seq ${head.seq}, the table ends at seq ${endSeq}: ${head.seq > endSeq ? 'rows were cut off the end' : 'the head was rewound'}`,
        });
      } else if (!head.hash.equals(lastHash)) {
        problem({ check: 'head', seq: endSeq, detail: `the head's hash at seq ${endSeq} differs from the table's` });
      }
      for (const [seq, hash] of anchors) {
        problem({ check: 'anchor', seq: seq <= endSeq ? seq : endSeq + 1, detail: `anchored seq ${seq} (${hash}) is not in the chain` });
      }

      const stale = (
        await sql<{ n: number; oldest_id: number | null; oldest_at: Date | null }>`
          select count(*)::int n, min(id) oldest_id, min(at) oldest_at from audit_log
           where seq is null and at < now() - make_interval(secs => ${staleMs / 1000})`.execute(trx)
      ).rows[0]!;
      if (stale.n > 0) {
        problems.push({ check: 'unsealed', seq: null, id: stale.oldest_id ?? undefined, detail: `${stale.n} audit rows older than ${Math.round(staleMs / 1000)} s are not sealed (oldest id ${stale.oldest_id})` });
      }

      const broken: number | null = brokenSeq;
      return {
        ok: problems.length === 0,
        checkedAt: checkedAt.toISOString(),
        sealedNow,
        rowsChecked,
        firstSeq,
        lastSeq,
        verifiedSeq: broken === null ? endSeq : Math.max(0, broken - 1),
        brokenSeq: broken,
        head: { seq: head.seq, hash: head.hash.toString('hex'), sealedAt: head.sealedAt.toISOString() },
        unsealed: { stale: stale.n, oldestId: stale.oldest_id, oldestAt: stale.oldest_at?.toISOString() ?? null },
        problems,
      } satisfies AuditVerifyReport;
    });

  if (opts.record) {
    await sql`insert into audit_chain_verifications (source, ok, rows_checked, verified_seq, head_seq, broken_seq, problems)
      values (${opts.record}, ${report.ok}, ${report.rowsChecked}, ${report.verifiedSeq}, ${report.head.seq}, ${report.brokenSeq},
              ${JSON.stringify(report.problems)}::jsonb)`.execute(db);
  }
  return report;
}

export interface AuditChainStatus {
  head: ChainHead;
  /** Rows committed but not yet sealed (normally a few seconds' worth). */
  unsealed: number;
  lastVerification: {
    at: string;
    source: string;
    ok: boolean;
    rowsChecked: number;
    verifiedSeq: number;
    headSeq: number;
    brokenSeq: number | null;
    problems: ChainProblem[];
  } | null;
}

/** What the console shows beside the audit log: the head, and the newest full verification. */
export async function auditChainStatus(db: Executor): Promise<AuditChainStatus> {
  const head = await readHead(db);
  const unsealed = (await sql<{ n: number }>`select count(*)::int n from audit_log where seq is null`.execute(db)).rows[0]!.n;
  const v = (
    await sql<{ at: Date; source: string; ok: boolean; rows_checked: number; verified_seq: number; head_seq: number; broken_seq: number | null; problems: ChainProblem[] }>`
      select at, source, ok, rows_checked, verified_seq, head_seq, broken_seq, problems from audit_chain_verifications order by at desc, id desc limit 1`.execute(db)
  ).rows[0];
  return {
    head: { seq: head.seq, hash: head.hash.toString('hex'), sealedAt: head.sealedAt.toISOString() },
    unsealed,
    lastVerification: v
      ? { at: v.at.toISOString(), source: v.source, ok: v.ok, rowsChecked: v.rows_checked, verifiedSeq: v.verified_seq, headSeq: v.head_seq, brokenSeq: v.broken_seq, problems: v.problems }
      : null,
  };
}

export interface AuditSealerOptions {
  /** How often to seal (default 5 s). */
  everyMs?: number;
  /** How often to recompute the whole chain (default hourly; also once at start). 0 turns it off. */
  verifyEveryMs?: number;
  /** How often, at most, to write the head to the app log as an anchor (default 10 min). */
  anchorEveryMs?: number;
}

/**
 * The sealer job: seals every `everyMs`, logs the head as an anchor outside the database every
 * `anchorEveryMs` when it moved, and verifies the whole chain every `verifyEveryMs`, logging an
 * error when it is broken. Returns a stop function that waits for the run under way.
 */
export function startAuditSealer(deps: { db: Db; logger: Logger }, opts: AuditSealerOptions = {}): () => Promise<void> {
  const everyMs = opts.everyMs ?? 5_000;
  const verifyEveryMs = opts.verifyEveryMs ?? 3_600_000;
  const anchorEveryMs = opts.anchorEveryMs ?? 600_000;
  let stopped = false;
  let running: Promise<void> | null = null;
  let lastAnchorAt = -Infinity;
  let anchoredSeq = -1;
  let lastVerifyAt = verifyEveryMs > 0 ? -Infinity : Infinity;

  const tick = () => {
    if (stopped || running) return;
    running = (async () => {
      try {
        const now = Date.now();
        if (now - lastVerifyAt >= verifyEveryMs) {
          lastVerifyAt = now;
          const r = await verifyAuditChain(deps.db, { record: 'job' });
          if (r.ok) deps.logger.info({ auditChain: { verifiedSeq: r.verifiedSeq, rows: r.rowsChecked } }, 'audit chain verified');
          else deps.logger.error({ auditChain: { brokenSeq: r.brokenSeq, problems: r.problems.slice(0, 10) } }, 'audit chain verification FAILED');
        }
        const { sealed, head } = await sealAuditLog(deps.db);
        if (sealed > 0) deps.logger.debug({ sealed, seq: head.seq }, 'audit rows sealed');
        if (head.seq !== anchoredSeq && Date.now() - lastAnchorAt >= anchorEveryMs) {
          lastAnchorAt = Date.now();
          anchoredSeq = head.seq;
          // The anchor: a copy of the head outside the database, for `fuelcard audit verify --anchor`.
          deps.logger.info({ auditHead: { seq: head.seq, hash: head.hash } }, 'audit chain head');
        }
      } catch (err) {
        deps.logger.error({ err }, 'audit sealer failed');
      }
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, everyMs);
  tick();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
