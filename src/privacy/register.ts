import type { Role } from '../platform/index.js';
import { maskAccount, maskCardNo, maskIdNumber, maskName, maskPhone, maskPlate } from '../platform/index.js';

/**
 * The register of personal data (PIPL Art. 51, 个人信息清单): every column that holds data about
 * a person, why, on what legal basis, how long, and how it is shown. A test compares it with
 * the live schema, so a personal-looking column added without an entry here fails the build.
 */

export type PersonalCategory = 'identity' | 'contact' | 'financial' | 'location' | 'online_identifier' | 'staff';

/**
 * How a field is shown to a caller who may not see it in clear. Chosen per field (see
 * docs/privacy.md): ID number and card number show first 6 and last 4 (the rule; the 6
 * of an ID number are the region of issue, the 6 of a card its BIN); a mobile number shows 3 and
 * 4, the Chinese convention (第 4-7 位屏蔽), because first 6 + last 4 of 11 digits would hide one.
 */
export type MaskRule =
  | 'name_first_char'
  | 'phone_3_4'
  | 'id_6_4'
  | 'card_6_4'
  | 'account_4_4'
  /** Licence plate: province + office letter, three stars, last two. */
  | 'plate_2_2'
  /** Stored already masked or reduced; shown as stored. */
  | 'stored_masked'
  /** A keyed hash or secret: never returned by any API. */
  | 'never_shown'
  /** Not identifying on its own; shown as is to whoever may read the record. */
  | 'none';

export type LegalBasis =
  /** PIPL Art. 13(2): needed to perform the contract with the person (the card). */
  | 'contract'
  /** PIPL Art. 13(3): a legal duty (real-name rules for prepaid cards, accounting law, CSL logs). */
  | 'legal_obligation'
  /** PIPL Art. 13(1): consent (separate consent for sensitive data, Art. 29). */
  | 'consent'
  /** PIPL Art. 13(2) for staff: managing the employment relationship. */
  | 'employment';

export interface PersonalField {
  /** table.column */
  readonly field: string;
  readonly category: PersonalCategory;
  /** PIPL Art. 28 sensitive personal information. */
  readonly sensitive: boolean;
  readonly description: string;
  readonly purpose: string;
  readonly legalBasis: LegalBasis;
  /** In words: how long it is kept and what ends it. */
  readonly retention: string;
  readonly mask: MaskRule;
  /** Staff roles that may see the value in clear (each such view is audited as privacy.view_unmasked). */
  readonly unmaskedRoles: readonly Role[];
  /** What the anonymisation job does to it after account closure plus the retention period. */
  readonly onAnonymise: 'replaced' | 'deleted' | 'kept_financial_record' | 'expires_earlier';
}

const PERSONAL_ROLES: readonly Role[] = ['admin', 'operator', 'risk'];
const CARD_NO_ROLES: readonly Role[] = ['admin', 'operator', 'risk', 'station_staff'];
const CUSTOMER_RETENTION = 'while any card is open; anonymised FUELCARD_PRIVACY_RETENTION_DAYS (default 1095) after the last card closed';
const FINANCIAL_RETENTION = 'kept with the financial record (会计档案: 30 years for ledgers and vouchers)';

export const PERSONAL_DATA: readonly PersonalField[] = [
  {
    field: 'customers.name_enc',
    category: 'identity',
    sensitive: false,
    description: 'Full name (encrypted, AES-256-GCM field cipher)',
    purpose: 'Identify the holder of a named card; real-name registration of prepaid cards',
    legalBasis: 'legal_obligation',
    retention: CUSTOMER_RETENTION,
    mask: 'name_first_char',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.name_bidx',
    category: 'identity',
    sensitive: false,
    description: 'Keyed blind index of the normalised name',
    purpose: 'Exact search by name without decrypting',
    legalBasis: 'contract',
    retention: CUSTOMER_RETENTION,
    mask: 'never_shown',
    unmaskedRoles: [],
    onAnonymise: 'deleted',
  },
  {
    field: 'customers.phone_enc',
    category: 'contact',
    sensitive: false,
    description: 'Mobile phone number (encrypted)',
    purpose: 'Contact the holder; cardholder portal sign-in; transaction and balance alerts',
    legalBasis: 'contract',
    retention: CUSTOMER_RETENTION,
    mask: 'phone_3_4',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.phone_bidx',
    category: 'contact',
    sensitive: false,
    description: 'Keyed blind index of the phone number',
    purpose: 'Search by phone; the portal identity',
    legalBasis: 'contract',
    retention: CUSTOMER_RETENTION,
    mask: 'never_shown',
    unmaskedRoles: [],
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.id_type',
    category: 'identity',
    sensitive: false,
    description: 'Kind of identity document (resident ID, passport, ...)',
    purpose: 'Real-name registration',
    legalBasis: 'legal_obligation',
    retention: CUSTOMER_RETENTION,
    mask: 'none',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.id_number_enc',
    category: 'identity',
    sensitive: true,
    description: 'Identity document number (encrypted)',
    purpose: 'Real-name registration (≥ ¥10,000 purchases, named cards); identify the holder for loss and PIN unlock',
    legalBasis: 'legal_obligation',
    retention: CUSTOMER_RETENTION,
    mask: 'id_6_4',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.id_number_bidx',
    category: 'identity',
    sensitive: true,
    description: 'Keyed blind index of the ID number',
    purpose: 'One customer per document; search by ID number',
    legalBasis: 'legal_obligation',
    retention: CUSTOMER_RETENTION,
    mask: 'never_shown',
    unmaskedRoles: [],
    onAnonymise: 'replaced',
  },
  {
    field: 'customers.real_name_status',
    category: 'identity',
    sensitive: false,
    description: 'Result of the real-name check',
    purpose: 'Real-name rules for prepaid cards',
    legalBasis: 'legal_obligation',
    retention: CUSTOMER_RETENTION,
    mask: 'none',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'cards.card_no',
    category: 'financial',
    sensitive: true,
    description: 'Card number (the holder’s financial account identifier, PIPL Art. 28)',
    purpose: 'Operate the card',
    legalBasis: 'contract',
    retention: FINANCIAL_RETENTION,
    mask: 'card_6_4',
    unmaskedRoles: CARD_NO_ROLES,
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'hotlist.card_no',
    category: 'financial',
    sensitive: true,
    description: 'Card number on the terminals’ blocked-card list',
    purpose: 'Stop lost and blocked cards offline',
    legalBasis: 'contract',
    retention: 'while the card is blocked',
    mask: 'card_6_4',
    unmaskedRoles: CARD_NO_ROLES,
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'offline_whitelist.card_no',
    category: 'financial',
    sensitive: true,
    description: 'Card number on the terminals’ offline allow-list',
    purpose: 'Offline sales',
    legalBasis: 'contract',
    retention: 'while the card is eligible',
    mask: 'card_6_4',
    unmaskedRoles: CARD_NO_ROLES,
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'sales.card_no_masked',
    category: 'financial',
    sensitive: false,
    description: 'Card number, first 6 and last 4, on the sale',
    purpose: 'Receipts, disputes, reconciliation',
    legalBasis: 'legal_obligation',
    retention: FINANCIAL_RETENTION,
    mask: 'stored_masked',
    unmaskedRoles: [],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'pump_authorisations.card_no_masked',
    category: 'financial',
    sensitive: false,
    description: 'Card number, first 6 and last 4, on a pump pre-authorisation',
    purpose: 'Forecourt pre-authorisation',
    legalBasis: 'contract',
    retention: FINANCIAL_RETENTION,
    mask: 'stored_masked',
    unmaskedRoles: [],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'sales.station_id+created_at',
    category: 'location',
    sensitive: true,
    description: 'Where and when a card bought fuel: a station-by-time history (行踪轨迹, PIPL Art. 28)',
    purpose: 'The sale itself; fraud control (impossible travel) on station ids, never raw GPS',
    legalBasis: 'contract',
    retention: FINANCIAL_RETENTION,
    mask: 'none',
    unmaskedRoles: ['admin', 'operator', 'finance', 'risk', 'station_staff'],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'bank_transfers_in.payer_name',
    category: 'financial',
    sensitive: false,
    description: 'Name of the payer of a bank transfer top-up, from the bank statement',
    purpose: 'Match transfers to orders',
    legalBasis: 'legal_obligation',
    retention: FINANCIAL_RETENTION,
    mask: 'name_first_char',
    unmaskedRoles: ['admin', 'finance'],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'bank_transfers_in.payer_account',
    category: 'financial',
    sensitive: true,
    description: 'Payer’s bank account, stored masked (first 4, last 4)',
    purpose: 'Match transfers to orders',
    legalBasis: 'legal_obligation',
    retention: FINANCIAL_RETENTION,
    mask: 'stored_masked',
    unmaskedRoles: [],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'payment_refunds.payee',
    category: 'financial',
    sensitive: true,
    description: 'Payee name and bank account (account encrypted, masked copy shown) for bank payouts',
    purpose: 'Pay refunds and card-close balances',
    legalBasis: 'contract',
    retention: FINANCIAL_RETENTION,
    mask: 'account_4_4',
    unmaskedRoles: ['admin', 'finance'],
    onAnonymise: 'kept_financial_record',
  },
  {
    field: 'messages.to_enc',
    category: 'contact',
    sensitive: false,
    description: 'Recipient phone of a message (encrypted)',
    purpose: 'Deliver sign-in codes and alerts',
    legalBasis: 'contract',
    retention: '30 days after sending (MESSAGE_RETENTION_MS), then deleted',
    mask: 'phone_3_4',
    unmaskedRoles: [],
    onAnonymise: 'expires_earlier',
  },
  {
    field: 'messages.text_enc',
    category: 'contact',
    sensitive: false,
    description: 'Text of a message (encrypted): codes, balances, sale alerts',
    purpose: 'Deliver sign-in codes and alerts',
    legalBasis: 'contract',
    retention: '30 days after sending, then deleted',
    mask: 'never_shown',
    unmaskedRoles: [],
    onAnonymise: 'expires_earlier',
  },
  {
    field: 'vehicles.plate',
    category: 'identity',
    sensitive: false,
    description: 'Licence plate of a fleet vehicle a card is bound to (车辆卡), upper case without separators',
    purpose: 'Bind a card to its vehicle; the risk rules on tank capacity and fuel grade; shown at the pump to check the vehicle',
    legalBasis: 'contract',
    retention: CUSTOMER_RETENTION,
    // A fleet's plates tie vehicles to a person: in clear and audited only for personal-data roles; the cashier sees region + last two.
    mask: 'plate_2_2',
    unmaskedRoles: PERSONAL_ROLES,
    onAnonymise: 'replaced',
  },
  ...(['portal_accounts', 'portal_sessions', 'portal_codes', 'portal_login_failures', 'portal_card_alerts', 'portal_alerts_sent'] as const).map(
    (table): PersonalField => ({
      field: `${table}.phone_bidx`,
      category: 'contact',
      sensitive: false,
      description: 'Keyed blind index of the cardholder’s phone (portal identity)',
      purpose: 'Cardholder portal sign-in, lockout and alerts',
      legalBasis: 'contract',
      retention: 'sessions and codes expire within days; accounts and alert settings until anonymisation',
      mask: 'never_shown',
      unmaskedRoles: [],
      onAnonymise: 'deleted',
    }),
  ),
  ...(['portal_sessions', 'portal_codes', 'portal_login_failures'] as const).map(
    (table): PersonalField => ({
      field: `${table}.ip`,
      category: 'online_identifier',
      sensitive: false,
      description: 'Client address of a cardholder sign-in',
      purpose: 'Rate limits and lockout; security logging (CSL Art. 21)',
      legalBasis: 'legal_obligation',
      retention: 'with the session or code (days); deleted with the portal rows on anonymisation',
      mask: 'none',
      unmaskedRoles: ['admin'],
      onAnonymise: 'deleted',
    }),
  ),
  ...(
    [
      ['staff_users.username', 'Staff sign-in name'],
      ['staff_users.display_name', 'Staff member’s name'],
      ['staff_sessions.ip', 'Client address of a staff session'],
      ['staff_login_challenges.ip', 'Client address of a staff sign-in waiting for its second factor'],
      ['audit_log.actor_name', 'Name of the staff member who acted'],
      ['audit_log.ip', 'Client address of the audited action'],
    ] as const
  ).map(
    ([field, description]): PersonalField => ({
      field,
      category: 'staff',
      sensitive: false,
      description,
      purpose: 'Staff accounts, accountability and the audit trail (等保 level 3 security audit)',
      legalBasis: 'employment',
      retention: 'audit log at least 6 months (issue 7 §8); staff accounts while employed',
      mask: 'none',
      unmaskedRoles: ['admin'],
      onAnonymise: 'kept_financial_record',
    }),
  ),
];

/**
 * Columns whose names look personal but are not, each with the reason. The schema test accepts a
 * personal-looking column only if it is in the register or here.
 */
export const NOT_PERSONAL: Readonly<Record<string, string>> = {
  'stations.name': 'a business (station), not a person',
  'stations.address': 'the station’s address',
  'stations.phone': 'the station’s service phone',
  'stations.lat': 'the station’s position',
  'stations.lng': 'the station’s position',
  'station_pumps.name': 'equipment label',
  'fuel_grades.name_zh': 'product name',
  'fuel_grades.name_en': 'product name',
  'goods.name_zh': 'product name',
  'goods.name_en': 'product name',
  'goods_categories.name_zh': 'product category name',
  'goods_categories.name_en': 'product category name',
  'ledger_accounts.name': 'fixed labels (卡账户, 主卡备用金, ...), never a holder’s name',
  'schema_migrations.name': 'migration file name',
  'channel_statements.file_name': 'payment channel file name',
  'terminals.secret_enc': 'a terminal’s key, not personal (a secret: never shown)',
  'staff_totp.secret_enc': 'a staff member’s second-factor key, an authenticator secret rather than data about them (never shown)',
  'cards.vehicle_id': 'a reference to vehicles; the plate itself is registered as vehicles.plate',
  'payment_notifications.remote_addr': 'address of the payment channel’s server, not a person',
  'recharge_orders.payer_code': 'an order’s transfer code (附言), generated by us',
};

export function registerEntry(field: string): PersonalField | undefined {
  return PERSONAL_DATA.find((f) => f.field === field);
}

/** Apply a field's masking rule: the one place that says how each kind of value is masked. */
export function applyMask(rule: MaskRule, value: string): string {
  switch (rule) {
    case 'name_first_char':
      return maskName(value);
    case 'phone_3_4':
      return maskPhone(value);
    case 'id_6_4':
      return maskIdNumber(value);
    case 'card_6_4':
      return maskCardNo(value);
    case 'account_4_4':
      return maskAccount(value);
    case 'plate_2_2':
      return maskPlate(value);
    case 'never_shown':
      return '****';
    case 'stored_masked':
    case 'none':
      return value;
  }
}

/** The value as this role may see it, by the register's rule for the field. */
export function showField(field: string, value: string, role: Role | undefined): string {
  const entry = registerEntry(field);
  if (!entry) throw new Error(`${field} is not in the personal-data register`);
  return role !== undefined && entry.unmaskedRoles.includes(role) ? value : applyMask(entry.mask, value);
}
