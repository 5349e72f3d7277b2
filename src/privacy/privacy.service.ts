import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, Config, Db, Executor, FieldCipher } from '../platform/index.js';
import { audit, fieldCipherFor, systemActor } from '../platform/index.js';
import { privacyError } from './privacy.errors.js';

// The privacy module reads the customers, cards, sales and messages tables directly (read-only,
// by key) rather than through those modules: they call it to audit unmasked views, so importing
// them back would be a cycle. The one write outside its own table is the anonymisation job's.

export interface PrivacyDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
}

// ── Unmasked views ──────────────────────────────────────────────────────────────────────────────

export const VIEW_UNMASKED = 'privacy.view_unmasked';

/**
 * Record that `actor` was shown personal data in clear (PIPL Art. 51; ASVS 16.3.2 logs access to
 * sensitive data). Called by every route that returns a field of the register unmasked; `fields`
 * names the register entries shown. Several targets of one list view share one row.
 */
export async function auditUnmaskedView(
  db: Executor,
  actor: Actor,
  view: {
    targetType: string;
    targetId: string | number | null;
    fields: readonly string[];
    route?: string;
    /** A list: the records shown in clear. */
    targets?: readonly (string | number)[];
    /** An export: too many rows to name, so the filters that chose them and how many there were. */
    filters?: Record<string, unknown>;
    rows?: number;
  },
): Promise<void> {
  await audit(db, actor, {
    action: VIEW_UNMASKED,
    targetType: view.targetType,
    targetId: view.targetId,
    details: {
      fields: view.fields,
      ...(view.route ? { route: view.route } : {}),
      ...(view.targets ? { targets: view.targets } : {}),
      ...(view.filters ? { filters: view.filters } : {}),
      ...(view.rows !== undefined ? { rows: view.rows } : {}),
    },
  });
}

// ── Consent ─────────────────────────────────────────────────────────────────────────────────────

export const CONSENT_PURPOSES = ['terms', 'privacy_policy', 'marketing', 'location', 'sensitive_financial', 'automated_decision'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
export const CONSENT_CHANNELS = ['counter', 'portal', 'app', 'paper', 'phone'] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

export interface ConsentRecord {
  id: string;
  purpose: ConsentPurpose;
  version: string;
  granted: boolean;
  channel: ConsentChannel;
  evidence: string | null;
  staffId: number | null;
  at: string;
}

export interface ConsentState {
  /** Purpose → the newest record (whether granted or withdrawn). */
  current: ConsentRecord[];
  history: ConsentRecord[];
}

type ConsentRow = {
  id: string;
  purpose: ConsentPurpose;
  version: string;
  granted: boolean;
  channel: ConsentChannel;
  evidence: string | null;
  actor_id: string | null;
  at: Date;
};

const consentOf = (r: ConsentRow): ConsentRecord => ({
  id: String(r.id),
  purpose: r.purpose,
  version: r.version,
  granted: r.granted,
  channel: r.channel,
  evidence: r.evidence,
  staffId: r.actor_id === null ? null : Number(r.actor_id),
  at: r.at.toISOString(),
});

/** Locks the customer row so two consent changes for one person are ordered. */
async function lockLiveCustomer(db: Executor, customerId: number): Promise<void> {
  const r = await sql<{ anonymised_at: Date | null }>`select anonymised_at from customers where id = ${customerId} for update`.execute(db);
  const row = r.rows[0];
  if (!row) throw privacyError('PRIVACY_CUSTOMER_NOT_FOUND', { customerId });
  if (row.anonymised_at !== null) throw privacyError('PRIVACY_CUSTOMER_ANONYMISED', { customerId });
}

/**
 * Grant or withdraw consent for one purpose. Withdrawing needs a grant in force (so the history
 * never shows a withdrawal of nothing); granting again (a new version) is always allowed.
 */
export async function recordConsent(
  db: Db,
  actor: Actor,
  customerId: number,
  input: { purpose: ConsentPurpose; version: string; granted: boolean; channel: ConsentChannel; evidence?: string | null },
): Promise<ConsentRecord> {
  return db.transaction().execute(async (trx) => {
    await lockLiveCustomer(trx, customerId);
    if (!input.granted) {
      const cur = await sql<{ granted: boolean }>`select granted from privacy_consents where customer_id = ${customerId} and purpose = ${input.purpose}
        order by id desc limit 1`.execute(trx);
      if (cur.rows[0]?.granted !== true) throw privacyError('PRIVACY_CONSENT_NOT_GRANTED', { customerId, purpose: input.purpose });
    }
    const r = await sql<ConsentRow>`insert into privacy_consents (customer_id, purpose, version, granted, channel, evidence, actor_id)
      values (${customerId}, ${input.purpose}, ${input.version}, ${input.granted}, ${input.channel}, ${input.evidence ?? null}, ${actor.staffId})
      returning *`.execute(trx);
    const rec = consentOf(r.rows[0]!);
    await audit(trx, actor, {
      action: input.granted ? 'privacy.consent_grant' : 'privacy.consent_withdraw',
      targetType: 'customer',
      targetId: customerId,
      details: { purpose: input.purpose, version: input.version, channel: input.channel, consentId: rec.id },
    });
    return rec;
  });
}

export async function listConsents(db: Executor, customerId: number): Promise<ConsentState> {
  const c = await sql`select 1 from customers where id = ${customerId}`.execute(db);
  if (c.rows.length === 0) throw privacyError('PRIVACY_CUSTOMER_NOT_FOUND', { customerId });
  const r = await sql<ConsentRow>`select * from privacy_consents where customer_id = ${customerId} order by id desc`.execute(db);
  const history = r.rows.map(consentOf);
  const seen = new Set<string>();
  const current = history.filter((h) => (seen.has(h.purpose) ? false : (seen.add(h.purpose), true)));
  return { current, history };
}

// ── Export (PIPL Art. 45: the right to a copy) ─────────────────────────────────────────────────

export const EXPORT_FORMAT = 'fuelcard.personal-data/v1';

export interface PersonalDataExport {
  format: typeof EXPORT_FORMAT;
  generatedAt: string;
  customer: {
    id: number;
    kind: string;
    name: string;
    phone: string;
    idType: string;
    idNumber: string;
    realNameStatus: string;
    createdAt: string;
    anonymisedAt: string | null;
  };
  cards: Array<{ cardNo: string; kind: string; status: string; masterCardNo: string | null; createdAt: string; lostAt: string | null; closedAt: string | null }>;
  sales: {
    count: number;
    amount: number;
    volumeMl: number;
    first: string | null;
    last: string | null;
    /** Where the cards were used: the station-by-time history, summarised per station. */
    byStation: Array<{ stationId: number; stationName: string; count: number; amount: number; last: string }>;
  };
  recharges: { count: number; amount: number; first: string | null; last: string | null };
  /** Fleet vehicles registered to the person, retired ones too (the plate is personal data). */
  vehicles: Array<{ plate: string; tankCapacityMl: number; grades: string[]; status: string; createdAt: string; retiredAt: string | null }>;
  consents: ConsentRecord[];
  messages: Array<{ template: string; status: string; to: string; text: string; createdAt: string; sentAt: string | null }>;
  portal: { hasAccount: boolean; passwordSetAt: string | null };
}

type CustomerRow = {
  id: string;
  kind: string;
  name_enc: string;
  phone_enc: string;
  phone_bidx: string;
  id_type: string;
  id_number_enc: string;
  real_name_status: string;
  created_at: Date;
  anonymised_at: Date | null;
};

/** Messages are kept 30 days, so scanning them for one recipient reads at most a month of traffic. */
const MESSAGE_SCAN_BATCH = 1000;

/**
 * Everything the platform holds about one person, in clear: it is their own data (a copy for the
 * holder, handed over by staff with personal-data rights). Financial detail is summarised; the
 * line-by-line statement is its own API. The export itself is audited.
 */
export async function exportPersonalData(deps: PrivacyDeps, actor: Actor, customerId: number, now = new Date()): Promise<PersonalDataExport> {
  const { db, cipher } = deps;
  const cr = await sql<CustomerRow>`select * from customers where id = ${customerId}`.execute(db);
  const row = cr.rows[0];
  if (!row) throw privacyError('PRIVACY_CUSTOMER_NOT_FOUND', { customerId });
  const phone = cipher.decrypt(row.phone_enc);

  const cards = await sql<{ id: string; card_no: string; kind: string; status: string; master_no: string | null; created_at: Date; lost_at: Date | null; closed_at: Date | null }>`
    select c.id, c.card_no, c.kind, c.status, m.card_no master_no, c.created_at, c.lost_at, c.closed_at
    from cards c left join cards m on m.id = c.master_card_id
    where c.customer_id = ${customerId} or c.master_card_id in (select id from cards where customer_id = ${customerId})
    order by c.id`.execute(db);
  const cardIds = cards.rows.map((c) => c.id);

  const totals = await sql<{ n: number; amount: string | null; volume: string | null; first: Date | null; last: Date | null }>`
    select count(*)::int n, sum(amount) amount, sum(volume_ml) volume, min(created_at) first, max(created_at) last
    from sales where card_id = any(${cardIds}::bigint[]) and status = 'approved'`.execute(db);
  const byStation = await sql<{ station_id: string; name: string; n: number; amount: string; last: Date }>`
    select s.station_id, st.name, count(*)::int n, sum(s.amount) amount, max(s.created_at) last
    from sales s join stations st on st.id = s.station_id
    where s.card_id = any(${cardIds}::bigint[]) and s.status = 'approved'
    group by s.station_id, st.name order by n desc, s.station_id`.execute(db);
  const rech = await sql<{ n: number; amount: string | null; first: Date | null; last: Date | null }>`
    select count(*)::int n, sum(amount) amount, min(created_at) first, max(created_at) last
    from recharges where card_id = any(${cardIds}::bigint[])`.execute(db);
  const vehicles = await sql<{ plate: string; tank_capacity_ml: string; grades: string[]; status: string; created_at: Date; retired_at: Date | null }>`
    select plate, tank_capacity_ml, grades, status, created_at, retired_at from vehicles where customer_id = ${customerId} order by id`.execute(db);
  const portal = await sql<{ password_set_at: Date }>`select password_set_at from portal_accounts where phone_bidx = ${row.phone_bidx}`.execute(db);

  // Messages carry no customer id: match the decrypted recipient. Messages are short-lived, so the scan is bounded.
  const messages: PersonalDataExport['messages'] = [];
  if (row.anonymised_at === null) {
    let after = 0;
    for (;;) {
      const m = await sql<{ id: string; to_enc: string; template: string; text_enc: string; status: string; created_at: Date; sent_at: Date | null }>`
        select id, to_enc, template, text_enc, status, created_at, sent_at from messages where id > ${after} order by id limit ${MESSAGE_SCAN_BATCH}`.execute(db);
      for (const msg of m.rows) {
        let to: string;
        try {
          to = cipher.decrypt(msg.to_enc);
        } catch {
          continue; // a message under a retired key cannot be read, and so cannot be this person's either way
        }
        if (to !== phone) continue;
        messages.push({ template: msg.template, status: msg.status, to, text: cipher.decrypt(msg.text_enc), createdAt: msg.created_at.toISOString(), sentAt: msg.sent_at?.toISOString() ?? null });
      }
      if (m.rows.length < MESSAGE_SCAN_BATCH) break;
      after = Number(m.rows[m.rows.length - 1]!.id);
    }
  }

  const t = totals.rows[0]!;
  const r = rech.rows[0]!;
  const out: PersonalDataExport = {
    format: EXPORT_FORMAT,
    generatedAt: now.toISOString(),
    customer: {
      id: Number(row.id),
      kind: row.kind,
      name: cipher.decrypt(row.name_enc),
      phone,
      idType: row.id_type,
      idNumber: cipher.decrypt(row.id_number_enc),
      realNameStatus: row.real_name_status,
      createdAt: row.created_at.toISOString(),
      anonymisedAt: row.anonymised_at?.toISOString() ?? null,
    },
    cards: cards.rows.map((c) => ({
      cardNo: c.card_no,
      kind: c.kind,
      status: c.status,
      masterCardNo: c.master_no,
      createdAt: c.created_at.toISOString(),
      lostAt: c.lost_at?.toISOString() ?? null,
      closedAt: c.closed_at?.toISOString() ?? null,
    })),
    sales: {
      count: t.n,
      amount: Number(t.amount ?? 0),
      volumeMl: Number(t.volume ?? 0),
      first: t.first?.toISOString() ?? null,
      last: t.last?.toISOString() ?? null,
      byStation: byStation.rows.map((s) => ({ stationId: Number(s.station_id), stationName: s.name, count: s.n, amount: Number(s.amount), last: s.last.toISOString() })),
    },
    recharges: { count: r.n, amount: Number(r.amount ?? 0), first: r.first?.toISOString() ?? null, last: r.last?.toISOString() ?? null },
    vehicles: vehicles.rows.map((v) => ({
      plate: v.plate,
      tankCapacityMl: Number(v.tank_capacity_ml),
      grades: v.grades,
      status: v.status,
      createdAt: v.created_at.toISOString(),
      retiredAt: v.retired_at?.toISOString() ?? null,
    })),
    consents: (await listConsents(db, customerId)).history,
    messages,
    portal: { hasAccount: portal.rows.length > 0, passwordSetAt: portal.rows[0]?.password_set_at.toISOString() ?? null },
  };
  await audit(db, actor, {
    action: 'privacy.export',
    targetType: 'customer',
    targetId: customerId,
    details: { fields: ['customers.name_enc', 'customers.phone_enc', 'customers.id_number_enc', 'cards.card_no', 'messages.to_enc', 'messages.text_enc', 'vehicles.plate'], cards: cards.rows.length, messages: messages.length },
  });
  return out;
}

// ── Anonymisation after closure (PIPL Art. 47) ─────────────────────────────────────────────────

export const DEFAULT_RETENTION_DAYS = 1095;
export const ANONYMISED_NAME = '已匿名';
export const ANONYMISED_PLATE = '已匿名****';

/** FUELCARD_PRIVACY_RETENTION_DAYS: days after the last card closed before the person is anonymised (1-36500, default 1095). */
export function privacyRetentionDays(env: Record<string, string | undefined> = process.env): number {
  const raw = env.FUELCARD_PRIVACY_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_RETENTION_DAYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 36500) throw new Error(`FUELCARD_PRIVACY_RETENTION_DAYS must be an integer 1..36500, got ${raw}`);
  return n;
}

/**
 * Customers due for anonymisation: not yet anonymised; every card they hold (and every sub card
 * of their master cards) closed or replaced, the last closed before the cutoff; no bank payout
 * still owed to them (it needs the payee). A customer who never got a card counts from registration.
 */
const due = (cutoff: Date, limit: number) => sql<{ id: string; phone_bidx: string }>`
  select cu.id, cu.phone_bidx from customers cu
  where cu.anonymised_at is null
    and cu.created_at < ${cutoff}
    and not exists (
      select 1 from cards c
      where (c.customer_id = cu.id or c.master_card_id in (select id from cards where customer_id = cu.id))
        and (c.status not in ('closed', 'replaced') or coalesce(c.closed_at, c.updated_at) >= ${cutoff}))
    and not exists (select 1 from payment_refunds p where p.customer_id = cu.id and p.status in ('requested', 'processing'))
  order by cu.id
  limit ${limit}
  for update of cu skip locked`;

/**
 * One pass of the anonymisation job: for each due customer, replace name, phone and ID number
 * with placeholder values (still valid ciphertext, so every reader keeps working), give the
 * blind indexes values nothing can match, drop the portal identity and alert settings, stamp
 * anonymised_at and audit it. Sales, recharges, the ledger and statements are not touched: they
 * keep the customer id and the masked card numbers (accounting law outranks deletion, Art. 47).
 * Batched, one transaction per batch, safe to run on several instances and to rerun.
 */
export async function anonymiseDueCustomers(
  deps: PrivacyDeps,
  opts: { retentionDays?: number; batchSize?: number; now?: Date } = {},
): Promise<{ anonymised: number }> {
  const days = opts.retentionDays ?? privacyRetentionDays();
  const batchSize = Math.min(Math.max(Math.trunc(opts.batchSize ?? 200), 1), 5000);
  const cutoff = new Date((opts.now ?? new Date()).getTime() - days * 86_400_000);
  const c = deps.cipher;
  let anonymised = 0;
  for (;;) {
    const n = await deps.db.transaction().execute(async (trx) => {
      const r = await due(cutoff, batchSize).execute(trx);
      for (const cu of r.rows) {
        const id = Number(cu.id);
        // The placeholders differ per customer: unique (id_type, id_number_bidx) must still hold.
        await sql`update customers set
            name_enc = ${c.encrypt(ANONYMISED_NAME)}, name_bidx = null,
            phone_enc = ${c.encrypt('')}, phone_bidx = ${`anonymised:${id}`},
            id_type = 'other', id_number_enc = ${c.encrypt('')}, id_number_bidx = ${`anonymised:${id}`},
            key_id = ${c.currentKeyId}, anonymised_at = now(), updated_at = now()
          where id = ${id}`.execute(trx);
        for (const table of ['portal_sessions', 'portal_codes', 'portal_login_failures', 'portal_card_alerts', 'portal_accounts'] as const) {
          await sql`delete from ${sql.table(table)} where phone_bidx = ${cu.phone_bidx}`.execute(trx);
        }
        // Alerts already sent are a record of delivery; the phone index on them is the only personal part.
        await sql`update portal_alerts_sent set phone_bidx = ${`anonymised:${id}`} where phone_bidx = ${cu.phone_bidx}`.execute(trx);
        // Every card is closed by now, so no vehicle is in service: retired, the plate replaced
        // (the column holds 7 or 8 characters; retired plates need not be unique).
        await sql`update vehicles set plate = ${ANONYMISED_PLATE}, status = 'retired', retired_at = coalesce(retired_at, now()), updated_at = now()
          where customer_id = ${id}`.execute(trx);
        await audit(trx, systemActor, { action: 'privacy.anonymise', targetType: 'customer', targetId: id, details: { retentionDays: days } });
      }
      return r.rows.length;
    });
    anonymised += n;
    if (n < batchSize) return { anonymised };
  }
}

/** Daily by default; first run right after start. Errors are logged, never thrown; a run still going is not doubled. */
export function startPrivacyJobs(
  input: { db: Db; config: Config; logger: Logger; cipher?: FieldCipher },
  opts: { everyMs?: number; retentionDays?: number } = {},
): () => void {
  const deps = { ...input, cipher: input.cipher ?? fieldCipherFor(input.config) };
  const retentionDays = opts.retentionDays ?? privacyRetentionDays();
  let running = false;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return;
    running = true;
    void anonymiseDueCustomers(deps, { retentionDays })
      .then((r) => {
        if (r.anonymised > 0) deps.logger.info({ anonymised: r.anonymised, retentionDays }, 'personal data anonymised after account closure');
      })
      .catch((err: unknown) => deps.logger.error({ err }, 'personal data anonymisation failed'))
      .finally(() => {
        running = false;
      });
  };
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, opts.everyMs ?? 86_400_000);
  first.unref();
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}
