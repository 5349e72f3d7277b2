import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config-error.js';
import { loadConfig } from '../config.js';
import { envelopeKeyProvider, fileKeyProvider, keyFingerprint, localKms, localKmsKeyProvider, readSecretFile, writeSecretFile, type KmsAdapter } from './providers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'fuelcard-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = () => randomBytes(32).toString('base64');

function file(name: string, content: unknown, mode = 0o600): string {
  const f = path.join(dir, name);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(f, mode);
  return f;
}

describe('file key provider', () => {
  const content = { dataKeys: [{ id: 'k2', key: b64() }, { id: 'k1', key: b64() }], blindIndexKeys: [{ id: 'b1', key: b64() }], pinKey: b64() };

  it('reads keys newest first from a 0600 file', () => {
    const p = fileKeyProvider(file('keys.json', content));
    expect(p.currentKeyId).toBe('k2');
    expect(p.listKeyIds()).toEqual(['k2', 'k1']);
    expect(p.dataKey('k1').equals(Buffer.from(content.dataKeys[1]!.key, 'base64'))).toBe(true);
    expect(p.blindIndexKeys.map((k) => k.id)).toEqual(['b1']);
    expect(() => p.dataKey('k9')).toThrow(/k9/);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a key file with mode ${mode.toString(8)} and says how to fix it`, () => {
      const f = file(`keys-${mode.toString(8)}.json`, content, mode);
      expect(() => fileKeyProvider(f)).toThrow(ConfigError);
      expect(() => fileKeyProvider(f)).toThrow(`chmod 600 ${f}`);
    });
  }

  it('refuses a missing file, a directory, bad JSON, short keys and duplicate ids', () => {
    expect(() => fileKeyProvider(path.join(dir, 'nope.json'))).toThrow(/ENOENT/);
    expect(() => fileKeyProvider(dir)).toThrow(/not a regular file|mode/);
    expect(() => fileKeyProvider(file('bad.json', '{not json'))).toThrow(/not a JSON object/);
    expect(() => fileKeyProvider(file('short.json', { dataKeys: [{ id: 'k1', key: randomBytes(16).toString('base64') }] }))).toThrow(/32 bytes/);
    expect(() => fileKeyProvider(file('dup.json', { dataKeys: [{ id: 'k1', key: b64() }, { id: 'k1', key: b64() }] }))).toThrow(/appears twice/);
    expect(() => fileKeyProvider(file('empty.json', { dataKeys: [] }))).toThrow(/no data key/);
  });

  it('refuses a symbolic link to a good key file: the file is opened without following links', () => {
    const target = file('link-target.json', content);
    const link = path.join(dir, 'link.json');
    symlinkSync(target, link);
    expect(() => fileKeyProvider(link)).toThrow(ConfigError);
    expect(() => fileKeyProvider(link)).toThrow(/symbolic link/);
    expect(fileKeyProvider(target).currentKeyId).toBe('k2');
  });

  // Giving a file away needs root (the test machine runs as root); elsewhere this is skipped, not faked.
  it.runIf(process.getuid?.() === 0)('refuses a 0600 key file owned by another user', () => {
    const f = file('other-owner.json', content);
    chownSync(f, 65534, 65534);
    expect(() => fileKeyProvider(f)).toThrow(ConfigError);
    expect(() => readSecretFile(f, 'FUELCARD_KEY_FILE')).toThrow('owned by uid 65534, not by the server');
  });

  it('refuses a FIFO in place of the key file without waiting for a writer', () => {
    const fifo = path.join(dir, 'fifo.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(() => fileKeyProvider(fifo)).toThrow(/not a regular file/);
  });

  it('writeSecretFile writes 0600 atomically', () => {
    const f = path.join(dir, 'written.json');
    writeSecretFile(f, JSON.stringify(content));
    expect(fileKeyProvider(f).currentKeyId).toBe('k2');
  });
});

describe('local-kms provider (envelope encryption, master key in a file)', () => {
  const master = file('master.json', { id: 'm1', key: b64() });
  const kms = localKms(master);
  const clear = { k2: randomBytes(32), k1: randomBytes(32), b1: randomBytes(32) };
  const wrapped = {
    masterKeyId: 'm1',
    dataKeys: [{ id: 'k2', wrapped: kms.wrapKeySync('data', 'k2', clear.k2) }, { id: 'k1', wrapped: kms.wrapKeySync('data', 'k1', clear.k1) }],
    blindIndexKeys: [{ id: 'b1', wrapped: kms.wrapKeySync('blind-index', 'b1', clear.b1) }],
  };

  it('unwraps every data key with the master key', () => {
    const p = localKmsKeyProvider(kms, file('wrapped.json', wrapped));
    expect(p.name).toBe('local-kms');
    expect(p.dataKey('k2').equals(clear.k2)).toBe(true);
    expect(p.dataKey('k1').equals(clear.k1)).toBe(true);
    expect(p.blindIndexKeys[0]!.key.equals(clear.b1)).toBe(true);
  });

  it('the async envelope provider gives the same keys through the KmsAdapter interface', async () => {
    const calls: string[] = [];
    const adapter: KmsAdapter = { name: 'counting', masterKeyId: 'm1', wrapKey: kms.wrapKey, unwrapKey: (kind, id, w) => (calls.push(`${kind}/${id}`), kms.unwrapKey(kind, id, w)) };
    const pin = randomBytes(32);
    const p = await envelopeKeyProvider(adapter, file('wrapped2.json', { ...wrapped, pinKey: { wrapped: await kms.wrapKey('pin', 'pin', pin) } }));
    expect(p.dataKey('k1').equals(clear.k1)).toBe(true);
    expect(p.pinKey?.equals(pin)).toBe(true);
    expect(calls).toEqual(['data/k2', 'data/k1', 'blind-index/b1', 'pin/pin']);
  });

  it('refuses another master key, a relabelled wrapped key and a readable master key file', () => {
    const other = localKms(file('master2.json', { id: 'm1', key: b64() }));
    expect(() => localKmsKeyProvider(other, file('wrapped3.json', wrapped))).toThrow(/does not unwrap/);
    const relabelled = { ...wrapped, dataKeys: [{ id: 'k1', wrapped: wrapped.dataKeys[0]!.wrapped }] };
    expect(() => localKmsKeyProvider(kms, file('wrapped4.json', relabelled))).toThrow(/does not unwrap/);
    expect(() => localKms(file('master3.json', { id: 'm1', key: b64() }, 0o644))).toThrow(/chmod 600/);
  });

  it('binds the kind: a wrapped key moved between data, blind-index and PIN keys under the same id does not unwrap', async () => {
    // Same id "x1" for a data key and a blind-index key: only the kind tells them apart.
    const same = { masterKeyId: 'm1', dataKeys: [{ id: 'x1', wrapped: kms.wrapKeySync('data', 'x1', clear.k1) }], blindIndexKeys: [{ id: 'x1', wrapped: kms.wrapKeySync('blind-index', 'x1', clear.b1) }] };
    const ok = localKmsKeyProvider(kms, file('kind-ok.json', same));
    expect(ok.dataKey('x1').equals(clear.k1)).toBe(true);
    expect(ok.blindIndexKeys[0]!.key.equals(clear.b1)).toBe(true);
    const swapped = { ...same, dataKeys: same.blindIndexKeys, blindIndexKeys: same.dataKeys };
    expect(() => localKmsKeyProvider(kms, file('kind-swapped.json', swapped))).toThrow(/wrapped data key x1 does not unwrap/);
    const dataAsPin = { ...wrapped, pinKey: { wrapped: kms.wrapKeySync('data', 'pin', clear.k1) } };
    expect(() => localKmsKeyProvider(kms, file('kind-pin.json', dataAsPin))).toThrow(/wrapped pin key pin does not unwrap/);
    await expect(envelopeKeyProvider(kms, file('kind-swapped2.json', swapped))).rejects.toThrow(/does not unwrap/);
  });

  it('fingerprints keys with 8 hex digits of SHA-256, never the key itself', () => {
    const k = Buffer.alloc(32, 7);
    expect(keyFingerprint(k)).toMatch(/^[0-9a-f]{8}$/);
    expect(keyFingerprint(k)).toBe(keyFingerprint(Buffer.alloc(32, 7)));
    expect(keyFingerprint(k)).not.toBe(keyFingerprint(Buffer.alloc(32, 8)));
  });

  it('loadConfig: FUELCARD_KEY_PROVIDER=local-kms', () => {
    const c = loadConfig({
      FUELCARD_KEY_PROVIDER: 'local-kms',
      FUELCARD_KEY_FILE: file('wrapped5.json', wrapped),
      FUELCARD_KMS_MASTER_KEY_FILE: master,
      FUELCARD_PIN_KEY: b64(),
      FUELCARD_MESSAGE_SENDER: 'dev',
    });
    expect(c.keyProvider).toBe('local-kms');
    expect(c.dataKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(c.dataKeys[0]!.key.equals(clear.k2)).toBe(true);
    expect(c.blindIndexKey.equals(clear.b1)).toBe(true);
    expect(c.generatedSecrets).toBe(false);
    expect(c.adminTotp).toBe('required');
  });

  it('loadConfig: a key file without a PIN key needs FUELCARD_PIN_KEY (never a generated one)', () => {
    const env = { FUELCARD_KEY_PROVIDER: 'local-kms', FUELCARD_KEY_FILE: file('wrapped6.json', wrapped), FUELCARD_KMS_MASTER_KEY_FILE: master, FUELCARD_MESSAGE_SENDER: 'dev' };
    expect(() => loadConfig(env)).toThrow(/FUELCARD_PIN_KEY/);
    const pin = randomBytes(32);
    const withPin = loadConfig({ ...env, FUELCARD_KEY_FILE: file('wrapped7.json', { ...wrapped, pinKey: { wrapped: kms.wrapKeySync('pin', 'pin', pin) } }) });
    expect(withPin.pinKey.equals(pin)).toBe(true);
    expect(withPin).toMatchObject({ generatedSecrets: false, adminTotp: 'required' });
  });
});
