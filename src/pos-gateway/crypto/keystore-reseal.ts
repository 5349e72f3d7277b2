/**
 * Re-sealing the POS key store's rows (pos_keys) under the current data key, for the platform's
 * key rotation job (docs/keys.md). A row names the data key its KEK came from (kek_id); a row
 * under an older one is unsealed with that key's KEK and sealed again under the current one.
 */
import { hkdfSync } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, SealedStore } from '../../platform/index.js';
import { SoftwareKeyStore, type KeyStoreState } from './keystore.js';

const KEK_LABEL = 'fuelcard/pos-gateway/keystore-kek/v1';

/** The key store's KEK: HKDF-SHA-256 of a data key, domain-separated from every other use of it (as host/db-keystore.ts). */
export function keyStoreKekOf(dataKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), KEK_LABEL, 32));
}

type Entry = KeyStoreState['entries'][number];

/** pos_keys as a SealedStore of the rotation job: usage per data key id, re-seal in batches. */
export function posKeysSealedStore(dataKeys: ReadonlyArray<{ id: string; key: Buffer }>): SealedStore {
  const current = dataKeys[0];
  if (!current) throw new Error('no data key configured');
  const byId = new Map(dataKeys.map((k) => [k.id, k.key]));
  return {
    name: 'pos_keys',
    async usage(db: Db) {
      const rows = (await sql<{ kek_id: string; n: string }>`select kek_id, count(*) as n from pos_keys group by kek_id order by kek_id`.execute(db)).rows;
      return Object.fromEntries(rows.map((r) => [r.kek_id, Number(r.n)]));
    },
    async reseal(db: Db, batch: number) {
      return db.transaction().execute(async (trx) => {
        // Locked, so the key store's own write of a row (on a key change) waits for this one and
        // then overwrites it with its newer content: nothing is lost either way.
        const rows = (
          await sql<{ ref: string; kek_id: string; sealed: Entry }>`select ref, kek_id, sealed from pos_keys
            where kek_id <> ${current.id} and kek_id = any(${[...byId.keys()]}::text[]) order by ref limit ${batch} for update skip locked`.execute(trx)
        ).rows;
        let resealed = 0;
        // Rows under a key no longer configured are not selected (they stay visible in usage()).
        const unreadable = 0;
        const toKek = keyStoreKekOf(current.key);
        for (const r of rows) {
          const old = byId.get(r.kek_id)!;
          const state = SoftwareKeyStore.resealState({ format: 'fuelcard-keystore-v1', entries: [r.sealed] }, keyStoreKekOf(old), toKek);
          await sql`update pos_keys set kek_id = ${current.id}, sealed = ${JSON.stringify(state.entries[0])}::jsonb, updated_at = now()
            where ref = ${r.ref} and kek_id = ${r.kek_id}`.execute(trx);
          resealed++;
        }
        return { resealed, unreadable };
      });
    },
  };
}
