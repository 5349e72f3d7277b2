import { readFileSync } from 'node:fs';
import { ConfigError } from '../platform/index.js';

/**
 * Merchant credentials of the payment channels (docs/payments.md). Each channel is configured
 * from environment variables or from the JSON file named by FUELCARD_PAYMENTS_CONFIG (the file
 * wins field by field over nothing; the environment wins over the file). A channel with no
 * credentials at all runs against the local sandbox provider; a channel with some but not all
 * of them refuses to start, so a typo never silently falls back to the sandbox in production.
 */

/** WeChat Pay API v3 (微信支付). */
export interface WechatMerchantConfig {
  mchId: string;
  appId: string;
  /** Serial number of the merchant API certificate (商户API证书序列号), named in our Authorization header. */
  merchantSerialNo: string;
  merchantPrivateKeyPem: string;
  /** The APIv3 key (32 characters) that decrypts notification resources. */
  apiV3Key: string;
  /** Keys that verify WeChat's signatures, by Wechatpay-Serial: 'PUB_KEY_ID_…' → public key, or a platform certificate serial → certificate. */
  platformKeys: Record<string, string>;
  /** https://api.mch.weixin.qq.com in production. */
  apiBase: string;
}

/** Alipay OpenAPI with RSA2 (支付宝). */
export interface AlipayMerchantConfig {
  appId: string;
  /** Our Alipay account id (2088…): notifications must name it as seller_id. */
  sellerId: string;
  appPrivateKeyPem: string;
  /** Alipay's public key (支付宝公钥), which verifies its notifications and answers. */
  alipayPublicKeyPem: string;
  /** https://openapi.alipay.com/gateway.do in production. */
  gateway: string;
}

/** UnionPay online payment, ACP 5.1.0 (银联全渠道). */
export interface UnionPayMerchantConfig {
  merId: string;
  /** Our signing certificate and its private key (the .pfx split into PEM); certId = the certificate's serial in decimal. */
  signCertPem: string;
  signKeyPem: string;
  /** UnionPay's root and middle certificates, which the signPubKeyCert of every answer and notification must chain to. */
  rootCertPem: string;
  middleCertPem: string;
  /** https://gateway.95516.com in production (frontTransReq.do, backTransReq.do, queryTrans.do). */
  gatewayBase: string;
  /** https://filedownload.95516.com in production (reconciliation files). */
  fileBase: string;
}

/** The receiving bank account printed on bank transfer instructions. */
export interface BankAccountConfig {
  bankName: string;
  accountName: string;
  accountNo: string;
}

export interface ChannelCredentials {
  wechat: WechatMerchantConfig | null;
  alipay: AlipayMerchantConfig | null;
  unionpay: UnionPayMerchantConfig | null;
  bank: BankAccountConfig;
}

type Raw = Record<string, unknown>;

const DEMO_BANK: BankAccountConfig = { bankName: '中国工商银行北京分行营业部', accountName: '演示石油销售有限公司', accountNo: '0200 0000 0000 0000 000' };

/** Read credentials from env (FUELCARD_<CHANNEL>_<FIELD>, *_FILE for PEM files) and the optional JSON file. */
export function loadChannelCredentials(env: Readonly<Record<string, string>>): ChannelCredentials {
  let file: Raw = {};
  const path = env.FUELCARD_PAYMENTS_CONFIG;
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as Raw;
    } catch (err) {
      throw new ConfigError('FUELCARD_PAYMENTS_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new ConfigError('FUELCARD_PAYMENTS_CONFIG', 'expected a JSON object');
  }
  const section = (name: string): Raw => {
    const s = file[name];
    return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Raw) : {};
  };

  /** One field: env FUELCARD_<P>_<NAME>, env FUELCARD_<P>_<NAME>_FILE, file field, file field + 'File'. */
  const read = (prefix: string, sec: Raw, envName: string, key: string): string | undefined => {
    const v = env[`FUELCARD_${prefix}_${envName}`];
    if (v) return v.replace(/\\n/g, '\n');
    const f = env[`FUELCARD_${prefix}_${envName}_FILE`];
    if (f) return readPem(`FUELCARD_${prefix}_${envName}_FILE`, f);
    const fv = sec[key];
    if (typeof fv === 'string' && fv !== '') return fv;
    const ff = sec[`${key}File`];
    if (typeof ff === 'string' && ff !== '') return readPem(`FUELCARD_PAYMENTS_CONFIG ${prefix.toLowerCase()}.${key}File`, ff);
    return undefined;
  };

  const channel = <T>(prefix: string, fields: ReadonlyArray<[envName: string, key: keyof T & string, required: boolean]>, defaults: Partial<T>): T | null => {
    const sec = section(prefix.toLowerCase());
    const out: Record<string, unknown> = {};
    const missing: string[] = [];
    let any = false;
    for (const [envName, key, required] of fields) {
      const v = read(prefix, sec, envName, key);
      if (v !== undefined) {
        out[key] = v;
        any = true;
      } else if (required) missing.push(`FUELCARD_${prefix}_${envName}`);
    }
    if (!any) return null;
    if (missing.length > 0) throw new ConfigError(missing[0]!, `${prefix} is partly configured; also set ${missing.join(', ')}`);
    return { ...defaults, ...out } as T;
  };

  const wechatBase = channel<Omit<WechatMerchantConfig, 'platformKeys'> & { publicKeyId: string; publicKeyPem: string; platformCertPem: string; platformCertSerial: string }>(
    'WECHAT',
    [
      ['MCHID', 'mchId', true],
      ['APPID', 'appId', true],
      ['SERIAL_NO', 'merchantSerialNo', true],
      ['PRIVATE_KEY', 'merchantPrivateKeyPem', true],
      ['APIV3_KEY', 'apiV3Key', true],
      ['PUBLIC_KEY_ID', 'publicKeyId', false],
      ['PUBLIC_KEY', 'publicKeyPem', false],
      ['PLATFORM_CERT_SERIAL', 'platformCertSerial', false],
      ['PLATFORM_CERT', 'platformCertPem', false],
      ['API_BASE', 'apiBase', false],
    ],
    { apiBase: 'https://api.mch.weixin.qq.com' },
  );
  let wechat: WechatMerchantConfig | null = null;
  if (wechatBase) {
    const platformKeys: Record<string, string> = {};
    if (wechatBase.publicKeyId && wechatBase.publicKeyPem) platformKeys[wechatBase.publicKeyId] = wechatBase.publicKeyPem;
    if (wechatBase.platformCertSerial && wechatBase.platformCertPem) platformKeys[wechatBase.platformCertSerial] = wechatBase.platformCertPem;
    if (Object.keys(platformKeys).length === 0) {
      throw new ConfigError('FUELCARD_WECHAT_PUBLIC_KEY', 'set FUELCARD_WECHAT_PUBLIC_KEY_ID and FUELCARD_WECHAT_PUBLIC_KEY (WeChat Pay public key), or FUELCARD_WECHAT_PLATFORM_CERT_SERIAL and FUELCARD_WECHAT_PLATFORM_CERT');
    }
    if (Buffer.byteLength(wechatBase.apiV3Key, 'utf8') !== 32) throw new ConfigError('FUELCARD_WECHAT_APIV3_KEY', 'must be 32 characters');
    wechat = {
      mchId: wechatBase.mchId,
      appId: wechatBase.appId,
      merchantSerialNo: wechatBase.merchantSerialNo,
      merchantPrivateKeyPem: wechatBase.merchantPrivateKeyPem,
      apiV3Key: wechatBase.apiV3Key,
      platformKeys,
      apiBase: wechatBase.apiBase.replace(/\/+$/, ''),
    };
  }

  const alipay = channel<AlipayMerchantConfig>(
    'ALIPAY',
    [
      ['APPID', 'appId', true],
      ['SELLER_ID', 'sellerId', true],
      ['PRIVATE_KEY', 'appPrivateKeyPem', true],
      ['PUBLIC_KEY', 'alipayPublicKeyPem', true],
      ['GATEWAY', 'gateway', false],
    ],
    { gateway: 'https://openapi.alipay.com/gateway.do' },
  );

  const unionpay = channel<UnionPayMerchantConfig>(
    'UNIONPAY',
    [
      ['MERID', 'merId', true],
      ['SIGN_CERT', 'signCertPem', true],
      ['SIGN_KEY', 'signKeyPem', true],
      ['ROOT_CERT', 'rootCertPem', true],
      ['MIDDLE_CERT', 'middleCertPem', true],
      ['GATEWAY', 'gatewayBase', false],
      ['FILE_GATEWAY', 'fileBase', false],
    ],
    { gatewayBase: 'https://gateway.95516.com', fileBase: 'https://filedownload.95516.com' },
  );

  const bank = channel<BankAccountConfig>(
    'BANK',
    [
      ['NAME', 'bankName', true],
      ['ACCOUNT_NAME', 'accountName', true],
      ['ACCOUNT_NO', 'accountNo', true],
    ],
    {},
  );

  return { wechat, alipay, unionpay, bank: bank ?? DEMO_BANK };
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as Error).message}`);
  }
}
