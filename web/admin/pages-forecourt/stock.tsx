import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { App, Button, Form, Input, Progress, Select, Switch, Tabs, Tag } from 'antd';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres } from '../../shared/money';
import { useSession } from '../session';
import { PageHeader, SubmitError, gradeName, useCursorList, useGrades, type Page } from '../pages-b/common';
import { enterSubmits } from '../ui';
import { stationLabel, StationSelect, useNetStations, useTab, CursorTable, FilterBar, FormModal } from './common';
import { fc } from './i18n';

export interface TankStock {
  stationId?: number;
  stationCode?: string;
  stationName?: string;
  tank: number;
  grade: string;
  capacityMl: number;
  lowLevelMl: number;
  lastReading: { readingId: number; volumeMl: number; waterMl: number; temperatureDc: number | null; readAt: string } | null;
  deliveriesSinceMl: number;
  salesSinceMl: number;
  bookStockMl: number | null;
  low: boolean;
}

export interface StockAlert {
  alertId: number;
  stationId: number;
  tank: number | null;
  grade: string;
  kind: 'low_stock' | 'variance';
  status: 'open' | 'resolved';
  details: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
}

/** Book stock as a bar against the tank's capacity, red when below its low level. */
export function StockBar({ s }: { s: TankStock }) {
  const t = useT(fc);
  if (s.bookStockMl === null) return <span style={{ color: '#888' }}>{t('noReading')}</span>;
  const pct = Math.max(0, Math.min(100, Math.round((s.bookStockMl / s.capacityMl) * 100)));
  return (
    <div style={{ minWidth: 200 }}>
      <strong className="fc-num" data-testid="book-stock">
        {litres(s.bookStockMl)}
      </strong>
      <span style={{ color: '#888' }}> / {litres(s.capacityMl)}</span>
      <Progress percent={pct} size="small" status={s.low ? 'exception' : 'normal'} showInfo={false} aria-label={`${pct}%`} />
    </div>
  );
}

export function LowTag({ low }: { low: boolean }) {
  const t = useT(fc);
  return low ? (
    <Tag color="red" data-testid="stock-low">
      {t('low')}
    </Tag>
  ) : (
    <Tag color="green">{t('ok')}</Tag>
  );
}

/** Stock across the network (low tanks first when asked), and the stock alerts to resolve. */
export function StockPage() {
  const t = useT(fc);
  const { can } = useSession();
  const [tab, setTab] = useTab(['overview', 'alerts'], 'overview');
  return (
    <div>
      <PageHeader title={t('stockTitle')} />
      <Tabs
        activeKey={tab}
        onChange={setTab}
        items={[
          { key: 'overview', label: <span data-testid="stock-tab-overview">{t('overview')}</span>, children: <Overview /> },
          ...(can('GET', '/api/v1/stock-alerts') ? [{ key: 'alerts', label: <span data-testid="stock-tab-alerts">{t('alerts')}</span>, children: <AlertsList /> }] : []),
        ]}
      />
    </div>
  );
}

function Overview() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const navigate = useNavigate();
  const grades = useGrades();
  const [lowOnly, setLowOnly] = useState(false);
  const list = useCursorList<TankStock>((cursor) => api.request<Page<TankStock>>('GET', '/api/v1/stock', { query: { lowOnly, limit: 100, cursor } }), String(lowOnly));
  const mayStation = can('GET', '/api/v1/stations/:id/stock');
  return (
    <>
      <FilterBar>
        <Switch checked={lowOnly} onChange={setLowOnly} data-testid="stock-low-only" aria-label={t('lowOnly')} />
        <span>{t('lowOnly')}</span>
        {mayStation && (
          <>
            <span style={{ marginLeft: 24 }}>{t('openStationStock')}</span>
            <StationSelect allowClear={false} onChange={(id) => id && navigate(`/stock/${id}`)} testId="stock-open-station" />
          </>
        )}
      </FilterBar>
      <CursorTable<TankStock>
        list={list}
        testId="stock"
        rowKey={(s) => `${s.stationId}:${s.tank}`}
        row={(s) => ({ 'data-testid': 'stock-row', 'data-station-id': s.stationId, 'data-tank': s.tank, 'data-low': String(s.low) })}
        columns={[
          {
            title: t('station'),
            key: 'station',
            render: (_: unknown, s) => (mayStation ? <Link to={`/stock/${s.stationId}`}>{`${s.stationCode} ${s.stationName}`}</Link> : `${s.stationCode} ${s.stationName}`),
          },
          { title: t('tank'), dataIndex: 'tank', render: (v: number) => t('tankN', { n: v }) },
          { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
          { title: t('bookStock'), key: 'book', render: (_: unknown, s) => <StockBar s={s} /> },
          { title: t('lowLevel'), dataIndex: 'lowLevelMl', render: (v: number) => litres(v) },
          { title: t('status'), dataIndex: 'low', render: (v: boolean) => <LowTag low={v} /> },
          { title: t('lastReading'), key: 'reading', render: (_: unknown, s) => (s.lastReading ? <span style={{ whiteSpace: 'nowrap' }}>{dateTime(s.lastReading.readAt)}</span> : '—') },
        ]}
      />
    </>
  );
}

const DETAIL_KEYS = ['volumeMl', 'lowLevelMl', 'expectedMl', 'differenceMl', 'toleranceMl', 'deliveredMl', 'soldMl', 'occurrences'] as const;

/** What an alert's details say, in words: "读数 11,200.00 L · 应有 12,000.00 L · 差异 -800.00 L". */
function AlertDetails({ a }: { a: StockAlert }) {
  const t = useT(fc);
  const d = a.details ?? {};
  const parts = DETAIL_KEYS.filter((k) => typeof d[k] === 'number').map((k) => `${t(`d_${k}`)} ${k === 'occurrences' ? String(d[k]) : litres(d[k] as number)}`);
  return <span style={{ display: 'inline-block', maxWidth: 360, fontSize: 12 }}>{parts.join(' · ')}</span>;
}

export function AlertsList({ stationId: fixedStation }: { stationId?: number }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const grades = useGrades();
  const stations = useNetStations();
  const [status, setStatus] = useState<string | undefined>('open');
  const [stationId, setStationId] = useState<number | undefined>(fixedStation);
  const list = useCursorList<StockAlert>(
    (cursor) => api.request<Page<StockAlert>>('GET', '/api/v1/stock-alerts', { query: { status, stationId, limit: 50, cursor } }),
    `${status}:${stationId}`,
  );
  const [resolving, setResolving] = useState<StockAlert | null>(null);
  const mayResolve = can('POST', '/api/v1/stock-alerts/:id/resolve');

  return (
    <>
      <FilterBar>
        <Select
          style={{ width: 140 }}
          allowClear
          placeholder={t('anyStatus')}
          value={status}
          onChange={setStatus}
          options={['open', 'resolved'].map((s) => ({ value: s, label: t(`alertStatus_${s}`) }))}
          data-testid="alerts-filter-status"
        />
        {fixedStation === undefined && <StationSelect value={stationId} onChange={setStationId} testId="alerts-filter-station" />}
      </FilterBar>
      <CursorTable<StockAlert>
        list={list}
        testId="alerts"
        rowKey="alertId"
        emptyText={t('noAlerts')}
        row={(a) => ({ 'data-testid': 'alert-row', 'data-alert-id': a.alertId, 'data-kind': a.kind, 'data-status': a.status })}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
          ...(fixedStation === undefined ? [{ title: t('station'), dataIndex: 'stationId', render: (v: number) => stationLabel(stations.data, v) }] : []),
          { title: t('tank'), dataIndex: 'tank', render: (v: number | null) => (v === null ? '—' : t('tankN', { n: v })) },
          { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
          { title: t('alertKind'), dataIndex: 'kind', render: (v: string) => <Tag color={v === 'variance' ? 'volcano' : 'orange'}>{t(`alertKind_${v}`)}</Tag> },
          { title: t('alertDetails'), key: 'details', render: (_: unknown, a) => <AlertDetails a={a} /> },
          {
            title: t('status'),
            key: 'status',
            render: (_: unknown, a) =>
              a.status === 'open' ? (
                <Tag color="red">{t('alertStatus_open')}</Tag>
              ) : (
                <span style={{ fontSize: 12 }}>
                  <Tag color="green">{t('alertStatus_resolved')}</Tag>
                  {a.resolvedBy} · {dateTime(a.resolvedAt)}
                  {a.resolutionNote ? <div style={{ color: '#666' }}>{a.resolutionNote}</div> : null}
                </span>
              ),
          },
          ...(mayResolve
            ? [
                {
                  title: t('actions'),
                  key: 'actions',
                  render: (_: unknown, a: StockAlert) =>
                    a.status === 'open' && (
                      <Button size="small" type="primary" onClick={() => setResolving(a)} data-testid="alert-resolve">
                        {t('resolve')}
                      </Button>
                    ),
                },
              ]
            : []),
        ]}
      />
      {resolving && (
        <ResolveModal
          alert={resolving}
          onClose={(done) => {
            setResolving(null);
            if (done) list.reload();
          }}
        />
      )}
    </>
  );
}

function ResolveModal({ alert, onClose }: { alert: StockAlert; onClose: (done: boolean) => void }) {
  const t = useT(fc);
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ note: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (v: { note: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', `/api/v1/stock-alerts/${alert.alertId}/resolve`, { body: { note: v.note.trim() } });
      message.success(t('alertResolved'));
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormModal title={t('resolveTitle', { id: alert.alertId })} onCancel={() => onClose(false)} onOk={() => form.submit()} okText={t('resolve')} busy={busy} submitTestId="alert-resolve-submit">
      <Form form={form} layout="vertical" onFinish={submit} data-testid="alert-resolve-form">
        <SubmitError error={error} />
        <Form.Item name="note" label={t('note')} rules={[{ required: true, whitespace: true, message: t('noteRequired') }, { max: 500 }]}>
          <Input.TextArea rows={3} maxLength={500} autoFocus onKeyDown={enterSubmits(() => form.submit())} data-testid="alert-resolve-note" />
        </Form.Item>
      </Form>
    </FormModal>
  );
}
