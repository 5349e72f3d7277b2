import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, Button, Card, Col, DatePicker, Descriptions, Form, Input, Radio, Row, Select, Space, Timeline, Typography, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CheckOutlined, MessageOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { ApiError, errorText } from '../../shared/api';
import { dateTime, digitsOnly, luhnValid } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { parseYuan, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { CardNo, LocalResult, enterSubmits } from '../ui';
import { PageHeader, fromDay, isDay, toDay, useCursorList, useIdempotencyKey, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending } from '../pages-forecourt/common';
import { ChannelSelect, ChannelTag, CodeSelect, CodeTag, ItemStatusTag, feeYuan, orderPath, refundPath, useActionLabel, useChannelName } from './common';
import { rc } from './i18n';
import { RESOLUTIONS, type Item, type ItemDetail, type Resolution } from './types';

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
const mono = (v: string | null | undefined) => <span className="fc-num">{v || '—'}</span>;
const KEYS = ['status', 'channel', 'code', 'billDate'] as const;

/** An order number as a link to the payments console's order screen, when the role may open it. */
function OrderLink({ orderNo }: { orderNo: string | null | undefined }) {
  const { can } = useSession();
  if (!orderNo) return <>—</>;
  if (!can('GET', '/api/v1/recharge-orders/:orderNo')) return mono(orderNo);
  return (
    <Link to={orderPath(orderNo)} className="fc-num" data-testid="item-order-link">
      {orderNo}
    </Link>
  );
}

function RefundLink({ refundNo }: { refundNo: string | null | undefined }) {
  const { can } = useSession();
  if (!refundNo) return <>—</>;
  if (!can('GET', '/api/v1/refunds/:refundNo')) return mono(refundNo);
  return (
    <Link to={refundPath(refundNo)} className="fc-num" data-testid="item-refund-link">
      {refundNo}
    </Link>
  );
}

/** The discrepancies of a query (the list screen, a run's day). */
export function ItemsTable({ query, testId }: { query: Record<string, string | number | undefined>; testId: string }) {
  const t = useT(rc);
  const { api } = useSession();
  const action = useActionLabel();
  const key = JSON.stringify(query);
  const list = useCursorList<Item>((cursor) => api.request<Page<Item>>('GET', '/api/v1/reconciliation/items', { query: { ...query, limit: 50, cursor } }), key);
  const columns: ColumnsType<Item> = useMemo(
    () => [
      { title: '#', dataIndex: 'id', render: (v: number) => <Link to={`/recon-items/${v}`} data-testid="item-open">#{v}</Link> },
      { title: t('billDate'), dataIndex: 'billDate', render: (v: string) => <span className="fc-num">{v}</span> },
      { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
      { title: t('code'), dataIndex: 'code', render: (v: string) => <CodeTag code={v} /> },
      { title: `${t('orderNo')} / ${t('refundNo')}`, key: 'ref', render: (_: unknown, r) => (r.kind === 'refund' ? <RefundLink refundNo={r.refundNo} /> : <OrderLink orderNo={r.orderNo} />) },
      { title: t('channelTxnId'), dataIndex: 'channelTxnId', render: mono },
      { title: t('platformAmount'), dataIndex: 'platformAmount', align: 'right', render: (v: number | null) => <span className="fc-num">{yuan(v)}</span> },
      { title: t('channelAmount'), dataIndex: 'channelAmount', align: 'right', render: (v: number | null) => <span className="fc-num">{yuan(v)}</span> },
      { title: t('suggested'), dataIndex: 'suggestedAction', render: (v: string) => action(v) },
      { title: t('status'), dataIndex: 'status', render: (v: string) => <ItemStatusTag status={v} /> },
      { title: t('resolution'), dataIndex: 'resolution', render: (v: string | null) => <span data-testid="item-resolution">{action(v)}</span> },
      { title: t('createdAt'), dataIndex: 'createdAt', render: time },
    ],
    [t, action],
  );
  return <CursorTable<Item> list={list} testId={testId} rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'items-row', 'data-item-id': r.id, 'data-code': r.code, 'data-status': r.status })} />;
}

/** 差错处理: the discrepancies, open first by default. */
export function ItemsPage() {
  const t = useT(rc);
  const { filters, apply } = useUrlFilters(KEYS);
  // Open items are the work; "any" must be chosen on purpose.
  const status = filters.status === 'any' ? undefined : (filters.status ?? 'open');
  return (
    <div>
      <PageHeader title={t('itemsTitle')} />
      <FilterBar>
        <Select
          value={filters.status ?? 'open'}
          onChange={(v) => apply({ ...filters, status: v === 'open' ? undefined : v })}
          options={[
            { value: 'open', label: t('itemStatus_open') },
            { value: 'resolved', label: t('itemStatus_resolved') },
            { value: 'any', label: t('anyStatus') },
          ]}
          style={{ minWidth: 120 }}
          data-testid="items-filter-status"
          aria-label={t('status')}
        />
        <ChannelSelect value={filters.channel} onChange={(v) => apply({ ...filters, channel: v })} testId="items-filter-channel" />
        <CodeSelect value={filters.code} onChange={(v) => apply({ ...filters, code: v })} testId="items-filter-code" />
        <DatePicker value={toDay(filters.billDate)} onChange={(d: Dayjs | null) => apply({ ...filters, billDate: fromDay(d) })} placeholder={t('billDate')} data-testid="items-filter-day" aria-label={t('billDate')} />
      </FilterBar>
      <ItemsTable query={{ status, channel: filters.channel, code: filters.code, billDate: isDay(filters.billDate) ? filters.billDate : undefined }} testId="items" />
    </div>
  );
}

export function ItemDetailPage() {
  const t = useT(rc);
  const { id } = useParams();
  const { api, can } = useSession();
  const action = useActionLabel();
  const channelName = useChannelName();
  const [dialog, setDialog] = useState<'resolve' | 'note'>();
  // The page keeps the toasts: a dialog's own would go with it when it closes.
  const [msg, holder] = message.useMessage();
  const valid = /^[0-9]{1,18}$/.test(id ?? '');
  const item = useLoad(() => (valid ? api.request<ItemDetail>('GET', `/api/v1/reconciliation/items/${id}`) : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined))), [api, id]);
  if (item.error instanceof ApiError && item.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/recon-items">{t('backToItems')}</Link>} />;
  }
  const mayResolve = can('POST', '/api/v1/reconciliation/items/:id/resolve');
  const mayNote = can('POST', '/api/v1/reconciliation/items/:id/notes');
  return (
    <div>
      {holder}
      <BackLink to="/recon-items">{t('backToItems')}</BackLink>
      <LoadState value={item}>
        {(it) => (
          <>
            <PageHeader
              title={
                <Space wrap>
                  {t('itemTitle', { id: it.id })}
                  <CodeTag code={it.code} />
                  <ItemStatusTag status={it.status} />
                </Space>
              }
              extra={
                <>
                  {mayNote && (
                    <Button icon={<MessageOutlined />} onClick={() => setDialog('note')} data-testid="item-add-note">
                      {t('addNote')}
                    </Button>
                  )}
                  {mayResolve && it.status === 'open' && (
                    <Button type="primary" icon={<CheckOutlined />} onClick={() => setDialog('resolve')} data-testid="item-resolve">
                      {t('resolve')}
                    </Button>
                  )}
                </>
              }
            />
            <Card size="small" style={{ marginBottom: 16 }}>
              <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
                <Descriptions.Item label={t('channel')}>{channelName(it.channel)}</Descriptions.Item>
                <Descriptions.Item label={t('billDate')}>{it.billDate}</Descriptions.Item>
                <Descriptions.Item label={t('kind')}>{t(`kind_${it.kind}`)}</Descriptions.Item>
                <Descriptions.Item label={t('platformAmount')}>
                  <span className="fc-num" data-testid="item-platform-amount">{yuan(it.platformAmount)}</span>
                </Descriptions.Item>
                <Descriptions.Item label={t('channelAmount')}>
                  <span className="fc-num" data-testid="item-channel-amount">{yuan(it.channelAmount)}</span>
                </Descriptions.Item>
                {it.feeDiffMfen !== null && it.feeDiffMfen !== undefined && <Descriptions.Item label={t('feeDiff')}>{feeYuan(it.feeDiffMfen)}</Descriptions.Item>}
                <Descriptions.Item label={t('platformStatus')}>{it.platformStatus ?? '—'}</Descriptions.Item>
                <Descriptions.Item label={t('channelStatus')}>{it.channelStatus ?? '—'}</Descriptions.Item>
                <Descriptions.Item label={t('suggested')}>
                  <Typography.Text strong data-testid="item-suggested">
                    {action(it.suggestedAction)}
                  </Typography.Text>
                </Descriptions.Item>
                <Descriptions.Item label={t('runsTitle')}>
                  <Link to={`/recon-runs/${it.runId}`}>#{it.runId}</Link>
                </Descriptions.Item>
                <Descriptions.Item label={t('createdAt')}>{dateTime(it.createdAt)}</Descriptions.Item>
              </Descriptions>
              {it.status === 'resolved' && (
                <Alert
                  type="success"
                  showIcon
                  style={{ marginTop: 8 }}
                  data-testid="item-resolved"
                  title={`${t('resolution')}: ${action(it.resolution)} · ${dateTime(it.resolvedAt)}`}
                  description={
                    <>
                      <div data-testid="item-resolution-note">{it.resolutionNote}</div>
                      {it.resolutionRef && (
                        <div>
                          {t('resolutionRef')}: <span className="fc-num">{it.resolutionRef}</span>
                        </div>
                      )}
                    </>
                  }
                />
              )}
            </Card>
            <Row gutter={16}>
              <Col xs={24} lg={12}>
                <Card size="small" title={t('statementLine')} style={{ marginBottom: 16 }} data-testid="item-line">
                  {it.line ? (
                    <Descriptions size="small" column={1}>
                      <Descriptions.Item label={t('lineNo')}>{it.line.lineNo}</Descriptions.Item>
                      <Descriptions.Item label={t('kind')}>{t(`kind_${it.line.kind}`)}</Descriptions.Item>
                      <Descriptions.Item label={t('channelTxnId')}>{mono(it.line.channelTxnId)}</Descriptions.Item>
                      {it.line.orderNo && <Descriptions.Item label={t('orderNo')}>{mono(it.line.orderNo)}</Descriptions.Item>}
                      {it.line.refundNo && <Descriptions.Item label={t('refundNo')}>{mono(it.line.refundNo)}</Descriptions.Item>}
                      <Descriptions.Item label={t('amount')}>{yuan(it.line.amount)}</Descriptions.Item>
                      <Descriptions.Item label={t('fees')}>{feeYuan(it.line.feeMfen)}</Descriptions.Item>
                      <Descriptions.Item label={t('channelStatus')}>{it.line.status}</Descriptions.Item>
                      <Descriptions.Item label={t('occurredAt')}>{dateTime(it.line.occurredAt)}</Descriptions.Item>
                      <Descriptions.Item label={t('raw')}>
                        <Typography.Text code style={{ fontSize: 12, wordBreak: 'break-all' }} data-testid="item-line-raw">
                          {it.line.raw}
                        </Typography.Text>
                      </Descriptions.Item>
                    </Descriptions>
                  ) : (
                    <Typography.Text type="secondary">{t('noLine')}</Typography.Text>
                  )}
                </Card>
              </Col>
              <Col xs={24} lg={12}>
                <Card size="small" title={it.kind === 'refund' ? t('refund') : t('order')} style={{ marginBottom: 16 }} data-testid="item-platform">
                  {it.kind === 'refund' ? (
                    it.refund ? (
                      <Descriptions size="small" column={1}>
                        <Descriptions.Item label={t('refundNo')}>
                          <RefundLink refundNo={it.refund.refundNo} />
                        </Descriptions.Item>
                        {it.orderNo && (
                          <Descriptions.Item label={t('orderNo')}>
                            <OrderLink orderNo={it.orderNo} />
                          </Descriptions.Item>
                        )}
                        <Descriptions.Item label={t('amount')}>{yuan(it.refund.amount)}</Descriptions.Item>
                        <Descriptions.Item label={t('status')}>{it.refund.status}</Descriptions.Item>
                        {it.refund.channelRefundId && <Descriptions.Item label={t('channelRefundId')}>{mono(it.refund.channelRefundId)}</Descriptions.Item>}
                        {it.refund.completedAt && <Descriptions.Item label={t('completedAt')}>{dateTime(it.refund.completedAt)}</Descriptions.Item>}
                      </Descriptions>
                    ) : (
                      <Typography.Text type="secondary">{t('noRefund')}</Typography.Text>
                    )
                  ) : it.order ? (
                    <Descriptions size="small" column={1}>
                      <Descriptions.Item label={t('orderNo')}>
                        <OrderLink orderNo={it.order.orderNo} />
                      </Descriptions.Item>
                      {it.order.cardNo && (
                        <Descriptions.Item label={t('cardNo')}>
                          <CardNo cardNo={it.order.cardNo} />
                        </Descriptions.Item>
                      )}
                      <Descriptions.Item label={t('amount')}>{yuan(it.order.amount)}</Descriptions.Item>
                      <Descriptions.Item label={t('orderStatus')}>{it.order.status}</Descriptions.Item>
                      {it.order.channelTxnId && <Descriptions.Item label={t('channelTxnId')}>{mono(it.order.channelTxnId)}</Descriptions.Item>}
                      {it.order.paidAt && <Descriptions.Item label={t('paidAt')}>{dateTime(it.order.paidAt)}</Descriptions.Item>}
                    </Descriptions>
                  ) : (
                    <Typography.Text type="secondary" data-testid="item-no-order">
                      {t('noOrder')}
                    </Typography.Text>
                  )}
                </Card>
              </Col>
            </Row>
            <Card size="small" title={t('events')} data-testid="item-events">
              {it.events.length ? (
                <Timeline
                  items={it.events.map((e, i) => ({
                    key: e.id ?? i,
                    color: e.action === 'opened' ? 'red' : e.action === 'note' ? 'gray' : e.action === 'seen_again' ? 'orange' : 'green',
                    content: (
                      <div data-testid="item-event" data-action={e.action}>
                        <Typography.Text strong>{rc[`event_${e.action}`] ? t(`event_${e.action}`) : e.action}</Typography.Text>
                        <Typography.Text type="secondary" style={{ marginLeft: 8 }}>
                          {dateTime(e.createdAt)}
                          {e.staff ? ` · ${e.staff}` : ''}
                        </Typography.Text>
                        {e.note && <div style={{ whiteSpace: 'pre-wrap' }}>{e.note}</div>}
                      </div>
                    ),
                  }))}
                />
              ) : (
                <Typography.Text type="secondary">{t('noEvents')}</Typography.Text>
              )}
            </Card>
            {dialog === 'resolve' && <ResolveModal item={it} onClose={() => setDialog(undefined)} onDone={() => { msg.success(t('resolved')); item.reload(); }} />}
            {dialog === 'note' && <NoteModal item={it} onClose={() => setDialog(undefined)} onDone={() => { msg.success(t('noteAdded')); item.reload(); }} />}
          </>
        )}
      </LoadState>
    </div>
  );
}

/** What resolving with an action will do, and the amount it would take by default. */
function defaultAction(item: Item): Resolution | undefined {
  if ((RESOLUTIONS as readonly string[]).includes(item.suggestedAction)) return item.suggestedAction as Resolution;
  if (item.suggestedAction === 'explain') return 'explained';
  return undefined;
}

function defaultAmount(item: Item, action: Resolution | undefined): number | null {
  if (action === 'write_off') return Math.abs(item.difference) || null;
  if (action === 'refund') return item.channelAmount ?? item.platformAmount;
  return null;
}

const fenToText = (fen: number | null) => (fen === null ? '' : yuan(fen, { symbol: false }).replace(/,/g, ''));

function ResolveModal({ item, onClose, onDone }: { item: ItemDetail; onClose: () => void; onDone: () => void }) {
  const t = useT(rc);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const idem = useIdempotencyKey();
  const initial = defaultAction(item);
  const action: Resolution | undefined = Form.useWatch('action', form) ?? initial;
  // Money the channel holds with no order: finance names the card it belongs to.
  const needsCard = action === 'credit_card' && item.kind === 'payment' && !item.order && !item.orderNo;
  const takesAmount = action === 'refund' || action === 'write_off';
  // Bank transfer money goes back by a payout finance makes: where to (the payer on the statement, usually).
  const takesPayee = action === 'refund' && item.channel === 'bank_transfer';
  const hints: Record<Resolution, string> = { credit_card: t('creditHint'), refund: t('refundHint'), write_off: t('writeOffHint'), explained: t('explainHint') };

  const submit = async () => {
    // An invalid form shows its own messages; nothing to send.
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      const amount = takesAmount && v.amount && String(v.amount).trim() ? parseYuan(String(v.amount)) : null;
      await api.request('POST', `/api/v1/reconciliation/items/${item.id}/resolve`, {
        body: {
          action: v.action,
          note: String(v.note).trim(),
          ...(needsCard ? { cardNo: digitsOnly(v.cardNo ?? '') } : {}),
          ...(amount !== null ? { amount } : {}),
          ...(takesPayee && v.payeeName?.trim() ? { payee: { name: v.payeeName.trim(), account: String(v.payeeAccount).trim(), ...(v.payeeBank?.trim() ? { bank: v.payeeBank.trim() } : {}) } } : {}),
        },
        idempotencyKey: idem.get(),
      });
      idem.renew();
      onClose();
      onDone();
    });
  };

  return (
    <FormModal title={t('resolveTitle', { id: item.id })} onCancel={onClose} onOk={() => void submit()} busy={sending.busy} submitTestId="resolve-submit" okText={t('confirmResolve')} width={560}>
      <Form
        form={form}
        layout="vertical"
        initialValues={{ action: initial, amount: fenToText(defaultAmount(item, initial)) }}
        onValuesChange={(changed) => {
          idem.renew();
          if ('action' in changed) form.setFieldsValue({ amount: fenToText(defaultAmount(item, changed.action)) });
        }}
        data-testid="resolve-form"
      >
        <Form.Item name="action" label={t('action')} rules={[{ required: true, message: t('actionRequired') }]} extra={action ? hints[action] : undefined}>
          <Radio.Group data-testid="resolve-action">
            {RESOLUTIONS.map((a) => (
              <Radio.Button key={a} value={a}>
                {/* On the label: antd puts extra props on the hidden input, which cannot be clicked. */}
                <span data-testid={`resolve-action-${a}`}>{t(`action_${a}`)}</span>
              </Radio.Button>
            ))}
          </Radio.Group>
        </Form.Item>
        {needsCard && (
          <Form.Item
            name="cardNo"
            label={t('cardNo')}
            extra={t('cardNoHint')}
            rules={[
              { required: true, message: t('cardNoRequired') },
              { validator: (_r, v: string | undefined) => (!v || (digitsOnly(v).length === 19 && luhnValid(digitsOnly(v))) ? Promise.resolve() : Promise.reject(new Error(t('cardNoInvalid')))) },
            ]}
          >
            <Input inputMode="numeric" autoComplete="off" maxLength={23} data-testid="resolve-card" />
          </Form.Item>
        )}
        {takesAmount && (
          <Form.Item
            name="amount"
            label={t('amountYuan')}
            extra={t('amountHintRefund')}
            rules={[{ validator: (_r, v: string | undefined) => (!v || !String(v).trim() || (parseYuan(String(v)) ?? 0) > 0 ? Promise.resolve() : Promise.reject(new Error(t('amountInvalid')))) }]}
          >
            <Input inputMode="decimal" autoComplete="off" prefix="¥" data-testid="resolve-amount" />
          </Form.Item>
        )}
        {takesPayee && (
          <Form.Item label={t('payee')} style={{ marginBottom: 0 }}>
            <Space wrap align="start">
              <Form.Item name="payeeName" rules={[{ max: 60 }]}>
                <Input placeholder={t('payeeName')} aria-label={t('payeeName')} maxLength={60} data-testid="resolve-payee-name" />
              </Form.Item>
              <Form.Item
                name="payeeAccount"
                dependencies={['payeeName']}
                rules={[
                  ({ getFieldValue }) => ({
                    validator: (_r, v: string | undefined) =>
                      !getFieldValue('payeeName')?.trim() && !v?.trim() ? Promise.resolve() : /^[0-9A-Za-z -]{6,48}$/.test((v ?? '').trim()) ? Promise.resolve() : Promise.reject(new Error(t('payeeAccountInvalid'))),
                  }),
                ]}
              >
                <Input placeholder={t('payeeAccount')} aria-label={t('payeeAccount')} maxLength={48} data-testid="resolve-payee-account" />
              </Form.Item>
              <Form.Item name="payeeBank" rules={[{ max: 80 }]}>
                <Input placeholder={t('payeeBank')} aria-label={t('payeeBank')} maxLength={80} data-testid="resolve-payee-bank" />
              </Form.Item>
            </Space>
          </Form.Item>
        )}
        <Form.Item
          name="note"
          label={t('resolutionNote')}
          rules={[
            { required: true, whitespace: true, message: t('noteRequired') },
            { max: 500, message: t('noteTooLong') },
          ]}
        >
          <Input.TextArea rows={3} maxLength={500} showCount data-testid="resolve-note" onKeyDown={enterSubmits(() => void submit())} />
        </Form.Item>
      </Form>
      {sending.error !== undefined && <Alert type="error" showIcon role="alert" data-testid="resolve-error" title={errorText(sending.error, lang)} />}
    </FormModal>
  );
}

function NoteModal({ item, onClose, onDone }: { item: Item; onClose: () => void; onDone: () => void }) {
  const t = useT(rc);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = async () => {
    // An invalid form shows its own messages; nothing to send.
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      await api.request('POST', `/api/v1/reconciliation/items/${item.id}/notes`, { body: { note: String(v.note).trim() } });
      onClose();
      onDone();
    });
  };
  return (
    <FormModal title={t('addNote')} onCancel={onClose} onOk={() => void submit()} busy={sending.busy} submitTestId="note-submit" okText={t('addNote')}>
      <Form form={form} layout="vertical">
        <Form.Item
          name="note"
          label={t('noteLabel')}
          rules={[
            { required: true, whitespace: true, message: t('noteRequired') },
            { max: 500, message: t('noteTooLong') },
          ]}
        >
          <Input.TextArea rows={3} maxLength={500} showCount data-testid="note-text" onKeyDown={enterSubmits(() => void submit())} />
        </Form.Item>
      </Form>
      {sending.error !== undefined && <Alert type="error" showIcon role="alert" title={errorText(sending.error, lang)} />}
    </FormModal>
  );
}
