import type { Dict, Lang } from '../shared/i18n';

/**
 * The console's own words (shell, login and the labels every screen shares: roles, card
 * states and kinds, decline codes). Screens keep their own dictionaries beside them.
 */
export const SHELL: Dict = {
  appName: { zh: '加油卡运营管理后台', en: 'Fuel card console' },
  appShort: { zh: '加油卡后台', en: 'Fuel cards' },
  loginTitle: { zh: '员工登录', en: 'Staff sign-in' },
  username: { zh: '用户名', en: 'Username' },
  password: { zh: '密码', en: 'Password' },
  usernameRequired: { zh: '请输入用户名', en: 'Enter your username' },
  passwordRequired: { zh: '请输入密码', en: 'Enter your password' },
  signIn: { zh: '登录', en: 'Sign in' },
  sessionFailed: { zh: '登录成功，但无法读取账号权限，请稍后重试', en: 'Signed in, but your permissions could not be loaded; try again shortly' },
  checkingSession: { zh: '正在检查登录状态…', en: 'Checking your session…' },
  forbiddenTitle: { zh: '无权访问', en: 'No access' },
  forbiddenText: { zh: '您的角色无权使用此页面。如需使用，请联系系统管理员。', en: 'Your role may not use this page. Ask a system administrator if you need it.' },
  notFoundTitle: { zh: '页面不存在', en: 'Page not found' },
  notFoundText: { zh: '您访问的地址不存在。', en: 'There is no page at this address.' },
  backHome: { zh: '返回首页', en: 'Back to the start page' },
  noPages: { zh: '您的角色暂无可用的后台页面。', en: 'Your role has no console pages yet.' },
  menu: { zh: '导航菜单', en: 'Navigation' },
  roleLabel: { zh: '角色', en: 'Role' },
  switchLanguage: { zh: '切换语言', en: 'Switch language' },
  openMenu: { zh: '展开菜单', en: 'Expand the menu' },
  closeMenu: { zh: '收起菜单', en: 'Collapse the menu' },
  skipToContent: { zh: '跳到主要内容', en: 'Skip to the content' },
};

export const ROLE_NAMES: Dict = {
  admin: { zh: '系统管理员', en: 'Administrator' },
  security_officer: { zh: '安全管理员', en: 'Security officer' },
  auditor: { zh: '审计管理员', en: 'Auditor' },
  operator: { zh: '运营', en: 'Operator' },
  finance: { zh: '财务', en: 'Finance' },
  risk: { zh: '风控', en: 'Risk' },
  station_staff: { zh: '油站员工', en: 'Station staff' },
  enterprise_admin: { zh: '企业管理员', en: 'Enterprise admin' },
  department_admin: { zh: '部门管理员', en: 'Department admin' },
  cardholder: { zh: '持卡人', en: 'Cardholder' },
};

export const CARD_STATUS_NAMES: Dict = {
  pending: { zh: '待启用', en: 'Pending' },
  active: { zh: '正常', en: 'Active' },
  frozen: { zh: '已冻结', en: 'Frozen' },
  lost: { zh: '已挂失', en: 'Lost' },
  replaced: { zh: '已补换', en: 'Replaced' },
  closed: { zh: '已销户', en: 'Closed' },
};

/** antd Tag colours per card state. */
export const CARD_STATUS_COLORS: Record<string, string> = {
  pending: 'default',
  active: 'green',
  frozen: 'blue',
  lost: 'orange',
  replaced: 'purple',
  closed: 'red',
};

export const CARD_KIND_NAMES: Dict = {
  personal: { zh: '记名卡', en: 'Personal' },
  anonymous: { zh: '不记名卡', en: 'Anonymous' },
  master: { zh: '主卡', en: 'Master' },
  sub: { zh: '副卡', en: 'Sub card' },
};

export const CHANNEL_NAMES: Dict = {
  cash: { zh: '现金', en: 'Cash' },
  bank_transfer: { zh: '银行转账', en: 'Bank transfer' },
  wechat: { zh: '微信支付', en: 'WeChat Pay' },
  alipay: { zh: '支付宝', en: 'Alipay' },
  unionpay: { zh: '银联在线', en: 'UnionPay online' },
};

export const ID_TYPE_NAMES: Dict = {
  resident_id: { zh: '居民身份证', en: 'Resident ID card' },
  passport: { zh: '护照', en: 'Passport' },
  hk_macau_permit: { zh: '港澳居民来往内地通行证', en: 'Hong Kong / Macau permit' },
  taiwan_permit: { zh: '台湾居民来往大陆通行证', en: 'Taiwan permit' },
  foreign_permanent: { zh: '外国人永久居留身份证', en: 'Foreign permanent residence ID' },
  other: { zh: '其他证件', en: 'Other document' },
};

export const REAL_NAME_NAMES: Dict = {
  unverified: { zh: '未认证', en: 'Not verified' },
  verified: { zh: '已认证', en: 'Verified' },
  rejected: { zh: '认证未通过', en: 'Rejected' },
};

/** What each decline code means (docs/terminals.md, generated from the cards and sales modules). */
export const DECLINE_NAMES: Dict = {
  CARD_UNKNOWN: { zh: '卡号无效', en: 'Invalid card number' },
  CARD_NOT_ACTIVE: { zh: '卡未启用', en: 'Card is not active yet' },
  CARD_NOT_YET_USABLE: { zh: '补办的卡在挂失等待期满后方可加油', en: 'Replacement card usable only after the loss waiting period' },
  CARD_FROZEN: { zh: '卡已冻结', en: 'Card is frozen' },
  CARD_LOST: { zh: '卡已挂失', en: 'Card was reported lost' },
  CARD_REPLACED: { zh: '卡已补换，旧卡失效', en: 'Card was replaced and is no longer valid' },
  CARD_CLOSED: { zh: '卡已销户', en: 'Card is closed' },
  CARD_NOT_FOR_SALE: { zh: '主卡不能直接加油，请使用副卡', en: 'A master card cannot buy fuel; use a sub card' },
  MASTER_CARD_FROZEN: { zh: '主卡已冻结，副卡暂停使用', en: 'The master card is frozen, so its sub cards are suspended' },
  PIN_WRONG: { zh: '密码错误', en: 'Wrong PIN' },
  PIN_TRIES_EXCEEDED: { zh: '密码错误次数超限，已锁定', en: 'PIN tries exceeded; PIN locked' },
  GRADE_NOT_ALLOWED: { zh: '此卡不允许加该油品', en: 'This card may not buy this fuel grade' },
  LIMIT_SALE_AMOUNT: { zh: '超过单笔金额限额', en: 'Exceeds the per-sale amount limit' },
  LIMIT_SALE_VOLUME: { zh: '超过单笔加油量限额', en: 'Exceeds the per-sale volume limit' },
  LIMIT_FILL_INTERVAL: { zh: '距上次加油时间过短', en: 'Too soon after the previous fill' },
  LIMIT_DAY_AMOUNT: { zh: '超过日累计金额限额', en: 'Exceeds the daily amount limit' },
  LIMIT_DAY_VOLUME: { zh: '超过日累计加油量限额', en: 'Exceeds the daily volume limit' },
  LIMIT_DAY_FILLS: { zh: '超过日加油次数限制', en: 'Exceeds the daily number of fills' },
  LIMIT_WEEK_AMOUNT: { zh: '超过周累计金额限额', en: 'Exceeds the weekly amount limit' },
  LIMIT_WEEK_VOLUME: { zh: '超过周累计加油量限额', en: 'Exceeds the weekly volume limit' },
  LIMIT_WEEK_FILLS: { zh: '超过周加油次数限制', en: 'Exceeds the weekly number of fills' },
  LIMIT_MONTH_AMOUNT: { zh: '超过月累计金额限额', en: 'Exceeds the monthly amount limit' },
  LIMIT_MONTH_VOLUME: { zh: '超过月累计加油量限额', en: 'Exceeds the monthly volume limit' },
  LIMIT_MONTH_FILLS: { zh: '超过月加油次数限制', en: 'Exceeds the monthly number of fills' },
  INSUFFICIENT_FUNDS: { zh: '余额不足', en: 'Insufficient funds' },
};

/** A label from one of the maps above; an unknown value shows as itself. */
export function label(dict: Dict, value: string | null | undefined, lang: Lang): string {
  if (value === null || value === undefined || value === '') return '—';
  const e = dict[value];
  return e ? (lang === 'en' ? e.en : e.zh) : value;
}
