import { sql } from 'kysely';
import type { Actor, Config, Db, Executor, FieldCipher, Role } from '../platform/index.js';
import { audit, blindIndex, maskIdNumber, maskName, maskPhone, maySeePersonalData, pgErrorCode, PgCode } from '../platform/index.js';
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
      const r = await sql<CustomerRow>`insert into customers (name_enc, phone_enc, phone_bidx, id_type, id_number_enc, id_number_bidx, key_id)
        values (${c.encrypt(name)}, ${c.encrypt(phone)}, ${blindIndex(deps.config.blindIndexKey, 'phone', phone)}, ${idType},
                ${c.encrypt(idNumber)}, ${blindIndex(deps.config.blindIndexKey, 'id_number', idNumber)}, ${c.currentKeyId})
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

/** Exact search on phone or ID number through the blind indexes; the database never sees them in clear. */
export async function findCustomers(
  deps: CustomerDeps,
  query: { phone?: string; idNumber?: string; idType?: IdType; limit: number; offset: number },
  role: Role | undefined,
): Promise<Customer[]> {
  const key = deps.config.blindIndexKey;
  const phoneIdx = query.phone ? blindIndex(key, 'phone', normalisePhone(query.phone)) : null;
  // An ID number is a number of one document type (resident ID card unless another is named).
  const idType = query.idNumber ? (query.idType ?? 'resident_id') : null;
  const idIdx = query.idNumber && idType ? blindIndex(key, 'id_number', normaliseIdNumber(idType, query.idNumber)) : null;
  const r = await sql<CustomerRow>`select * from customers
    where (${phoneIdx}::text is null or phone_bidx = ${phoneIdx})
      and (${idIdx}::text is null or (id_number_bidx = ${idIdx} and id_type = ${idType}))
    order by id desc limit ${query.limit} offset ${query.offset}`.execute(deps.db);
  return r.rows.map((row) => present(deps, row, role));
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
