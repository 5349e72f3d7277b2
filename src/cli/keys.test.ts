import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { fieldCipherFor, loadConfig, localKms, writeSecretFile } from '../platform/index.js';
import { runKeysCommand } from './keys.js';

let db: TestDatabase;
const dir = mkdtempSync(path.join(tmpdir(), 'fuelcard-cli-keys-'));
const keyFile = path.join(dir, 'keys.json');
const env = { FUELCARD_KEY_PROVIDER: 'file', FUELCARD_KEY_FILE: keyFile, FUELCARD_PIN_KEY: randomBytes(32).toString('base64'), FUELCARD_MESSAGE_SENDER: 'dev' };

beforeAll(async () => {
  db = await createTestDatabase(4);
  writeFileSync(keyFile, JSON.stringify({ dataKeys: [{ id: 'k1', key: randomBytes(32).toString('base64') }], blindIndexKeys: [{ id: 'b1', key: randomBytes(32).toString('base64') }] }));
  chmodSync(keyFile, 0o600);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[], withEnv: Record<string, string> = env): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runKeysCommand(loadConfig(withEnv), argv, (fn) => fn(db.db), { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const fingerprint = (b64: string) => createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 8);

describe('fuelcard keys (file provider)', () => {
  it('add → reencrypt → status → retire, the key file staying 0600', async () => {
    const old = fieldCipherFor(loadConfig(env));
    await sql`insert into messages (to_enc, template, text_enc) values (${old.encrypt('13900000000')}, 'test.keys', ${old.encrypt('验证码 123456')})`.execute(db.db);

    const added = await run(['add', 'k2', '--standby']);
    expect(added.code).toBe(0);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const k2 = JSON.parse(readFileSync(keyFile, 'utf8')).dataKeys.find((k: { id: string }) => k.id === 'k2').key as string;
    expect(added.out).toContain(`k2 (fingerprint ${fingerprint(k2)})`);
    expect(added.out).not.toContain(k2);
    await expect(run(['add', 'k3', '--print-secret'])).rejects.toThrow(/env provider only/);
    expect(loadConfig(env).dataKeys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect((await run(['promote', 'k2'])).code).toBe(0);
    expect(loadConfig(env).dataKeys.map((k) => k.id)).toEqual(['k2', 'k1']);

    const before = await run(['status']);
    expect(before.out).toMatch(/messages\.to_enc\s+aes-256-gcm\/k1=1 \*/);
    const refused = await run(['retire', 'k1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('KEY_IN_USE');

    const re = await run(['reencrypt', '--batch', '1']);
    expect(re.code).toBe(0);
    expect(re.out).toContain('"messages":1');
    const status = JSON.parse((await run(['status', '--json'])).out);
    expect(status.columns.find((c: { column: string }) => c.column === 'text_enc').byKey).toEqual({ 'aes-256-gcm/k2': 1 });

    const retired = await run(['retire', 'k1']);
    expect(retired.code).toBe(0);
    expect(JSON.parse(readFileSync(keyFile, 'utf8')).dataKeys.map((k: { id: string }) => k.id)).toEqual(['k2']);
    const msg = (await sql<{ text_enc: string }>`select text_enc from messages where template = 'test.keys'`.execute(db.db)).rows[0]!;
    expect(fieldCipherFor(loadConfig(env)).decrypt(msg.text_enc)).toBe('验证码 123456');
  });

  it('refuses unknown subcommands and a duplicate key id', async () => {
    await expect(run(['rotate'])).rejects.toThrow(/no subcommand "rotate"/);
    await expect(run(['add', 'k2'])).rejects.toThrow(/already exists/);
  });
});

describe('fuelcard keys (env provider): keys are never printed unless asked', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  const b1 = randomBytes(32).toString('base64');
  const envKeys = { FUELCARD_DATA_KEYS: `k2:${k2},k1:${k1}`, FUELCARD_BLIND_INDEX_KEYS: `b1:${b1}`, FUELCARD_PIN_KEY: randomBytes(32).toString('base64'), FUELCARD_MESSAGE_SENDER: 'dev' };
  const secrets = [k1, k2, b1, envKeys.FUELCARD_PIN_KEY];
  const leaks = (text: string) => secrets.filter((s) => text.includes(s));

  it('promote prints the new order with ids and fingerprints only', async () => {
    const r = await run(['promote', 'k1'], envKeys);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`FUELCARD_DATA_KEYS order: k1 (${fingerprint(k1)}), k2 (${fingerprint(k2)})`);
    expect(leaks(r.out + r.err)).toEqual([]);
  });

  it('add writes the new key once to a new 0600 --secret-file and prints only ids and fingerprints', async () => {
    const out = path.join(dir, 'k3.secret');
    const r = await run(['add', 'k3', '--secret-file', out], envKeys);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const [id, newKey] = readFileSync(out, 'utf8').trim().split(':');
    expect(id).toBe('k3');
    expect(Buffer.from(newKey!, 'base64')).toHaveLength(32);
    expect(r.out).toContain(`k3 (fingerprint ${fingerprint(newKey!)})`);
    expect(r.out).toContain('order k3, k2, k1');
    expect(leaks(r.out + r.err)).toEqual([]);
    expect(r.out).not.toContain(newKey!);
    // The entry works as written: the operator prepends it to the variable.
    expect(loadConfig({ ...envKeys, FUELCARD_DATA_KEYS: `k3:${newKey},${envKeys.FUELCARD_DATA_KEYS}` }).dataKeys.map((k) => k.id)).toEqual(['k3', 'k2', 'k1']);
    // Never over an existing file (nor, with O_EXCL, through a link planted at the path).
    await expect(run(['add', 'k4', '--secret-file', out], envKeys)).rejects.toThrow(/does not exist yet/);
  });

  it('add --print-secret puts only the new entry on stdout; without a destination nothing is generated', async () => {
    const r = await run(['add', 'b2', '--blind-index', '--standby', '--print-secret'], envKeys);
    expect(r.code).toBe(0);
    const last = r.out.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^b2:[A-Za-z0-9+/]{43}=$/);
    expect(r.out).toContain('FUELCARD_BLIND_INDEX_KEYS in the order b1, b2');
    expect(leaks(r.out + r.err)).toEqual([]);

    await expect(run(['add', 'k5'], envKeys)).rejects.toThrow(/--secret-file <path>.*--print-secret/);
    await expect(run(['add', 'k5', '--print-secret', '--secret-file', path.join(dir, 'k5')], envKeys)).rejects.toThrow(/choose one/);
    expect(existsSync(path.join(dir, 'k5'))).toBe(false);
    await expect(run(['add', 'k1', '--print-secret'], envKeys)).rejects.toThrow(/already exists/);
  });
});

describe('fuelcard keys (local-kms provider)', () => {
  it('add wraps a blind-index key as a blind-index key: it loads as one, and not as a data key', async () => {
    const master = path.join(dir, 'master.json');
    writeSecretFile(master, JSON.stringify({ id: 'm1', key: randomBytes(32).toString('base64') }));
    const kms = localKms(master);
    const wrappedFile = path.join(dir, 'wrapped.json');
    writeSecretFile(
      wrappedFile,
      JSON.stringify({ masterKeyId: 'm1', dataKeys: [{ id: 'k1', wrapped: kms.wrapKeySync('data', 'k1', randomBytes(32)) }], blindIndexKeys: [{ id: 'b1', wrapped: kms.wrapKeySync('blind-index', 'b1', randomBytes(32)) }] }),
    );
    const kmsEnv = { FUELCARD_KEY_PROVIDER: 'local-kms', FUELCARD_KEY_FILE: wrappedFile, FUELCARD_KMS_MASTER_KEY_FILE: master, FUELCARD_PIN_KEY: randomBytes(32).toString('base64'), FUELCARD_MESSAGE_SENDER: 'dev' };
    const r = await run(['add', 'b2', '--blind-index', '--standby'], kmsEnv);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/blindIndexKeys b2 \(fingerprint [0-9a-f]{8}\)/);
    expect(loadConfig(kmsEnv).blindIndexKeys.map((k) => k.id)).toEqual(['b1', 'b2']);
    // The same wrapped value under dataKeys is refused: the kind is bound in.
    const json = JSON.parse(readFileSync(wrappedFile, 'utf8'));
    json.dataKeys.push({ id: 'b2', wrapped: json.blindIndexKeys[1].wrapped });
    writeSecretFile(wrappedFile, JSON.stringify(json));
    expect(() => loadConfig(kmsEnv)).toThrow(/wrapped data key b2 does not unwrap/);
  });
});
