import type { HTMLAttributes } from 'react';
import { Table, Tag, Typography } from 'antd';
import { dateTime } from '../../shared/format';
import { useT } from '../../shared/i18n';
import { parseYuan } from '../../shared/money';
import { mono } from '../pages-b/common';
import { pay } from './i18n';
import type { Payee, StateEvent } from './types';

/** A word of a closed set (status, channel, method …) through its prefix in the dictionary; an unknown value shows as itself. */
export function useWord() {
  const t = useT(pay);
  return (prefix: string, value: string | null | undefined): string => {
    if (value === null || value === undefined || value === '') return '—';
    const key = `${prefix}_${value}`;
    return pay[key] ? t(key) : value;
  };
}

const ORDER_COLOURS: Record<string, string> = {
  created: 'default',
  paying: 'blue',
  paid: 'orange',
  credited: 'green',
  closed: 'default',
  failed: 'red',
  refunded: 'purple',
};
const REFUND_COLOURS: Record<string, string> = { requested: 'blue', processing: 'gold', succeeded: 'green', failed: 'red' };
const BANK_COLOURS: Record<string, string> = { unmatched: 'orange', matched: 'green', ignored: 'default', returned: 'purple' };
const CHANNEL_COLOURS: Record<string, string> = { cash: 'gold', bank_transfer: 'geekblue', wechat: 'green', alipay: 'blue', unionpay: 'red' };

export function OrderStatusTag({ status }: { status: string }) {
  const w = useWord();
  return (
    <Tag color={ORDER_COLOURS[status] ?? 'default'} data-testid="order-status" data-status={status}>
      {w('st', status)}
    </Tag>
  );
}

export function RefundStatusTag({ status }: { status: string }) {
  const w = useWord();
  return (
    <Tag color={REFUND_COLOURS[status] ?? 'default'} data-testid="refund-status" data-status={status}>
      {w('rst', status)}
    </Tag>
  );
}

export function BankStatusTag({ status }: { status: string }) {
  const w = useWord();
  return (
    <Tag color={BANK_COLOURS[status] ?? 'default'} data-testid="bank-status" data-status={status}>
      {w('bst', status)}
    </Tag>
  );
}

export function ChannelTag({ channel }: { channel: string }) {
  const w = useWord();
  return <Tag color={CHANNEL_COLOURS[channel] ?? 'default'}>{w('ch', channel)}</Tag>;
}

export const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
export const code = (v: string | null | undefined) => (v ? <span style={mono}>{v}</span> : '—');

/** Form rule: yuan with at most two decimals, more than zero, optionally at most `maxFen`. */
export function yuanRule(t: (k: string, v?: Record<string, string | number>) => string, opts: { required?: boolean; maxFen?: number; maxText?: string } = {}) {
  return {
    validator: async (_: unknown, value: string | undefined) => {
      if (value === undefined || value === null || String(value).trim() === '') {
        if (opts.required) throw new Error(t('amountInvalid'));
        return;
      }
      const fen = parseYuan(String(value));
      if (fen === null || fen <= 0) throw new Error(t('amountInvalid'));
      if (opts.maxFen !== undefined && fen > opts.maxFen) throw new Error(t('refundExceeds', { max: opts.maxText ?? String(opts.maxFen) }));
    },
  };
}

/** Who acted on an event: the server sends a name or an object with one. */
function staffText(staff: unknown): string {
  if (staff === null || staff === undefined) return '—';
  if (typeof staff === 'string' || typeof staff === 'number') return String(staff);
  const o = staff as Record<string, unknown>;
  return String(o.username ?? o.name ?? o.id ?? '—');
}

function detailsText(details: Record<string, unknown> | null | undefined): string {
  if (!details || Object.keys(details).length === 0) return '';
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('；');
}

/** The audit trail of an order's or a refund's state (events oldest first, as the server keeps them). */
export function EventsTable({ events, statusPrefix, testId }: { events: StateEvent[]; statusPrefix: 'st' | 'rst'; testId: string }) {
  const t = useT(pay);
  const w = useWord();
  return (
    <Table<StateEvent & { i: number }>
      rowKey="i"
      size="small"
      pagination={false}
      scroll={{ x: 'max-content' }}
      dataSource={events.map((e, i) => ({ ...e, i }))}
      data-testid={testId}
      onRow={(e) => ({ 'data-testid': `${testId}-row`, 'data-to': e.toStatus, 'data-source': e.source }) as HTMLAttributes<HTMLElement>}
      columns={[
        { title: t('time'), dataIndex: 'createdAt', render: time },
        { title: t('fromStatus'), dataIndex: 'fromStatus', render: (v: string | null) => (v ? w(statusPrefix, v) : '—') },
        { title: t('toStatus'), dataIndex: 'toStatus', render: (v: string) => <strong>{w(statusPrefix, v)}</strong> },
        { title: t('source'), dataIndex: 'source', render: (v: string) => w('src', v) },
        { title: t('staff'), dataIndex: 'staff', render: (v: unknown) => staffText(v) },
        {
          title: t('details'),
          dataIndex: 'details',
          render: (v: Record<string, unknown> | null) => (
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {detailsText(v) || '—'}
            </Typography.Text>
          ),
        },
      ]}
    />
  );
}

export function payeeText(p: Payee | string | null | undefined): string {
  if (!p) return '—';
  if (typeof p === 'string') return p;
  return [p.name, p.bank, p.account].filter(Boolean).join(' · ') || '—';
}

/** Digits of a card number typed with spaces; undefined when empty. */
export function cardNoOf(v: string | undefined): string | undefined {
  const d = (v ?? '').replace(/\D/g, '');
  return d || undefined;
}
