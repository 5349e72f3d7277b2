import { useEffect, useState, type HTMLAttributes } from 'react';
import { Link, useParams } from 'react-router-dom';
import { App, Button, Card, DatePicker, Descriptions, Form, Input, Select, Tabs, Table, Typography } from 'antd';
import { SearchOutlined } from '@ant-design/icons';
import { ApiError, errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { pickLang, useLang, useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { CardNo, LocalResult } from '../ui';
import { ListError, MoreFooter, PageHeader, SubmitError, fromDay, mono, rangeQuery, toDay, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending, useTab } from '../pages-forecourt/common';
import { ChannelTag, EventsTable, RefundStatusTag, cardNoOf, code, payeeText, time, useWord } from './common';
import { RefundsTable } from './orders';
import { CHANNEL_CODES, REFUND_STATUSES, pay } from './i18n';
import type { CardRefund, Refund, RefundDetail } from './types';

const KEYS = ['status', 'channel', 'kind', 'orderNo', 'cardNo', 'from', 'to'] as const;
const REFUND_NO = /^F\d{19}$/;
const TABS = ['refunds', 'card-close'] as const;

/** 退款管理: every refund (of recharges and of closed cards), and the closed cards' balances waiting to be paid back. */
export function RefundsPage() {
  const t = useT(pay);
  const { can } = useSession();
  const [tab, setTab] = useTab(TABS, 'refunds');
  const mayCardRefunds = can('GET', '/api/v1/card-refunds');
  return (
    <div>
      <PageHeader title={t('refundsTitle')} />
      <Tabs
        activeKey={mayCardRefunds ? tab : 'refunds'}
        onChange={setTab}
        items={[
          { key: 'refunds', label: <span data-testid="refunds-tab-refunds">{t('tabRefunds')}</span>, children: <RefundList /> },
          ...(mayCardRefunds ? [{ key: 'card-close', label: <span data-testid="refunds-tab-card-close">{t('tabCardRefunds')}</span>, children: <CardRefundList /> }] : []),
        ]}
      />
    </div>
  );
}

function RefundList() {
  const t = useT(pay);
  const w = useWord();
  const { api } = useSession();
  const [form] = Form.useForm();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const list = useCursorList<Refund>(
    (cursor) =>
      api.request<Page<Refund>>('GET', '/api/v1/refunds', {
        query: { status: filters.status, channel: filters.channel, kind: filters.kind, orderNo: filters.orderNo, cardNo: filters.cardNo, ...rangeQuery(filters), limit: 50, cursor },
      }),
    key,
  );
  useEffect(() => {
    form.setFieldsValue({ ...filters, from: toDay(filters.from), to: toDay(filters.to) });
  }, [key]);
  const onSearch = (v: any) => {
    const next = { status: v.status, channel: v.channel, kind: v.kind, orderNo: v.orderNo?.trim() || undefined, cardNo: cardNoOf(v.cardNo), from: fromDay(v.from), to: fromDay(v.to) };
    const clean = Object.fromEntries(Object.entries(next).filter(([, x]) => x));
    if (JSON.stringify(clean) === key) list.reload();
    else apply(next);
  };
  return (
    <>
      <Form form={form} layout="inline" onFinish={onSearch}>
        <FilterBar>
          <Form.Item name="orderNo" noStyle>
            <Input allowClear placeholder={t('orderNo')} style={{ width: 230 }} data-testid="refunds-filter-order" autoComplete="off" />
          </Form.Item>
          <Form.Item name="cardNo" noStyle>
            <Input allowClear placeholder={t('cardNo')} style={{ width: 210 }} data-testid="refunds-filter-card" autoComplete="off" />
          </Form.Item>
          <Form.Item name="status" noStyle>
            <Select allowClear placeholder={t('anyStatus')} style={{ width: 140 }} options={REFUND_STATUSES.map((s) => ({ value: s, label: w('rst', s) }))} data-testid="refunds-filter-status" />
          </Form.Item>
          <Form.Item name="channel" noStyle>
            <Select allowClear placeholder={t('anyChannel')} style={{ width: 140 }} options={CHANNEL_CODES.map((c) => ({ value: c, label: w('ch', c) }))} data-testid="refunds-filter-channel" />
          </Form.Item>
          <Form.Item name="kind" noStyle>
            <Select allowClear placeholder={t('anyKind')} style={{ width: 140 }} options={['recharge', 'card_close'].map((k) => ({ value: k, label: w('kind', k) }))} data-testid="refunds-filter-kind" />
          </Form.Item>
          <Form.Item name="from" noStyle>
            <DatePicker placeholder={t('from')} />
          </Form.Item>
          <Form.Item name="to" noStyle>
            <DatePicker placeholder={t('to')} />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="refunds-search">
            {t('search')}
          </Button>
          <Button
            onClick={() => {
              form.resetFields();
              apply({});
            }}
          >
            {t('reset')}
          </Button>
        </FilterBar>
      </Form>
      <CursorTable<Refund>
        list={list}
        testId="refunds"
        rowKey="refundNo"
        row={(r) => ({ 'data-testid': 'refund-row', 'data-refund-no': r.refundNo, 'data-order-no': r.orderNo ?? '', 'data-status': r.status })}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          {
            title: t('refundNo'),
            dataIndex: 'refundNo',
            render: (v: string) => (
              <Link to={`/payment-refunds/${v}`} style={mono} data-testid="refund-open">
                {v}
              </Link>
            ),
          },
          { title: t('kind'), dataIndex: 'kind', render: (v: string) => w('kind', v) },
          { title: t('orderNo'), dataIndex: 'orderNo', render: (v: string | null) => (v ? <Link to={`/payment-orders/${v}`} style={mono}>{v}</Link> : '—') },
          { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num" data-testid="refund-amount-cell">{yuan(v)}</strong> },
          { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
          { title: t('status'), dataIndex: 'status', render: (v: string) => <RefundStatusTag status={v} /> },
          { title: t('completedAt'), dataIndex: 'completedAt', render: time },
        ]}
      />
    </>
  );
}

/** Closed cards' balances (销户退资): their payouts, and "pay back now" instead of waiting for the job. */
function CardRefundList() {
  const t = useT(pay);
  const w = useWord();
  const { lang } = useLang();
  const { api, can } = useSession();
  const { message } = App.useApp();
  const [status, setStatus] = useState<string>();
  const list = useCursorList<CardRefund>(
    (cursor) => api.request<Page<CardRefund>>('GET', '/api/v1/card-refunds', { query: { status, limit: 50, cursor } }),
    String(status),
  );
  const [starting, setStarting] = useState<string | null>(null);
  const mayStart = can('POST', '/api/v1/card-refunds/:id/payout');
  const start = async (id: string) => {
    setStarting(id);
    try {
      await api.request('POST', `/api/v1/card-refunds/${encodeURIComponent(id)}/payout`, { body: {} });
      message.success(t('payoutStarted'));
      list.reload();
    } catch (err) {
      message.error(errorText(err, lang));
    } finally {
      setStarting(null);
    }
  };
  return (
    <>
      <FilterBar>
        <Select
          allowClear
          placeholder={t('anyStatus')}
          style={{ width: 160 }}
          value={status}
          onChange={setStatus}
          options={['payable', 'paid'].map((s) => ({ value: s, label: w('cst', s) }))}
          data-testid="card-refunds-filter-status"
        />
      </FilterBar>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<CardRefund>
        rowKey="id"
        size="small"
        pagination={false}
        loading={list.loading}
        scroll={{ x: 'max-content' }}
        dataSource={list.items}
        locale={{ emptyText: list.loading ? ' ' : t('none') }}
        onRow={(r) => ({ 'data-testid': 'card-refund-row', 'data-id': r.id, 'data-status': r.status }) as HTMLAttributes<HTMLElement>}
        expandable={{
          rowExpandable: (r) => r.parts.length > 0,
          expandedRowRender: (r) => <RefundsTable refunds={r.parts} testId="card-refund-parts" />,
        }}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
          { title: t('refundMethod'), dataIndex: 'method', render: (v: string) => w('rm', v) },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
          { title: t('paidOut'), dataIndex: 'paidOut', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: t('inFlight'), dataIndex: 'inFlight', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: t('remaining'), dataIndex: 'remaining', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: t('status'), dataIndex: 'status', render: (v: string) => w('cst', v) },
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, r) =>
              mayStart && r.status === 'payable' && r.remaining > 0 && r.inFlight === 0 ? (
                <Button size="small" onClick={() => void start(r.id)} loading={starting === r.id} data-testid="card-refund-payout">
                  {t('startPayout')}
                </Button>
              ) : null,
          },
        ]}
      />
      <MoreFooter list={list} testId="card-refunds" />
    </>
  );
}

/** One refund: its facts, its trail, and for a payout finance makes by hand (bank transfer, cash) confirm or bounce. */
export function RefundDetailPage() {
  const t = useT(pay);
  const w = useWord();
  const { api, can } = useSession();
  const { message } = App.useApp();
  const { lang } = useLang();
  const { refundNo = '' } = useParams();
  const valid = REFUND_NO.test(refundNo);
  const refund = useLoad(() => (valid ? api.request<RefundDetail>('GET', `/api/v1/refunds/${refundNo}`) : Promise.reject(new Error('bad refund no'))), [api, refundNo]);
  const [dialog, setDialog] = useState<'confirm' | 'fail' | null>(null);
  const [querying, setQuerying] = useState(false);
  if (!valid || (refund.error instanceof ApiError && refund.error.status === 404)) return <LocalResult status="404" title={t('notFound')} subTitle={refundNo} />;

  const query = async () => {
    setQuerying(true);
    try {
      const r = await api.request<Refund>('POST', `/api/v1/refunds/${refundNo}/query`, { body: {} });
      message.success(w('rst', r.status));
      refund.reload();
    } catch (err) {
      message.error(errorText(err, lang));
    } finally {
      setQuerying(false);
    }
  };

  return (
    <div>
      <BackLink to="/payment-refunds">{t('backToRefunds')}</BackLink>
      <LoadState value={refund}>
        {(r) => {
          const manual = r.channel === 'bank_transfer' || r.channel === 'cash';
          const open = r.status === 'requested' || r.status === 'processing';
          return (
            <div data-testid="refund-detail" data-refund-no={r.refundNo} data-status={r.status}>
              <PageHeader
                title={
                  <>
                    {t('refundTitle', { no: r.refundNo })} <RefundStatusTag status={r.status} />
                  </>
                }
                extra={
                  <>
                    {open && !manual && can('POST', '/api/v1/refunds/:refundNo/query') && (
                      <Button onClick={() => void query()} loading={querying} data-testid="refund-query">
                        {t('actQuery')}
                      </Button>
                    )}
                    {open && manual && can('POST', '/api/v1/refunds/:refundNo/confirm') && (
                      <Button type="primary" onClick={() => setDialog('confirm')} data-testid="refund-confirm">
                        {t('actConfirmPayout')}
                      </Button>
                    )}
                    {open && manual && can('POST', '/api/v1/refunds/:refundNo/fail') && (
                      <Button danger onClick={() => setDialog('fail')} data-testid="refund-fail">
                        {t('actFailPayout')}
                      </Button>
                    )}
                  </>
                }
              />
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions
                  size="small"
                  column={{ xs: 1, sm: 2, lg: 3 }}
                  items={[
                    { key: 'kind', label: t('kind'), children: w('kind', r.kind) },
                    { key: 'order', label: t('orderNo'), children: r.orderNo ? <Link to={`/payment-orders/${r.orderNo}`} style={mono}>{r.orderNo}</Link> : '—' },
                    { key: 'card', label: t('cardNo'), children: <CardNo cardNo={r.cardNo} /> },
                    { key: 'amount', label: t('amount'), children: <strong className="fc-num">{yuan(r.amount)}</strong> },
                    { key: 'channel', label: t('channel'), children: <ChannelTag channel={r.channel} /> },
                    { key: 'crid', label: t('channelRefundId'), children: code(r.channelRefundId) },
                    { key: 'reason', label: t('reason'), children: r.reason ?? '—' },
                    { key: 'payee', label: t('payee'), children: payeeText(r.payee) },
                    { key: 'created', label: t('createdAt'), children: dateTime(r.createdAt) },
                    { key: 'completed', label: t('completedAt'), children: dateTime(r.completedAt) },
                    ...(r.failureReason ? [{ key: 'fail', label: t('failureReason'), children: pickLang(r.failureReason, lang) }] : []),
                  ]}
                />
              </Card>
              <Typography.Title level={5}>{t('events')}</Typography.Title>
              <EventsTable events={r.events ?? []} statusPrefix="rst" testId="refund-events" />
              {dialog && (
                <PayoutDialog
                  refund={r}
                  mode={dialog}
                  onClose={() => setDialog(null)}
                  onDone={() => {
                    setDialog(null);
                    message.success(t('done'));
                    refund.reload();
                  }}
                />
              )}
            </div>
          );
        }}
      </LoadState>
    </div>
  );
}

function PayoutDialog({ refund, mode, onClose, onDone }: { refund: Refund; mode: 'confirm' | 'fail'; onClose: () => void; onDone: () => void }) {
  const t = useT(pay);
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = (v: { bankReference?: string; reason?: string }) =>
    sending.run(async () => {
      const body = mode === 'confirm' ? { bankReference: v.bankReference!.trim() } : { reason: v.reason!.trim() };
      await api.request('POST', `/api/v1/refunds/${refund.refundNo}/${mode}`, { body });
      onDone();
    });
  return (
    <FormModal
      title={`${mode === 'confirm' ? t('actConfirmPayout') : t('actFailPayout')} · ${refund.refundNo}`}
      onCancel={onClose}
      onOk={() => form.submit()}
      busy={sending.busy}
      submitTestId={`refund-${mode}-submit`}
      okText={mode === 'confirm' ? t('actConfirmPayout') : t('actFailPayout')}
    >
      <SubmitError error={sending.error} />
      <Descriptions size="small" column={1} items={[{ key: 'amount', label: t('amount'), children: yuan(refund.amount) }, { key: 'payee', label: t('payee'), children: payeeText(refund.payee) }]} style={{ marginBottom: 12 }} />
      <Form form={form} layout="vertical" onFinish={submit}>
        {mode === 'confirm' ? (
          <Form.Item name="bankReference" label={t('bankReference')} rules={[{ required: true, whitespace: true, message: t('bankReferenceRequired') }, { max: 64 }]}>
            <Input maxLength={64} autoComplete="off" data-testid="refund-confirm-reference" />
          </Form.Item>
        ) : (
          <Form.Item name="reason" label={t('failureReason')} rules={[{ required: true, whitespace: true, message: t('failReasonRequired') }, { max: 200 }]}>
            <Input.TextArea rows={2} maxLength={200} data-testid="refund-fail-reason" />
          </Form.Item>
        )}
      </Form>
    </FormModal>
  );
}
