import { useState, type ReactElement } from 'react';
import { Link } from 'react-router-dom';
import { Select, Tabs, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, unitPrice, yuan } from '../../shared/money';
import { useSession } from '../session';
import { CardNo } from '../ui';
import { PageHeader, gradeName, mono, useCursorList, useGrades, type Page } from '../pages-b/common';
import { FlagTags, stationLabel, StationSelect, useNetStations, useTab, CursorTable, FilterBar } from './common';
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

/** One tab's list: 50 at a time from `path`, for the station picked (if any) and the tab's own filters. */
function useStationList<T>(path: string, filters: Record<string, string | boolean | undefined>) {
  const { api } = useSession();
  const [stationId, setStationId] = useState<number>();
  const list = useCursorList<T>(
    (cursor) => api.request<Page<T>>('GET', path, { query: { stationId, ...filters, limit: 50, cursor } }),
    JSON.stringify([stationId, filters]),
  );
  return { list, el: <StationSelect value={stationId} onChange={setStationId} testId="auth-filter-station" /> };
}

function Holds() {
  const t = useT(fc);
  const { lang } = useLang();
  const grades = useGrades();
  const stations = useNetStations();
  const [status, setStatus] = useState<string | undefined>('held');
  const { list, el } = useStationList<Authorisation>('/api/v1/authorisations', { status });
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
      <FilterBar>
        {el}
        <Select
          style={{ width: 180 }}
          allowClear
          placeholder={t('anyStatus')}
          value={status}
          onChange={setStatus}
          options={['held', 'completed', 'forced', 'reversed', 'expired'].map((s) => ({ value: s, label: t(`auth_${s}`) }))}
          data-testid="auth-filter-status"
        />
      </FilterBar>
      <CursorTable<Authorisation>
        list={list}
        testId="auth"
        rowKey="authorisationId"
        columns={columns}
        row={(a) => ({ 'data-testid': 'auth-row', 'data-status': a.status, 'data-nozzle': a.nozzle })}
      />
    </>
  );
}

function Flagged() {
  const t = useT(fc);
  const { can } = useSession();
  const { list, el } = useStationList<FlaggedSale>('/api/v1/sales', { flagged: true });
  const maySale = can('GET', '/api/v1/sales');
  return (
    <>
      <FilterBar>{el}</FilterBar>
      <CursorTable<FlaggedSale>
        list={list}
        testId="flagged"
        rowKey="saleId"
        row={(s) => ({ 'data-testid': 'flagged-row', 'data-sale-id': s.saleId })}
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
    </>
  );
}

function PumpSales() {
  const t = useT(fc);
  const { lang } = useLang();
  const grades = useGrades();
  const stations = useNetStations();
  const [status, setStatus] = useState<string | undefined>('unpaid');
  const { list, el } = useStationList<PumpSale>('/api/v1/pump-sales', { status });
  return (
    <>
      <FilterBar>
        {el}
        <Select style={{ width: 160 }} allowClear placeholder={t('anyStatus')} value={status} onChange={setStatus} options={['unpaid', 'paid', 'paid_other', 'abandoned'].map((s) => ({ value: s, label: t(`ps_${s}`) }))} />
      </FilterBar>
      <CursorTable<PumpSale>
        list={list}
        testId="pump-sales"
        rowKey="pumpSaleId"
        row={(p) => ({ 'data-testid': 'pump-sale-row', 'data-status': p.status })}
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
    </>
  );
}

function Reversals() {
  const t = useT(fc);
  const stations = useNetStations();
  const [kind, setKind] = useState<string>();
  const { list, el } = useStationList<Reversal>('/api/v1/reversals', { kind });
  return (
    <>
      <FilterBar>
        {el}
        <Select style={{ width: 120 }} allowClear placeholder={t('rev_kind')} value={kind} onChange={setKind} options={['reversal', 'void'].map((s) => ({ value: s, label: t(`rev_${s}`) }))} />
      </FilterBar>
      <CursorTable<Reversal>
        list={list}
        testId="reversals"
        rowKey="reversalId"
        row={(r) => ({ 'data-testid': 'reversal-row', 'data-kind': r.kind })}
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
    </>
  );
}
