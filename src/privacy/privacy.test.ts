import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardOp, expectApproved, issueCard, newCustomer, newStation, ok, recharge } from '../../test/support/cards-factory.js';
import { startTestServer, type ApiResponse, type TestServer } from '../../test/support/server.js';
import type { App, Role } from '../platform/index.js';
import { createHttp, createLogger } from '../platform/index.js';
import { cardholderAuthenticator } from '../portal/index.js';
import { customerWithPhone, phoneBidx, signIn } from '../portal/portal.fixtures.js';
import { staffAuthenticator } from '../staff/index.js';
import { terminalAuthenticator } from '../stations/index.js';
import { anonymiseDueCustomers, applyMask, NOT_PERSONAL, PERSONAL_DATA, privacyRetentionDays, privacyRoutes, showField } from './index.js';

/**
 * Columns whose names look like personal data. Deliberately broad: a false positive costs one line
 * in NOT_PERSONAL with its reason; a miss lets personal data in unregistered.
 */
const LOOKS_PERSONAL =
  /(^|_)(name|phone|mobile|tel|email|mail|address|addr|ip|plate|vehicle|driver|id_number|id_no|idcard|passport|birth|birthday|gender|sex|lat|lng|lon|gps|location|payer|payee|holder|card_no|contact|wechat|openid|person)(_|$)|_enc$|_bidx$/;

async function unregisteredPersonalColumns(server: TestServer): Promise<string[]> {
  const r = await sql<{ field: string }>`select table_name || '.' || column_name field from information_schema.columns
    where table_schema = 'public' order by 1`.execute(server.db.db);
  const registered = new Set(PERSONAL_DATA.flatMap((f) => (f.field.includes('+') ? [] : [f.field])));
  return r.rows.map((x) => x.field).filter((f) => LOOKS_PERSONAL.test(f.split('.')[1]!) && !registered.has(f) && !(f in NOT_PERSONAL));
}

let server: TestServer;
/** The privacy routes on an app of their own with the real authenticators (server.ts registers them in the product). */
let privacyApp: App;

async function papi(method: 'GET' | 'POST', url: string, opts: { role?: Role; token?: string; body?: unknown } = {}): Promise<ApiResponse> {
  const token = opts.token ?? server.tokens[opts.role ?? 'admin'];
  const res = await privacyApp.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(opts.body === undefined ? {} : { payload: opts.body as object }) });
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
  return { status: res.statusCode, body: res.body === '' ? null : res.json(), headers };
}

async function auditRows(action: string, targetType: string, targetId: string | number) {
  const r = await sql<{ actor_role: string; details: Record<string, unknown> }>`select actor_role, details from audit_log
    where action = ${action} and target_type = ${targetType} and target_id = ${String(targetId)} order by id`.execute(server.db.db);
  return r.rows;
}

beforeAll(async () => {
  server = await startTestServer();
  const d = server.deps;
  privacyApp = (
    await createHttp({
      logger: createLogger('silent'),
      staffAuth: staffAuthenticator(d.db),
      terminalAuth: terminalAuthenticator(d),
      cardholderAuth: cardholderAuthenticator(d.db),
    })
  ).app;
  privacyRoutes(privacyApp, d);
  await privacyApp.ready();
});

afterAll(async () => {
  await privacyApp?.close();
  await server?.close();
});

describe('register', () => {
  it('names every personal-looking column of the schema, or says why it is not personal', async () => {
    expect(await unregisteredPersonalColumns(server)).toEqual([]);
  });

  it('catches a personal column added without a register entry', async () => {
    await sql`create table privacy_probe (id int, driver_name text, plate_no text, note text)`.execute(server.db.db);
    try {
      expect(await unregisteredPersonalColumns(server)).toEqual(['privacy_probe.driver_name', 'privacy_probe.plate_no']);
    } finally {
      await sql`drop table privacy_probe`.execute(server.db.db);
    }
  });

  it('has no entry for a column that does not exist', async () => {
    const r = await sql<{ field: string }>`select table_name || '.' || column_name field from information_schema.columns where table_schema = 'public'`.execute(server.db.db);
    const columns = new Set(r.rows.map((x) => x.field));
    const fields = PERSONAL_DATA.flatMap((f) => {
      const [table, cols] = f.field.split('.') as [string, string];
      return cols.split('+').map((c) => `${table}.${c}`);
    });
    expect(fields.filter((f) => !columns.has(f))).toEqual([]);
    expect(Object.keys(NOT_PERSONAL).filter((f) => !columns.has(f))).toEqual([]);
    expect(new Set(PERSONAL_DATA.map((f) => f.field)).size).toBe(PERSONAL_DATA.length);
  });

  it('is served to admin and risk, refused to other staff and to anonymous callers', async () => {
    const r = ok(await papi('GET', '/api/v1/privacy/register', { role: 'risk' }), 200);
    const id = r.items.find((f: { field: string }) => f.field === 'customers.id_number_enc');
    expect(id).toMatchObject({ category: 'identity', sensitive: true, mask: 'id_6_4', legalBasis: 'legal_obligation' });
    expect(r.items).toHaveLength(PERSONAL_DATA.length);
    expect((await papi('GET', '/api/v1/privacy/register', { role: 'admin' })).status).toBe(200);
    for (const role of ['operator', 'finance', 'station_staff', 'enterprise_admin'] as const) {
      expect((await papi('GET', '/api/v1/privacy/register', { role })).status).toBe(403);
    }
    expect((await papi('GET', '/api/v1/privacy/register', { token: 'not-a-token' })).status).toBe(401);
  });
});

describe('masking rules', () => {
  it('masks ID numbers and card numbers to first 6 and last 4, phones to 3 and 4', () => {
    expect(applyMask('id_6_4', '11010519491231002X')).toBe('110105********002X');
    expect(applyMask('card_6_4', '6214830012345678901')).toBe('621483*********8901');
    expect(applyMask('phone_3_4', '13912345678')).toBe('139****5678');
    expect(applyMask('name_first_char', '张三丰')).toBe('张**');
    expect(applyMask('account_4_4', '6222 0012 3456 7890')).toBe('6222****7890');
    expect(applyMask('never_shown', 'abc')).toBe('****');
  });

  it('shows a field in clear only to the roles the register names', () => {
    expect(showField('customers.id_number_enc', '11010519491231002X', 'risk')).toBe('11010519491231002X');
    expect(showField('customers.id_number_enc', '11010519491231002X', 'finance')).toBe('110105********002X');
    expect(showField('customers.id_number_enc', '11010519491231002X', undefined)).toBe('110105********002X');
    expect(showField('cards.card_no', '6214830012345678901', 'station_staff')).toBe('6214830012345678901');
    expect(showField('cards.card_no', '6214830012345678901', 'finance')).toBe('621483*********8901');
    expect(() => showField('customers.nickname', 'x', 'admin')).toThrow(/not in the personal-data register/);
  });
});

describe('every view of unmasked data is audited', () => {
  it('customer detail: a row for roles that see it in clear, none for masked views', async () => {
    const c = await newCustomer(server);
    ok(await server.api('GET', `/api/v1/customers/${c.id}`, { role: 'finance' }), 200);
    expect(await auditRows('privacy.view_unmasked', 'customer', c.id)).toEqual([]);
    const seen = ok(await server.api('GET', `/api/v1/customers/${c.id}`, { role: 'risk' }), 200);
    expect(seen.masked).toBe(false);
    const rows = await auditRows('privacy.view_unmasked', 'customer', c.id);
    expect(rows).toEqual([{ actor_role: 'risk', details: { fields: ['customers.name_enc', 'customers.phone_enc', 'customers.id_number_enc'], route: 'GET /api/v1/customers/:id' } }]);
  });

  it('customer search: one row naming every customer shown in clear', async () => {
    const c = await newCustomer(server);
    const found = ok(await server.api('GET', `/api/v1/customers?phone=${c.phone}`, { role: 'operator' }), 200);
    expect(found.items.map((x: { id: number }) => x.id)).toEqual([c.id]);
    const rows = await auditRows('privacy.view_unmasked', 'customer', c.id);
    expect(rows.map((r) => r.details)).toEqual([{ fields: ['customers.name_enc', 'customers.phone_enc', 'customers.id_number_enc'], route: 'GET /api/v1/customers', targets: [c.id] }]);
  });

  it("a customer's cards and a sale with the full card number", async () => {
    const card = await issueCard(server, { funds: 10_000 });
    ok(await server.api('GET', `/api/v1/cards?customerId=${card.customerId}`, { role: 'finance' }), 200);
    expect(await auditRows('privacy.view_unmasked', 'customer', card.customerId)).toEqual([]);
    ok(await server.api('GET', `/api/v1/cards?customerId=${card.customerId}`, { role: 'station_staff' }), 200);
    expect((await auditRows('privacy.view_unmasked', 'customer', card.customerId)).map((r) => r.details.fields)).toEqual([['cards.card_no']]);

    const { terminal } = await newStation(server);
    const sale = await expectApproved(server, terminal, card.cardNo, 1000);
    const masked = ok(await server.api('GET', `/api/v1/sales/${sale.saleId}`, { role: 'finance' }), 200);
    expect(masked.cardNo).toContain('*');
    expect(await auditRows('privacy.view_unmasked', 'sale', sale.saleId)).toEqual([]);
    const full = ok(await server.api('GET', `/api/v1/sales/${sale.saleId}`, { role: 'admin' }), 200);
    expect(full.cardNo).toBe(card.cardNo);
    expect(await auditRows('privacy.view_unmasked', 'sale', sale.saleId)).toHaveLength(1);
    expect((await server.verify()).ok).toBe(true);
  });
});

describe('consent', () => {
  it('records grants and withdrawals as history, audited', async () => {
    const c = await newCustomer(server);
    const url = `/api/v1/customers/${c.id}/consents`;
    const g = ok(await papi('POST', url, { role: 'operator', body: { purpose: 'marketing', version: '2026-01', granted: true, channel: 'counter', evidence: '纸质同意书 A-0001' } }), 201);
    expect(g).toMatchObject({ purpose: 'marketing', version: '2026-01', granted: true, channel: 'counter', evidence: '纸质同意书 A-0001' });
    ok(await papi('POST', url, { role: 'operator', body: { purpose: 'location', version: '2026-01', granted: true, channel: 'counter' } }), 201);
    ok(await papi('POST', url, { role: 'admin', body: { purpose: 'marketing', version: '2026-01', granted: false, channel: 'phone' } }), 201);

    const state = ok(await papi('GET', url, { role: 'finance' }), 200);
    expect(state.history).toHaveLength(3);
    expect(Object.fromEntries(state.current.map((x: { purpose: string; granted: boolean }) => [x.purpose, x.granted]))).toEqual({ marketing: false, location: true });
    const actions = await sql<{ action: string }>`select action from audit_log where target_type = 'customer' and target_id = ${String(c.id)}
      and action like 'privacy.consent%' order by id`.execute(server.db.db);
    expect(actions.rows.map((r) => r.action)).toEqual(['privacy.consent_grant', 'privacy.consent_grant', 'privacy.consent_withdraw']);
  });

  it('refuses a withdrawal of nothing, unknown customers, bad input and roles without the right', async () => {
    const c = await newCustomer(server);
    const url = `/api/v1/customers/${c.id}/consents`;
    const withdraw = { purpose: 'marketing', version: '1', granted: false, channel: 'counter' };
    const r = await papi('POST', url, { role: 'admin', body: withdraw });
    expect([r.status, r.body.error.code]).toEqual([409, 'PRIVACY_CONSENT_NOT_GRANTED']);
    const nf = await papi('POST', '/api/v1/customers/999999999/consents', { role: 'admin', body: { ...withdraw, granted: true } });
    expect([nf.status, nf.body.error.code]).toEqual([404, 'PRIVACY_CUSTOMER_NOT_FOUND']);
    expect((await papi('GET', '/api/v1/customers/999999999/consents', { role: 'admin' })).body.error.code).toBe('PRIVACY_CUSTOMER_NOT_FOUND');
    for (const body of [{ ...withdraw, purpose: 'spam' }, { ...withdraw, version: 'a b' }, { ...withdraw, channel: 'portal' }, { ...withdraw, extra: 1 }, {}]) {
      const bad = await papi('POST', url, { role: 'admin', body });
      expect(bad.status).toBe(400);
    }
    expect((await papi('POST', url, { role: 'finance', body: { ...withdraw, granted: true } })).status).toBe(403);
    expect((await papi('POST', url, { role: 'station_staff', body: { ...withdraw, granted: true } })).status).toBe(403);
  });

  it('the cardholder grants and withdraws their own consents in the portal', async () => {
    const me = await customerWithPhone(server);
    const other = await newCustomer(server);
    ok(await papi('POST', `/api/v1/customers/${other.id}/consents`, { role: 'admin', body: { purpose: 'terms', version: '1', granted: true, channel: 'paper' } }), 201);
    const token = await signIn(server, me.phone);
    const g = ok(await papi('POST', '/api/v1/portal/consents', { token, body: { purpose: 'location', version: '2026-02', granted: true } }), 201);
    expect(g).toMatchObject({ purpose: 'location', channel: 'portal', staffId: null });
    ok(await papi('POST', '/api/v1/portal/consents', { token, body: { purpose: 'location', version: '2026-02', granted: false } }), 201);
    const mine = ok(await papi('GET', '/api/v1/portal/consents', { token }), 200);
    expect(mine.history.map((x: { purpose: string; granted: boolean }) => [x.purpose, x.granted])).toEqual([
      ['location', false],
      ['location', true],
    ]);
    // A staff token is not a cardholder session.
    expect((await papi('GET', '/api/v1/portal/consents', { role: 'admin' })).status).toBe(401);
    const audited = await sql<{ actor_role: string }>`select actor_role from audit_log where action like 'privacy.consent%' and target_id = ${String(me.id)}`.execute(server.db.db);
    expect(audited.rows.map((r) => r.actor_role)).toEqual(['cardholder', 'cardholder']);
  });
});

describe('export of a person’s data', () => {
  it('returns everything held about the person, in clear, and audits it', async () => {
    const me = await customerWithPhone(server, undefined, '赵敏');
    const card = await issueCard(server, { customerId: me.id, funds: 20_000 });
    await recharge(server, card.cardNo, 5_000);
    const { stationId, terminal } = await newStation(server);
    await expectApproved(server, terminal, card.cardNo, 3_000);
    await expectApproved(server, terminal, card.cardNo, 2_000);
    ok(await papi('POST', `/api/v1/customers/${me.id}/consents`, { role: 'operator', body: { purpose: 'terms', version: '1', granted: true, channel: 'counter' } }), 201);
    await signIn(server, me.phone);
    const someoneElse = await issueCard(server, { funds: 1_000 });
    await expectApproved(server, terminal, someoneElse.cardNo, 500);
    await sql`insert into vehicles (customer_id, plate, tank_capacity_ml, grades) values (${me.id}, '沪A66666', 55000, ${['92#', '95#']}), (${someoneElse.customerId}, '沪A77777', 55000, ${['92#']})`.execute(server.db.db);

    const x = ok(await papi('GET', `/api/v1/customers/${me.id}/personal-data`, { role: 'operator' }), 200);
    expect(x.format).toBe('fuelcard.personal-data/v1');
    expect(x.customer).toMatchObject({ id: me.id, name: '赵敏', phone: me.phone, idType: 'passport', anonymisedAt: null });
    expect(x.customer.idNumber).not.toContain('*');
    expect(x.cards.map((c: { cardNo: string }) => c.cardNo)).toEqual([card.cardNo]);
    expect(x.sales).toMatchObject({ count: 2, amount: 5_000, volumeMl: 5_000 });
    expect(x.sales.byStation).toEqual([expect.objectContaining({ stationId, count: 2, amount: 5_000 })]);
    expect(x.recharges).toMatchObject({ count: 2, amount: 25_000 });
    expect(x.consents.map((c: { purpose: string }) => c.purpose)).toEqual(['terms']);
    expect(x.messages.length).toBeGreaterThan(0);
    expect(x.messages.every((m: { to: string }) => m.to === me.phone)).toBe(true);
    expect(x.messages.some((m: { template: string }) => m.template === 'portal.code')).toBe(true);
    expect(x.portal.hasAccount).toBe(true);
    expect(x.vehicles).toEqual([{ plate: '沪A66666', tankCapacityMl: 55000, grades: ['92#', '95#'], status: 'active', createdAt: expect.any(String), retiredAt: null }]);

    const rows = await auditRows('privacy.export', 'customer', me.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor_role).toBe('operator');
    expect((await server.verify()).ok).toBe(true);
  });

  it('is refused to roles without personal-data rights and answers 404 for an unknown customer', async () => {
    const c = await newCustomer(server);
    for (const role of ['finance', 'risk', 'station_staff', 'enterprise_admin'] as const) {
      expect((await papi('GET', `/api/v1/customers/${c.id}/personal-data`, { role })).status).toBe(403);
    }
    expect(await auditRows('privacy.export', 'customer', c.id)).toEqual([]);
    const nf = await papi('GET', '/api/v1/customers/999999999/personal-data', { role: 'admin' });
    expect([nf.status, nf.body.error.code]).toEqual([404, 'PRIVACY_CUSTOMER_NOT_FOUND']);
  });
});

describe('anonymisation after closure', () => {
  it('reads the retention period from the environment', () => {
    expect(privacyRetentionDays({})).toBe(1095);
    expect(privacyRetentionDays({ FUELCARD_PRIVACY_RETENTION_DAYS: '30' })).toBe(30);
    expect(() => privacyRetentionDays({ FUELCARD_PRIVACY_RETENTION_DAYS: '0' })).toThrow(/FUELCARD_PRIVACY_RETENTION_DAYS/);
    expect(() => privacyRetentionDays({ FUELCARD_PRIVACY_RETENTION_DAYS: '3y' })).toThrow(/FUELCARD_PRIVACY_RETENTION_DAYS/);
  });

  it('anonymises people whose cards all closed longer ago than the retention period, keeps the financial records, once', async () => {
    const { terminal } = await newStation(server);
    // Two closed customers (two batches of one), one with a card still open.
    const closed = [];
    for (const name of ['钱一', '孙二']) {
      const who = await customerWithPhone(server, undefined, name);
      const card = await issueCard(server, { customerId: who.id, funds: 10_000 });
      await expectApproved(server, terminal, card.cardNo, 4_000);
      ok(await cardOp(server, card.cardNo, 'close', { refundMethod: 'cash' }), 200);
      closed.push({ ...who, cardNo: card.cardNo });
    }
    await signIn(server, closed[0]!.phone);
    expect((await sql`select 1 from portal_accounts where phone_bidx = ${phoneBidx(server, closed[0]!.phone)}`.execute(server.db.db)).rows).toHaveLength(1);
    ok(await papi('POST', `/api/v1/customers/${closed[0]!.id}/consents`, { role: 'admin', body: { purpose: 'terms', version: '1', granted: true, channel: 'counter' } }), 201);
    const open = await issueCard(server, { funds: 1_000 });
    const ids = [...closed.map((c) => c.id), open.customerId];
    await sql`insert into vehicles (customer_id, plate, tank_capacity_ml, grades) values (${closed[0]!.id}, '沪A12345', 60000, ${['92#']}), (${open.customerId}, '沪B54321', 60000, ${['92#']})`.execute(server.db.db);
    const plates = async () =>
      (await sql<{ plate: string; status: string }>`select plate, status from vehicles where customer_id = any(${ids}::bigint[]) order by customer_id`.execute(server.db.db)).rows;

    const financial = async () =>
      (
        await sql`select s.id, s.card_id, s.card_no_masked, s.amount, s.station_id, s.created_at from sales s join cards c on c.id = s.card_id
          where c.customer_id = any(${ids}::bigint[]) order by s.id`.execute(server.db.db)
      ).rows;
    const recharges = async () =>
      (await sql`select r.* from recharges r join cards c on c.id = r.card_id where c.customer_id = any(${ids}::bigint[]) order by r.id`.execute(server.db.db)).rows;
    const before = { sales: await financial(), recharges: await recharges() };
    expect(before.sales).toHaveLength(2);

    // Not yet due: the cards closed today.
    await anonymiseDueCustomers(server.deps, { retentionDays: 1095 });
    const state = async () =>
      (await sql<{ id: string; anonymised_at: Date | null }>`select id, anonymised_at from customers where id = any(${ids}::bigint[]) order by id`.execute(server.db.db)).rows.map(
        (r) => r.anonymised_at !== null,
      );
    expect(await state()).toEqual([false, false, false]);

    const later = new Date(Date.now() + 1096 * 86_400_000);
    await anonymiseDueCustomers(server.deps, { retentionDays: 1095, now: later, batchSize: 1 });
    expect(await state()).toEqual([true, true, false]);
    expect(await plates()).toEqual([{ plate: '已匿名****', status: 'retired' }, { plate: '沪B54321', status: 'active' }]);

    const shown = ok(await server.api('GET', `/api/v1/customers/${closed[0]!.id}`, { role: 'admin' }), 200);
    expect(shown).toMatchObject({ name: '已匿名', phone: '', idNumber: '', idType: 'other' });
    // The person can no longer be found by phone, nor sign in to the portal.
    const byPhone = ok(await server.api('GET', `/api/v1/customers?phone=${closed[0]!.phone}`), 200);
    expect(byPhone.items).toEqual([]);
    for (const table of ['portal_accounts', 'portal_sessions', 'portal_codes'] as const) {
      const left = await sql`select 1 from ${sql.table(table)} where phone_bidx = ${phoneBidx(server, closed[0]!.phone)}`.execute(server.db.db);
      expect(left.rows, table).toEqual([]);
    }
    const login = await server.api('POST', '/api/v1/portal/auth/login', { role: null, body: { phone: closed[0]!.phone, password: 'portal-pass-1' } });
    expect(login.status).toBeGreaterThanOrEqual(400);

    // Financial records untouched; the consent history stays as proof.
    expect({ sales: await financial(), recharges: await recharges() }).toEqual(before);
    expect((await papi('GET', `/api/v1/customers/${closed[0]!.id}/consents`)).body.history).toHaveLength(1);
    const refused = await papi('POST', `/api/v1/customers/${closed[0]!.id}/consents`, { body: { purpose: 'marketing', version: '1', granted: true, channel: 'counter' } });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'PRIVACY_CUSTOMER_ANONYMISED']);
    const x = ok(await papi('GET', `/api/v1/customers/${closed[0]!.id}/personal-data`), 200);
    expect(x.customer.anonymisedAt).not.toBeNull();
    expect(x.sales.count).toBe(1);

    // Idempotent: a second run changes nothing for them.
    await anonymiseDueCustomers(server.deps, { retentionDays: 1095, now: later });
    for (const c of closed) expect(await auditRows('privacy.anonymise', 'customer', c.id)).toHaveLength(1);
    expect(await auditRows('privacy.anonymise', 'customer', open.customerId)).toEqual([]);
    expect((await server.verify()).ok).toBe(true);
  });
});
