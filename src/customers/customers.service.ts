import { sql } from 'kysely';
import type { Actor, Config, Db, Executor, FieldCipher, Role } from '../platform/index.js';
import { audit, blindIndexCandidates, configBlindIndex, configBlindIndexTag, maskIdNumber, maskName, maskPhone, maySeePersonalData, pgErrorCode, PgCode, platformError } from '../platform/index.js';
import { customersError } from './customers.errors.js';

export const ID_TYPES = ['resident_id', 'passport', 'hk_macau_permit', 'taiwan_permit', 'foreign_permanent', 'other'] as const;
export type IdType = (typeof ID_TYPES)[number];

export interface Customer {
  id: number;
  kind: 'individual';
  name: string;
  phone: string;
  idType: IdType;
  idNumber: string;
  realNameStatus: 'unverified' | 'verified' | 'rejected';
  /** True when name, phone and ID number are shown masked to this caller. */
  masked: boolean;
  createdAt: string;
}

type CustomerRow = {
  id: number;
  name_enc: string;
  phone_enc: string;
  id_type: IdType;
  id_number_enc: string;
  real_name_status: Customer['realNameStatus'];
  created_at: Date;
};

export interface CustomerDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
}

export function normalisePhone(phone: string): string {
  const p = phone.replace(/[\s-]/g, '').replace(/^\+?86/, '');
  if (!/^1[3-9]\d{9}$/.test(p)) throw customersError('CUSTOMER_PHONE_INVALID', { field: 'phone' });
  return p;
}

/**
 * The form of a name its blind index is computed from, so the same person typed a little
 * differently still matches: Unicode NFKC (full-width letters and spaces from Chinese input
 * methods become their ordinary forms), the interpunct of transliterated names (·) in one form,
 * runs of spaces collapsed, Latin letters in lower case. It is still an exact full-name match.
 */
export function normaliseName(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\u2022\u2027\u30fb\uff65\u2219]/g, '\u00b7')
    .replace(/\s*\u00b7\s*/g, '\u00b7')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

function nameIndex(deps: CustomerDeps, name: string): string {
  return configBlindIndex(deps.config, 'name', normaliseName(name));
}

export function normaliseIdNumber(idType: IdType, idNumber: string): string {
  const v = idNumber.trim().toUpperCase();
  const ok = idType === 'resident_id' ? /^\d{17}[\dX]$/.test(v) : /^[A-Z0-9]{5,20}$/.test(v);
  if (!ok) throw customersError('CUSTOMER_ID_NUMBER_INVALID', { field: 'idNumber' });
  return v;
}

function present(deps: CustomerDeps, row: CustomerRow, role: Role | undefined): Customer {
  const name = deps.cipher.decrypt(row.name_enc);
  const phone = deps.cipher.decrypt(row.phone_enc);
  const idNumber = deps.cipher.decrypt(row.id_number_enc);
  const clear = maySeePersonalData(role);
  return {
    id: row.id,
    kind: 'individual',
    name: clear ? name : maskName(name),
    phone: clear ? phone : maskPhone(phone),
    idType: row.id_type,
    idNumber: clear ? idNumber : maskIdNumber(idNumber),
    realNameStatus: row.real_name_status,
    masked: !clear,
    createdAt: row.created_at.toISOString(),
  };
}

export async function createCustomer(
  deps: CustomerDeps,
  actor: Actor,
  input: { name: string; phone: string; idType?: IdType; idNumber: string },
): Promise<Customer> {
  const idType = input.idType ?? 'resident_id';
  const phone = normalisePhone(input.phone);
  const idNumber = normaliseIdNumber(idType, input.idNumber);
  const name = input.name.trim();
  const c = deps.cipher;
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const r = await sql<CustomerRow>`insert into customers (name_enc, name_bidx, phone_enc, phone_bidx, id_type, id_number_enc, id_number_bidx, key_id, bidx_key)
        values (${c.encrypt(name)}, ${nameIndex(deps, name)}, ${c.encrypt(phone)}, ${configBlindIndex(deps.config, 'phone', phone)}, ${idType},
                ${c.encrypt(idNumber)}, ${configBlindIndex(deps.config, 'id_number', idNumber)}, ${c.currentKeyId}, ${configBlindIndexTag(deps.config)})
        returning *`.execute(trx);
      const row = r.rows[0]!;
      await audit(trx, actor, { action: 'customer.create', targetType: 'customer', targetId: row.id });
      return present(deps, row, actor.role === 'system' || actor.role === 'terminal' ? undefined : actor.role);
    });
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation) throw customersError('CUSTOMER_ID_NUMBER_TAKEN', { field: 'idNumber' });
    throw err;
  }
}

export async function getCustomer(deps: CustomerDeps, db: Executor, id: number, role: Role | undefined): Promise<Customer> {
  const r = await sql<CustomerRow>`select * from customers where id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) throw customersError('CUSTOMER_NOT_FOUND', { customerId: id });
  return present(deps, row, role);
}

export interface CustomerQuery {
  name?: string;
  phone?: string;
  idNumber?: string;
  idType?: IdType;
  /** The customer holding this card (a sub card: its master's customer). */
  cardNo?: string;
  limit: number;
  offset: number;
}

/**
 * Exact search on name, phone or ID number through the blind indexes (the database never sees
 * them in clear), or by card number; filters combine. No filter lists every customer. Newest
 * first either way, with the total for paging.
 */
export async function findCustomers(deps: CustomerDeps, query: CustomerQuery, role: Role | undefined): Promise<{ items: Customer[]; total: number }> {
  // Every index the value may have while a blind-index rotation runs: found before and after the job.
  const candidates = (domain: string, value: string) => blindIndexCandidates(deps.config, domain, value);
  let nameIdx: string[] | null = null;
  if (query.name !== undefined) {
    if (normaliseName(query.name) === '') throw platformError('VALIDATION_FAILED', { field: 'querystring.name', reason: 'empty name' });
    nameIdx = candidates('name', normaliseName(query.name));
  }
  const phoneIdx = query.phone ? candidates('phone', normalisePhone(query.phone)) : null;
  // An ID number is a number of one document type (resident ID card unless another is named).
  const idType = query.idNumber ? (query.idType ?? 'resident_id') : null;
  const idIdx = query.idNumber && idType ? candidates('id_number', normaliseIdNumber(idType, query.idNumber)) : null;
  const cardNo = query.cardNo ?? null;
  // cards depends on customers (a card names its customer), so importing cards here would be a
  // cycle: the card's holder is read straight from the card row, a read-only lookup by its key.
  const where = sql`(${nameIdx}::text[] is null or name_bidx = any(${nameIdx}::text[]))
      and (${phoneIdx}::text[] is null or phone_bidx = any(${phoneIdx}::text[]))
      and (${idIdx}::text[] is null or (id_number_bidx = any(${idIdx}::text[]) and id_type = ${idType}))
      and (${cardNo}::text is null or id = (
        select coalesce(c.customer_id, m.customer_id) from cards c left join cards m on m.id = c.master_card_id where c.card_no = ${cardNo}))`;
  const r = await sql<CustomerRow>`select * from customers where ${where}
    order by id desc limit ${query.limit} offset ${query.offset}`.execute(deps.db);
  // Counting costs a second index scan (or, unfiltered, a table scan): skip it when the page
  // already shows the whole result.
  let total = query.offset + r.rows.length;
  if (r.rows.length === query.limit || (r.rows.length === 0 && query.offset > 0)) {
    const t = await sql<{ n: number }>`select count(*)::int n from customers where ${where}`.execute(deps.db);
    total = t.rows[0]?.n ?? total;
  }
  return { items: r.rows.map((row) => present(deps, row, role)), total };
}

/**
 * Fills the name index of customers written before it existed (migration 011), a batch per
 * transaction, in id order. Safe to run on several instances at once (rows another instance is
 * filling are skipped) and again after an interruption. A row whose data key is not configured
 * cannot be read and is left unfilled (counted in `unreadable`) rather than stopping the rest.
 */
export async function backfillCustomerNameIndex(
  deps: CustomerDeps,
  opts: { batchSize?: number } = {},
): Promise<{ filled: number; unreadable: number }> {
  const batchSize = Math.min(Math.max(Math.trunc(opts.batchSize ?? 500), 1), 5000);
  let filled = 0;
  let unreadable = 0;
  let after = 0;
  for (;;) {
    const seen = await deps.db.transaction().execute(async (trx) => {
      const r = await sql<{ id: number; name_enc: string }>`select id, name_enc from customers where name_bidx is null and id > ${after}
        order by id limit ${batchSize} for update skip locked`.execute(trx);
      const ids: number[] = [];
      const idx: string[] = [];
      for (const row of r.rows) {
        try {
          idx.push(nameIndex(deps, deps.cipher.decrypt(row.name_enc)));
          ids.push(row.id);
        } catch {
          unreadable++;
        }
      }
      if (ids.length > 0) {
        await sql`update customers c set name_bidx = v.idx from unnest(${ids}::bigint[], ${idx}::text[]) as v(id, idx)
          where c.id = v.id and c.name_bidx is null`.execute(trx);
      }
      filled += ids.length;
      return r.rows;
    });
    if (seen.length < batchSize) return { filled, unreadable };
    after = Number(seen[seen.length - 1]!.id);
  }
}

export async function setRealNameStatus(deps: CustomerDeps, actor: Actor, id: number, status: 'verified' | 'rejected'): Promise<Customer> {
  return deps.db.transaction().execute(async (trx) => {
    const r = await sql<CustomerRow>`update customers set real_name_status = ${status}, updated_at = now() where id = ${id} returning *`.execute(trx);
    const row = r.rows[0];
    if (!row) throw customersError('CUSTOMER_NOT_FOUND', { customerId: id });
    await audit(trx, actor, { action: `customer.real_name_${status}`, targetType: 'customer', targetId: id });
    return present(deps, row, actor.role === 'system' || actor.role === 'terminal' ? undefined : actor.role);
  });
}

export async function customerExists(db: Executor, id: number): Promise<boolean> {
  const r = await sql`select 1 from customers where id = ${id}`.execute(db);
  return r.rows.length > 0;
}
