/**
 * Test certificates for the UnionPay sandbox and tests: a root CA → middle CA → UnionPay signing
 * certificate chain like UnionPay's own (acp_prod_root.cer → acp_prod_middle.cer → signPubKeyCert)
 * and the merchant's signing certificate. Keys come from node:crypto (forge's key generation is
 * slow); node-forge only builds and signs the X.509 structures.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { UNIONPAY_ORG } from './acp.js';

type Attr = { name?: string; shortName?: string; value: string; valueTagClass?: number };

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** The subject as built, so the certificate can issue others with an identical issuer name. */
  subject: Attr[];
}

export interface CertSpec {
  cn: string;
  o?: string;
  ou?: string;
  ca?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Signs the certificate; omitted: self-signed. */
  issuer?: IssuedCert;
  /** Reuse an existing key (PKCS#8 PEM) instead of generating one. */
  keyPem?: string;
}

export function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const kp = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: kp.privateKey, publicKeyPem: kp.publicKey };
}

const DAY = 86_400_000;

export function issueCert(spec: CertSpec): IssuedCert {
  const keys = spec.keyPem
    ? { privateKeyPem: spec.keyPem, publicKeyPem: createPublicKey(spec.keyPem).export({ type: 'spki', format: 'pem' }).toString() }
    : rsaKeyPair();
  const utf8 = forge.asn1.Type.UTF8;
  const subject: Attr[] = [
    { name: 'countryName', value: 'CN' },
    { name: 'organizationName', value: spec.o ?? UNIONPAY_ORG, valueTagClass: utf8 },
    ...(spec.ou ? [{ shortName: 'OU', value: spec.ou, valueTagClass: utf8 }] : []),
    { name: 'commonName', value: spec.cn, valueTagClass: utf8 },
  ];
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  // A positive serial (high bit clear) of 8 bytes, never zero.
  const serial = randomBytes(8);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = spec.notBefore ?? new Date(Date.now() - DAY);
  cert.validity.notAfter = spec.notAfter ?? new Date(Date.now() + 3650 * DAY);
  cert.setSubject(subject);
  cert.setIssuer(spec.issuer ? spec.issuer.subject : subject);
  cert.setExtensions(
    spec.ca
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
        ],
  );
  const signer = forge.pki.privateKeyFromPem(spec.issuer ? spec.issuer.keyPem : keys.privateKeyPem);
  cert.sign(signer, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem, subject };
}

export interface UnionPayPki {
  root: IssuedCert;
  middle: IssuedCert;
  /** UnionPay's signing certificate (sent as signPubKeyCert in answers and notifications). */
  unionpaySign: IssuedCert;
  /** The merchant's signing certificate (its serial in decimal is our certId). */
  merchantSign: IssuedCert;
}

/** CN of a UnionPay signing certificate, shaped like the production one (third `@`-field = the organisation). */
export const UNIONPAY_SIGN_CN = `041@Z12@${UNIONPAY_ORG}@00000001`;

export function createUnionPayPki(merId: string, opts: { label?: string } = {}): UnionPayPki {
  const label = opts.label ?? 'Sandbox';
  const root = issueCert({ cn: `CFCA ACS ${label} Root`, o: 'China Financial Certification Authority', ca: true });
  const middle = issueCert({ cn: `CFCA ACS ${label} OCA31`, o: 'China Financial Certification Authority', ca: true, issuer: root });
  const unionpaySign = issueCert({ cn: UNIONPAY_SIGN_CN, ou: '00000000', issuer: middle });
  const merchantSign = issueCert({ cn: `041@Z${merId}@演示加油卡商户@00000001`, o: '演示石油销售有限公司', ou: 'Enterprises', issuer: middle });
  return { root, middle, unionpaySign, merchantSign };
}
