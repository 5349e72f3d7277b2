import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';
import { configBlindIndexTag } from './crypto.js';

const key32 = Buffer.alloc(32, 7).toString('base64');
const key16 = Buffer.alloc(16, 7).toString('base64');

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('has working defaults for an empty environment, frozen, units in the names', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: null,
      dataDir: path.resolve('./data'),
      logLevel: 'info',
      adminPassword: null,
      sessionTtlMs: 480 * 60_000,
      cardIssuerPrefix: '900001',
      pinMaxTries: 3,
      pinLockMode: 'next_day',
      newCardStatus: 'active',
      terminalClockSkewMs: 300_000,
      timeZone: 'Asia/Shanghai',
      generatedSecrets: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.dataKeys).toHaveLength(1);
    expect(c.dataKeys[0]!.key).toHaveLength(32);
    expect(c.pinKey).toHaveLength(32);
    expect(c.blindIndexKey).toHaveLength(32);
    // Development keys are stable (a restarted demo reads its own data) and distinct per purpose.
    expect(loadConfig({}).pinKey.equals(c.pinKey)).toBe(true);
    expect(c.pinKey.equals(c.blindIndexKey)).toBe(false);
  });

  it('listens on loopback with the embedded database, on every interface with DATABASE_URL, or where HOST says', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ DATABASE_URL: 'postgres://db.internal/fuelcard' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ FUELCARD_DEMO: 'off' }).demoData).toBe('off');
    expect(() => loadConfig({ FUELCARD_DEMO: 'false' })).toThrow(/FUELCARD_DEMO/);
  });

  it('asks production installs to name their message sender; the dev outbox is for development keys only', () => {
    const real = { FUELCARD_DATA_KEYS: `k1:${key32}`, FUELCARD_BLIND_INDEX_KEY: key32, FUELCARD_PIN_KEY: key32 };
    expect(loadConfig({}).messageSender).toBe('dev');
    expect(() => loadConfig(real)).toThrow(/FUELCARD_MESSAGE_SENDER/);
    expect(loadConfig({ ...real, FUELCARD_MESSAGE_SENDER: 'dev' }).messageSender).toBe('dev');
    expect(() => loadConfig({ FUELCARD_MESSAGE_SENDER: 'webhook' })).toThrow(/FUELCARD_MESSAGE_WEBHOOK_URL/);
    expect(() => loadConfig({ FUELCARD_MESSAGE_SENDER: 'sms' })).toThrow(/FUELCARD_MESSAGE_SENDER/);
    expect(() => loadConfig({ FUELCARD_MESSAGE_SENDER: 'webhook', FUELCARD_MESSAGE_WEBHOOK_URL: 'ftp://x' })).toThrow(/FUELCARD_MESSAGE_WEBHOOK_URL/);
    expect(loadConfig({ FUELCARD_PORTAL_SESSION_TTL_MIN: '60' }).portalSessionTtlMs).toBe(3_600_000);
  });

  it('trusts X-Forwarded-For only from the proxies it names', () => {
    expect(loadConfig({}).trustProxy).toBeNull();
    expect(loadConfig({ FUELCARD_TRUST_PROXY: '10.0.0.5, 10.1.0.0/16' }).trustProxy).toBe('10.0.0.5,10.1.0.0/16');
    expect(loadConfig({ FUELCARD_TRUST_PROXY: '::1' }).trustProxy).toBe('::1');
    for (const bad of ['true', '*', 'proxy.internal', '10.0.0.5;rm']) expect(() => loadConfig({ FUELCARD_TRUST_PROXY: bad }), bad).toThrow(/FUELCARD_TRUST_PROXY/);
  });

  it('treats an empty variable as unset', () => {
    const c = loadConfig({ PORT: '', DATABASE_URL: '', FUELCARD_CARD_PREFIX: '', FUELCARD_TZ: '', LOG_LEVEL: '', FUELCARD_DATA_KEYS: '' });
    expect(c).toMatchObject({ port: 3000, databaseUrl: null, cardIssuerPrefix: '900001', timeZone: 'Asia/Shanghai', logLevel: 'info' });
  });

  it('reads good values', () => {
    const c = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgresql://u:p@db:5432/fuel',
      FUELCARD_DATA_DIR: '/var/lib/fuelcard',
      FUELCARD_SESSION_TTL_MIN: '1',
      FUELCARD_DATA_KEYS: `k2:${key32},k1:${Buffer.alloc(32, 1).toString('base64')}`,
      FUELCARD_BLIND_INDEX_KEY: key32,
      FUELCARD_PIN_KEY: key32,
      FUELCARD_MESSAGE_SENDER: 'webhook',
      FUELCARD_MESSAGE_WEBHOOK_URL: 'https://sms-gateway.internal/send',
      FUELCARD_CARD_PREFIX: '62170001',
      FUELCARD_PIN_LOCK: 'reset',
      FUELCARD_NEW_CARD_STATUS: 'pending',
      FUELCARD_ANON_REFUNDABLE: 'yes',
      FUELCARD_ANON_REPORTABLE_LOST: '0',
      FUELCARD_LOSS_WAIT_HOURS: '0',
      FUELCARD_TERMINAL_SKEW_S: '60',
      FUELCARD_RISK_CONTEXT_TIMEOUT_MS: '500',
      FUELCARD_TZ: 'Asia/Urumqi',
    });
    expect(c).toMatchObject({
      port: 8080,
      databaseUrl: 'postgresql://u:p@db:5432/fuel',
      dataDir: '/var/lib/fuelcard',
      sessionTtlMs: 60_000,
      cardIssuerPrefix: '62170001',
      pinLockMode: 'reset',
      newCardStatus: 'pending',
      anonymousCardsRefundable: true,
      anonymousCardsReportableLost: false,
      lossTransferWaitMs: 0,
      terminalClockSkewMs: 60_000,
      riskContextTimeoutMs: 500,
      timeZone: 'Asia/Urumqi',
      generatedSecrets: false,
    });
    expect(c.dataKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://localhost/fuel'],
    ['DATABASE_URL', 'localhost:5432'],
    ['FUELCARD_PG_PORT', 'five'],
    ['LOG_LEVEL', 'verbose'],
    ['FUELCARD_SESSION_TTL_MIN', '0'],
    ['FUELCARD_SESSION_TTL_MIN', '1e3'],
    ['FUELCARD_DATA_KEYS', 'nokey'],
    ['FUELCARD_DATA_KEYS', `k1:${key16}`],
    ['FUELCARD_DATA_KEYS', `bad id!:${key32}`],
    ['FUELCARD_DATA_KEYS', `k1:${key32},`],
    ['FUELCARD_DATA_KEYS', `k1:${key32},k1:${Buffer.alloc(32, 2).toString('base64')}`],
    ['FUELCARD_BLIND_INDEX_KEY', key16],
    ['FUELCARD_BLIND_INDEX_KEY', 'not base64 at all'],
    ['FUELCARD_PIN_KEY', key16],
    ['FUELCARD_CARD_PREFIX', '12345'],
    ['FUELCARD_CARD_PREFIX', '1234567890'],
    ['FUELCARD_CARD_PREFIX', '90000A'],
    ['FUELCARD_PIN_MAX_TRIES', '0'],
    ['FUELCARD_PIN_MAX_TRIES', '11'],
    ['FUELCARD_PIN_LOCK', 'forever'],
    ['FUELCARD_NEW_CARD_STATUS', 'frozen'],
    ['FUELCARD_ANON_REFUNDABLE', 'maybe'],
    ['FUELCARD_ANON_REPORTABLE_LOST', '2'],
    ['FUELCARD_LOSS_WAIT_HOURS', '-1'],
    ['FUELCARD_TERMINAL_SKEW_S', '0'],
    ['FUELCARD_TERMINAL_SKEW_S', '3601'],
    ['FUELCARD_DB_POOL', '0'],
    ['FUELCARD_DB_POOL', '201'],
    ['FUELCARD_SHUTDOWN_TIMEOUT_MS', '10'],
    ['FUELCARD_RISK_CONTEXT_TIMEOUT_MS', '10'],
    ['FUELCARD_RISK_CONTEXT_TIMEOUT_MS', '6000'],
    ['FUELCARD_TZ', 'Mars/Olympus_Mons'],
    ['FUELCARD_TZ', 'Beijing'],
    // 等保 level 3: at most 10 failures, then at least 30 minutes.
    ['FUELCARD_LOGIN_MAX_FAILURES', '11'],
    ['FUELCARD_LOGIN_MAX_FAILURES', '0'],
    ['FUELCARD_LOGIN_LOCK_MIN', '29'],
    ['FUELCARD_LOGIN_LOCK_MIN', '1'],
    ['FUELCARD_ADMIN_TOTP', 'off'],
  ];
  it.each(bad)('%s=%s is a ConfigError naming the variable', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.variable).toBe(name);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(name);
  });

  it('keeps staff logins within 10 failures and a lock of at least 30 minutes', () => {
    expect(loadConfig({})).toMatchObject({ loginMaxFailures: 5, loginLockMs: 30 * 60_000 });
    expect(loadConfig({ FUELCARD_LOGIN_MAX_FAILURES: '10', FUELCARD_LOGIN_LOCK_MIN: '30' })).toMatchObject({ loginMaxFailures: 10, loginLockMs: 30 * 60_000 });
    expect(loadConfig({ FUELCARD_LOGIN_LOCK_MIN: '120' }).loginLockMs).toBe(120 * 60_000);
  });

  it('requires TOTP of administrators unless the system runs on generated development keys', () => {
    const real = { FUELCARD_DATA_KEYS: `k1:${key32}`, FUELCARD_BLIND_INDEX_KEY: key32, FUELCARD_PIN_KEY: key32, FUELCARD_MESSAGE_SENDER: 'dev' };
    expect(loadConfig({}).adminTotp).toBe('optional');
    expect(loadConfig({ FUELCARD_ADMIN_TOTP: 'required' }).adminTotp).toBe('required');
    expect(loadConfig(real).adminTotp).toBe('required');
    expect(loadConfig({ ...real, FUELCARD_ADMIN_TOTP: 'optional' }).adminTotp).toBe('optional');
    // A development system with one real key is still a development system.
    const devWithPin = loadConfig({ FUELCARD_PIN_KEY: key32 });
    expect(devWithPin).toMatchObject({ adminTotp: 'optional', generatedSecrets: true, paymentsSandbox: true });
  });

  it('refuses generated PIN or blind-index keys next to real data keys, naming the missing variable', () => {
    const base = { FUELCARD_DATA_KEYS: `k1:${key32}`, FUELCARD_MESSAGE_SENDER: 'dev' };
    const noPin = configError({ ...base, FUELCARD_BLIND_INDEX_KEY: key32 });
    expect(noPin.variable).toBe('FUELCARD_PIN_KEY');
    expect(noPin.message).toContain('FUELCARD_DATA_KEYS');
    expect(configError({ ...base, FUELCARD_BLIND_INDEX_KEYS: `b1:${key32}` }).variable).toBe('FUELCARD_PIN_KEY');
    expect(configError({ ...base, FUELCARD_PIN_KEY: key32 }).variable).toBe('FUELCARD_BLIND_INDEX_KEYS');
    expect(configError({ ...base, FUELCARD_PIN_KEY: key32, FUELCARD_BLIND_INDEX_KEY: '' }).variable).toBe('FUELCARD_BLIND_INDEX_KEYS');
    // Either blind-index spelling completes a production configuration, with TOTP required and no sandbox.
    for (const blind of [{ FUELCARD_BLIND_INDEX_KEY: key32 }, { FUELCARD_BLIND_INDEX_KEYS: `b1:${key32}` }]) {
      expect(loadConfig({ ...base, ...blind, FUELCARD_PIN_KEY: key32 })).toMatchObject({ generatedSecrets: false, adminTotp: 'required', paymentsSandbox: false });
    }
  });

  it('reports the first bad variable even when others are fine', () => {
    expect(configError({ PORT: '8080', FUELCARD_PIN_MAX_TRIES: 'three', LOG_LEVEL: 'info' }).variable).toBe('FUELCARD_PIN_MAX_TRIES');
  });

  it('reads the terminal host settings: TLS files come in pairs, journal days and key rollover within bounds', () => {
    const c = loadConfig({});
    expect(c.posTls).toBeNull();
    expect(c.posJournalDays).toBe(35);
    expect(c.posKeyRolloverMs).toBe(86_400_000);
    expect(loadConfig({ FUELCARD_POS_TLS_CERT: '/etc/pos/cert.pem', FUELCARD_POS_TLS_KEY: '/etc/pos/key.pem' }).posTls).toEqual({ certFile: '/etc/pos/cert.pem', keyFile: '/etc/pos/key.pem' });
    expect(configError({ FUELCARD_POS_TLS_CERT: '/etc/pos/cert.pem' }).variable).toBe('FUELCARD_POS_TLS_KEY');
    expect(configError({ FUELCARD_POS_TLS_KEY: '/etc/pos/key.pem' }).variable).toBe('FUELCARD_POS_TLS_CERT');
    expect(configError({ FUELCARD_POS_JOURNAL_DAYS: '0' }).variable).toBe('FUELCARD_POS_JOURNAL_DAYS');
    expect(configError({ FUELCARD_POS_KEY_ROLLOVER_S: '5' }).variable).toBe('FUELCARD_POS_KEY_ROLLOVER_S');
  });

  it('reads the key settings: provider, field cipher, blind-index keys and hash, re-encryption batch', () => {
    const k = () => randomBytes(32).toString('base64');
    const d = loadConfig({});
    expect(d.keyProvider).toBe('env');
    expect(d.fieldCipher).toBe('aes-256-gcm');
    expect(d.blindIndexHash).toBe('sha256');
    expect(d.blindIndexKeys.map((b) => b.id)).toEqual(['dev1']);
    expect(d.reencryptBatch).toBe(200);
    const single = loadConfig({ FUELCARD_BLIND_INDEX_KEY: k() });
    expect(single.blindIndexKeys.map((b) => b.id)).toEqual(['b1']);
    expect(single.blindIndexKey.equals(single.blindIndexKeys[0]!.key)).toBe(true);
    const sm = loadConfig({ FUELCARD_FIELD_CIPHER: 'sm4', FUELCARD_BLIND_INDEX_KEYS: `b2:${k()},b1:${k()}`, FUELCARD_REENCRYPT_BATCH: '0' });
    expect(sm.fieldCipher).toBe('sm4');
    expect(sm.blindIndexHash).toBe('sha256');
    expect(sm.blindIndexKeys.map((b) => b.id)).toEqual(['b2', 'b1']);
    expect(sm.reencryptBatch).toBe(0);
    // The tag a row records for its indexes names the hash and the current key (customers.bidx_key).
    expect(configBlindIndexTag(sm)).toBe('sha256:b2');
    expect(configBlindIndexTag(loadConfig({ FUELCARD_BLIND_INDEX_HASH: 'sm3' }))).toBe('sm3:dev1');
    expect(loadConfig({ FUELCARD_FIELD_CIPHER: 'sm4', FUELCARD_BLIND_INDEX_HASH: 'sm3' }).blindIndexHash).toBe('sm3');

    expect(configError({ FUELCARD_FIELD_CIPHER: 'sm4-gcm' }).message).toContain('aes-256-gcm, sm4');
    expect(configError({ FUELCARD_BLIND_INDEX_HASH: 'md5' }).variable).toBe('FUELCARD_BLIND_INDEX_HASH');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'vault' }).variable).toBe('FUELCARD_KEY_PROVIDER');
    expect(configError({ FUELCARD_KEY_FILE: '/etc/fuelcard/keys.json' }).variable).toBe('FUELCARD_KEY_PROVIDER');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'env', FUELCARD_KEY_FILE: '/etc/fuelcard/keys.json' }).variable).toBe('FUELCARD_KEY_FILE');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'file' }).variable).toBe('FUELCARD_KEY_FILE');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'file', FUELCARD_KEY_FILE: '/x', FUELCARD_DATA_KEYS: `k1:${k()}` }).variable).toBe('FUELCARD_DATA_KEYS');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'local-kms', FUELCARD_KEY_FILE: '/x' }).variable).toBe('FUELCARD_KMS_MASTER_KEY_FILE');
    expect(configError({ FUELCARD_KEY_PROVIDER: 'file', FUELCARD_KEY_FILE: '/nonexistent/keys.json' }).message).toContain('ENOENT');
    expect(configError({ FUELCARD_BLIND_INDEX_KEYS: `b1:${k()}`, FUELCARD_BLIND_INDEX_KEY: k() }).variable).toBe('FUELCARD_BLIND_INDEX_KEYS');
    expect(configError({ FUELCARD_BLIND_INDEX_KEYS: 'b1' }).variable).toBe('FUELCARD_BLIND_INDEX_KEYS');
    expect(configError({ FUELCARD_REENCRYPT_BATCH: '-1' }).variable).toBe('FUELCARD_REENCRYPT_BATCH');
  });
});
