import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, Button, Card, DatePicker, Descriptions, Form, Space, Table, Typography, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ReloadOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { ApiError, errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, fromDay, isDay, toDay, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending } from '../pages-forecourt/common';
import { BalanceTag, ChannelSelect, ChannelTag, RunStatusTag, feeYuan, signedYuan, useChannelName } from './common';
import { ItemsTable } from './items';
import { rc } from './i18n';
import type { Run } from './types';

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
const KEYS = ['channel', 'billDate'] as const;

export const platformNet = (r: Pick<Run, 'platformPaymentTotal' | 'platformRefundTotal'>) => r.platformPaymentTotal - r.platformRefundTotal;
export const statementNet = (r: Pick<Run, 'channelPaymentTotal' | 'channelRefundTotal'>) => r.channelPaymentTotal - r.channelRefundTotal;

/** 对账批次: one run per channel per day (a re-run adds one), with the three-way check of the nets. */
export function RunsPage() {
  const t = useT(rc);
  const { api, can } = useSession();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const [rerun, setRerun] = useState(false);
  const list = useCursorList<Run>(
    (cursor) =>
      api.request<Page<Run>>('GET', '/api/v1/reconciliation/runs', {
        query: { channel: filters.channel, billDate: isDay(filters.billDate) ? filters.billDate : undefined, limit: 50, cursor },
      }),
    key,
  );
  const columns: ColumnsType<Run> = [
    { title: '#', dataIndex: 'id', render: (v: number) => <Link to={`/recon-runs/${v}`} data-testid="run-open">#{v}</Link> },
    { title: t('billDate'), dataIndex: 'billDate', render: (v: string) => <span className="fc-num">{v}</span> },
    { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
    { title: t('status'), dataIndex: 'status', render: (v: string) => <RunStatusTag status={v} /> },
    { title: t('matched'), dataIndex: 'matchedCount', align: 'right' },
    {
      title: t('items'),
      dataIndex: 'itemCount',
      align: 'right',
      render: (v: number) => (
        <span data-testid="run-item-count" style={v > 0 ? { color: '#cf1322', fontWeight: 600 } : undefined}>
          {v}
        </span>
      ),
    },
    { title: t('pending'), dataIndex: 'pendingCount', align: 'right' },
    { title: t('platformNet'), key: 'pn', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(platformNet(r))}</span> },
    { title: t('statementNet'), key: 'sn', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(statementNet(r))}</span> },
    { title: t('ledgerNet'), dataIndex: 'ledgerClearingNet', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
    { title: t('check'), key: 'check', render: (_: unknown, r) => (r.status === 'done' ? <BalanceTag nets={[platformNet(r), statementNet(r), r.ledgerClearingNet]} /> : '—') },
    { title: t('source'), dataIndex: 'source', render: (v: string) => t(`source_${v}`) },
    { title: t('startedAt'), dataIndex: 'startedAt', render: time },
  ];
  return (
    <div>
      <PageHeader
        title={t('runsTitle')}
        extra={
          can('POST', '/api/v1/reconciliation/runs') && (
            <Button icon={<ReloadOutlined />} onClick={() => setRerun(true)} data-testid="run-rerun">
              {t('rerun')}
            </Button>
          )
        }
      />
      <FilterBar>
        <ChannelSelect value={filters.channel} onChange={(v) => apply({ ...filters, channel: v })} testId="runs-filter-channel" />
        <DatePicker value={toDay(filters.billDate)} onChange={(d: Dayjs | null) => apply({ ...filters, billDate: fromDay(d) })} placeholder={t('billDate')} data-testid="runs-filter-day" aria-label={t('billDate')} />
      </FilterBar>
      <CursorTable<Run> list={list} testId="runs" rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'runs-row', 'data-run-id': r.id, 'data-channel': r.channel, 'data-bill-date': r.billDate })} />
      {rerun && <RerunModal onClose={() => setRerun(false)} />}
    </div>
  );
}

/** Run a day again (fetch again when the channel serves statements, else the imported one). */
export function RerunModal({ onClose, channel, billDate }: { onClose: () => void; channel?: string; billDate?: string }) {
  const t = useT(rc);
  const { lang } = useLang();
  const { api } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const sending = useSending();
  const [msg, holder] = message.useMessage();
  const submit = async () => {
    // An invalid form shows its own messages; nothing to send.
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      const run = await api.request<Run & { run?: Run }>('POST', '/api/v1/reconciliation/runs', { body: { channel: v.channel, billDate: fromDay(v.billDate) } });
      msg.success(t('rerunDone'));
      onClose();
      const id = run.run?.id ?? run.id;
      if (id) navigate(`/recon-runs/${id}`);
    });
  };
  return (
    <FormModal title={t('rerunTitle')} onCancel={onClose} onOk={() => void submit()} busy={sending.busy} submitTestId="run-rerun-submit" okText={t('rerun')}>
      {holder}
      <Typography.Paragraph type="secondary">{t('rerunHint')}</Typography.Paragraph>
      <Form form={form} layout="vertical" initialValues={{ channel, billDate: toDay(billDate) }}>
        <Form.Item name="channel" label={t('channel')} rules={[{ required: true, message: t('chooseChannel') }]}>
          <ChannelSelect allowClear={false} testId="run-rerun-channel" />
        </Form.Item>
        <Form.Item name="billDate" label={t('billDate')} extra={t('cstHint')} rules={[{ required: true, message: t('chooseBillDate') }]}>
          <DatePicker style={{ width: '100%' }} data-testid="run-rerun-day" />
        </Form.Item>
      </Form>
      {sending.error !== undefined && <Alert type="error" showIcon role="alert" title={errorText(sending.error, lang)} />}
    </FormModal>
  );
}

interface ThreeWayRow {
  key: string;
  label: string;
  platform: number | null;
  statement: number | null;
  ledger: number | null;
}

/** Platform, statement and ledger side by side: payments, refunds, and the nets that must agree. */
export function ThreeWay({ run }: { run: Run }) {
  const t = useT(rc);
  const pn = platformNet(run);
  const sn = statementNet(run);
  const rows: ThreeWayRow[] = [
    { key: 'payments', label: t('payments'), platform: run.platformPaymentTotal, statement: run.channelPaymentTotal, ledger: null },
    { key: 'refunds', label: t('refunds'), platform: run.platformRefundTotal, statement: run.channelRefundTotal, ledger: null },
    { key: 'net', label: t('net'), platform: pn, statement: sn, ledger: run.ledgerClearingNet },
  ];
  const cell = (v: number | null, r: ThreeWayRow) => <span className="fc-num" style={r.key === 'net' ? { fontWeight: 600 } : undefined} data-testid={`threeway-${r.key}`}>{v === null ? '—' : yuan(v)}</span>;
  const diffs = [
    { label: `${t('statement')} − ${t('platform')}`, d: sn - pn },
    { label: `${t('ledger')} − ${t('platform')}`, d: run.ledgerClearingNet - pn },
  ].filter((x) => x.d !== 0);
  return (
    <Card
      size="small"
      style={{ marginBottom: 16 }}
      title={
        <Space>
          {t('threeWay')}
          <BalanceTag nets={[pn, sn, run.ledgerClearingNet]} testId="run-balance" />
        </Space>
      }
    >
      <Table<ThreeWayRow>
        size="small"
        pagination={false}
        rowKey="key"
        dataSource={rows}
        columns={[
          { title: '', dataIndex: 'label' },
          { title: t('platform'), dataIndex: 'platform', align: 'right', render: (v: number | null, r) => cell(v, r) },
          { title: t('statement'), dataIndex: 'statement', align: 'right', render: (v: number | null, r) => cell(v, r) },
          { title: t('ledger'), dataIndex: 'ledger', align: 'right', render: (v: number | null, r) => cell(v, r) },
        ]}
      />
      {diffs.map((x) => (
        <Typography.Paragraph key={x.label} type="danger" style={{ margin: '8px 0 0' }} data-testid="run-diff">
          {x.label}: {t('diffOf', { d: signedYuan(x.d) })}
        </Typography.Paragraph>
      ))}
      <Typography.Paragraph type="secondary" style={{ margin: '8px 0 0', fontSize: 12 }}>
        {t('netHint')}
      </Typography.Paragraph>
    </Card>
  );
}

export function RunDetailPage() {
  const t = useT(rc);
  const { id } = useParams();
  const { api, can } = useSession();
  const channelName = useChannelName();
  const [rerun, setRerun] = useState(false);
  const valid = /^[0-9]{1,18}$/.test(id ?? '');
  const run = useLoad(() => (valid ? api.request<Run>('GET', `/api/v1/reconciliation/runs/${id}`) : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined))), [api, id]);
  if (run.error instanceof ApiError && run.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/recon-runs">{t('backToRuns')}</Link>} />;
  }
  return (
    <div>
      <BackLink to="/recon-runs">{t('backToRuns')}</BackLink>
      <LoadState value={run}>
        {(r) => (
          <>
            <PageHeader
              title={`${t('runTitle', { id: r.id })} · ${channelName(r.channel)} · ${r.billDate}`}
              extra={
                can('POST', '/api/v1/reconciliation/runs') && (
                  <Button icon={<ReloadOutlined />} onClick={() => setRerun(true)} data-testid="run-rerun">
                    {t('rerun')}
                  </Button>
                )
              }
            />
            <Card size="small" style={{ marginBottom: 16 }}>
              <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 4 }}>
                <Descriptions.Item label={t('status')}>
                  <RunStatusTag status={r.status} />
                </Descriptions.Item>
                <Descriptions.Item label={t('source')}>{t(`source_${r.source}`)}</Descriptions.Item>
                <Descriptions.Item label={t('statement')}>{r.statementId ? <Link to={`/recon-statements/${r.statementId}`}>{t('statementLink', { id: r.statementId })}</Link> : '—'}</Descriptions.Item>
                <Descriptions.Item label={t('matched')}>
                  <span data-testid="run-matched">{r.matchedCount}</span>
                  {r.matchedCrossDay ? ` (${t('matchedCrossDay')} ${r.matchedCrossDay})` : ''}
                </Descriptions.Item>
                <Descriptions.Item label={t('items')}>
                  <span data-testid="run-items">{r.itemCount}</span>
                </Descriptions.Item>
                <Descriptions.Item label={t('pending')}>{r.pendingCount}</Descriptions.Item>
                <Descriptions.Item label={t('fees')}>{feeYuan(r.feeTotalMfen)}</Descriptions.Item>
                <Descriptions.Item label={t('startedAt')}>{dateTime(r.startedAt)}</Descriptions.Item>
                <Descriptions.Item label={t('finishedAt')}>{dateTime(r.finishedAt)}</Descriptions.Item>
                {r.autoResolved ? <Descriptions.Item label={t('autoResolved')}>{r.autoResolved}</Descriptions.Item> : null}
              </Descriptions>
              {r.failure && <Alert type="error" showIcon title={`${t('failure')}: ${r.failure}`} style={{ marginTop: 8 }} />}
            </Card>
            <ThreeWay run={r} />
            <Card size="small" title={t('runItems')}>
              <ItemsTable query={{ channel: r.channel, billDate: r.billDate, status: undefined }} testId="run-items" />
            </Card>
            {rerun && <RerunModal onClose={() => setRerun(false)} channel={r.channel} billDate={r.billDate} />}
          </>
        )}
      </LoadState>
    </div>
  );
}
