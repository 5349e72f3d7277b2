import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from './config-error.js';
import { BLIND_INDEX_HASHES, FIELD_ALGORITHMS, type BlindIndexHash, type DataKey, type FieldAlgorithm } from './keys/field-cipher.js';
import { KEY_PROVIDERS, fileKeyProvider, localKms, localKmsKeyProvider, parseKeyList, type KeyProvider, type KeyProviderName } from './keys/providers.js';
import { rateLimitsFromEnv, type RateLimitSettings } from './rate-limit.js';

/**
 * Configuration is read once from the environment, validated, and frozen.
 * Units live in the names (…Ms, …Fen) so a reader never has to guess.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly adminPassword: string | null;
  readonly sessionTtlMs: number;
  /** Where keys come from (FUELCARD_KEY_PROVIDER, docs/keys.md): env, a 0600 key file, or local-kms (wrapped keys + master key file). */
  readonly keyProvider: KeyProviderName;
  /** FUELCARD_KEY_FILE (file and local-kms providers), FUELCARD_KMS_MASTER_KEY_FILE (local-kms). */
  readonly keyFile: string | null;
  readonly kmsMasterKeyFile: string | null;
  /** 32-byte keys by id; the first one encrypts, all of them decrypt. */
  readonly dataKeys: ReadonlyArray<{ id: string; key: Buffer }>;
  /** Algorithm new field values are written with (FUELCARD_FIELD_CIPHER); values of either algorithm are read. */
  readonly fieldCipher: FieldAlgorithm;
  /** Blind-index keys by id, newest first; blindIndexKey is the first one's key (new indexes). */
  readonly blindIndexKeys: ReadonlyArray<{ id: string; key: Buffer }>;
  readonly blindIndexKey: Buffer;
  /** HMAC hash of blind indexes (FUELCARD_BLIND_INDEX_HASH): sha256 (default) or sm3. */
  readonly blindIndexHash: BlindIndexHash;
  /** Rows per batch of the background re-encryption job (FUELCARD_REENCRYPT_BATCH); 0 = the job does not run. */
  readonly reencryptBatch: number;
  readonly pinKey: Buffer;
  readonly cardIssuerPrefix: string;
  readonly pinMaxTries: number;
  /** 'reset' = locked until staff reset; 'next_day' = unlocks at the next business day. */
  readonly pinLockMode: 'reset' | 'next_day';
  readonly newCardStatus: 'active' | 'pending';
  readonly anonymousCardsRefundable: boolean;
  readonly anonymousCardsReportableLost: boolean;
  /** How long after a loss report the balance may move to a replacement card. */
  readonly lossTransferWaitMs: number;
  readonly terminalClockSkewMs: number;
  /** How long after a price change a sale at the previous price is still accepted (a fill that began before it). */
  readonly priceChangeGraceMs: number;
  /** Offline floor limits a terminal downloads, in fen. */
  readonly offlineFloorSale: number;
  readonly offlineFloorDay: number;
  /** How long a pump authorisation (pre-auth or prepay) holds its money before the expiry job releases it. */
  readonly holdExpiryMs: number;
  /**
   * The risk gate's budget for loading a sale's context (ms): past it the sale goes on under the
   * hard limits alone, recorded approve_flag with the note context_timeout (docs/risk-sale-path.md).
   */
  readonly riskContextTimeoutMs: number;
  /** A pre-auth without a requested amount holds this much (fen); no pre-auth holds more than preauthMaxAmount. */
  readonly preauthDefaultAmount: number;
  readonly preauthMaxAmount: number;
  /** Stock variance tolerance: a difference beyond max(basis points of the volume sold, the minimum) raises an alert. */
  readonly stockVarianceBp: number;
  readonly stockVarianceMinMl: number;
  readonly dbPoolSize: number;
  readonly shutdownTimeoutMs: number;
  readonly timeZone: string;
  readonly generatedSecrets: boolean;
  /** Demo data on a fresh database: 'auto' = only with the embedded database. */
  readonly demoData: 'auto' | 'on' | 'off';
  /** auto: npm start builds the web front ends when web/dist is missing; never: it does not (API-only runs). */
  readonly webBuild: 'auto' | 'never';
  /**
   * Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs),
   * or null: the client's address is the TCP peer. Login limits count per client address.
   */
  readonly trustProxy: string | null;
  /** How messages leave: 'dev' = logged and shown at /dev/outbox (public: never in production), 'webhook' = POSTed to messageWebhookUrl. */
  readonly messageSender: 'dev' | 'webhook';
  readonly messageWebhookUrl: string | null;
  /** Cardholder (portal) session lifetime. */
  readonly portalSessionTtlMs: number;
  /** Wrong passwords in a row (within loginLockMs) after which a staff login is refused for loginLockMs. */
  readonly loginMaxFailures: number;
  readonly loginLockMs: number;
  /**
   * Whether administrators (admin, security officer, auditor) must sign in with TOTP
   * (FUELCARD_ADMIN_TOTP). Default required; optional when the data keys are generated development
   * keys, where `npm start`'s printed admin password must keep working. docs/access.md.
   */
  readonly adminTotp: 'required' | 'optional';
  /** Token-bucket limits on login, sign-in code, PIN, notification and sandbox routes (FUELCARD_RATE_LIMITS). */
  readonly rateLimits: RateLimitSettings;
  /** How long an Idempotency-Key's answer is kept; a retry after that runs as a new request. */
  readonly idempotencyRetentionMs: number;
  /**
   * The address providers and payers reach this server at (https://pay.example.com), for
   * notification and return URLs; null: the address the server listens on (development).
   */
  readonly publicUrl: string | null;
  /** Top-up limits (fen): one order, one card's orders in a business day, and an anonymous card's balance after it. */
  readonly topupOrderMax: number;
  readonly topupDayMax: number;
  readonly anonymousBalanceCap: number;
  /** How long an online payment may take before the order is closed (after asking the channel). */
  readonly paymentOrderTtlMs: number;
  /** How long a bank transfer order waits for its transfer. */
  readonly bankTransferOrderTtlMs: number;
  /** Reconciliation: days a platform record may be missing from statements (midnight cut-over) before it is reported. */
  readonly reconPoolDays: number;
  /** Reconciliation: the time of day (HH:MM, operator's time zone) the T+1 job fetches yesterday's statements. */
  readonly reconJobTime: string;
  /**
   * Merchant credentials of the payment channels, raw: every FUELCARD_WECHAT_*, FUELCARD_ALIPAY_*,
   * FUELCARD_UNIONPAY_*, FUELCARD_BANK_* variable and FUELCARD_PAYMENTS_CONFIG (a JSON file).
   * The payments module validates them at start (src/payments/payments.config.ts).
   */
  readonly channelEnv: Readonly<Record<string, string>>;
  /**
   * Whether an online channel without merchant credentials runs against its local sandbox provider
   * (whose public payer page pays any order for free). FUELCARD_PAYMENTS_SANDBOX=auto (default): only
   * on development keys (generatedSecrets); on: always (a staging system — logged as a warning);
   * off: never (a channel without credentials is disabled).
   */
  readonly paymentsSandbox: boolean;
  /** TCP port of the ISO 8583 terminal host (FUELCARD_POS_PORT); 0 = a free port; null = not started ("off"). */
  readonly posPort: number | null;
  /** Days the terminal host keeps its exactly-once journal and message log (FUELCARD_POS_JOURNAL_DAYS). */
  readonly posJournalDays: number;
  /** After a key change, how long the previous MAC/PIN key version is still accepted (FUELCARD_POS_KEY_ROLLOVER_S). */
  readonly posKeyRolloverMs: number;
  /** TLS for the terminal host: PEM files (FUELCARD_POS_TLS_CERT, FUELCARD_POS_TLS_KEY); null = plain TCP. */
  readonly posTls: { readonly certFile: string; readonly keyFile: string } | null;
}

export { ConfigError };

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, dflt: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function key(env: Env, name: string, generated: { used: boolean }): Buffer {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    generated.used = true;
    return devKey(name);
  }
  const buf = Buffer.from(raw, 'base64');
  if (buf.length !== 32) throw new ConfigError(name, 'must be 32 bytes, base64 encoded (openssl rand -base64 32)');
  return buf;
}

/**
 * Without keys in the environment we derive stable development keys, so a
 * restarted demo can still read its own data. Production sets real keys; the
 * server logs a warning when it runs on development keys.
 */
function devKey(name: string): Buffer {
  return Buffer.from(
    Array.from({ length: 32 }, (_, i) => (name.charCodeAt(i % name.length) * 31 + i * 7) & 0xff),
  );
}

/** FUELCARD_TRUST_PROXY: proxy addresses only, never "trust everybody" (anyone could forge their address). */
function trustProxyOf(env: Record<string, string | undefined>): string | null {
  const raw = env.FUELCARD_TRUST_PROXY?.trim();
  if (!raw) return null;
  const parts = raw.split(',').map((p) => p.trim());
  const ip = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+)(?:\/\d{1,3})?$/;
  if (parts.some((p) => !ip.test(p))) throw new ConfigError('FUELCARD_TRUST_PROXY', 'expected comma-separated proxy addresses or CIDRs, e.g. 10.0.0.5,10.1.0.0/16');
  return parts.join(',');
}

function publicUrlOf(env: Env): string | null {
  const raw = env.FUELCARD_PUBLIC_URL?.trim();
  if (!raw) return null;
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(raw)) throw new ConfigError('FUELCARD_PUBLIC_URL', 'expected an absolute http(s) URL, e.g. https://pay.example.com');
  return raw.replace(/\/+$/, '');
}

function paymentsSandboxOf(env: Env, devKeys: boolean): boolean {
  const mode = oneOf(env, 'FUELCARD_PAYMENTS_SANDBOX', 'auto', ['auto', 'on', 'off'] as const);
  return mode === 'on' || (mode === 'auto' && devKeys);
}

function posPortOf(env: Env): number | null {
  const raw = env.FUELCARD_POS_PORT?.trim();
  if (raw === 'off') return null;
  return int({ FUELCARD_POS_PORT: raw }, 'FUELCARD_POS_PORT', 8583, 0, 65535);
}

function posTlsOf(env: Env): Config['posTls'] {
  const certFile = env.FUELCARD_POS_TLS_CERT?.trim() ?? '';
  const keyFile = env.FUELCARD_POS_TLS_KEY?.trim() ?? '';
  if (certFile === '' && keyFile === '') return null;
  if (certFile === '') throw new ConfigError('FUELCARD_POS_TLS_CERT', 'set together with FUELCARD_POS_TLS_KEY (PEM file paths)');
  if (keyFile === '') throw new ConfigError('FUELCARD_POS_TLS_KEY', 'set together with FUELCARD_POS_TLS_CERT (PEM file paths)');
  return { certFile, keyFile };
}

function reconJobTimeOf(env: Env): string {
  const raw = env.FUELCARD_RECON_TIME?.trim() || '10:30';
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(raw)) throw new ConfigError('FUELCARD_RECON_TIME', 'expected HH:MM (24 h), e.g. 10:30');
  return raw;
}

interface Keys {
  provider: KeyProviderName;
  keyFile: string | null;
  kmsMasterKeyFile: string | null;
  dataKeys: DataKey[];
  blindIndexKeys: DataKey[];
  pinKey: Buffer;
  /** The data keys are generated ones: a development system (the only case where any key may be generated). */
  devDataKeys: boolean;
}

function setting(env: Env, name: string): string | null {
  const v = env[name]?.trim();
  return v ? v : null;
}

/**
 * Keys from the provider FUELCARD_KEY_PROVIDER names. Settings of another provider are refused
 * rather than ignored: an operator who set FUELCARD_KEY_FILE believes the file is in use.
 */
function keysOf(env: Env, generated: { used: boolean }): Keys {
  const keyFile = setting(env, 'FUELCARD_KEY_FILE');
  const masterFile = setting(env, 'FUELCARD_KMS_MASTER_KEY_FILE');
  const rawProvider = setting(env, 'FUELCARD_KEY_PROVIDER');
  if (rawProvider === null && keyFile !== null) {
    throw new ConfigError('FUELCARD_KEY_PROVIDER', 'must be set (file or local-kms) when FUELCARD_KEY_FILE is set');
  }
  const provider = oneOf(env, 'FUELCARD_KEY_PROVIDER', 'env', KEY_PROVIDERS);
  if (provider === 'env') {
    if (keyFile !== null) throw new ConfigError('FUELCARD_KEY_FILE', 'is only read by FUELCARD_KEY_PROVIDER=file or local-kms');
    if (masterFile !== null) throw new ConfigError('FUELCARD_KMS_MASTER_KEY_FILE', 'is only read by FUELCARD_KEY_PROVIDER=local-kms');
    const rawData = setting(env, 'FUELCARD_DATA_KEYS');
    let dataKeys: DataKey[];
    if (rawData !== null) dataKeys = parseKeyList(rawData, 'FUELCARD_DATA_KEYS');
    else {
      generated.used = true;
      dataKeys = [{ id: 'dev1', key: devKey('FUELCARD_DATA_KEYS') }];
    }
    const rawIndexKeys = setting(env, 'FUELCARD_BLIND_INDEX_KEYS');
    if (rawIndexKeys !== null && setting(env, 'FUELCARD_BLIND_INDEX_KEY') !== null) {
      throw new ConfigError('FUELCARD_BLIND_INDEX_KEYS', 'set either FUELCARD_BLIND_INDEX_KEYS (with ids) or FUELCARD_BLIND_INDEX_KEY, not both');
    }
    let blindIndexKeys: DataKey[];
    if (rawIndexKeys !== null) blindIndexKeys = parseKeyList(rawIndexKeys, 'FUELCARD_BLIND_INDEX_KEYS');
    else {
      // The single-key setting predates key ids: its key is "b1" (a generated one "dev1").
      blindIndexKeys = [{ id: setting(env, 'FUELCARD_BLIND_INDEX_KEY') === null ? 'dev1' : 'b1', key: key(env, 'FUELCARD_BLIND_INDEX_KEY', generated) }];
    }
    if (rawData !== null) {
      // Real data keys make this a production system: a generated PIN or blind-index key there is
      // one anybody can compute from this source, so a forgotten variable stops the start rather
      // than passing with a warning (and, before, with administrators' TOTP made optional).
      const missing = setting(env, 'FUELCARD_PIN_KEY') === null ? 'FUELCARD_PIN_KEY' : rawIndexKeys === null && setting(env, 'FUELCARD_BLIND_INDEX_KEY') === null ? 'FUELCARD_BLIND_INDEX_KEYS' : null;
      if (missing !== null) {
        throw new ConfigError(
          missing,
          `must be set when FUELCARD_DATA_KEYS is configured: a generated development key is not used next to real data keys${missing === 'FUELCARD_BLIND_INDEX_KEYS' ? ' (or the single FUELCARD_BLIND_INDEX_KEY)' : ''} (openssl rand -base64 32)`,
        );
      }
    }
    return { provider, keyFile: null, kmsMasterKeyFile: null, dataKeys, blindIndexKeys, pinKey: key(env, 'FUELCARD_PIN_KEY', generated), devDataKeys: rawData === null };
  }
  const envKeys = ['FUELCARD_DATA_KEYS', 'FUELCARD_BLIND_INDEX_KEYS', 'FUELCARD_BLIND_INDEX_KEY'].find((n) => setting(env, n) !== null);
  if (envKeys) throw new ConfigError(envKeys, `is not read with FUELCARD_KEY_PROVIDER=${provider}: the keys come from FUELCARD_KEY_FILE`);
  if (keyFile === null) throw new ConfigError('FUELCARD_KEY_FILE', `is required with FUELCARD_KEY_PROVIDER=${provider} (path of the key file, mode 0600)`);
  let p: KeyProvider;
  if (provider === 'file') {
    if (masterFile !== null) throw new ConfigError('FUELCARD_KMS_MASTER_KEY_FILE', 'is only read by FUELCARD_KEY_PROVIDER=local-kms');
    p = fileKeyProvider(keyFile);
  } else {
    if (masterFile === null) throw new ConfigError('FUELCARD_KMS_MASTER_KEY_FILE', 'is required with FUELCARD_KEY_PROVIDER=local-kms (path of the master key file, mode 0600)');
    p = localKmsKeyProvider(localKms(masterFile), keyFile);
  }
  if (p.blindIndexKeys.length === 0) throw new ConfigError('FUELCARD_KEY_FILE', `${keyFile} holds no blind-index key ("blindIndexKeys")`);
  let pinKey = p.pinKey;
  if (pinKey === null) {
    if (setting(env, 'FUELCARD_PIN_KEY') === null) throw new ConfigError('FUELCARD_PIN_KEY', `is required when ${keyFile} holds no "pinKey"`);
    pinKey = key(env, 'FUELCARD_PIN_KEY', generated);
  }
  return {
    provider,
    keyFile: path.resolve(keyFile),
    kmsMasterKeyFile: masterFile === null ? null : path.resolve(masterFile),
    dataKeys: p.listKeyIds().map((id) => ({ id, key: p.dataKey(id) })),
    blindIndexKeys: [...p.blindIndexKeys],
    pinKey,
    devDataKeys: false,
  };
}

export function loadConfig(env: Env = process.env): Config {
  const generated = { used: false };
  const databaseUrl = env.DATABASE_URL && env.DATABASE_URL !== '' ? env.DATABASE_URL : null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
  }
  const prefix = env.FUELCARD_CARD_PREFIX && env.FUELCARD_CARD_PREFIX !== '' ? env.FUELCARD_CARD_PREFIX : '900001';
  if (!/^\d{6,8}$/.test(prefix)) throw new ConfigError('FUELCARD_CARD_PREFIX', 'must be 6 to 8 digits');

  const keys = keysOf(env, generated);
  const dataKeys = keys.dataKeys;
  const fieldCipher = oneOf(env, 'FUELCARD_FIELD_CIPHER', 'aes-256-gcm', FIELD_ALGORITHMS);

  // The dev sender shows sign-in codes on a public page: fine on a development install (its data
  // keys are generated), never in production. Once real data keys are configured the operator
  // must name the sender.
  const senderRaw = env.FUELCARD_MESSAGE_SENDER;
  if ((senderRaw === undefined || senderRaw === '') && !generated.used) {
    throw new ConfigError('FUELCARD_MESSAGE_SENDER', 'must be set (webhook, or dev on a test system) when FUELCARD_DATA_KEYS is configured');
  }
  const messageSender = oneOf(env, 'FUELCARD_MESSAGE_SENDER', 'dev', ['dev', 'webhook'] as const);
  const messageWebhookUrl = env.FUELCARD_MESSAGE_WEBHOOK_URL && env.FUELCARD_MESSAGE_WEBHOOK_URL !== '' ? env.FUELCARD_MESSAGE_WEBHOOK_URL : null;
  if (messageWebhookUrl !== null && !/^https?:\/\/\S+$/.test(messageWebhookUrl)) throw new ConfigError('FUELCARD_MESSAGE_WEBHOOK_URL', 'must be an http:// or https:// URL');
  if (messageSender === 'webhook' && messageWebhookUrl === null) throw new ConfigError('FUELCARD_MESSAGE_WEBHOOK_URL', 'is required when FUELCARD_MESSAGE_SENDER=webhook');

  const timeZone = env.FUELCARD_TZ && env.FUELCARD_TZ !== '' ? env.FUELCARD_TZ : 'Asia/Shanghai';
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone });
  } catch {
    throw new ConfigError('FUELCARD_TZ', `unknown time zone "${timeZone}" (an IANA name such as Asia/Shanghai)`);
  }

  const config: Config = {
    port: int(env, 'PORT', 3000, 0, 65535),
    // With the embedded database this is a local or demo install, with demo logins whose passwords
    // are printed: listen on loopback only unless HOST says otherwise.
    host: env.HOST && env.HOST !== '' ? env.HOST : databaseUrl === null ? '127.0.0.1' : '0.0.0.0',
    databaseUrl,
    dataDir: path.resolve(env.FUELCARD_DATA_DIR && env.FUELCARD_DATA_DIR !== '' ? env.FUELCARD_DATA_DIR : './data'),
    embeddedPgPort: int(env, 'FUELCARD_PG_PORT', 0, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    adminPassword: env.FUELCARD_ADMIN_PASSWORD && env.FUELCARD_ADMIN_PASSWORD !== '' ? env.FUELCARD_ADMIN_PASSWORD : null,
    sessionTtlMs: int(env, 'FUELCARD_SESSION_TTL_MIN', 480, 1, 60 * 24 * 30) * 60_000,
    keyProvider: keys.provider,
    keyFile: keys.keyFile,
    kmsMasterKeyFile: keys.kmsMasterKeyFile,
    dataKeys,
    fieldCipher,
    blindIndexKeys: keys.blindIndexKeys,
    blindIndexKey: keys.blindIndexKeys[0]!.key,
    // Not tied to FUELCARD_FIELD_CIPHER: changing the hash changes every index, a rotation of its own.
    blindIndexHash: oneOf(env, 'FUELCARD_BLIND_INDEX_HASH', 'sha256', BLIND_INDEX_HASHES),
    reencryptBatch: int(env, 'FUELCARD_REENCRYPT_BATCH', 200, 0, 10_000),
    pinKey: keys.pinKey,
    cardIssuerPrefix: prefix,
    pinMaxTries: int(env, 'FUELCARD_PIN_MAX_TRIES', 3, 1, 10),
    pinLockMode: oneOf(env, 'FUELCARD_PIN_LOCK', 'next_day', ['reset', 'next_day'] as const),
    newCardStatus: oneOf(env, 'FUELCARD_NEW_CARD_STATUS', 'active', ['active', 'pending'] as const),
    anonymousCardsRefundable: bool(env, 'FUELCARD_ANON_REFUNDABLE', false),
    anonymousCardsReportableLost: bool(env, 'FUELCARD_ANON_REPORTABLE_LOST', false),
    lossTransferWaitMs: int(env, 'FUELCARD_LOSS_WAIT_HOURS', 24, 0, 24 * 60) * 3_600_000,
    terminalClockSkewMs: int(env, 'FUELCARD_TERMINAL_SKEW_S', 300, 1, 3600) * 1000,
    priceChangeGraceMs: int(env, 'FUELCARD_PRICE_CHANGE_GRACE_S', 300, 0, 3600) * 1000,
    offlineFloorSale: int(env, 'FUELCARD_OFFLINE_FLOOR_SALE', 20_000, 0, 10_000_000),
    offlineFloorDay: int(env, 'FUELCARD_OFFLINE_FLOOR_DAY', 50_000, 0, 100_000_000),
    holdExpiryMs: int(env, 'FUELCARD_HOLD_EXPIRY_MIN', 30, 1, 7 * 24 * 60) * 60_000,
    riskContextTimeoutMs: int(env, 'FUELCARD_RISK_CONTEXT_TIMEOUT_MS', 200, 20, 5_000),
    preauthDefaultAmount: int(env, 'FUELCARD_PREAUTH_DEFAULT_FEN', 80_000, 100, 10_000_000),
    preauthMaxAmount: int(env, 'FUELCARD_PREAUTH_MAX_FEN', 300_000, 100, 100_000_000),
    stockVarianceBp: int(env, 'FUELCARD_STOCK_VARIANCE_BP', 50, 0, 10_000),
    stockVarianceMinMl: int(env, 'FUELCARD_STOCK_VARIANCE_MIN_L', 50, 0, 100_000) * 1000,
    dbPoolSize: int(env, 'FUELCARD_DB_POOL', 16, 1, 200),
    shutdownTimeoutMs: int(env, 'FUELCARD_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    timeZone,
    generatedSecrets: generated.used,
    paymentsSandbox: paymentsSandboxOf(env, generated.used),
    demoData: oneOf(env, 'FUELCARD_DEMO', 'auto', ['auto', 'on', 'off'] as const),
    webBuild: oneOf(env, 'FUELCARD_WEB_BUILD', 'auto', ['auto', 'never'] as const),
    trustProxy: trustProxyOf(env),
    messageSender,
    messageWebhookUrl,
    portalSessionTtlMs: int(env, 'FUELCARD_PORTAL_SESSION_TTL_MIN', 43_200, 1, 129_600) * 60_000,
    // 等保 level 3 / issue 7: at most 10 failures, then locked for at least 30 minutes. Tests that
    // need the window to pass age the failures instead of shortening it.
    loginMaxFailures: int(env, 'FUELCARD_LOGIN_MAX_FAILURES', 5, 1, 10),
    loginLockMs: int(env, 'FUELCARD_LOGIN_LOCK_MIN', 30, 30, 24 * 60) * 60_000,
    // Optional by default only on a development system (generated data keys), where `npm start`'s
    // printed admin password must keep working; keysOf refuses generated keys next to real ones.
    adminTotp: oneOf(env, 'FUELCARD_ADMIN_TOTP', keys.devDataKeys ? 'optional' : 'required', ['required', 'optional'] as const),
    rateLimits: rateLimitsFromEnv(env),
    idempotencyRetentionMs: int(env, 'FUELCARD_IDEMPOTENCY_DAYS', 30, 1, 3650) * 86_400_000,
    publicUrl: publicUrlOf(env),
    topupOrderMax: int(env, 'FUELCARD_TOPUP_ORDER_MAX_FEN', 5_000_000, 1, 1_000_000_000),
    topupDayMax: int(env, 'FUELCARD_TOPUP_DAY_MAX_FEN', 10_000_000, 1, 10_000_000_000),
    anonymousBalanceCap: int(env, 'FUELCARD_ANONYMOUS_BALANCE_CAP_FEN', 100_000, 1, 1_000_000_000),
    paymentOrderTtlMs: int(env, 'FUELCARD_PAYMENT_ORDER_TTL_MINUTES', 15, 1, 1440) * 60_000,
    bankTransferOrderTtlMs: int(env, 'FUELCARD_BANK_TRANSFER_ORDER_TTL_DAYS', 3, 1, 30) * 86_400_000,
    reconPoolDays: int(env, 'FUELCARD_RECON_POOL_DAYS', 3, 1, 30),
    reconJobTime: reconJobTimeOf(env),
    posPort: posPortOf(env),
    posJournalDays: int(env, 'FUELCARD_POS_JOURNAL_DAYS', 35, 1, 3650),
    posKeyRolloverMs: int(env, 'FUELCARD_POS_KEY_ROLLOVER_S', 86_400, 60, 30 * 86_400) * 1000,
    posTls: posTlsOf(env),
    channelEnv: Object.freeze(
      Object.fromEntries(
        Object.entries(env).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && (/^FUELCARD_(WECHAT|ALIPAY|UNIONPAY|BANK)_/.test(e[0]) || e[0] === 'FUELCARD_PAYMENTS_CONFIG'),
        ),
      ),
    ),
  };
  return Object.freeze(config);
}

export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}
