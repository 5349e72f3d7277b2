import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from './config-error.js';
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
  /** 32-byte keys by id; the first one encrypts, all of them decrypt. */
  readonly dataKeys: ReadonlyArray<{ id: string; key: Buffer }>;
  readonly blindIndexKey: Buffer;
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

export function loadConfig(env: Env = process.env): Config {
  const generated = { used: false };
  const databaseUrl = env.DATABASE_URL && env.DATABASE_URL !== '' ? env.DATABASE_URL : null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
  }
  const prefix = env.FUELCARD_CARD_PREFIX && env.FUELCARD_CARD_PREFIX !== '' ? env.FUELCARD_CARD_PREFIX : '900001';
  if (!/^\d{6,8}$/.test(prefix)) throw new ConfigError('FUELCARD_CARD_PREFIX', 'must be 6 to 8 digits');

  const dataKeys: Array<{ id: string; key: Buffer }> = [];
  const keysRaw = env.FUELCARD_DATA_KEYS;
  if (keysRaw && keysRaw !== '') {
    for (const part of keysRaw.split(',')) {
      const [id, b64] = part.split(':');
      if (!id || !b64 || !/^[a-z0-9_-]{1,16}$/i.test(id)) {
        throw new ConfigError('FUELCARD_DATA_KEYS', 'expected "keyId:base64key[,keyId:base64key…]", newest first');
      }
      const buf = Buffer.from(b64, 'base64');
      if (buf.length !== 32) throw new ConfigError('FUELCARD_DATA_KEYS', `key ${id} must be 32 bytes`);
      // Values carry their key id; two keys with one id would make old values undecryptable.
      if (dataKeys.some((k) => k.id === id)) throw new ConfigError('FUELCARD_DATA_KEYS', `key id ${id} appears twice`);
      dataKeys.push({ id, key: buf });
    }
  } else {
    generated.used = true;
    dataKeys.push({ id: 'dev1', key: devKey('FUELCARD_DATA_KEYS') });
  }

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
    dataKeys,
    blindIndexKey: key(env, 'FUELCARD_BLIND_INDEX_KEY', generated),
    pinKey: key(env, 'FUELCARD_PIN_KEY', generated),
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
    // 等保 level 3 / issue 7: at most 10 failures, then at least 30 minutes (the lower bound stays 1 for tests).
    loginMaxFailures: int(env, 'FUELCARD_LOGIN_MAX_FAILURES', 5, 1, 10),
    loginLockMs: int(env, 'FUELCARD_LOGIN_LOCK_MIN', 30, 1, 24 * 60) * 60_000,
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
