import { useState } from 'react';
import { Link } from 'react-router-dom';
import { App, Button, DatePicker, Form, Input, Select, Space } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import dayjs from 'dayjs';
import { ApiError } from '../../shared/api';
import { pickLang, useLang, useT } from '../../shared/i18n';
import { parseYuan, yuan } from '../../shared/money';
import { useSession } from '../session';
import { PageHeader, SubmitError, fromDay, mono, rangeQuery, useCursorList, useIdempotencyKey, type Page } from '../pages-b/common';
import { CursorTable, FilterBar, FormModal, cstToday, useSending } from '../pages-forecourt/common';
import { BankStatusTag, code, time, useWord, yuanRule } from './common';
import { BANK_STATUSES, pay } from './i18n';
import type { BankTransferIn } from './types';

/** 银行入账: money that reached our bank account by transfer, entered by finance (or imported from the bank statement) and matched to orders. */
export function BankTransfersPage() {
  const t = useT(pay);
  const w = useWord();
  const { lang } = useLang();
  const { api, can } = useSession();
  const [status, setStatus] = useState<string>();
  const [from, setFrom] = useState<string>();
  const [to, setTo] = useState<string>();
  const [entering, setEntering] = useState(false);
  const [acting, setActing] = useState<{ transfer: BankTransferIn; action: 'match' | 'ignore' | 'return' } | null>(null);
  const list = useCursorList<BankTransferIn>(
    (cursor) => api.request<Page<BankTransferIn>>('GET', '/api/v1/bank-transfers', { query: { status, ...rangeQuery({ ...(from ? { from } : {}), ...(to ? { to } : {}) }), limit: 50, cursor } }),
    `${status}:${from}:${to}`,
  );
  const may = (a: string) => can('POST', `/api/v1/bank-transfers/:id/${a}`);
  return (
    <div>
      <PageHeader
        title={t('bankTitle')}
        extra={
          can('POST', '/api/v1/bank-transfers') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setEntering(true)} data-testid="bank-enter">
              {t('enterTransfer')}
            </Button>
          )
        }
      />
      <FilterBar>
        <Select allowClear placeholder={t('anyStatus')} style={{ width: 150 }} value={status} onChange={setStatus} options={BANK_STATUSES.map((s) => ({ value: s, label: w('bst', s) }))} data-testid="bank-filter-status" />
        <DatePicker placeholder={t('from')} onChange={(d) => setFrom(fromDay(d))} />
        <DatePicker placeholder={t('to')} onChange={(d) => setTo(fromDay(d))} />
      </FilterBar>
      <CursorTable<BankTransferIn>
        list={list}
        testId="bank"
        rowKey={(b) => String(b.id)}
        row={(b) => ({ 'data-testid': 'bank-row', 'data-bank-txn': b.bankTxnId, 'data-status': b.status })}
        columns={[
          { title: t('valueDate'), dataIndex: 'valueDate', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{v?.slice(0, 10)}</span> },
          { title: t('bankTxnId'), dataIndex: 'bankTxnId', render: code },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
          { title: t('payerName'), dataIndex: 'payerName', render: (v: string | null) => v ?? '—' },
          { title: t('payerAccount'), dataIndex: 'payerAccount', render: code },
          { title: t('memo'), dataIndex: 'memo', render: (v: string | null) => v ?? '—' },
          { title: t('status'), dataIndex: 'status', render: (v: string) => <BankStatusTag status={v} /> },
          {
            title: t('matchedOrder'),
            dataIndex: 'orderNo',
            render: (v: string | null | undefined) =>
              v ? (
                <Link to={`/payment-orders/${v}`} style={mono} data-testid="bank-order">
                  {v}
                </Link>
              ) : (
                '—'
              ),
          },
          { title: t('note'), dataIndex: 'note', render: (v: string | null | undefined) => (v ? pickLang(v, lang) : '—') },
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, b) =>
              b.status === 'unmatched' ? (
                <Space size="small">
                  {may('match') && (
                    <Button size="small" type="link" onClick={() => setActing({ transfer: b, action: 'match' })} data-testid="bank-match">
                      {t('actMatch')}
                    </Button>
                  )}
                  {may('ignore') && (
                    <Button size="small" type="link" onClick={() => setActing({ transfer: b, action: 'ignore' })} data-testid="bank-ignore">
                      {t('actIgnore')}
                    </Button>
                  )}
                  {may('return') && (
                    <Button size="small" type="link" danger onClick={() => setActing({ transfer: b, action: 'return' })} data-testid="bank-return">
                      {t('actReturn')}
                    </Button>
                  )}
                </Space>
              ) : null,
          },
        ]}
      />
      {entering && (
        <EnterTransferModal
          onClose={() => setEntering(false)}
          onDone={() => {
            setEntering(false);
            list.reload();
          }}
        />
      )}
      {acting && (
        <TransferActionModal
          {...acting}
          onClose={() => setActing(null)}
          onDone={() => {
            setActing(null);
            list.reload();
          }}
        />
      )}
    </div>
  );
}

function EnterTransferModal({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const t = useT(pay);
  const w = useWord();
  const { lang } = useLang();
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const sending = useSending();
  const idem = useIdempotencyKey();
  const submit = (v: { bankTxnId: string; valueDate: dayjs.Dayjs; amount: string; payerName?: string; payerAccount?: string; memo?: string }) =>
    sending.run(async () => {
      const body: Record<string, unknown> = { bankTxnId: v.bankTxnId.trim(), valueDate: fromDay(v.valueDate), amount: parseYuan(v.amount)! };
      if (v.payerName?.trim()) body.payerName = v.payerName.trim();
      if (v.payerAccount?.trim()) body.payerAccount = v.payerAccount.replace(/\s/g, '');
      if (v.memo?.trim()) body.memo = v.memo.trim();
      const b = await api.request<BankTransferIn>('POST', '/api/v1/bank-transfers', { body, idempotencyKey: idem.get() });
      idem.renew();
      message.success(t('transferSaved', { status: w('bst', b.status) }));
      onDone();
    }, (err) => {
      if (err instanceof ApiError && err.status < 500) idem.renew();
      if (err instanceof ApiError && typeof err.details?.field === 'string') {
        const f = String(err.details.field).replace(/^body\./, '');
        if (['bankTxnId', 'valueDate', 'amount', 'memo'].includes(f)) form.setFields([{ name: f, errors: [err.text(lang)] }]);
      }
    });
  return (
    <FormModal title={t('enterTransfer')} onCancel={onClose} onOk={() => form.submit()} busy={sending.busy} submitTestId="bank-enter-submit">
      <SubmitError error={sending.error} />
      <Form form={form} layout="vertical" onFinish={submit} initialValues={{ valueDate: dayjs(cstToday()) }}>
        <Form.Item name="bankTxnId" label={t('bankTxnId')} rules={[{ required: true, whitespace: true, message: t('bankTxnIdRequired') }, { max: 64 }]}>
          <Input maxLength={64} autoComplete="off" data-testid="bank-enter-txn" />
        </Form.Item>
        <Form.Item name="valueDate" label={t('valueDate')} rules={[{ required: true, message: t('valueDateRequired') }]}>
          <DatePicker data-testid="bank-enter-date" />
        </Form.Item>
        <Form.Item name="amount" label={t('amountYuan')} rules={[yuanRule(t, { required: true })]}>
          <Input prefix="¥" inputMode="decimal" autoComplete="off" style={{ maxWidth: 220 }} data-testid="bank-enter-amount" />
        </Form.Item>
        <Form.Item name="payerName" label={t('payerName')}>
          <Input maxLength={100} data-testid="bank-enter-payer" />
        </Form.Item>
        <Form.Item name="payerAccount" label={t('payerAccount')}>
          <Input maxLength={40} inputMode="numeric" data-testid="bank-enter-account" />
        </Form.Item>
        <Form.Item name="memo" label={t('memo')} extra={t('memoHint')}>
          <Input maxLength={140} data-testid="bank-enter-memo" />
        </Form.Item>
      </Form>
    </FormModal>
  );
}

function TransferActionModal({ transfer, action, onClose, onDone }: { transfer: BankTransferIn; action: 'match' | 'ignore' | 'return'; onClose: () => void; onDone: () => void }) {
  const t = useT(pay);
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = (v: { orderNo?: string; note?: string }) =>
    sending.run(async () => {
      const body = action === 'match' ? { orderNo: v.orderNo!.trim() } : { note: v.note!.trim() };
      await api.request('POST', `/api/v1/bank-transfers/${transfer.id}/${action}`, { body });
      message.success(t('done'));
      onDone();
    });
  const title = action === 'match' ? t('matchTitle') : action === 'ignore' ? t('ignoreTitle') : t('returnTitle');
  return (
    <FormModal title={`${title} · ${transfer.bankTxnId} · ${yuan(transfer.amount)}`} onCancel={onClose} onOk={() => form.submit()} busy={sending.busy} submitTestId={`bank-${action}-submit`}>
      <SubmitError error={sending.error} />
      <Form form={form} layout="vertical" onFinish={submit}>
        {action === 'match' ? (
          <Form.Item name="orderNo" label={t('orderNo')} rules={[{ required: true, pattern: /^\s*P\d{19}\s*$/, message: t('orderNoInvalid') }]}>
            <Input autoComplete="off" data-testid="bank-match-order" />
          </Form.Item>
        ) : (
          <Form.Item name="note" label={t('note')} rules={[{ required: true, whitespace: true, message: t('noteRequired') }, { max: 200 }]}>
            <Input.TextArea rows={2} maxLength={200} data-testid={`bank-${action}-note`} />
          </Form.Item>
        )}
      </Form>
    </FormModal>
  );
}
