import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, App, Badge, Button, Card, Checkbox, Col, Descriptions, Form, Input, InputNumber, Radio, Row, Select, Space, Table, Tag, Timeline, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CheckCircleOutlined, UserAddOutlined, UserDeleteOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { CARD_STATUS_NAMES, label } from '../i18n';
import { CardNo, LocalResult, enterSubmits } from '../ui';
import { PageHeader, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, stationLabel, useNetStations, useSending } from '../pages-forecourt/common';
import { CaseMap, isImpossible, type MapLeg, type MapStation, type TravelLimits } from './case-map';
import { ErrorAlert, OutcomeSelect, OutcomeTag, useRules, useWord } from './common';
import { InputsText } from './decisions';
import { rk } from './i18n';
import type { InputValue } from './types';

/** Shapes of /api/v1/cases (src/cases/cases.queries.ts). */
export interface CaseSummary {
  id: number;
  cardId: number;
  cardNo: string;
  cardStatus: string;
  status: string;
  outcome: string;
  priority: number;
  items: number;
  amount: number;
  sla: { dueAt: string; remainingMs: number; breached: boolean };
  assignee: { staffId: number; username: string; assignedAt: string | null } | null;
  resolution: string | null;
  resolvedBy: number | null;
  resolvedAt: string | null;
  createdAt: string;
}

interface FiredRule {
  rule: string;
  zh: string;
  en: string;
  outcome: string;
  enforced: boolean;
  suppressedBy: 'shadow' | 'silence' | null;
  inputs: Record<string, InputValue>;
}

interface ItemTransaction {
  kind: 'sale' | 'authorisation';
  id: string;
  amount: number;
  grade: string | null;
  volumeMl: number | null;
  stationId: number;
  stationName: string;
  terminalId: string;
  at: string;
  status: string;
  declineCode: string | null;
}

interface CaseItem {
  id: number;
  decisionId: string;
  outcome: string;
  channel: string;
  amount: number;
  saleId: string | null;
  authorisationId: string | null;
  stationId: number | null;
  createdAt: string;
  rules: FiredRule[];
  sale: ItemTransaction | null;
  authorisation: ItemTransaction | null;
}

interface CaseEvent {
  id: number;
  kind: string;
  staffId: number | null;
  staffName: string | null;
  body: Record<string, unknown>;
  at: string;
}

interface EvidenceSale {
  id: string;
  at: string;
  amount: number;
  grade: string | null;
  volumeMl: number | null;
  stationId: number;
  terminalId: string;
  status: string;
  declineCode: string | null;
  flow: string;
  inCase: boolean;
}

interface Evidence {
  from: string;
  to: string;
  sales: EvidenceSale[];
  truncated: boolean;
  map: { stations: MapStation[]; path: MapLeg[] };
}

export interface CaseDetail {
  case: CaseSummary;
  items: CaseItem[];
  timeline: CaseEvent[];
  evidence: Evidence | null;
}

interface AlertFeed {
  counts: { open: number; unassigned: number; breached: number; mine: number };
  items: Array<{ eventId: number; caseId: number; alert: string; at: string; outcome: string; priority: number; status: string }>;
  lastEventId: number | null;
}

const C = '/api/v1/cases';
const RESOLUTIONS = ['released', 'false_positive', 'confirmed_fraud', 'card_blocked', 'reversed', 'no_action'] as const;
const RELEASING = new Set(['released', 'false_positive']);
const KEYS = ['status', 'assignedTo', 'outcome', 'breached', 'cardId'] as const;
const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;

/** Now, every second: the SLA countdowns tick. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const h = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(h);
  }, []);
  return now;
}

function hms(ms: number): string {
  const a = Math.abs(Math.trunc(ms / 1000));
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const s = a % 60;
  const text = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return ms < 0 ? `-${text}` : text;
}

/** Time left to the SLA, counting down; red once breached. A closed case shows what was left. */
export function SlaCountdown({ sla, loadedAt, closed }: { sla: CaseSummary['sla']; loadedAt: number; closed: boolean }) {
  const t = useT(rk);
  const now = useNow();
  const left = closed ? sla.remainingMs : sla.remainingMs - (now - loadedAt);
  const breached = sla.breached || left < 0;
  return (
    <Space size={4} data-testid="case-sla" data-breached={breached ? 'yes' : 'no'}>
      <span className="fc-num" style={{ color: breached ? '#cf1322' : undefined, fontWeight: breached ? 600 : undefined }}>
        {hms(left)}
      </span>
      {breached && <Tag color="red">{t('breached')}</Tag>}
    </Space>
  );
}

const PRIORITY_COLORS: Record<number, string> = { 1: 'red', 2: 'orange', 3: 'blue' };

function PriorityTag({ p }: { p: number }) {
  const w = useWord();
  return (
    <Tag color={PRIORITY_COLORS[p] ?? 'default'} data-testid="case-priority" data-priority={p}>
      {w('priority', String(p))}
    </Tag>
  );
}

function CaseStatusTag({ status }: { status: string }) {
  const w = useWord();
  return (
    <Tag color={status === 'closed' ? 'green' : status === 'in_review' ? 'processing' : 'orange'} data-testid="case-status" data-status={status}>
      {w('caseStatus', status)}
    </Tag>
  );
}

function AlertCounts() {
  const t = useT(rk);
  const { api, can } = useSession();
  const allowed = can('GET', `${C}/alerts`);
  const feed = useLoad(() => (allowed ? api.request<AlertFeed>('GET', `${C}/alerts`) : Promise.resolve(null)), [api, allowed]);
  const c = feed.data?.counts;
  if (!c) return null;
  return (
    <Space size="large" data-testid="case-alerts">
      <Badge count={c.open} showZero color="orange" overflowCount={999}>
        <Tag>{t('caseStatus_open')}</Tag>
      </Badge>
      <Badge count={c.unassigned} showZero color="gold" overflowCount={999}>
        <Tag>{t('unassigned')}</Tag>
      </Badge>
      <Badge count={c.breached} showZero color="red" overflowCount={999}>
        <Tag>{t('breached')}</Tag>
      </Badge>
      <Badge count={c.mine} showZero color="blue" overflowCount={999}>
        <Tag>{t('assignedMe')}</Tag>
      </Badge>
    </Space>
  );
}

/** 人工审核: the queue, most urgent first (priority, then due time). */
export function CasesPage() {
  const t = useT(rk);
  const w = useWord();
  const { api, can, user } = useSession();
  const { message } = App.useApp();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const [loadedAt, setLoadedAt] = useState(Date.now());
  const [error, setError] = useState<unknown>();
  const list = useCursorList<CaseSummary>(
    (cursor) =>
      api
        .request<Page<CaseSummary>>('GET', C, {
          query: { status: filters.status, assignedTo: filters.assignedTo, outcome: filters.outcome, breached: filters.breached === 'true' ? true : undefined, cardId: filters.cardId, limit: 50, cursor },
        })
        .then((p) => {
          setLoadedAt(Date.now());
          return p;
        }),
    key,
  );
  const mayAssign = can('POST', `${C}/:id/assign`);
  const assignMe = async (c: CaseSummary) => {
    setError(undefined);
    try {
      await api.request('POST', `${C}/${c.id}/assign`, { body: {} });
      message.success(t('assignMe'));
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const columns: ColumnsType<CaseSummary> = [
    { title: '#', dataIndex: 'id', render: (v: number) => <Link to={`/risk-cases/${v}`} data-testid="case-open">#{v}</Link> },
    { title: t('priority'), dataIndex: 'priority', render: (v: number) => <PriorityTag p={v} /> },
    { title: t('outcome'), dataIndex: 'outcome', render: (v: string) => <OutcomeTag outcome={v} /> },
    { title: t('card'), dataIndex: 'cardNo', render: (v: string) => <CardNo cardNo={v} /> },
    { title: t('items'), dataIndex: 'items', align: 'right' },
    { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
    { title: t('sla'), key: 'sla', render: (_: unknown, r) => <SlaCountdown sla={r.sla} loadedAt={loadedAt} closed={r.status === 'closed'} /> },
    { title: t('assignee'), key: 'assignee', render: (_: unknown, r) => (r.assignee ? <span data-testid="case-assignee">{r.assignee.username}</span> : <Typography.Text type="secondary">{t('unassigned')}</Typography.Text>) },
    { title: t('status'), dataIndex: 'status', render: (v: string) => <CaseStatusTag status={v} /> },
    ...(mayAssign
      ? [
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, r: CaseSummary) =>
              r.status !== 'closed' && r.assignee?.staffId !== user?.id ? (
                <Button size="small" icon={<UserAddOutlined />} onClick={() => void assignMe(r)} data-testid="case-assign-me">
                  {t('assignMe')}
                </Button>
              ) : null,
          },
        ]
      : []),
  ];
  return (
    <div>
      <PageHeader title={t('casesTitle')} extra={<AlertCounts />} />
      <FilterBar>
        <Select value={filters.status} onChange={(v) => apply({ ...filters, status: v ?? undefined })} allowClear placeholder={t('anyStatus')} options={['open', 'in_review', 'closed'].map((s) => ({ value: s, label: w('caseStatus', s) }))} style={{ minWidth: 130 }} data-testid="cases-filter-status" aria-label={t('status')} />
        <Select
          value={filters.assignedTo}
          onChange={(v) => apply({ ...filters, assignedTo: v ?? undefined })}
          allowClear
          placeholder={t('anyAssignee')}
          options={[
            { value: 'me', label: t('assignedMe') },
            { value: 'none', label: t('assignedNone') },
          ]}
          style={{ minWidth: 130 }}
          data-testid="cases-filter-assignee"
          aria-label={t('assignee')}
        />
        <OutcomeSelect value={filters.outcome} onChange={(v) => apply({ ...filters, outcome: v })} testId="cases-filter-outcome" exclude={['approve']} />
        <Checkbox checked={filters.breached === 'true'} onChange={(e) => apply({ ...filters, breached: e.target.checked ? 'true' : undefined })} data-testid="cases-filter-breached">
          {t('breachedOnly')}
        </Checkbox>
      </FilterBar>
      <ErrorAlert error={error} />
      <CursorTable<CaseSummary>
        list={list}
        testId="cases"
        rowKey={(r) => String(r.id)}
        columns={columns}
        row={(r) => ({ 'data-testid': 'cases-row', 'data-case-id': r.id, 'data-card-id': r.cardId, 'data-breached': r.sla.breached ? 'yes' : 'no', style: r.sla.breached && r.status !== 'closed' ? { background: '#fff1f0' } : undefined })}
      />
    </div>
  );
}

function FiredRules({ rules }: { rules: FiredRule[] }) {
  const t = useT(rk);
  const { lang } = useLang();
  if (!rules.length) return <Typography.Text type="secondary">{t('noHits')}</Typography.Text>;
  return (
    <Table<FiredRule>
      size="small"
      pagination={false}
      rowKey="rule"
      dataSource={rules}
      onRow={(r) => ({ 'data-testid': 'case-rule', 'data-rule': r.rule }) as React.HTMLAttributes<HTMLElement>}
      columns={[
        {
          title: t('rule'),
          key: 'rule',
          render: (_: unknown, r) => (
            <div>
              <div>{lang === 'en' ? r.en : r.zh}</div>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {lang === 'en' ? r.zh : r.en}
              </Typography.Text>
            </div>
          ),
        },
        { title: t('outcome'), dataIndex: 'outcome', render: (v: string) => <OutcomeTag outcome={v} /> },
        {
          title: t('status'),
          key: 's',
          render: (_: unknown, r) => (r.enforced ? <Tag color="red">{t('enforced')}</Tag> : <Tag>{t(`suppressed_${r.suppressedBy ?? 'error'}`)}</Tag>),
        },
        { title: t('inputs'), dataIndex: 'inputs', render: (v: Record<string, InputValue>) => <InputsText inputs={v} /> },
      ]}
    />
  );
}

function TxnLine({ x }: { x: ItemTransaction }) {
  const t = useT(rk);
  return (
    <span>
      {x.kind === 'sale' ? t('sale') : t('authorisation')} <span className="fc-num">{x.id.slice(0, 8)}</span> · {x.stationName} · <span className="fc-num">{x.terminalId}</span> · {yuan(x.amount)}
      {x.volumeMl ? ` · ${litres(x.volumeMl)}` : ''}
      {x.grade ? ` · ${x.grade}` : ''} · {x.status === 'approved' ? t('approvedSale') : x.status === 'declined' ? t('declinedSale') : x.status}
      {x.declineCode ? ` (${x.declineCode})` : ''} · {dateTime(x.at)}
    </span>
  );
}

function eventText(e: CaseEvent, w: ReturnType<typeof useWord>): string {
  const b = e.body ?? {};
  if (typeof b.text === 'string') return b.text;
  if (typeof b.note === 'string' && typeof b.resolution === 'string') return `${w('resolution', b.resolution)} · ${b.note}`;
  if (typeof b.outcome === 'string') return w('outcome', b.outcome);
  if (typeof b.resolution === 'string') return w('resolution', b.resolution);
  if (typeof b.alert === 'string') return b.alert;
  return '';
}

/** One case: its items with the rules that fired, the timeline with notes, the evidence with its map, and resolving. */
export function CasePage() {
  const t = useT(rk);
  const w = useWord();
  const { id } = useParams();
  const { api, can, user } = useSession();
  const { lang } = useLang();
  const { message } = App.useApp();
  const stations = useNetStations();
  const rules = useRules();
  const valid = /^[0-9]{1,15}$/.test(id ?? '');
  const [loadedAt, setLoadedAt] = useState(Date.now());
  const detail = useLoad(
    () =>
      valid
        ? api.request<CaseDetail>('GET', `${C}/${id}`).then((d) => {
            setLoadedAt(Date.now());
            return d;
          })
        : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined)),
    [api, id],
  );
  const [note, setNote] = useState('');
  const noteSending = useSending();
  const action = useSending();
  const [resolving, setResolving] = useState(false);
  if (detail.error instanceof ApiError && detail.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/risk-cases">{t('backToCases')}</Link>} />;
  }
  const travel = rules.data?.find((r) => r.id === 'impossible_travel')?.defaults as unknown as TravelLimits | undefined;
  const limits: TravelLimits = { minKm: Number(travel?.minKm ?? 50), maxKmh: Number(travel?.maxKmh ?? 150) };

  const addNote = () => {
    const text = note.trim();
    if (!text) return;
    void noteSending.run(async () => {
      await api.request('POST', `${C}/${id}/notes`, { body: { text } });
      setNote('');
      message.success(t('noteAdded'));
      detail.reload();
    });
  };
  const post = (path: string, body?: unknown) =>
    void action.run(async () => {
      await api.request('POST', `${C}/${id}/${path}`, body === undefined ? {} : { body });
      detail.reload();
    });

  return (
    <div>
      <BackLink to="/risk-cases">{t('backToCases')}</BackLink>
      <LoadState value={detail}>
        {(detailData) => {
          const d = detailData.case;
          const closed = d.status === 'closed';
          const items = detailData.items ?? [];
          const ev = detailData.evidence;
          return (
            <>
              <PageHeader
                title={
                  <Space wrap>
                    {t('caseTitle', { id: d.id })}
                    <PriorityTag p={d.priority} />
                    <OutcomeTag outcome={d.outcome} testId="case-outcome" />
                    <CaseStatusTag status={d.status} />
                  </Space>
                }
                extra={
                  !closed && (
                    <>
                      {can('POST', `${C}/:id/assign`) && d.assignee?.staffId !== user?.id && (
                        <Button icon={<UserAddOutlined />} loading={action.busy} onClick={() => post('assign', {})} data-testid="case-assign-me">
                          {t('assignMe')}
                        </Button>
                      )}
                      {can('POST', `${C}/:id/unassign`) && d.assignee && (
                        <Button icon={<UserDeleteOutlined />} loading={action.busy} onClick={() => post('unassign')} data-testid="case-unassign">
                          {t('unassign')}
                        </Button>
                      )}
                      {can('POST', `${C}/:id/resolve`) && (
                        <Button type="primary" icon={<CheckCircleOutlined />} onClick={() => setResolving(true)} data-testid="case-resolve">
                          {t('resolve')}
                        </Button>
                      )}
                    </>
                  )
                }
              />
              <ErrorAlert error={action.error} />
              {closed && d.resolution && <Alert type="success" showIcon style={{ marginBottom: 12 }} data-testid="case-resolved" data-resolution={d.resolution} title={t('resolvedAs', { r: w('resolution', d.resolution) })} description={dateTime(d.resolvedAt)} />}
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 4 }}>
                  <Descriptions.Item label={t('card')}>
                    <CardNo cardNo={d.cardNo} testId="case-card" /> <Tag data-testid="case-card-status" data-status={d.cardStatus}>{label(CARD_STATUS_NAMES, d.cardStatus, lang)}</Tag>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('amount')}>{yuan(d.amount)}</Descriptions.Item>
                  <Descriptions.Item label={t('items')}>{d.items}</Descriptions.Item>
                  <Descriptions.Item label={t('sla')}>
                    <SlaCountdown sla={d.sla} loadedAt={loadedAt} closed={closed} />
                  </Descriptions.Item>
                  <Descriptions.Item label={t('due')}>{time(d.sla.dueAt)}</Descriptions.Item>
                  <Descriptions.Item label={t('assignee')}>
                    <span data-testid="case-assignee">{d.assignee?.username ?? t('unassigned')}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('time')}>{time(d.createdAt)}</Descriptions.Item>
                  <Descriptions.Item label={t('cardId')}>
                    <Link to={`/risk-decisions?cardId=${d.cardId}`}>{d.cardId}</Link>
                  </Descriptions.Item>
                </Descriptions>
              </Card>
              <Row gutter={16}>
                <Col xs={24} xl={15}>
                  <Card size="small" title={t('caseItems')} style={{ marginBottom: 16 }}>
                    {items.map((it) => (
                      <Card
                        key={it.id}
                        type="inner"
                        size="small"
                        style={{ marginBottom: 12 }}
                        data-testid="case-item"
                        data-item-id={it.id}
                        title={
                          <Space wrap>
                            <OutcomeTag outcome={it.outcome} />
                            <span>{w('channel', it.channel)}</span>
                            <span className="fc-num">{yuan(it.amount)}</span>
                            <span>{stationLabel(stations.data, it.stationId)}</span>
                            <span style={{ fontWeight: 400 }}>{dateTime(it.createdAt)}</span>
                          </Space>
                        }
                        extra={
                          <Link to={`/risk-decisions/${it.decisionId}`} data-testid="case-item-decision">
                            {t('decisionId')}
                          </Link>
                        }
                      >
                        {(it.sale || it.authorisation) && (
                          <Typography.Paragraph style={{ marginBottom: 8 }}>
                            {it.sale && <TxnLine x={it.sale} />}
                            {it.sale && it.authorisation && <br />}
                            {it.authorisation && <TxnLine x={it.authorisation} />}
                          </Typography.Paragraph>
                        )}
                        <FiredRules rules={it.rules ?? []} />
                      </Card>
                    ))}
                  </Card>
                  <Card size="small" title={t('evidence')} style={{ marginBottom: 16 }}>
                    {ev ? (
                      <>
                        <Typography.Title level={5}>{t('map')}</Typography.Title>
                        <Typography.Paragraph type="secondary">{t('mapHint')}</Typography.Paragraph>
                        <CaseMap stations={ev.map.stations} path={ev.map.path} limits={limits} />
                        <Table<MapLeg>
                          size="small"
                          style={{ marginTop: 12 }}
                          pagination={false}
                          rowKey={(l) => `${l.fromSaleId}>${l.toSaleId}`}
                          dataSource={ev.map.path.filter((l) => l.fromStationId !== l.toStationId)}
                          onRow={(l) => ({ 'data-testid': 'leg-row', 'data-impossible': isImpossible(l, limits) ? 'yes' : 'no' }) as React.HTMLAttributes<HTMLElement>}
                          columns={[
                            { title: t('leg'), key: 'leg', render: (_: unknown, l) => `${ev.map.stations.find((s) => s.id === l.fromStationId)?.name ?? l.fromStationId} → ${ev.map.stations.find((s) => s.id === l.toStationId)?.name ?? l.toStationId}` },
                            { title: t('km'), dataIndex: 'km', align: 'right' },
                            { title: t('minutes'), dataIndex: 'minutes', align: 'right' },
                            { title: t('kmh'), dataIndex: 'kmh', align: 'right', render: (v: number | null, l) => <span style={isImpossible(l, limits) ? { color: '#cf1322', fontWeight: 600 } : undefined}>{v ?? '∞'}</span> },
                          ]}
                        />
                        <Typography.Title level={5} style={{ marginTop: 16 }}>
                          {t('recentSales')}
                        </Typography.Title>
                        <Table<EvidenceSale>
                          size="small"
                          pagination={false}
                          rowKey="id"
                          dataSource={ev.sales}
                          scroll={{ x: 'max-content' }}
                          onRow={(s) => ({ 'data-testid': 'evidence-sale', 'data-in-case': s.inCase ? 'yes' : 'no', style: s.inCase ? { background: '#fffbe6' } : undefined }) as React.HTMLAttributes<HTMLElement>}
                          columns={[
                            { title: t('time'), dataIndex: 'at', render: time },
                            { title: t('station'), dataIndex: 'stationId', render: (v: number) => ev.map.stations.find((s) => s.id === v)?.name ?? stationLabel(stations.data, v) },
                            { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span className="fc-num">{v}</span> },
                            { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
                            { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number | null) => litres(v) },
                            { title: t('grade'), dataIndex: 'grade', render: (v: string | null) => v ?? '—' },
                            { title: t('status'), key: 'st', render: (_: unknown, s) => (s.status === 'approved' ? <Tag color="green">{t('approvedSale')}</Tag> : <Tag color="red">{`${t('declinedSale')}${s.declineCode ? ` ${s.declineCode}` : ''}`}</Tag>) },
                          ]}
                        />
                      </>
                    ) : (
                      <Typography.Text type="secondary">{t('noMap')}</Typography.Text>
                    )}
                  </Card>
                </Col>
                <Col xs={24} xl={9}>
                  <Card size="small" title={t('timeline')}>
                    <Timeline
                      items={(detailData.timeline ?? []).map((e) => ({
                        color: e.kind === 'sla_breached' ? 'red' : e.kind === 'resolved' ? 'green' : e.kind === 'note' ? 'gray' : 'blue',
                        content: (
                          <div data-testid="case-event" data-kind={e.kind}>
                            <div>
                              <strong>{w('event', e.kind)}</strong> · {e.staffName ?? t('system')} · <span style={{ color: '#888', fontSize: 12 }}>{dateTime(e.at)}</span>
                            </div>
                            {eventText(e, w) && <div style={{ whiteSpace: 'pre-wrap' }}>{eventText(e, w)}</div>}
                          </div>
                        ),
                      }))}
                    />
                    {can('POST', `${C}/:id/notes`) && (
                      <div>
                        <Input.TextArea rows={3} value={note} maxLength={2000} onChange={(e) => setNote(e.target.value)} onKeyDown={enterSubmits(addNote)} placeholder={t('noteText')} data-testid="case-note-text" aria-label={t('noteText')} />
                        <Button style={{ marginTop: 8 }} onClick={addNote} loading={noteSending.busy} disabled={!note.trim()} data-testid="case-note-submit">
                          {t('addNote')}
                        </Button>
                        <ErrorAlert error={noteSending.error} style={{ marginTop: 8 }} />
                      </div>
                    )}
                  </Card>
                </Col>
              </Row>
              {resolving && (
                <ResolveModal
                  caseId={d.id}
                  sales={(ev?.sales ?? []).filter((s) => s.status === 'approved')}
                  onClose={(done) => {
                    setResolving(false);
                    if (done) detail.reload();
                  }}
                />
              )}
            </>
          );
        }}
      </LoadState>
    </div>
  );
}

function ResolveModal({ caseId, sales, onClose }: { caseId: number; sales: EvidenceSale[]; onClose: (done: boolean) => void }) {
  const t = useT(rk);
  const w = useWord();
  const { api } = useSession();
  const [form] = Form.useForm();
  const resolution = Form.useWatch('resolution', form) as string | undefined;
  const sending = useSending();
  const submit = async () => {
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      await api.request('POST', `${C}/${caseId}/resolve`, {
        body: {
          resolution: v.resolution,
          note: String(v.note).trim(),
          notifyHolder: Boolean(v.notifyHolder),
          ...(RELEASING.has(v.resolution) && v.silenceDays ? { silenceDays: Number(v.silenceDays) } : {}),
          ...(v.resolution === 'reversed' ? { saleIds: v.saleIds ?? [] } : {}),
        },
      });
      onClose(true);
    });
  };
  return (
    <FormModal title={t('resolveTitle')} onCancel={() => onClose(false)} onOk={() => void submit()} busy={sending.busy} submitTestId="resolve-submit" okText={t('resolve')} width={560}>
      <Form form={form} layout="vertical" initialValues={{ notifyHolder: false, silenceDays: 1 }}>
        <Form.Item name="resolution" label={t('resolution')} rules={[{ required: true, message: t('resolutionRequired') }]}>
          <Radio.Group>
            <Space direction="vertical">
              {RESOLUTIONS.map((r) => (
                <Radio key={r} value={r} data-testid={`resolve-${r}`}>
                  {w('resolution', r)}
                </Radio>
              ))}
            </Space>
          </Radio.Group>
        </Form.Item>
        {resolution && RELEASING.has(resolution) && (
          <Form.Item name="silenceDays" label={t('silenceDays')} extra={t('silenceDaysHint')}>
            <InputNumber min={0} max={90} precision={0} data-testid="resolve-silence-days" />
          </Form.Item>
        )}
        {resolution === 'reversed' && (
          <Form.Item name="saleIds" label={t('sale')} rules={[{ required: true }]}>
            <Checkbox.Group options={sales.map((s) => ({ value: s.id, label: `${dateTime(s.at)} · ${yuan(s.amount)}` }))} />
          </Form.Item>
        )}
        <Form.Item name="note" label={t('note')} rules={[{ required: true, whitespace: true, message: t('noteRequired') }]}>
          <Input.TextArea rows={3} maxLength={2000} data-testid="resolve-note" />
        </Form.Item>
        <Form.Item name="notifyHolder" valuePropName="checked">
          <Checkbox data-testid="resolve-notify">{t('notifyHolder')}</Checkbox>
        </Form.Item>
      </Form>
      <ErrorAlert error={sending.error} />
    </FormModal>
  );
}

/**
 * The count for the menu entry: breached cases, else unassigned ones, polled every minute. Not
 * mounted yet: the shell's menu entries are text only (see docs/console-risk.md).
 */
export function CasesMenuBadge() {
  const { api, can } = useSession();
  const allowed = can('GET', `${C}/alerts`);
  const [counts, setCounts] = useState<AlertFeed['counts'] | null>(null);
  useEffect(() => {
    if (!allowed) return;
    let live = true;
    const poll = () =>
      api.request<AlertFeed>('GET', `${C}/alerts`, { query: { limit: 1 } }).then(
        (f) => live && setCounts(f.counts),
        () => undefined,
      );
    void poll();
    const h = setInterval(() => void poll(), 60_000);
    return () => {
      live = false;
      clearInterval(h);
    };
  }, [api, allowed]);
  if (!counts) return null;
  const n = counts.breached || counts.unassigned;
  return <Badge count={n} size="small" color={counts.breached ? 'red' : 'orange'} offset={[6, -2]} data-testid="cases-menu-badge" />;
}
