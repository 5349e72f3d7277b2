import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, issueCard, newPhone, newResidentId, ok } from '../../test/support/cards-factory.js';
import type { Role } from '../platform/index.js';
import { backfillCustomerNameIndex, normaliseName } from './index.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

// newResidentId alone has 1,000 numbers per birth date: this file creates enough customers that
// two would often share one (409 CUSTOMER_ID_NUMBER_TAKEN). A random birth date spreads them.
const birth = () => `${randomInt(1950, 2000)}${String(randomInt(1, 13)).padStart(2, '0')}${String(randomInt(1, 29)).padStart(2, '0')}`;
const create = async (name: string, over: Record<string, unknown> = {}) =>
  ok(await server.api('POST', '/api/v1/customers', { body: { name, phone: newPhone(), idType: 'resident_id', idNumber: newResidentId(birth()), ...over } }), 201);
const search = async (query: string, role: Role = 'admin') => ok(await server.api('GET', `/api/v1/customers?${query}`, { role }), 200, query);
const ids = (r: { items: Array<{ id: number }> }) => r.items.map((c) => c.id);

describe('name normalisation', () => {
  it.each([
    ['  张三 ', '张三'],
    ['张\u3000三', '张 三'],
    ['Ｊｏｈｎ  SMITH', 'john smith'],
    ['阿依古丽・买买提', '阿依古丽·买买提'],
    ['阿依古丽 • 买买提', '阿依古丽·买买提'],
  ])('%j becomes %j', (typed, normal) => {
    expect(normaliseName(typed)).toBe(normal);
  });
});

describe('search by name', () => {
  it('finds every customer with that exact full name, newest first, however it was typed', async () => {
    const a = await create('欧阳修');
    const b = await create(' 欧阳修 ');
    const other = await create('欧阳修远');
    const found = await search(`name=${encodeURIComponent('欧阳修')}`);
    expect(ids(found)).toEqual([b.id, a.id]);
    expect(found.total).toBe(2);
    // Exact, not a prefix or a part of the name.
    expect(ids(await search(`name=${encodeURIComponent('欧阳')}`))).toEqual([]);
    expect(ids(await search(`name=${encodeURIComponent('欧阳修远')}`))).toEqual([other.id]);
    // Full-width spaces and letters from a Chinese input method still match.
    const latin = await create('Li Lei');
    expect(ids(await search(`name=${encodeURIComponent('ＬＩ\u3000lei')}`))).toEqual([latin.id]);
  });

  it('combines with the other filters', async () => {
    const phone = newPhone();
    const a = await create('司马光', { phone });
    await create('司马光');
    await create('司马迁', { phone });
    expect(ids(await search(`name=${encodeURIComponent('司马光')}&phone=${phone}`))).toEqual([a.id]);
  });

  it('keeps masking per role, and stores only a keyed index of the name', async () => {
    const c = await create('诸葛亮');
    for (const role of ['finance', 'station_staff'] as const) {
      const r = await search(`name=${encodeURIComponent('诸葛亮')}`, role);
      expect(r.items.find((x: { id: number }) => x.id === c.id)).toMatchObject({ name: '诸**', masked: true });
    }
    expect((await search(`name=${encodeURIComponent('诸葛亮')}`, 'risk')).items[0]).toMatchObject({ name: '诸葛亮', masked: false });
    const row = (await sql<{ name_bidx: string }>`select name_bidx from customers where id = ${c.id}`.execute(server.db.db)).rows[0]!;
    expect(row.name_bidx).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(row.name_bidx).not.toContain('诸葛');
    expectError(await server.api('GET', `/api/v1/customers?name=${encodeURIComponent('诸葛亮')}`, { role: 'cardholder' }), 403, 'FORBIDDEN');
  });

  it('refuses an empty or blank name', async () => {
    expectError(await server.api('GET', '/api/v1/customers?name='), 400, 'VALIDATION_FAILED');
    const blank = await server.api('GET', `/api/v1/customers?name=${encodeURIComponent('\u3000 ')}`);
    expectError(blank, 400, 'VALIDATION_FAILED');
    expect(blank.body.error.details.field).toContain('name');
    expectError(await server.api('GET', `/api/v1/customers?name=${'长'.repeat(51)}`), 400, 'VALIDATION_FAILED');
  });
});

describe('name index backfill', () => {
  it('fills customers written before the index existed, in batches, so name search finds them', async () => {
    const old = [await create('东方不败'), await create('东方不败'), await create('令狐冲'), await create('任盈盈'), await create('岳灵珊')];
    await sql`update customers set name_bidx = null where id = any(${old.map((c) => c.id)}::bigint[])`.execute(server.db.db);
    expect(ids(await search(`name=${encodeURIComponent('东方不败')}`))).toEqual([]);

    const result = await backfillCustomerNameIndex(server.deps, { batchSize: 2 });
    expect(result).toEqual({ filled: old.length, unreadable: 0 });
    expect(ids(await search(`name=${encodeURIComponent('东方不败')}`))).toEqual([old[1]!.id, old[0]!.id]);
    expect(ids(await search(`name=${encodeURIComponent('岳灵珊')}`))).toEqual([old[4]!.id]);
    // Nothing left: a second run (the next server start) does nothing.
    expect(await backfillCustomerNameIndex(server.deps)).toEqual({ filled: 0, unreadable: 0 });
  });

  it('gives a backfilled row the same index a new write gives, and skips a row it cannot decrypt', async () => {
    const fresh = await create('林平之');
    const before = (await sql<{ name_bidx: string }>`select name_bidx from customers where id = ${fresh.id}`.execute(server.db.db)).rows[0]!.name_bidx;
    await sql`update customers set name_bidx = null where id = ${fresh.id}`.execute(server.db.db);
    // A row written under a data key this server does not have.
    const bad = await create('曲洋');
    await sql`update customers set name_bidx = null, name_enc = 'v1.gone.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA' where id = ${bad.id}`.execute(server.db.db);
    try {
      expect(await backfillCustomerNameIndex(server.deps, { batchSize: 1 })).toEqual({ filled: 1, unreadable: 1 });
      const after = (await sql<{ name_bidx: string }>`select name_bidx from customers where id = ${fresh.id}`.execute(server.db.db)).rows[0]!.name_bidx;
      expect(after).toBe(before);
    } finally {
      await sql`delete from customers where id = ${bad.id}`.execute(server.db.db);
    }
  });
});

describe('search by card number', () => {
  it('finds the holder of a personal or master card, the fleet customer of a sub card, nobody for an anonymous card', async () => {
    const holder = await create('黄药师');
    const personal = await issueCard(server, { customerId: holder.id });
    expect(ids(await search(`cardNo=${personal.cardNo}`))).toEqual([holder.id]);

    const fleet = await create('桃花岛物流有限公司', { idType: 'other', idNumber: 'TH20240001' });
    const master = await issueCard(server, { kind: 'master', customerId: fleet.id });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    expect(ids(await search(`cardNo=${master.cardNo}`))).toEqual([fleet.id]);
    expect(ids(await search(`cardNo=${sub.cardNo}`))).toEqual([fleet.id]);

    const anonymous = await issueCard(server, { kind: 'anonymous' });
    expect(await search(`cardNo=${anonymous.cardNo}`)).toEqual({ items: [], total: 0 });
    expect(ids(await search(`cardNo=${'9'.repeat(19)}`))).toEqual([]);
    // Combined with a name that is not the holder's: nothing.
    expect(ids(await search(`cardNo=${personal.cardNo}&name=${encodeURIComponent('欧阳锋')}`))).toEqual([]);
  });

  it('keeps masking per role', async () => {
    const holder = await create('周伯通', { phone: '13812345678' });
    const card = await issueCard(server, { customerId: holder.id });
    expect((await search(`cardNo=${card.cardNo}`, 'station_staff')).items).toEqual([expect.objectContaining({ id: holder.id, name: '周**', phone: '138****5678', masked: true })]);
    expect((await search(`cardNo=${card.cardNo}`, 'operator')).items).toEqual([expect.objectContaining({ id: holder.id, name: '周伯通', phone: '13812345678', masked: false })]);
  });

  it.each(['123', '12345678901234567890', '900001000000000000X'])('refuses card number %s with VALIDATION_FAILED', async (cardNo) => {
    const r = await server.api('GET', `/api/v1/customers?cardNo=${cardNo}`);
    expectError(r, 400, 'VALIDATION_FAILED');
    expect(r.body.error.details.field).toContain('cardNo');
  });
});

describe('listing without a filter', () => {
  it('lists the newest customers first, by limit and offset, with the total', async () => {
    const made = [await create('甲一'), await create('乙二'), await create('丙三')];
    const total = Number((await sql<{ n: number }>`select count(*)::int n from customers`.execute(server.db.db)).rows[0]!.n);
    const first = await search('limit=2');
    expect(ids(first)).toEqual([made[2]!.id, made[1]!.id]);
    expect(first.total).toBe(total);
    const second = await search('limit=2&offset=2');
    expect(ids(second)[0]).toBe(made[0]!.id);
    expect(second.total).toBe(total);
    // Past the end: empty page, the total still right.
    expect(await search(`offset=${total + 5}`)).toEqual({ items: [], total });
    // The whole list in pages is every customer once, newest first.
    const all: number[] = [];
    for (let offset = 0; offset < total; offset += 7) all.push(...ids(await search(`limit=7&offset=${offset}`)));
    expect(all).toHaveLength(total);
    expect(all).toEqual([...all].sort((x, y) => y - x));
  });

  it('masks the list for roles that may not see personal data', async () => {
    const r = await search('limit=5', 'finance');
    expect(r.items.length).toBeGreaterThan(0);
    for (const c of r.items) expect(c.masked).toBe(true);
  });

  it('refuses bad paging', async () => {
    expectError(await server.api('GET', '/api/v1/customers?limit=0'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/customers?limit=101'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/customers?offset=-1'), 400, 'VALIDATION_FAILED');
  });
});
