import type { CSSProperties } from 'react';
import { Select, Tag, Tooltip } from 'antd';
import { CheckCircleFilled, CloseCircleFilled } from '@ant-design/icons';
import { useLang, useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { rc } from './i18n';
import { ITEM_CODES, RECON_CHANNELS } from './types';

/** The channels' names as the cardholders know them (same words as src/payments/channel.ts CHANNEL_NAMES). */
export const CHANNEL_NAMES: Record<string, { zh: string; en: string }> = {
  cash: { zh: '现金', en: 'Cash' },
  bank_transfer: { zh: '银行转账', en: 'Bank transfer' },
  wechat: { zh: '微信支付', en: 'WeChat Pay' },
  alipay: { zh: '支付宝', en: 'Alipay' },
  unionpay: { zh: '银联在线', en: 'UnionPay online' },
};

const CHANNEL_COLORS: Record<string, string> = { wechat: 'green', alipay: 'blue', unionpay: 'red', bank_transfer: 'geekblue', cash: 'gold' };

export function useChannelName() {
  const { lang } = useLang();
  return (c: string) => {
    const n = CHANNEL_NAMES[c];
    return n ? (lang === 'en' ? n.en : n.zh) : c;
  };
}

export function ChannelTag({ channel }: { channel: string }) {
  const name = useChannelName();
  return (
    <Tag color={CHANNEL_COLORS[channel]} data-testid="channel-tag" data-channel={channel}>
      {name(channel)}
    </Tag>
  );
}

export function ChannelSelect({ value, onChange, testId, allowClear = true, style }: { value?: string; onChange?: (v: string | undefined) => void; testId: string; allowClear?: boolean; style?: CSSProperties }) {
  const t = useT(rc);
  const name = useChannelName();
  return (
    <Select
      value={value}
      onChange={(v) => onChange?.(v ?? undefined)}
      allowClear={allowClear}
      placeholder={allowClear ? t('anyChannel') : t('chooseChannel')}
      options={RECON_CHANNELS.map((c) => ({ value: c, label: name(c) }))}
      style={{ minWidth: 160, ...style }}
      data-testid={testId}
      aria-label={t('channel')}
    />
  );
}

/** A neutral code in words: CHANNEL_ONLY → 渠道有·平台无. Unknown codes show as themselves. */
export function useCodeLabel() {
  const t = useT(rc);
  return (code: string) => (rc[`code_${code}`] ? t(`code_${code}`) : code);
}

const CODE_COLORS: Record<string, string> = {
  CHANNEL_ONLY: 'volcano',
  PLATFORM_ONLY: 'magenta',
  AMOUNT_DIFFERS: 'red',
  FEE_DIFFERS: 'gold',
  STATUS_DIFFERS: 'orange',
  DUPLICATE: 'purple',
};

export function CodeTag({ code }: { code: string }) {
  const label = useCodeLabel();
  const color = CODE_COLORS[code.replace(/^REFUND_/, '')] ?? 'default';
  return (
    <Tag color={color} data-testid="item-code" data-code={code}>
      {label(code)}
    </Tag>
  );
}

export function CodeSelect({ value, onChange, testId }: { value?: string; onChange?: (v: string | undefined) => void; testId: string }) {
  const t = useT(rc);
  const label = useCodeLabel();
  return (
    <Select
      value={value}
      onChange={(v) => onChange?.(v ?? undefined)}
      allowClear
      placeholder={t('anyCode')}
      options={ITEM_CODES.map((c) => ({ value: c, label: label(c) }))}
      style={{ minWidth: 180 }}
      data-testid={testId}
      aria-label={t('code')}
    />
  );
}

/** A suggested or taken action in words (credit_card → 补入卡). */
export function useActionLabel() {
  const t = useT(rc);
  return (a: string | null | undefined) => (!a ? '—' : rc[`action_${a}`] ? t(`action_${a}`) : a);
}

export function ItemStatusTag({ status }: { status: string }) {
  const t = useT(rc);
  return (
    <Tag color={status === 'open' ? 'orange' : 'green'} data-testid="item-status" data-status={status}>
      {rc[`itemStatus_${status}`] ? t(`itemStatus_${status}`) : status}
    </Tag>
  );
}

export function RunStatusTag({ status }: { status: string }) {
  const t = useT(rc);
  const color = status === 'done' ? 'green' : status === 'failed' ? 'red' : 'processing';
  return (
    <Tag color={color} data-testid="run-status" data-status={status}>
      {rc[`runStatus_${status}`] ? t(`runStatus_${status}`) : status}
    </Tag>
  );
}

export function StatementStatusTag({ status, rejection }: { status: string; rejection?: string | null }) {
  const t = useT(rc);
  const tag = (
    <Tag color={status === 'accepted' ? 'green' : 'red'} data-testid="statement-status" data-status={status}>
      {rc[`statementStatus_${status}`] ? t(`statementStatus_${status}`) : status}
    </Tag>
  );
  return rejection ? <Tooltip title={rc[rejection] ? t(rejection) : rejection}>{tag}</Tooltip> : tag;
}

const REPORT_COLORS: Record<string, string> = { balanced: 'green', open_items: 'orange', nets_differ: 'gold', not_run: 'default', statement_rejected: 'red' };

export function ReportStatusTag({ status }: { status: string }) {
  const t = useT(rc);
  return (
    <Tag color={REPORT_COLORS[status] ?? 'default'} data-testid="report-status" data-status={status}>
      {rc[`reportStatus_${status}`] ? t(`reportStatus_${status}`) : status}
    </Tag>
  );
}

/**
 * 平 / 不平: whether the given nets (fen) all agree; a missing figure cannot balance. `explained`:
 * the nets differ but every discrepancy of the day has been worked, so the difference is accounted for.
 */
export function BalanceTag({ nets, explained = false, testId = 'balance' }: { nets: (number | null | undefined)[]; explained?: boolean; testId?: string }) {
  const t = useT(rc);
  const known = nets.filter((n): n is number => typeof n === 'number');
  const ok = known.length === nets.length && known.every((n) => n === known[0]);
  if (!ok && explained) {
    return (
      <Tag color="warning" icon={<CheckCircleFilled />} data-testid={testId} data-balanced="explained">
        {t('unbalancedExplained')}
      </Tag>
    );
  }
  return (
    <Tag color={ok ? 'success' : 'error'} icon={ok ? <CheckCircleFilled /> : <CloseCircleFilled />} data-testid={testId} data-balanced={ok ? 'yes' : 'no'}>
      {ok ? t('balanced') : t('unbalanced')}
    </Tag>
  );
}

/** Fees come in thousandths of a fen (WeChat quotes five decimals of a yuan): ¥0.06000 → "¥0.06". */
export function feeYuan(mfen: number | null | undefined): string {
  if (mfen === null || mfen === undefined || !Number.isFinite(mfen)) return '—';
  const neg = mfen < 0;
  const abs = Math.abs(Math.trunc(mfen));
  const whole = Math.floor(abs / 100_000).toLocaleString('en-US');
  // Two decimals always, more only when the fee has them.
  const frac = String(abs % 100_000).padStart(5, '0').replace(/0+$/, '').padEnd(2, '0');
  return `${neg ? '-' : ''}¥${whole}.${frac}`;
}

/** Money with its sign kept visible (differences, nets). */
export function signedYuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '—';
  return fen > 0 ? `+${yuan(fen)}` : yuan(fen);
}

export function bytesText(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The file's bytes as base64 (the import route takes JSON; 20 MiB fits). */
export function fileToBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onerror = () => reject(reader.error ?? new Error('read failed'));
    reader.onload = () => {
      const url = String(reader.result ?? '');
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.readAsDataURL(file);
  });
}

/** An order number opens the order screen of the payments console (web/admin/pages-payments). */
export const orderPath = (orderNo: string) => `/payment-orders/${orderNo}`;
export const refundPath = (refundNo: string) => `/payment-refunds/${refundNo}`;
