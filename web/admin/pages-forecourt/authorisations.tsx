import { useState, type HTMLAttributes, type ReactElement } from 'react';
import { Link } from 'react-router-dom';
import { Select, Space, Table, Tabs, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, unitPrice, yuan } from '../../shared/money';
import { useSession } from '../session';
import { CardNo } from '../ui';
import { EmptyText, ListError, MoreFooter, PageHeader, gradeName, mono, useCursorList, useGrades, type Page } from '../pages-b/common';
import { FlagTags, stationLabel, StationSelect, useNetStations, useTab } from './common';
import { fc } from './i18n';

interface Authorisation {
  authorisationId: string;
  terminalId: string;
  stationId: number;
  nozzle: number;
  pump: number | null;
  grade: string | null;
  cardNo: string;
  mode: 'preauth' | 'prepay';
  requestedAmount?: number;
  heldAmount: number;
  status: string;
  approvalCode: string;
  saleId?: string | null;
  createdAt: string;
  expiresAt: string;
  resolvedAt?: string | null;
}
interface PumpSale {
  pumpSaleId: string;
  stationId: number;
  nozzle: number;
  pump: number | null;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  status: string;
  saleId?: string | null;
  createdAt: string;
}
interface Reversal {
  reversalId: string;
  kind: 'reversal' | 'void';
  terminalId: string;
  stationId: number | null;
  originalRef: string;
  reason: string;
  target: string;
  saleId: string | null;
  amount: number;
  outcome: string;
  cashier: string | null;
  createdAt: string;
}
interface FlaggedSale {
  saleId: string;
  cardNo: string;
  stationId: number;
  stationName?: string;
  terminalId: string;
  flow: string;
  amount: number;
  status: string;
  forced: boolean;
  flags: string[];
  liability: string;
  createdAt: string;
}

const TABS = ['holds', 'flagged', 'pumpSales', 'reversals'] as const;
const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;

/**
 * What needs a look on the forecourt: open pump authorisations (the online grey locks), sales
 * posted with a flag (forced, after expiry, offline overdraft, the station's liability), unpaid
 * pump fills, and reversals and voids.
 */
export function AuthorisationsPage() {
  const t = useT(fc);
  const { can } = useSession();
  const [tab, setTab] = useTab(TABS, can('GET', '/api/v1/authorisations') ? 'holds' : 'flagged');
  const tabs = [
    can('GET', '/api/v1/authorisations') && { key: 'holds', label: <span data-testid="auth-tab-holds">{t('holds')}</span>, children: <Holds /> },
    can('GET', '/api/v1/sales') && { key: 'flagged', label: <span data-testid="auth-tab-flagged">{t('flags')}</span>, children: <Flagged /> },
    can('GET', '/api/v1/pump-sales') && { key: 'pumpSales', label: <span data-testid="auth-tab-pump-sales">{t('pumpSales')}</span>, children: <PumpSales /> },
    can('GET', '/api/v1/reversals') && { key: 'reversals', label: <span data-testid="auth-tab-reversals">{t('reversals')}</span>, children: <Reversals /> },
  ].filter((x): x is { key: string; label: ReactElement; children: ReactElement } => !!x);
  return (
    <div>
      <PageHeader title={t('authTitle')} />
      <Tabs activeKey={tab} onChange={setTab} items={tabs} />
    </div>
  );
}

function useStationFilter() {
  const [stationId, setStationId] = useState<number>();
  return { stationId, el: <StationSelect value={stationId} onChange={setStationId} testId="auth-filter-station" /> };
}

function Holds() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const grades = useGrades();
  const stations = useNetStations();
  const f = useStationFilter();
  const [status, setStatus] = useState<string | undefined>('held');
  const list = useCursorList<Authorisation>(
    (cursor) => api.request<Page<Authorisation>>('GET', '/api/v1/authorisations', { query: { stationId: f.stationId, status, limit: 50, cursor } }),
    `${f.stationId}:${status}`,
  );
  const columns: ColumnsType<Authorisation> = [
    { title: t('createdAt'), dataIndex: 'createdAt', render: time },
    { title: t('station'), dataIndex: 'stationId', render: (v: number) => stationLabel(stations.data, v) },
    { title: `${t('terminal')} · ${t('nozzle')}`, key: 'where', render: (_: unknown, a) => <span style={{ whiteSpace: 'nowrap' }}><span style={mono}>{a.terminalId}</span> · {a.pump ? `${t('pumpN', { n: a.pump })} ` : ''}{t('nozzleN', { n: a.nozzle })}</span> },
    { title: t('grade'), dataIndex: 'grade', render: (v: string | null) => (v ? gradeName(grades.data, v, lang) : '—') },
    { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
    { title: t('mode'), dataIndex: 'mode', render: (v: string) => t(`mode_${v}`) },
    { title: t('held'), dataIndex: 'heldAmount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
    { title: t('approvalCode'), dataIndex: 'approvalCode', render: (v: string) => <span style={mono}>{v}</span> },
    { title: t('status'), dataIndex: 'status', render: (v: string) => <Tag color={v === 'held' ? 'gold' : v === 'forced' ? 'red' : v === 'completed' ? 'green' : 'default'}>{t(`auth_${v}`)}</Tag> },
    { title: t('expiresAt'), dataIndex: 'expiresAt', render: time },
  ];
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        {f.el}
        <Select
          style={{ width: 180 }}
          allowClear
          placeholder={t('anyStatus')}
          value={status}
          onChange={setStatus}
          options={['held', 'completed', 'forced', 'reversed', 'expired'].map((s) => ({ value: s, label: t(`auth_${s}`) }))}
          data-testid="auth-filter-status"
        />
      </Space>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Authorisation>
        rowKey="authorisationId"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.items}
        scroll={{ x: 'max-content' }}
        columns={columns}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(a) => ({ 'data-testid': 'auth-row', 'data-status': a.status, 'data-nozzle': a.nozzle }) as HTMLAttributes<HTMLElement>}
      />
      <MoreFooter list={list} testId="auth" />
    </>
  );
}

function Flagged() {
  const t = useT(fc);
  const { api, can } = useSession();
  const f = useStationFilter();
  const list = useCursorList<FlaggedSale>(
    (cursor) => api.request<Page<FlaggedSale>>('GET', '/api/v1/sales', { query: { stationId: f.stationId, flagged: true, limit: 50, cursor } }),
    String(f.stationId),
  );
  const maySale = can('GET', '/api/v1/sales');
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>{f.el}</Space>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<FlaggedSale>
        rowKey="saleId"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.items}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(s) => ({ 'data-testid': 'flagged-row', 'data-sale-id': s.saleId }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          { title: t('station'), key: 'station', render: (_: unknown, s) => s.stationName ?? `#${s.stationId}` },
          { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('cardNo'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
          { title: t('flow'), dataIndex: 'flow', render: (v: string) => t(`flow_${v}`) },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: t('status'), dataIndex: 'status', render: (v: string) => t(`saleStatus_${v}`) },
          { title: t('flags'), key: 'flags', render: (_: unknown, s) => <FlagTags flags={s.forced && !s.flags.length ? ['forced'] : s.flags} liability={s.liability} /> },
          ...(maySale ? [{ title: t('sale'), key: 'open', render: (_: unknown, s: FlaggedSale) => <Link to={`/sales?sale=${s.saleId}`}>{t('open')}</Link> }] : []),
        ]}
      />
      <MoreFooter list={list} testId="flagged" />
    </>
  );
}

function PumpSales() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const grades = useGrades();
  const stations = useNetStations();
  const f = useStationFilter();
  const [status, setStatus] = useState<string | undefined>('unpaid');
  const list = useCursorList<PumpSale>(
    (cursor) => api.request<Page<PumpSale>>('GET', '/api/v1/pump-sales', { query: { stationId: f.stationId, status, limit: 50, cursor } }),
    `${f.stationId}:${status}`,
  );
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        {f.el}
        <Select style={{ width: 160 }} allowClear placeholder={t('anyStatus')} value={status} onChange={setStatus} options={['unpaid', 'paid', 'paid_other', 'abandoned'].map((s) => ({ value: s, label: t(`ps_${s}`) }))} />
      </Space>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<PumpSale>
        rowKey="pumpSaleId"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.items}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(p) => ({ 'data-testid': 'pump-sale-row', 'data-status': p.status }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          { title: t('station'), dataIndex: 'stationId', render: (v: number) => stationLabel(stations.data, v) },
          { title: t('nozzle'), key: 'nozzle', render: (_: unknown, p) => `${p.pump ? `${t('pumpN', { n: p.pump })} ` : ''}${t('nozzleN', { n: p.nozzle })}` },
          { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
          { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number) => litres(v) },
          { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => unitPrice(v) },
          { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
          { title: t('status'), dataIndex: 'status', render: (v: string) => <Tag color={v === 'unpaid' ? 'gold' : v === 'abandoned' ? 'red' : 'green'}>{t(`ps_${v}`)}</Tag> },
        ]}
      />
      <MoreFooter list={list} testId="pump-sales" />
    </>
  );
}

function Reversals() {
  const t = useT(fc);
  const { api } = useSession();
  const stations = useNetStations();
  const f = useStationFilter();
  const [kind, setKind] = useState<string>();
  const list = useCursorList<Reversal>(
    (cursor) => api.request<Page<Reversal>>('GET', '/api/v1/reversals', { query: { stationId: f.stationId, kind, limit: 50, cursor } }),
    `${f.stationId}:${kind}`,
  );
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        {f.el}
        <Select style={{ width: 120 }} allowClear placeholder={t('rev_kind')} value={kind} onChange={setKind} options={['reversal', 'void'].map((s) => ({ value: s, label: t(`rev_${s}`) }))} />
      </Space>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Reversal>
        rowKey="reversalId"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.items}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(r) => ({ 'data-testid': 'reversal-row', 'data-kind': r.kind }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          { title: t('rev_kind'), dataIndex: 'kind', render: (v: string) => <Tag color={v === 'void' ? 'purple' : 'volcano'}>{t(`rev_${v}`)}</Tag> },
          { title: t('station'), dataIndex: 'stationId', render: (v: number | null) => stationLabel(stations.data, v) },
          { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('originalRef'), dataIndex: 'originalRef', render: (v: string) => <span style={{ ...mono, fontSize: 12 }}>{v}</span> },
          { title: t('target'), dataIndex: 'target', render: (v: string) => t(`target_${v}`) },
          { title: t('reason'), dataIndex: 'reason', render: (v: string) => t(`reason_${v}`) },
          { title: t('returned'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: t('cashier'), dataIndex: 'cashier', render: (v: string | null) => v ?? '—' },
        ]}
      />
      <MoreFooter list={list} testId="reversals" />
    </>
  );
}
