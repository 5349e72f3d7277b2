import { useEffect, useMemo, type HTMLAttributes } from 'react';
import { Link } from 'react-router-dom';
import { Col, Form, Input, Select, Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime, digitsOnly } from '../../shared/format';
import { useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { useSession } from '../session';
import { EmptyText, ListError, MoreFooter, PageHeader, fromDay, rangeQuery, toDay, useCursorList, useUrlFilters, type Page } from './common';
import { DateRangeItems, FilterCard, useFilterRules } from './filters';
import { dict } from './i18n';
import { CardNo } from '../ui';

export interface RechargeItem {
  rechargeId: string;
  receiptNo: string;
  cardNo: string;
  amount: number;
  channel: string;
  reference: string | null;
  staffUsername: string | null;
  balanceAfter: number;
  createdAt: string;
}

const KEYS = ['from', 'to', 'cardNo', 'channel'] as const;
const CHANNELS = ['cash', 'bank_transfer', 'wechat', 'alipay', 'unionpay'];

function rechargesQuery(f: Record<string, string>) {
  return { ...rangeQuery(f), cardNo: f.cardNo, channel: f.channel };
}

export function RechargesPage() {
  const t = useT(dict);
  const { api, can } = useSession();
  const mayReprint = can('POST', '/api/v1/cards/:cardNo/recharges');
  const [form] = Form.useForm();
  const rules = useFilterRules();
  const { filters, key, apply } = useUrlFilters(KEYS);

  const list = useCursorList<RechargeItem>(
    (cursor) => api.request<Page<RechargeItem>>('GET', '/api/v1/recharges', { query: { ...rechargesQuery(filters), limit: 50, cursor } }),
    key,
  );

  useEffect(() => {
    form.setFieldsValue({ from: toDay(filters.from), to: toDay(filters.to), cardNo: filters.cardNo, channel: filters.channel });
  }, [key]);

  const onSearch = (v: any) => {
    const next: Record<string, string | undefined> = {
      from: fromDay(v.from),
      to: fromDay(v.to),
      cardNo: digitsOnly(v.cardNo ?? '') || undefined,
      channel: v.channel,
    };
    const clean = Object.fromEntries(Object.entries(next).filter(([, x]) => x));
    if (JSON.stringify(clean) === key) list.reload();
    else apply(next);
  };

  const channelText = (c: string) => (CHANNELS.includes(c) ? t(`channel_${c}`) : c);

  const columns: ColumnsType<RechargeItem> = useMemo(
    () => [
      { title: t('time'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
      {
        title: t('receiptNo'),
        dataIndex: 'receiptNo',
        // The receipt can be printed again by those who take recharges, from the full card number.
        render: (v: string, r) =>
          mayReprint && !r.cardNo.includes('*') ? (
            <Link to={`/recharge/receipt/${r.cardNo}/${encodeURIComponent(v)}`} className="fc-num" aria-label={t('openReceipt', { no: v })}>
              {v}
            </Link>
          ) : (
            <span className="fc-num">{v}</span>
          ),
      },
      { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
      { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
      { title: t('channel'), dataIndex: 'channel', render: (v: string) => <Tag color={v === 'cash' ? 'gold' : 'blue'}>{channelText(v)}</Tag> },
      { title: t('reference'), dataIndex: 'reference', render: (v: string | null) => (v ? <span className="fc-num">{v}</span> : '—') },
      { title: t('staffUser'), dataIndex: 'staffUsername', render: (v: string | null) => v ?? '—' },
      { title: t('balanceAfter'), dataIndex: 'balanceAfter', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
    ],
    [t, mayReprint],
  );

  return (
    <div>
      <PageHeader title={t('rechargesTitle')} />
      <FilterCard
        form={form}
        prefix="recharges"
        onSearch={onSearch}
        onReset={() => apply({})}
        exportUrl="/api/v1/recharges/export"
        exportQuery={() => rechargesQuery(filters)}
        exportName="recharges.xlsx"
      >
        <DateRangeItems form={form} prefix="recharges" />
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="cardNo" label={t('cardNo')} rules={[rules.cardNo]}>
            <Input allowClear placeholder={t('cardNoPlaceholder')} inputMode="numeric" data-testid="recharges-filter-card" autoComplete="off" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="channel" label={t('channel')}>
            <Select allowClear placeholder={t('anyChannel')} options={CHANNELS.map((c) => ({ value: c, label: channelText(c) }))} data-testid="recharges-filter-channel" />
          </Form.Item>
        </Col>
      </FilterCard>

      <ListError error={list.error} onRetry={list.reload} />
      <Table<RechargeItem>
        rowKey="rechargeId"
        size="small"
        columns={columns}
        dataSource={list.items}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(r) => ({ 'data-testid': 'recharges-row', 'data-receipt-no': r.receiptNo }) as HTMLAttributes<HTMLElement>}
        data-testid="recharges-table"
      />
      <MoreFooter list={list} testId="recharges" />
    </div>
  );
}
