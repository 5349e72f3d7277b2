import type { ReactNode } from 'react';
import type { Dict, Lang } from '../../shared/i18n';
import { dateTime } from '../../shared/format';
import { litres, unitPrice, yuan } from '../../shared/money';
import { CARD_KIND_NAMES, CARD_STATUS_NAMES, CHANNEL_NAMES, label } from '../i18n';
import { ROLE_INFO } from './i18n';

/**
 * How the audit log reads to people. The platform stores each row's details as the JSON its
 * module wrote (money in fen, codes for states and channels); the console shows them in words and
 * yuan, keeping every raw key and code visible beside its label, and the raw JSON one click away.
 */

/** What each action the platform writes means (src: every audit() call). */
export const AUDIT_ACTION_NAMES: Dict = {
  'auth.login': { zh: '员工登录', en: 'Staff sign-in' },
  'auth.login_failed': { zh: '员工登录失败', en: 'Failed staff sign-in' },
  'auth.logout': { zh: '员工退出登录', en: 'Staff sign-out' },
  'card.issue': { zh: '发卡', en: 'Card issued' },
  'card.activate': { zh: '启用卡片', en: 'Card activated' },
  'card.freeze': { zh: '冻结卡片', en: 'Card frozen' },
  'card.unfreeze': { zh: '解冻卡片', en: 'Card unfrozen' },
  'card.report-loss': { zh: '挂失', en: 'Reported lost' },
  'card.cancel-loss': { zh: '解挂', en: 'Loss report cancelled' },
  'card.replace': { zh: '补卡', en: 'Card replaced' },
  'card.close': { zh: '销户', en: 'Card closed' },
  'card.limits': { zh: '修改限额', en: 'Limits changed' },
  'card.pin_change': { zh: '修改密码', en: 'PIN changed' },
  'card.pin_reset': { zh: '重置密码', en: 'PIN reset' },
  'card.allocate': { zh: '向副卡分配资金', en: 'Allocated to a sub card' },
  'card.recall': { zh: '从副卡回收资金', en: 'Recalled from a sub card' },
  'card.link_account': { zh: '关联账户', en: 'Account linked' },
  'card.reorder_accounts': { zh: '调整账户顺序', en: 'Accounts reordered' },
  'customer.create': { zh: '新增客户', en: 'Customer registered' },
  'customer.real_name_verified': { zh: '实名认证通过', en: 'Real-name check passed' },
  'customer.real_name_rejected': { zh: '实名认证不通过', en: 'Real-name check failed' },
  'recharge.counter': { zh: '柜台充值', en: 'Counter recharge' },
  'staff.create': { zh: '新增员工', en: 'Staff user created' },
  'staff.update': { zh: '修改员工', en: 'Staff user changed' },
  'staff.disable': { zh: '停用员工', en: 'Staff user disabled' },
  'staff.enable': { zh: '启用员工', en: 'Staff user enabled' },
  'staff.set_password': { zh: '重置员工密码', en: 'Staff password reset' },
  'station.create': { zh: '新增油站', en: 'Station created' },
  'station.nozzles_set': { zh: '设置油枪', en: 'Nozzles set' },
  'terminal.register': { zh: '注册终端', en: 'Terminal registered' },
  'terminal.disable': { zh: '停用终端', en: 'Terminal disabled' },
  'terminal.enable': { zh: '启用终端', en: 'Terminal enabled' },
  'price.set': { zh: '调整油价', en: 'Price set' },
  'report.export': { zh: '导出报表', en: 'Report exported' },
  'portal.login': { zh: '会员登录', en: 'Cardholder sign-in' },
  'portal.password_set': { zh: '会员设置密码', en: 'Cardholder password set' },
  'portal.low_balance_alert': { zh: '设置余额提醒', en: 'Low-balance alert set' },
  'schema.migrate': { zh: '数据库迁移', en: 'Database migrated' },
  'demo.seed': { zh: '载入演示数据', en: 'Demo data loaded' },
};

/** Prefix searches offered first in the action filter. */
export const AUDIT_ACTION_PREFIXES: Dict = {
  'card.*': { zh: '全部卡片操作', en: 'All card actions' },
  'customer.*': { zh: '全部客户操作', en: 'All customer actions' },
  'staff.*': { zh: '全部员工操作', en: 'All staff actions' },
  'terminal.*': { zh: '全部终端操作', en: 'All terminal actions' },
  'auth.*': { zh: '全部员工登录', en: 'All staff sign-ins' },
  'portal.*': { zh: '全部会员自助操作', en: 'All portal actions' },
};

export const AUDIT_TARGET_NAMES: Dict = {
  card: { zh: '卡片', en: 'Card' },
  customer: { zh: '客户', en: 'Customer' },
  staff: { zh: '员工', en: 'Staff user' },
  login: { zh: '登录名', en: 'Login name' },
  station: { zh: '油站', en: 'Station' },
  terminal: { zh: '终端', en: 'Terminal' },
  fuel_price: { zh: '油价', en: 'Fuel price' },
  report: { zh: '报表', en: 'Report' },
  database: { zh: '数据库', en: 'Database' },
};

/** The detail keys the platform writes. */
const KEY_NAMES: Dict = {
  amount: { zh: '金额', en: 'Amount' },
  amountFen: { zh: '金额', en: 'Amount' },
  unitPrice: { zh: '单价', en: 'Unit price' },
  previousUnitPrice: { zh: '原单价', en: 'Previous price' },
  lowBalance: { zh: '余额提醒线', en: 'Alert below' },
  channel: { zh: '充值方式', en: 'Channel' },
  receiptNo: { zh: '凭证号', en: 'Receipt no.' },
  reference: { zh: '银行流水号', en: 'Bank reference' },
  kind: { zh: '卡类型', en: 'Card kind' },
  customerId: { zh: '客户编号', en: 'Customer no.' },
  subCard: { zh: '副卡', en: 'Sub card' },
  cardNo: { zh: '卡号', en: 'Card number' },
  transferId: { zh: '转账号', en: 'Transfer id' },
  from: { zh: '从', en: 'From' },
  to: { zh: '到', en: 'To' },
  reason: { zh: '原因', en: 'Reason' },
  refund: { zh: '退款', en: 'Refund' },
  method: { zh: '方式', en: 'Method' },
  refundId: { zh: '退款号', en: 'Refund id' },
  grade: { zh: '油品', en: 'Grade' },
  stationId: { zh: '油站编号', en: 'Station no.' },
  effectiveFrom: { zh: '生效时间', en: 'Effective from' },
  username: { zh: '用户名', en: 'Username' },
  displayName: { zh: '姓名', en: 'Display name' },
  role: { zh: '角色', en: 'Role' },
  status: { zh: '状态', en: 'Status' },
  changes: { zh: '修改内容', en: 'Changes' },
  sessionsEnded: { zh: '结束的登录会话', en: 'Sessions ended' },
  code: { zh: '编码', en: 'Code' },
  before: { zh: '修改前', en: 'Before' },
  after: { zh: '修改后', en: 'After' },
  nozzle: { zh: '枪号', en: 'Nozzle' },
  filters: { zh: '筛选条件', en: 'Filters' },
  rows: { zh: '行数', en: 'Rows' },
  accountId: { zh: '账户', en: 'Account' },
  priority: { zh: '顺序', en: 'Order' },
  order: { zh: '账户顺序', en: 'Account order' },
  applied: { zh: '已执行的迁移', en: 'Migrations applied' },
  saleAmount: { zh: '单笔金额', en: 'Per-sale amount' },
  saleVolumeMl: { zh: '单笔油量', en: 'Per-sale volume' },
  dayAmount: { zh: '每日金额', en: 'Daily amount' },
  dayVolumeMl: { zh: '每日油量', en: 'Daily volume' },
  dayFills: { zh: '每日次数', en: 'Daily fills' },
  weekAmount: { zh: '每周金额', en: 'Weekly amount' },
  weekVolumeMl: { zh: '每周油量', en: 'Weekly volume' },
  weekFills: { zh: '每周次数', en: 'Weekly fills' },
  monthAmount: { zh: '每月金额', en: 'Monthly amount' },
  monthVolumeMl: { zh: '每月油量', en: 'Monthly volume' },
  monthFills: { zh: '每月次数', en: 'Monthly fills' },
  minFillIntervalSeconds: { zh: '最短加油间隔（秒）', en: 'Minimum seconds between fills' },
  allowedGrades: { zh: '允许油品', en: 'Allowed grades' },
};

const REFUND_METHOD_NAMES: Dict = {
  cash: { zh: '现金退款', en: 'Cash at the counter' },
  original_channel: { zh: '原路退回', en: 'Back through the original channel' },
  recalled_to_master: { zh: '退回主卡备用金', en: 'Back to the master’s reserve' },
};

const STAFF_STATUS_NAMES: Dict = {
  active: { zh: '在用', en: 'Active' },
  disabled: { zh: '停用', en: 'Disabled' },
};

const ROLE_NAMES: Dict = Object.fromEntries(Object.entries(ROLE_INFO).map(([k, v]) => [k, { zh: v.zh, en: v.en }]));

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

type Kind = 'money' | 'price' | 'volume' | 'plain';

/** Money is fen, volumes ml, prices fen per litre: which a key holds. */
function kindOf(key: string): Kind {
  if (key === 'unitPrice' || key === 'previousUnitPrice') return 'price';
  if (key === 'amount' || key === 'amountFen' || key === 'lowBalance' || key === 'balance' || /Amount$/.test(key)) return 'money';
  if (key === 'volumeMl' || /VolumeMl$/.test(key)) return 'volume';
  return 'plain';
}

/** The dictionary that names the coded values of a key (its parent key decides for from/to). */
function valueNames(key: string, parent: string | undefined): Dict | undefined {
  if (key === 'channel') return CHANNEL_NAMES;
  if (key === 'method' || key === 'refundMethod') return REFUND_METHOD_NAMES;
  if (key === 'kind') return CARD_KIND_NAMES;
  if (key === 'role') return ROLE_NAMES;
  if (key === 'from' || key === 'to') {
    if (parent === 'role') return ROLE_NAMES;
    if (parent === 'status') return STAFF_STATUS_NAMES;
    if (parent === undefined) return CARD_STATUS_NAMES;
  }
  return undefined;
}

export function keyName(key: string, lang: Lang): string {
  return KEY_NAMES[key] ? label(KEY_NAMES, key, lang) : key;
}

/** A primitive value in words; `withCode` keeps the stored code visible beside a named one. */
function primitive(key: string, parent: string | undefined, v: unknown, lang: Lang, withCode: boolean): ReactNode {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return lang === 'en' ? (v ? 'yes' : 'no') : v ? '是' : '否';
  if (typeof v === 'number') {
    const k = kindOf(key);
    if (k === 'money') return yuan(v);
    if (k === 'price') return unitPrice(v);
    if (k === 'volume') return litres(v);
    return String(v);
  }
  const s = String(v);
  const names = valueNames(key, parent);
  if (names?.[s]) {
    const name = label(names, s, lang);
    return withCode ? (
      <>
        {name} <code className="fc-code">{s}</code>
      </>
    ) : (
      name
    );
  }
  if (ISO_TIME.test(s)) return dateTime(s);
  return s;
}

function isFromTo(v: unknown): v is { from: unknown; to: unknown } {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 2 && 'from' in v && 'to' in v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** One value for the expanded details: nested objects as indented "name: value" lines. */
export function DetailValue({ name, value, parent, lang }: { name: string; value: unknown; parent?: string; lang: Lang }): ReactNode {
  if (isFromTo(value)) {
    return (
      <span>
        {primitive('from', name, value.from, lang, true)} → {primitive('to', name, value.to, lang, true)}
      </span>
    );
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '—';
    if (value.every((x) => !isPlainObject(x) && !Array.isArray(x))) return value.map((x) => primitive(name, parent, x, lang, false)).join(', ');
    return (
      <div>
        {value.map((x, i) => (
          <div key={i}>
            <DetailValue name={name} value={x} parent={parent} lang={lang} />
          </div>
        ))}
      </div>
    );
  }
  if (isPlainObject(value)) {
    // Inside a nested object an empty value is an absence (a limit not set): listed only when something is.
    const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined);
    if (entries.length === 0) return '—';
    return (
      <div style={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', columnGap: 12, rowGap: 2 }}>
        {entries.map(([k, v]) => (
          <DetailRow key={k} name={k} value={v} parent={name} lang={lang} />
        ))}
      </div>
    );
  }
  return <span style={{ wordBreak: 'break-word' }}>{primitive(name, parent, value, lang, true)}</span>;
}

function DetailRow({ name, value, parent, lang }: { name: string; value: unknown; parent: string; lang: Lang }) {
  return (
    <>
      <span style={{ color: '#888' }}>
        {keyName(name, lang)}
        {KEY_NAMES[name] && <code className="fc-code"> {name}</code>}
      </span>
      <span>
        <DetailValue name={name} value={value} parent={parent} lang={lang} />
      </span>
    </>
  );
}

function previewValue(key: string, parent: string | undefined, v: unknown, lang: Lang): string {
  if (isFromTo(v)) return `${previewValue('from', key, v.from, lang)} → ${previewValue('to', key, v.to, lang)}`;
  if (Array.isArray(v)) return v.length === 0 ? '—' : v.map((x) => previewValue(key, parent, x, lang)).join(', ');
  if (isPlainObject(v)) {
    const parts = Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => `${keyName(k, lang)} ${previewValue(k, key, x, lang)}`);
    return parts.length ? `(${parts.join(', ')})` : '—';
  }
  const p = primitive(key, parent, v, lang, false);
  return typeof p === 'string' ? p : String(v);
}

/** The stored JSON has its keys in the database's order (jsonb sorts them by length): the story's order instead. */
const KEY_ORDER = ['from', 'to', 'reason', 'amount', 'channel', 'receiptNo', 'reference', 'refund', 'kind', 'customerId', 'subCard', 'grade', 'stationId', 'unitPrice', 'previousUnitPrice', 'effectiveFrom', 'username', 'role', 'changes', 'before', 'after'];

export function orderedEntries(d: Record<string, unknown>): [string, unknown][] {
  const rank = (k: string) => {
    const i = KEY_ORDER.indexOf(k);
    return i < 0 ? KEY_ORDER.length : i;
  };
  return Object.entries(d).sort(([a], [b]) => rank(a) - rank(b));
}

/** The details on one line for the table: "金额 ¥500.00 · 充值方式 现金 · 凭证号 R…" (empty values left out). */
export function detailsPreview(d: unknown, lang: Lang): string {
  if (d === null || d === undefined) return '';
  if (!isPlainObject(d)) return JSON.stringify(d);
  const parts: string[] = [];
  // A state change reads as one "active → lost".
  const combined = typeof d.from === 'string' && typeof d.to === 'string';
  if (combined) {
    parts.push(`${previewValue('from', undefined, d.from, lang)} → ${previewValue('to', undefined, d.to, lang)}`);
  }
  for (const [k, v] of orderedEntries(d)) {
    if (v === null || v === undefined || v === '' || (combined && (k === 'from' || k === 'to'))) continue;
    parts.push(`${keyName(k, lang)} ${previewValue(k, undefined, v, lang)}`);
  }
  return parts.join(' · ');
}
