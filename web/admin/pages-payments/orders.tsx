import { useEffect, useState, type HTMLAttributes } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, DatePicker, Descriptions, Form, Input, Select, Space, Table, Tag, Typography } from 'antd';
import { BankOutlined, CopyOutlined, PlusOutlined, SearchOutlined } from '@ant-design/icons';
import { ApiError, errorText } from '../../shared/api';
import { dateTime, digitsOnly } from '../../shared/format';
import { pickLang, useLang, useT } from '../../shared/i18n';
import { parseYuan, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { CardNo, LocalResult } from '../ui';
import { PageHeader, SubmitError, copyText, fromDay, mono, rangeQuery, toDay, useCursorList, useIdempotencyKey, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending } from '../pages-forecourt/common';
import { ChannelTag, EventsTable, OrderStatusTag, RefundStatusTag, cardNoOf, code, payeeText, time, useWord, yuanRule } from './common';
import { CHANNEL_CODES, ORDER_STATUSES, pay } from './i18n';
import type { OrderDetail, OrderNotification, RechargeOrder, Refund } from './types';

const KEYS = ['status', 'channel', 'cardNo', 'orderNo', 'from', 'to'] as const;
const ORDER_NO = /^P\d{19}$/;

/** 充值订单: every order whatever its channel, filtered; the counter's bank-transfer order starts here too. */
export function OrdersPage() {
  const t = useT(pay);
  const w = useWord();
  const { api, can } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const [creating, setCreating] = useState(false);

  const list = useCursorList<RechargeOrder>(
    (cursor) =>
      api.request<Page<RechargeOrder>>('GET', '/api/v1/recharge-orders', {
        query: { status: filters.status, channel: filters.channel, cardNo: filters.cardNo, orderNo: filters.orderNo, ...rangeQuery(filters), limit: 50, cursor },
      }),
    key,
  );

  useEffect(() => {
    form.setFieldsValue({ status: filters.status, channel: filters.channel, cardNo: filters.cardNo, orderNo: filters.orderNo, from: toDay(filters.from), to: toDay(filters.to) });
  }, [key]);

  const onSearch = (v: any) => {
    const next = { status: v.status, channel: v.channel, cardNo: cardNoOf(v.cardNo), orderNo: v.orderNo?.trim() || undefined, from: fromDay(v.from), to: fromDay(v.to) };
    const clean = Object.fromEntries(Object.entries(next).filter(([, x]) => x));
    if (JSON.stringify(clean) === key) list.reload();
    else apply(next);
  };

  return (
    <div>
      <PageHeader
        title={t('ordersTitle')}
        extra={
          can('POST', '/api/v1/recharge-orders') && (
            <Button icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="order-new-transfer">
              {t('newTransferOrder')}
            </Button>
          )
        }
      />
      <Form form={form} layout="inline" onFinish={onSearch} data-testid="orders-filters">
        <FilterBar>
          <Form.Item name="orderNo" noStyle>
            <Input allowClear placeholder={t('orderNo')} style={{ width: 230 }} data-testid="orders-filter-order" autoComplete="off" />
          </Form.Item>
          <Form.Item name="cardNo" noStyle>
            <Input allowClear placeholder={t('cardNo')} inputMode="numeric" style={{ width: 210 }} data-testid="orders-filter-card" autoComplete="off" />
          </Form.Item>
          <Form.Item name="status" noStyle>
            <Select allowClear placeholder={t('anyStatus')} style={{ width: 150 }} options={ORDER_STATUSES.map((s) => ({ value: s, label: w('st', s) }))} data-testid="orders-filter-status" />
          </Form.Item>
          <Form.Item name="channel" noStyle>
            <Select allowClear placeholder={t('anyChannel')} style={{ width: 150 }} options={CHANNEL_CODES.map((c) => ({ value: c, label: w('ch', c) }))} data-testid="orders-filter-channel" />
          </Form.Item>
          <Form.Item name="from" noStyle>
            <DatePicker placeholder={t('from')} data-testid="orders-filter-from" />
          </Form.Item>
          <Form.Item name="to" noStyle>
            <DatePicker placeholder={t('to')} data-testid="orders-filter-to" />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="orders-search">
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
      <CursorTable<RechargeOrder>
        list={list}
        testId="orders"
        rowKey="orderNo"
        row={(o) => ({ 'data-testid': 'order-row', 'data-order-no': o.orderNo, 'data-status': o.status })}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          {
            title: t('orderNo'),
            dataIndex: 'orderNo',
            render: (v: string) => (
              <Link to={`/payment-orders/${v}`} style={mono} data-testid="order-open">
                {v}
              </Link>
            ),
          },
          { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
          { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
          { title: t('method'), dataIndex: 'method', render: (v: string) => w('m', v) },
          { title: t('origin'), dataIndex: 'origin', render: (v: string) => w('o', v) },
          { title: t('status'), dataIndex: 'status', render: (v: string) => <OrderStatusTag status={v} /> },
          { title: t('refundedAmount'), dataIndex: 'refundedAmount', align: 'right', render: (v: number) => (v ? <span className="fc-num">{yuan(v)}</span> : '—') },
          { title: t('paidAt'), dataIndex: 'paidAt', render: time },
        ]}
      />
      {creating && <TransferOrderModal onClose={() => setCreating(false)} onCreated={(o) => navigate(`/payment-orders/${o.orderNo}`)} />}
    </div>
  );
}

/** What to tell the payer of a bank transfer order: our account and the code for the memo. */
export function TransferInstructions({ order }: { order: RechargeOrder }) {
  const t = useT(pay);
  const { message } = App.useApp();
  const tr = order.payload?.transfer;
  const payerCode = tr?.payerCode ?? order.payerCode;
  if (!tr && !payerCode) return null;
  const copy = async (text: string) => {
    if (await copyText(text)) message.success(t('copied'));
  };
  const line = (label: string, value: string | undefined, testId: string) => ({
    key: testId,
    label,
    children: value ? (
      <Space>
        <span style={{ ...mono, fontSize: 16 }} data-testid={testId}>
          {value}
        </span>
        <Button size="small" type="text" icon={<CopyOutlined />} aria-label={`${t('copy')} ${label}`} onClick={() => void copy(testId === 'transfer-account-no' ? value.replace(/\s/g, '') : value)} />
      </Space>
    ) : (
      '—'
    ),
  });
  return (
    <Card size="small" title={<><BankOutlined /> {t('transferTitle')}</>} style={{ marginBottom: 16 }} data-testid="transfer-instructions">
      <Descriptions
        size="small"
        column={1}
        bordered
        items={[
          line(t('transferBank'), tr?.bankName, 'transfer-bank'),
          line(t('transferAccountName'), tr?.accountName, 'transfer-account-name'),
          line(t('transferAccountNo'), tr?.accountNo, 'transfer-account-no'),
          { key: 'amount', label: t('amount'), children: <strong className="fc-num" data-testid="transfer-amount">{yuan(order.amount)}</strong> },
          line(t('transferMemo'), payerCode ?? undefined, 'transfer-payer-code'),
        ]}
      />
      <Alert type="warning" showIcon title={t('transferNote')} style={{ marginTop: 12 }} />
    </Card>
  );
}

/** The counter's bank-transfer order: card and amount → an order with a payer code the customer writes on the transfer. */
function TransferOrderModal({ onClose, onCreated }: { onClose: () => void; onCreated: (o: RechargeOrder) => void }) {
  const t = useT(pay);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const idem = useIdempotencyKey();
  const submit = (v: { cardNo: string; amount: string }) =>
    sending.run(async () => {
      const order = await api.request<RechargeOrder>('POST', '/api/v1/recharge-orders', {
        body: { cardNo: digitsOnly(v.cardNo), amount: parseYuan(v.amount)!, channel: 'bank_transfer', method: 'transfer', origin: 'counter' },
        idempotencyKey: idem.get(),
      });
      idem.renew();
      onCreated(order);
    }, (err) => {
      if (err instanceof ApiError && err.status < 500) idem.renew();
      if (err instanceof ApiError && typeof err.details?.field === 'string') {
        const f = String(err.details.field).replace(/^body\./, '');
        if (f === 'cardNo' || f === 'amount') form.setFields([{ name: f, errors: [err.text(lang)] }]);
      }
    });
  return (
    <FormModal title={t('newTransferOrder')} onCancel={onClose} onOk={() => form.submit()} busy={sending.busy} submitTestId="transfer-order-submit" okText={t('create')}>
      <Typography.Paragraph type="secondary">{t('newTransferOrderHint')}</Typography.Paragraph>
      <SubmitError error={sending.error} />
      <Form form={form} layout="vertical" onFinish={submit}>
        <Form.Item name="cardNo" label={t('cardNo')} rules={[{ required: true, pattern: /^[\d ]{12,30}$/, message: t('cardNoInvalid') }]}>
          <Input inputMode="numeric" autoComplete="off" data-testid="transfer-order-card" />
        </Form.Item>
        <Form.Item name="amount" label={t('amountYuan')} rules={[yuanRule(t, { required: true })]}>
          <Input prefix="¥" inputMode="decimal" autoComplete="off" style={{ maxWidth: 220 }} data-testid="transfer-order-amount" />
        </Form.Item>
      </Form>
    </FormModal>
  );
}

function refundableOf(o: OrderDetail): number {
  const pending = (o.refunds ?? []).filter((r) => r.status === 'requested' || r.status === 'processing').reduce((s, r) => s + r.amount, 0);
  return Math.max(0, o.amount - o.refundedAmount - pending);
}

/** One order: its facts, the actions finance may take on it, its state changes, the channel's notifications and its refunds. */
export function OrderDetailPage() {
  const t = useT(pay);
  const w = useWord();
  const { lang } = useLang();
  const { api, can } = useSession();
  const { modal, message } = App.useApp();
  const { orderNo = '' } = useParams();
  const valid = ORDER_NO.test(orderNo);
  const order = useLoad(() => (valid ? api.request<OrderDetail>('GET', `/api/v1/recharge-orders/${orderNo}`) : Promise.reject(new Error('bad order no'))), [api, orderNo]);
  const [refunding, setRefunding] = useState(false);
  const [acting, setActing] = useState<string | null>(null);

  if (!valid || (order.error instanceof ApiError && order.error.status === 404)) return <LocalResult status="404" title={t('notFound')} subTitle={orderNo} />;

  const act = async (what: 'query' | 'close' | 'credit') => {
    setActing(what);
    try {
      const o = await api.request<RechargeOrder>('POST', `/api/v1/recharge-orders/${orderNo}/${what}`, { body: {} });
      message.success(what === 'query' ? t('queried', { status: w('st', o.status) }) : what === 'credit' ? t('credited') : t('closed', { status: w('st', o.status) }));
      order.reload();
    } catch (err) {
      message.error(errorText(err, lang));
    } finally {
      setActing(null);
    }
  };
  const confirmThen = (what: 'close' | 'credit') =>
    modal.confirm({
      title: what === 'close' ? t('actClose') : t('actCredit'),
      content: what === 'close' ? t('closeConfirm') : t('creditConfirm'),
      okText: what === 'close' ? t('actClose') : t('actCredit'),
      okButtonProps: { danger: what === 'close', 'data-testid': `order-${what}-confirm` } as any,
      onOk: () => act(what),
    });

  return (
    <div>
      <BackLink to="/payment-orders">{t('backToOrders')}</BackLink>
      <LoadState value={order}>
        {(o) => {
          const open = o.status === 'created' || o.status === 'paying';
          const refundable = refundableOf(o);
          return (
            <div data-testid="order-detail" data-order-no={o.orderNo} data-status={o.status}>
              <PageHeader
                title={
                  <>
                    {t('orderTitle', { no: o.orderNo })} <OrderStatusTag status={o.status} />
                  </>
                }
                extra={
                  <>
                    {can('POST', '/api/v1/recharge-orders/:orderNo/query') && (open || o.status === 'closed' || o.status === 'failed') && o.channel !== 'cash' && o.channel !== 'bank_transfer' && (
                      <Button onClick={() => void act('query')} loading={acting === 'query'} data-testid="order-query">
                        {t('actQuery')}
                      </Button>
                    )}
                    {can('POST', '/api/v1/recharge-orders/:orderNo/close') && open && (
                      <Button danger onClick={() => confirmThen('close')} loading={acting === 'close'} data-testid="order-close">
                        {t('actClose')}
                      </Button>
                    )}
                    {can('POST', '/api/v1/recharge-orders/:orderNo/credit') && o.status === 'paid' && (
                      <Button type="primary" onClick={() => confirmThen('credit')} loading={acting === 'credit'} data-testid="order-credit">
                        {t('actCredit')}
                      </Button>
                    )}
                    {can('POST', '/api/v1/recharge-orders/:orderNo/refunds') && o.status === 'credited' && refundable > 0 && (
                      <Button onClick={() => setRefunding(true)} data-testid="order-refund">
                        {t('actRefund')}
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
                    { key: 'card', label: t('cardNo'), children: <CardNo cardNo={o.cardNo} /> },
                    { key: 'amount', label: t('amount'), children: <strong className="fc-num" data-testid="order-amount">{yuan(o.amount)}</strong> },
                    { key: 'channel', label: t('channel'), children: <><ChannelTag channel={o.channel} /> {w('m', o.method)}</> },
                    { key: 'origin', label: t('origin'), children: w('o', o.origin) },
                    { key: 'created', label: t('createdAt'), children: dateTime(o.createdAt) },
                    { key: 'expires', label: t('expiresAt'), children: dateTime(o.expiresAt) },
                    { key: 'paid', label: t('paidAt'), children: dateTime(o.paidAt) },
                    { key: 'paidAmount', label: t('paidAmount'), children: o.paidAmount === null ? '—' : yuan(o.paidAmount) },
                    { key: 'txn', label: t('channelTxnId'), children: code(o.channelTxnId) },
                    ...(o.channelOrderNo ? [{ key: 'channelOrderNo', label: t('channelOrderNo'), children: code(o.channelOrderNo) }] : []),
                    { key: 'receipt', label: t('receiptNo'), children: code(o.receiptNo) },
                    { key: 'refunded', label: t('refundedAmount'), children: <span data-testid="order-refunded">{yuan(o.refundedAmount)}</span> },
                    { key: 'payerCode', label: t('payerCode'), children: code(o.payerCode) },
                    ...(o.closeReason ? [{ key: 'close', label: t('closeReason'), children: pickLang(o.closeReason, lang) }] : []),
                    ...(o.note ? [{ key: 'note', label: t('note'), children: pickLang(o.note, lang) }] : []),
                  ]}
                />
              </Card>
              {o.channel === 'bank_transfer' && open && <TransferInstructions order={o} />}
              <Typography.Title level={5}>{t('events')}</Typography.Title>
              <EventsTable events={o.events ?? []} statusPrefix="st" testId="order-events" />
              <Typography.Title level={5} style={{ marginTop: 16 }}>
                {t('notifications')}
              </Typography.Title>
              <Table
                rowKey="id"
                size="small"
                pagination={false}
                dataSource={o.notifications ?? []}
                data-testid="order-notifications"
                locale={{ emptyText: t('none') }}
                columns={[
                  { title: t('time'), dataIndex: 'receivedAt', render: time },
                  { title: t('kind'), dataIndex: 'kind', render: (v: string | null) => w('nk', v) },
                  {
                    title: t('outcome'),
                    dataIndex: 'outcome',
                    // A refused notification may be a forgery naming this order: say so, do not present it as the provider's.
                    render: (v: string, n: OrderNotification) =>
                      n.verified === false ? (
                        <Tag color="red" data-testid="notification-unverified">
                          {w('oc', v)} · {t('unverified')}
                        </Tag>
                      ) : (
                        w('oc', v)
                      ),
                  },
                  { title: t('notifyReason'), dataIndex: 'reason', render: code },
                  { title: t('notifyId'), dataIndex: 'notifyId', render: code },
                ]}
              />
              <Typography.Title level={5} style={{ marginTop: 16 }}>
                {t('refunds')}
              </Typography.Title>
              <RefundsTable refunds={o.refunds ?? []} testId="order-refunds" />
              {refunding && (
                <RefundModal
                  order={o}
                  refundable={refundable}
                  onClose={() => setRefunding(false)}
                  onDone={(r) => {
                    setRefunding(false);
                    message.success(t('refundSubmitted', { no: r.refundNo, status: w('rst', r.status) }));
                    order.reload();
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

export function RefundsTable({ refunds, testId }: { refunds: Refund[]; testId: string }) {
  const t = useT(pay);
  const w = useWord();
  return (
    <Table<Refund>
      rowKey="refundNo"
      size="small"
      pagination={false}
      scroll={{ x: 'max-content' }}
      dataSource={refunds}
      locale={{ emptyText: t('none') }}
      onRow={(r) => ({ 'data-testid': `${testId}-row`, 'data-refund-no': r.refundNo, 'data-status': r.status }) as HTMLAttributes<HTMLElement>}
      columns={[
        { title: t('createdAt'), dataIndex: 'createdAt', render: time },
        { title: t('refundNo'), dataIndex: 'refundNo', render: (v: string) => <Link to={`/payment-refunds/${v}`} style={mono}>{v}</Link> },
        { title: t('kind'), dataIndex: 'kind', render: (v: string) => w('kind', v) },
        { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
        { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
        { title: t('status'), dataIndex: 'status', render: (v: string) => <RefundStatusTag status={v} /> },
        { title: t('reason'), dataIndex: 'reason', render: (v: string | null) => v ?? '—' },
        { title: t('payee'), dataIndex: 'payee', render: (v: Refund['payee']) => payeeText(v) },
        { title: t('completedAt'), dataIndex: 'completedAt', render: time },
      ]}
    />
  );
}

/** Refund a credited order, whole or part, to its channel (a bank transfer is paid out by finance to the payee). */
function RefundModal({ order, refundable, onClose, onDone }: { order: OrderDetail; refundable: number; onClose: () => void; onDone: (r: Refund) => void }) {
  const t = useT(pay);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const idem = useIdempotencyKey();
  const needsPayee = order.channel === 'bank_transfer';
  const submit = (v: { amount?: string; reason: string; payeeName?: string; payeeAccount?: string; payeeBank?: string }) =>
    sending.run(async () => {
      const amount = v.amount?.trim() ? parseYuan(v.amount)! : undefined;
      const body: Record<string, unknown> = { reason: v.reason.trim() };
      if (amount !== undefined) body.amount = amount;
      if (needsPayee) body.payee = { name: v.payeeName!.trim(), account: v.payeeAccount!.replace(/\s/g, ''), ...(v.payeeBank?.trim() ? { bank: v.payeeBank.trim() } : {}) };
      const r = await api.request<Refund>('POST', `/api/v1/recharge-orders/${order.orderNo}/refunds`, { body, idempotencyKey: idem.get() });
      idem.renew();
      onDone(r);
    }, (err) => {
      if (err instanceof ApiError && err.status < 500) idem.renew();
      if (err instanceof ApiError && typeof err.details?.field === 'string') {
        const f = String(err.details.field).replace(/^body\./, '');
        if (f === 'amount' || f === 'reason') form.setFields([{ name: f, errors: [err.text(lang)] }]);
      }
    });
  return (
    <FormModal title={t('refundTitleModal', { no: order.orderNo })} onCancel={onClose} onOk={() => form.submit()} busy={sending.busy} submitTestId="refund-submit" okText={t('actRefund')}>
      <Typography.Paragraph type="secondary">{t('refundBalanceNote')}</Typography.Paragraph>
      <SubmitError error={sending.error} />
      <Form form={form} layout="vertical" onFinish={submit}>
        <Form.Item name="amount" label={t('amountYuan')} extra={t('refundAmountHint', { max: yuan(refundable) })} rules={[yuanRule(t, { maxFen: refundable, maxText: yuan(refundable) })]}>
          <Input prefix="¥" inputMode="decimal" autoComplete="off" placeholder={(refundable / 100).toFixed(2)} style={{ maxWidth: 220 }} data-testid="refund-amount" />
        </Form.Item>
        <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('refundReasonRequired') }, { max: 200 }]}>
          <Input.TextArea rows={2} maxLength={200} data-testid="refund-reason" />
        </Form.Item>
        {needsPayee && (
          <>
            <Alert type="info" showIcon title={t('refundPayeeHint')} style={{ marginBottom: 12 }} />
            <Form.Item name="payeeName" label={t('payeeName')} rules={[{ required: true, whitespace: true, message: t('payeeName') }]}>
              <Input maxLength={100} data-testid="refund-payee-name" />
            </Form.Item>
            <Form.Item name="payeeAccount" label={t('payeeAccount')} rules={[{ required: true, pattern: /^[\d ]{8,40}$/, message: t('payeeAccount') }]}>
              <Input inputMode="numeric" maxLength={40} data-testid="refund-payee-account" />
            </Form.Item>
            <Form.Item name="payeeBank" label={t('payeeBank')}>
              <Input maxLength={100} data-testid="refund-payee-bank" />
            </Form.Item>
          </>
        )}
      </Form>
    </FormModal>
  );
}
