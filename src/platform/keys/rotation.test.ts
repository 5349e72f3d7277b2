import { randomBytes, randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { newStation } from '../../../test/support/fuel.js';
import { findCustomers, getCustomer, normaliseName } from '../../customers/index.js';
import { posCrypto } from '../../pos-gateway/index.js';
import { loadConfig, type Config } from '../config.js';
import { blindIndexKeysOf, configBlindIndex, fieldCipherFor } from '../crypto.js';
import { isAppError } from '../errors.js';
import { ENCRYPTED_TABLES, keyUsage, normaliseNameForIndex, reencryptFields, retireKey, startKeyRotationJobs } from './rotation.js';

const b64 = () => randomBytes(32).toString('base64');
const keys = { k1: b64(), k2: b64(), k3: b64(), b1: b64(), b2: b64() };
const base = { FUELCARD_MESSAGE_SENDER: 'dev', FUELCARD_PIN_KEY: b64() };
const before = { ...base, FUELCARD_DATA_KEYS: `k1:${keys.k1}`, FUELCARD_BLIND_INDEX_KEYS: `b1:${keys.b1}` };
/** After rotation: new data key k2 (SM4) and blind-index key b2 (HMAC-SM3) first, the old ones still readable. */
const after = {
  ...base,
  FUELCARD_DATA_KEYS: `k2:${keys.k2},k1:${keys.k1}`,
  FUELCARD_BLIND_INDEX_KEYS: `b2:${keys.b2},b1:${keys.b1}`,
  FUELCARD_FIELD_CIPHER: 'sm4',
};

let server: TestServer;
let configB: Config;
const customers: Array<{ id: number; name: string; phone: string; idNumber: string }> = [];
let terminal: { terminalId: string; secret: string };

function phone(): string {
  return `139${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
}

beforeAll(async () => {
  server = await startTestServer(before);
  configB = loadConfig(after);
  for (let i = 0; i < 7; i++) {
    const c = { name: `李 四${i}`, phone: phone(), idNumber: `3101011990${String(randomInt(0, 100_000_000)).padStart(8, '0')}` };
    // An operator: with real keys configured, an administrator must enrol TOTP before anything else.
    const r = await server.api('POST', '/api/v1/customers', { role: 'operator', body: { ...c, idType: 'resident_id' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    customers.push({ ...c, id: r.body.id });
  }
  const asOperator = { ...server, api: ((m: string, p: string, o: object = {}) => server.api(m, p, { role: 'operator', ...o })) as TestServer['api'] };
  terminal = (await newStation(asOperator)).terminal;
  // A portal account keyed by the first customer's phone index: it must follow the index.
  const first = customers[0]!;
  await sql`insert into portal_accounts (phone_bidx, password_hash) select phone_bidx, 'x' from customers where id = ${first.id}`.execute(server.db.db);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('encrypted column register', () => {
  it('lists every *_enc column of the schema, and every listed column exists', async () => {
    const cols = (
      await sql<{ t: string; c: string; type: string }>`select table_name as t, column_name as c, data_type as type from information_schema.columns
        where table_schema = 'public'`.execute(server.db.db)
    ).rows;
    const listed = new Set(ENCRYPTED_TABLES.flatMap((t) => (t.columns ?? []).map((c) => `${t.table}.${c}`)));
    const encInSchema = cols.filter((r) => /_enc$/.test(r.c)).map((r) => `${r.t}.${r.c}`);
    expect(encInSchema.filter((c) => !listed.has(c))).toEqual([]);
    const all = new Set(cols.map((r) => `${r.t}.${r.c}`));
    for (const t of ENCRYPTED_TABLES) {
      for (const c of [...(t.columns ?? []), ...(t.jsonFields ?? []).map((j) => j.column), ...(t.blindIndexes ?? []).map((b) => b.column)]) {
        expect(all.has(`${t.table}.${c}`), `${t.table}.${c}`).toBe(true);
      }
      for (const ix of t.blindIndexes ?? []) for (const ref of ix.references ?? []) expect(all.has(`${ref.table}.${ix.column}`), `${ref.table}.${ix.column}`).toBe(true);
    }
  });

  it("normalises names for the index exactly as customers does", () => {
    for (const n of ['张三', ' Zhang  San ', 'ＡＢＣ　ｄ', '阿卜杜拉・买买提', 'Mary • Ann']) expect(normaliseNameForIndex(n)).toBe(normaliseName(n));
  });
});

describe('rotation: re-encryption and blind-index recompute (real database)', () => {
  it('status counts values per key; the job rewrites every column under the new key and algorithm', async () => {
    const cipherB = fieldCipherFor(configB);
    const bidx = blindIndexKeysOf(configB);
    const store = posCrypto.posKeysSealedStore(configB.dataKeys);
    const usage0 = await keyUsage(server.db.db, cipherB, { blindIndex: bidx, stores: [store] });
    const phones = usage0.columns.find((c) => c.table === 'customers' && c.column === 'phone_enc')!;
    expect(phones.byKey).toEqual({ 'aes-256-gcm/k1': 7 });
    expect(usage0.columns.find((c) => c.column === 'secret_enc')!.byKey['aes-256-gcm/k1']).toBeGreaterThanOrEqual(1);
    expect(usage0.current).toEqual({ keyId: 'k2', algorithm: 'sm4', blindIndex: 'sha256:b2' });

    // Retiring k1 is refused while anything uses it; k2 (current) can never be retired.
    await expect(retireKey(server.db.db, cipherB, { kind: 'data', keyId: 'k1', by: 'test' })).rejects.toMatchObject({ code: 'KEY_IN_USE' });
    await expect(retireKey(server.db.db, cipherB, { kind: 'data', keyId: 'k2', by: 'test' })).rejects.toMatchObject({ code: 'KEY_IS_CURRENT' });
    await expect(retireKey(server.db.db, cipherB, { kind: 'blind_index', keyId: 'b1', by: 'test', blindIndex: bidx })).rejects.toMatchObject({ code: 'KEY_IN_USE' });

    const seen: number[] = [];
    const p = await reencryptFields(server.db.db, cipherB, { batch: 3, blindIndex: bidx, onProgress: (x) => seen.push(x.rewritten.customers ?? 0) });
    expect(p.complete).toBe(true);
    expect(p.conflicts).toBe(0);
    expect(p.rewritten.customers).toBe(7);
    expect(seen.length).toBeGreaterThanOrEqual(3); // small batches, progress after each

    const usage = await keyUsage(server.db.db, cipherB, { blindIndex: bidx });
    for (const c of usage.columns) for (const k of Object.keys(c.byKey)) expect(`${c.table}.${c.column}:${k}`).toMatch(/:sm4\/k2$/);
    expect(usage.blindIndexes).toEqual([{ table: 'customers', byKey: { 'sha256:b2': 7 } }]);
    const rows = (await sql<{ key_id: string; phone_enc: string }>`select key_id, phone_enc from customers`.execute(server.db.db)).rows;
    expect(rows.every((r) => r.key_id === 'k2' && r.phone_enc.startsWith('v2.sm4.k2.'))).toBe(true);

    // A second run has nothing to do.
    const again = await reencryptFields(server.db.db, cipherB, { batch: 3, blindIndex: bidx });
    expect(Object.values(again.rewritten).every((n) => n === 0)).toBe(true);
    expect(Object.keys(again.rewritten)).toEqual(ENCRYPTED_TABLES.map((t) => t.table));
  });

  it('the application reads and searches customers with the new keys afterwards', async () => {
    const deps = { db: server.db.db, config: configB, cipher: fieldCipherFor(configB) };
    for (const c of customers) {
      const got = await getCustomer(deps, server.db.db, c.id, 'admin');
      expect(got).toMatchObject({ name: c.name, phone: c.phone, idNumber: c.idNumber });
      expect((await findCustomers(deps, { phone: c.phone, limit: 10, offset: 0 }, 'admin')).items.map((x) => x.id)).toEqual([c.id]);
      expect((await findCustomers(deps, { idNumber: c.idNumber, limit: 10, offset: 0 }, 'admin')).items.map((x) => x.id)).toEqual([c.id]);
      expect((await findCustomers(deps, { name: c.name, limit: 10, offset: 0 }, 'admin')).items.map((x) => x.id)).toEqual([c.id]);
    }
    // The portal account moved with the phone index.
    const first = customers[0]!;
    const n = await sql<{ n: string }>`select count(*) as n from portal_accounts a join customers c on c.phone_bidx = a.phone_bidx where c.id = ${first.id}`.execute(server.db.db);
    expect(Number(n.rows[0]!.n)).toBe(1);
    // The terminal's secret decrypts under the new configuration.
    const t = (await sql<{ secret_enc: string }>`select secret_enc from terminals where id = ${terminal.terminalId}`.execute(server.db.db)).rows[0]!;
    expect(deps.cipher.decrypt(t.secret_enc)).toBe(terminal.secret);
  });

  it('retiring the old keys is allowed once nothing uses them', async () => {
    const cipherB = fieldCipherFor(configB);
    await retireKey(server.db.db, cipherB, { kind: 'data', keyId: 'k1', by: 'test', stores: [posCrypto.posKeysSealedStore(configB.dataKeys)] });
    await retireKey(server.db.db, cipherB, { kind: 'blind_index', keyId: 'b1', by: 'test', blindIndex: blindIndexKeysOf(configB) });
    const r = (await sql<{ kind: string; key_id: string }>`select kind, key_id from key_retirements order by kind`.execute(server.db.db)).rows;
    expect(r).toEqual([
      { kind: 'blind_index', key_id: 'b1' },
      { kind: 'data', key_id: 'k1' },
    ]);
    await expect(retireKey(server.db.db, cipherB, { kind: 'data', keyId: 'k7', by: 'test' })).rejects.toSatisfy((e: unknown) => isAppError(e) && e.code === 'KEY_UNKNOWN');
  });

  it('an update made by the application between read and write is not overwritten (compare-and-set)', async () => {
    // Rotate once more, back to AES under a third key, and change a customer in the middle of a batch.
    const configC = loadConfig({ ...after, FUELCARD_DATA_KEYS: `k3:${keys.k3},k2:${keys.k2}`, FUELCARD_FIELD_CIPHER: 'aes-256-gcm' });
    const cipherC = fieldCipherFor(configC);
    const target = customers[2]!;
    const newPhone = phone();
    const written = cipherC.encrypt(newPhone);
    let hooked = false;
    const p = await reencryptFields(server.db.db, cipherC, {
      batch: 4,
      tables: ENCRYPTED_TABLES.filter((t) => t.table === 'customers'),
      beforeWrite: async (_table, ids) => {
        if (hooked || !ids.map(Number).includes(target.id)) return;
        hooked = true;
        // Another connection, committed before the job writes: as the application would.
        await sql`update customers set phone_enc = ${written} where id = ${target.id}`.execute(server.db.db);
      },
    });
    expect(hooked).toBe(true);
    expect(p.conflicts).toBe(1);
    expect(p.rewritten.customers).toBe(6);
    const row = (await sql<{ phone_enc: string; name_enc: string }>`select phone_enc, name_enc from customers where id = ${target.id}`.execute(server.db.db)).rows[0]!;
    expect(row.phone_enc).toBe(written);
    // Its other columns are still under k2: the next run (resumable: it finds them by prefix) finishes it.
    expect(cipherC.keyIdOf(row.name_enc)).toBe('k2');
    const next = await reencryptFields(server.db.db, cipherC, { batch: 4, tables: ENCRYPTED_TABLES.filter((t) => t.table === 'customers') });
    expect(next).toMatchObject({ conflicts: 0, rewritten: { customers: 1 } });
    const done = (await sql<{ phone_enc: string; name_enc: string }>`select phone_enc, name_enc from customers where id = ${target.id}`.execute(server.db.db)).rows[0]!;
    expect(cipherC.decrypt(done.phone_enc)).toBe(newPhone);
    expect(cipherC.isCurrent(done.name_enc)).toBe(true);
  });

  it('jsonb fields are rewritten in place (payee.accountEnc shape), on a scratch table', async () => {
    const cipherA = fieldCipherFor(loadConfig(before));
    const cipherB = fieldCipherFor(configB);
    await sql`create table if not exists keys_test_payees (id bigint primary key, payee jsonb)`.execute(server.db.db);
    await sql`insert into keys_test_payees values (1, ${JSON.stringify({ name: '王五', accountEnc: cipherA.encrypt('6222020000000000') })}::jsonb), (2, null)`.execute(server.db.db);
    const p = await reencryptFields(server.db.db, cipherB, { tables: [{ table: 'keys_test_payees', jsonFields: [{ column: 'payee', field: 'accountEnc' }] }] });
    expect(p.rewritten.keys_test_payees).toBe(1);
    const row = (await sql<{ payee: { name: string; accountEnc: string } }>`select payee from keys_test_payees where id = 1`.execute(server.db.db)).rows[0]!;
    expect(row.payee.name).toBe('王五');
    expect(row.payee.accountEnc.startsWith('v2.sm4.k2.')).toBe(true);
    expect(cipherB.decrypt(row.payee.accountEnc)).toBe('6222020000000000');
  });

  it('switching the blind-index hash to HMAC-SM3 recomputes every index under it', async () => {
    const configD = loadConfig({ ...after, FUELCARD_DATA_KEYS: `k3:${keys.k3},k2:${keys.k2}`, FUELCARD_FIELD_CIPHER: 'aes-256-gcm', FUELCARD_BLIND_INDEX_HASH: 'sm3' });
    const p = await reencryptFields(server.db.db, fieldCipherFor(configD), { blindIndex: blindIndexKeysOf(configD), tables: ENCRYPTED_TABLES.filter((t) => t.table === 'customers') });
    expect(p.rewritten.customers).toBe(7);
    for (const c of customers.slice(3)) {
      const row = (await sql<{ phone_bidx: string; id_number_bidx: string; bidx_key: string }>`select phone_bidx, id_number_bidx, bidx_key from customers where id = ${c.id}`.execute(server.db.db)).rows[0]!;
      expect(row).toEqual({ phone_bidx: configBlindIndex(configD, 'phone', c.phone), id_number_bidx: configBlindIndex(configD, 'id_number', c.idNumber), bidx_key: 'sm3:b2' });
    }
  });

  it('startKeyRotationJobs runs a pass at once and stops cleanly', async () => {
    const passes: unknown[] = [];
    const stop = startKeyRotationJobs(server.db.db, fieldCipherFor(configB), { batch: 50, intervalMs: 60_000, onPass: (p) => passes.push(p) });
    await expect.poll(() => passes.length, { timeout: 10_000 }).toBe(1);
    await stop();
    expect(passes[0]).toMatchObject({ complete: true });
  });
});
