import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Alert, Button, Card, DatePicker, Descriptions, Input, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { RedoOutlined, SoundOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, fromDay, rangeQuery, toDay, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, stationLabel, useNetStations, useSending } from '../pages-forecourt/common';
import { ErrorAlert, OutcomeSelect, OutcomeTag, RuleName, useRuleName, useRules, useWord } from './common';
import { SilenceModal } from './silences';
import { rk } from './i18n';
import type { Decision, InputValue, ReplayResult, RuleDef, RuleHit } from './types';

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
const KEYS = ['cardId', 'outcome', 'from', 'to'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Inputs as "amount=¥2,500.00 · maxAmount=¥2,000.00": money fields (fen) in yuan. */
export function InputsText({ inputs }: { inputs: Record<string, InputValue> }) {
  const entries = Object.entries(inputs ?? {});
  if (!entries.length) return <>—</>;
  return (
    <Space size={[8, 2]} wrap>
      {entries.map(([k, v]) => (
        <span key={k} className="fc-num" style={{ whiteSpace: 'nowrap', fontSize: 12 }} data-testid="hit-input" data-key={k}>
          {k}=
          {typeof v === 'number' && /amount|Amount|used|limit|recharged|refunded|p95|mean|sd/.test(k) && !/Limit$|zLimit/.test(k) && Number.isInteger(v) ? yuan(v) : v === null ? '—' : String(v)}
        </span>
      ))}
    </Space>
  );
}

export function HitState({ hit }: { hit: RuleHit }) {
  const t = useT(rk);
  if (hit.enforced) return <Tag color="red" data-testid="hit-state" data-state="enforced">{t('enforced')}</Tag>;
  const by = hit.suppressedBy ?? 'error';
  return (
    <Tag color="default" data-testid="hit-state" data-state={by}>
      {t(`suppressed_${by}`)}
    </Tag>
  );
}

/** The rules that fired, each with its zh and en name, its inputs, and whether it acted. */
export function HitsTable({ hits, rules, testId = 'hit-row' }: { hits: RuleHit[]; rules: RuleDef[] | undefined; testId?: string }) {
  const t = useT(rk);
  const { lang } = useLang();
  const columns: ColumnsType<RuleHit> = [
    {
      title: t('rule'),
      dataIndex: 'rule',
      render: (v: string) => {
        const r = rules?.find((x) => x.id === v);
        return (
          <div>
            <div data-testid="hit-rule-name">{r ? (lang === 'en' ? r.en : r.zh) : v}</div>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {r ? (lang === 'en' ? r.zh : r.en) : ''} · <span className="fc-num">{v}</span>
            </Typography.Text>
          </div>
        );
      },
    },
    { title: t('outcome'), dataIndex: 'outcome', render: (v: string) => <OutcomeTag outcome={v} testId="hit-outcome" /> },
    { title: t('status'), key: 'state', render: (_: unknown, h) => <HitState hit={h} /> },
    { title: t('inputs'), dataIndex: 'inputs', render: (v: Record<string, InputValue>) => <InputsText inputs={v} /> },
  ];
  if (!hits.length) return <Typography.Text type="secondary">{t('noHits')}</Typography.Text>;
  return <Table<RuleHit> size="small" pagination={false} rowKey={(h) => h.rule} dataSource={hits} columns={columns} scroll={{ x: 'max-content' }} onRow={(h) => ({ 'data-testid': testId, 'data-rule': h.rule, 'data-enforced': String(h.enforced) }) as React.HTMLAttributes<HTMLElement>} />;
}

/** 风控决策: every decision of the engine, filtered by card, outcome and day. */
export function DecisionsPage() {
  const t = useT(rk);
  const { api } = useSession();
  const rules = useRules();
  const ruleName = useRuleName(rules.data);
  const stations = useNetStations();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const [cardInput, setCardInput] = useState(filters.cardId ?? '');
  const validCard = /^[1-9][0-9]{0,15}$/.test(filters.cardId ?? '') ? filters.cardId : undefined;
  const list = useCursorList<Decision>(
    (cursor) => api.request<Page<Decision>>('GET', '/api/v1/risk/decisions', { query: { cardId: validCard, outcome: filters.outcome, ...rangeQuery(filters), limit: 50, cursor } }),
    key,
  );
  const columns: ColumnsType<Decision> = [
    { title: t('time'), dataIndex: 'createdAt', render: (v: string, r) => <Link to={`/risk-decisions/${r.id}`} data-testid="decision-open">{dateTime(v)}</Link> },
    { title: t('outcome'), dataIndex: 'outcome', render: (v: string) => <OutcomeTag outcome={v} /> },
    { title: t('cardId'), dataIndex: 'cardId', render: (v: number | null) => v ?? '—' },
    { title: t('station'), dataIndex: 'stationId', render: (v: number | null) => stationLabel(stations.data, v) },
    {
      title: t('firedRules'),
      key: 'rules',
      render: (_: unknown, r) => (
        <Space size={[4, 4]} wrap>
          {(r.hits?.hits ?? []).map((h) => (
            <Tag key={h.rule} color={h.enforced ? 'red' : 'default'}>
              {ruleName(h.rule)}
            </Tag>
          ))}
        </Space>
      ),
    },
    { title: t('paramVersion'), dataIndex: 'paramVersionId', render: (v: number | null) => (v ? <Link to={`/risk-rules/versions/${v}`}>#{v}</Link> : t('builtIn')) },
  ];
  return (
    <div>
      <PageHeader title={t('decisionsTitle')} />
      <FilterBar>
        <Input.Search
          value={cardInput}
          onChange={(e) => setCardInput(e.target.value.replace(/\D/g, ''))}
          onSearch={(v) => apply({ ...filters, cardId: v || undefined })}
          allowClear
          placeholder={t('cardId')}
          style={{ width: 200 }}
          data-testid="decisions-filter-card"
          aria-label={t('cardId')}
        />
        <OutcomeSelect value={filters.outcome} onChange={(v) => apply({ ...filters, outcome: v })} testId="decisions-filter-outcome" />
        <DatePicker.RangePicker
          value={[toDay(filters.from) ?? null, toDay(filters.to) ?? null]}
          onChange={(r) => apply({ ...filters, from: fromDay(r?.[0]), to: fromDay(r?.[1]) })}
          placeholder={[t('dateFrom'), t('dateTo')]}
          data-testid="decisions-filter-range"
          aria-label={t('dateRange')}
        />
      </FilterBar>
      <CursorTable<Decision> list={list} testId="decisions" rowKey={(r) => r.id} columns={columns} row={(r) => ({ 'data-testid': 'decisions-row', 'data-decision-id': r.id, 'data-outcome': r.outcome })} />
    </div>
  );
}

export function DecisionPage() {
  const t = useT(rk);
  const w = useWord();
  const { id } = useParams();
  const { api, can } = useSession();
  const rules = useRules();
  const stations = useNetStations();
  const valid = UUID.test(id ?? '');
  const decision = useLoad(() => (valid ? api.request<Decision>('GET', `/api/v1/risk/decisions/${id}`) : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined))), [api, id]);
  const sending = useSending();
  const [replay, setReplay] = useState<ReplayResult | null>(null);
  const [silencing, setSilencing] = useState<string | null>(null);
  if (decision.error instanceof ApiError && decision.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/risk-decisions">{t('backToDecisions')}</Link>} />;
  }
  const doReplay = () =>
    sending.run(async () => {
      setReplay(null);
      setReplay(await api.request<ReplayResult>('POST', `/api/v1/risk/decisions/${id}/replay`));
    });
  return (
    <div>
      <BackLink to="/risk-decisions">{t('backToDecisions')}</BackLink>
      <LoadState value={decision}>
        {(d) => {
          const sale = d.context?.sale;
          return (
            <>
              <PageHeader
                title={
                  <Space>
                    {t('decisionTitle', { id: d.id.slice(0, 8) })}
                    <OutcomeTag outcome={d.outcome} testId="decision-outcome" />
                  </Space>
                }
                extra={
                  can('POST', '/api/v1/risk/decisions/:id/replay') && (
                    <Button icon={<RedoOutlined />} loading={sending.busy} onClick={() => void doReplay()} data-testid="decision-replay">
                      {t('replay')}
                    </Button>
                  )
                }
              />
              <ErrorAlert error={sending.error} testId="replay-error" />
              {replay && (
                <Alert
                  type={replay.same ? 'success' : 'warning'}
                  showIcon
                  style={{ marginBottom: 12 }}
                  data-testid="replay-result"
                  data-same={String(replay.same)}
                  title={replay.same ? t('replaySame', { outcome: w('outcome', replay.replayed.outcome) }) : t('replayDifferent', { recorded: w('outcome', replay.recorded.outcome), replayed: w('outcome', replay.replayed.outcome) })}
                  description={!replay.same ? <HitsTable hits={replay.replayed.hits} rules={rules.data} testId="replayed-hit-row" /> : undefined}
                />
              )}
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
                  <Descriptions.Item label={t('time')}>{time(d.createdAt)}</Descriptions.Item>
                  <Descriptions.Item label={t('cardId')}>
                    <span data-testid="decision-card">{d.cardId ?? '—'}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('station')}>{stationLabel(stations.data, d.stationId)}</Descriptions.Item>
                  <Descriptions.Item label={t('terminal')}>
                    <span className="fc-num">{d.terminalId ?? '—'}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('amount')}>
                    <span data-testid="decision-amount">{yuan(sale?.amount)}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('volume')}>{litres(sale?.volumeMl ?? null)}</Descriptions.Item>
                  <Descriptions.Item label={t('grade')}>{sale?.grade ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('channel')}>{w('channel', sale?.channel)}</Descriptions.Item>
                  <Descriptions.Item label={t('localHour')}>{sale?.localHour ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('saleRef')}>
                    <span className="fc-num">{d.saleRef ?? '—'}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('paramVersion')}>
                    <span data-testid="decision-version">{d.paramVersionId ? <Link to={`/risk-rules/versions/${d.paramVersionId}`}>#{d.paramVersionId}</Link> : t('builtIn')}</span>
                    <span className="fc-num" style={{ fontSize: 12, color: '#888', marginLeft: 8 }}>
                      {d.paramsHash.slice(0, 12)}
                    </span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('engineVersion')}>{d.engineVersion}</Descriptions.Item>
                </Descriptions>
              </Card>
              <Card
                size="small"
                title={t('firedRules')}
                style={{ marginBottom: 16 }}
                extra={
                  can('POST', '/api/v1/risk/silences') &&
                  d.cardId !== null &&
                  (d.hits?.hits ?? []).length > 0 && (
                    <Button size="small" icon={<SoundOutlined />} onClick={() => setSilencing(d.hits?.hits[0]?.rule ?? null)} data-testid="decision-silence">
                      {t('addSilence')}
                    </Button>
                  )
                }
              >
                <HitsTable hits={d.hits?.hits ?? []} rules={rules.data} />
                {(d.hits?.errors ?? []).length > 0 && (
                  <Alert
                    type="warning"
                    showIcon
                    style={{ marginTop: 12 }}
                    title={t('ruleErrors')}
                    description={
                      <Space wrap>
                        {d.hits!.errors.map((e) => (
                          <RuleName key={e} id={e} rules={rules.data} />
                        ))}
                      </Space>
                    }
                  />
                )}
              </Card>
              {silencing && d.cardId !== null && <SilenceModal cardId={String(d.cardId)} rule={silencing} decisionId={d.id} onClose={() => setSilencing(null)} />}
            </>
          );
        }}
      </LoadState>
    </div>
  );
}
