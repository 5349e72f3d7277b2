import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';
import { createFieldCipher, keyUsage, reencryptFields } from '../../platform/index.js';
import { deriveKeyStoreKek, PersistentKeyStore } from '../host/db-keystore.js';
import { SoftwareKeyStore } from './keystore.js';
import { keyStoreKekOf, posKeysSealedStore } from './keystore-reseal.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };
const msg = Buffer.from('0200 message bytes to MAC');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase(4);
});
afterAll(async () => {
  await db?.close();
});

describe('POS key store re-seal under a new data key', () => {
  it('derives the same KEK as the persistent key store', () => {
    expect(keyStoreKekOf(k1.key).equals(deriveKeyStoreKek(k1.key))).toBe(true);
  });

  it('resealState keeps versions and KCVs, and the keys work under the new KEK only', async () => {
    const ks = new SoftwareKeyStore({ kek: keyStoreKekOf(k1.key) });
    await ks.generateKey('t:tak', { algorithm: 'sm4', usage: 'tak' });
    const mac = await ks.macGenerate('t:tak', 'sm4-cmac', msg);
    const state = ks.exportState();
    const again = SoftwareKeyStore.resealState(state, keyStoreKekOf(k1.key), keyStoreKekOf(k2.key));
    expect(again.entries[0]!.current).toMatchObject({ version: state.entries[0]!.current.version, kcv: state.entries[0]!.current.kcv });
    expect(again.entries[0]!.current.ct).not.toBe(state.entries[0]!.current.ct);
    const moved = new SoftwareKeyStore({ kek: keyStoreKekOf(k2.key), state: again });
    expect((await moved.macGenerate('t:tak', 'sm4-cmac', msg)).equals(mac)).toBe(true);
    expect(() => new SoftwareKeyStore({ kek: keyStoreKekOf(k1.key), state: again })).toThrow(/cannot be unsealed/);
    expect(() => SoftwareKeyStore.resealState(state, keyStoreKekOf(k2.key), keyStoreKekOf(k1.key))).toThrow(/cannot be unsealed/);
  });

  it('the rotation job re-seals pos_keys rows; the gateway store then opens under the new data key', async () => {
    const ks = await PersistentKeyStore.open(db.db, k1);
    await ks.generateKey('pos:T1:tak', { algorithm: 'aes', usage: 'tak' });
    await ks.generateKey('pos:T2:tak', { algorithm: 'tdes', usage: 'tak' });
    const mac1 = await ks.macGenerate('pos:T1:tak', 'aes-cmac', msg);
    await expect(PersistentKeyStore.open(db.db, k2)).rejects.toThrow(/sealed under data key k1/);

    const store = posKeysSealedStore([k2, k1]);
    const cipher = createFieldCipher([k2, k1]);
    expect((await keyUsage(db.db, cipher, { tables: [], stores: [store] })).stores).toEqual([{ name: 'pos_keys', byKey: { k1: 2 } }]);
    const p = await reencryptFields(db.db, cipher, { tables: [], stores: [store], batch: 1 });
    expect(p.rewritten.pos_keys).toBe(2);
    expect(await store.usage(db.db)).toEqual({ k2: 2 });

    const reopened = await PersistentKeyStore.open(db.db, k2);
    expect((await reopened.macGenerate('pos:T1:tak', 'aes-cmac', msg)).equals(mac1)).toBe(true);
    const rows = (await sql<{ kek_id: string }>`select kek_id from pos_keys`.execute(db.db)).rows;
    expect(rows.every((r) => r.kek_id === 'k2')).toBe(true);
  });
});
