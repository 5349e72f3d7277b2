import { useState, type HTMLAttributes } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Card, Descriptions, Input, Table, Tag } from 'antd';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { CardNo, LocalResult } from '../ui';
import { EmptyText, PageHeader, gradeName, mono, useCursorList, useGrades, type Page } from '../pages-b/common';
import { FlagTags, stationLabel, StationSelect, useNetStations, BackLink, CursorTable, FilterBar } from './common';
import { fc } from './i18n';

interface Summary {
  received: number;
  posted: number;
  duplicates: number;
  rejected: number;
  forced: number;
  stationLiability: number;
}
interface Batch {
  batchId: string;
  batchNo: string;
  terminalId: string;
  stationId: number | null;
  hotlistVersion: number | null;
  summary: Summary;
  createdAt: string;
}
interface BatchResult {
  seq: number;
  status: 'posted' | 'duplicate' | 'rejected';
  saleId?: string;
  code?: string;
  flags?: string[];
  liability?: string;
}
interface BatchSale {
  seq: number;
  saleId: string;
  cardNo: string;
  grade: string | null;
  nozzle: number | null;
  volumeMl: number | null;
  amount: number;
  status: string;
  approvalCode: string | null;
  forced: boolean;
  liability: string;
  flags: string[];
  offlineAt: string | null;
}
interface BatchDetail extends Batch {
  results: BatchResult[];
  sales: BatchSale[];
}

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
const num = (v: number, warn = false) => <span className="fc-num" style={warn && v > 0 ? { color: '#cf1322', fontWeight: 600 } : undefined}>{v}</span>;

/** Offline uploads (脱机交易上送) by terminal: what each batch posted, found twice, rejected or forced. */
export function BatchesPage() {
  const t = useT(fc);
  const { api } = useSession();
  const stations = useNetStations();
  const [stationId, setStationId] = useState<number>();
  const [terminalId, setTerminalId] = useState<string>();
  const list = useCursorList<Batch>(
    (cursor) => api.request<Page<Batch>>('GET', '/api/v1/offline-batches', { query: { stationId, terminalId, limit: 50, cursor } }),
    `${stationId}:${terminalId}`,
  );
  return (
    <div>
      <PageHeader title={t('batchesTitle')} />
      <FilterBar>
        <StationSelect value={stationId} onChange={setStationId} testId="batches-filter-station" />
        <Input.Search placeholder="T00000001" allowClear maxLength={9} style={{ width: 180 }} onSearch={(v) => setTerminalId(v.trim().toUpperCase() || undefined)} aria-label={t('terminal')} />
      </FilterBar>
      <CursorTable<Batch>
        list={list}
        testId="batches"
        rowKey="batchId"
        row={(b) => ({ 'data-testid': 'batch-row', 'data-batch-no': b.batchNo })}
        columns={[
          { title: t('createdAt'), dataIndex: 'createdAt', render: time },
          { title: t('batchNo'), dataIndex: 'batchNo', render: (v: string, b) => <Link to={`/offline-batches/${b.batchId}`} data-testid="batch-open">{v}</Link> },
          { title: t('station'), dataIndex: 'stationId', render: (v: number | null) => stationLabel(stations.data, v) },
          { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('received'), key: 'received', align: 'right', render: (_: unknown, b) => num(b.summary.received) },
          { title: t('posted'), key: 'posted', align: 'right', render: (_: unknown, b) => num(b.summary.posted) },
          { title: t('duplicates'), key: 'duplicates', align: 'right', render: (_: unknown, b) => num(b.summary.duplicates) },
          { title: t('rejected'), key: 'rejected', align: 'right', render: (_: unknown, b) => num(b.summary.rejected, true) },
          { title: t('forced'), key: 'forced', align: 'right', render: (_: unknown, b) => num(b.summary.forced, true) },
          { title: t('stationLiability'), key: 'liability', align: 'right', render: (_: unknown, b) => num(b.summary.stationLiability, true) },
        ]}
      />
    </div>
  );
}

export function BatchDetailPage() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { id } = useParams();
  const grades = useGrades();
  const stations = useNetStations();
  const batch = useLoad(() => api.request<BatchDetail>('GET', `/api/v1/offline-batches/${encodeURIComponent(id ?? '')}`), [api, id]);
  if (batch.error instanceof ApiError && batch.error.status === 404) return <LocalResult status="404" title={t('notFound')} subTitle={id ?? ''} />;

  return (
    <div>
      <BackLink to="/offline-batches">{t('backToBatches')}</BackLink>
      <LoadState value={batch}>
        {(b) => {
          const saleBySeq = new Map(b.sales.map((s) => [s.seq, s]));
          const rows = b.results.map((r) => ({ ...r, sale: saleBySeq.get(r.seq) }));
          return (
            <>
              <PageHeader title={t('batchTitle', { no: b.batchNo })} />
              <Card size="small" style={{ marginBottom: 16 }} data-testid="batch-detail">
                <Descriptions
                  size="small"
                  column={{ xs: 1, sm: 2, lg: 4 }}
                  items={[
                    { key: 'station', label: t('station'), children: stationLabel(stations.data, b.stationId) },
                    { key: 'terminal', label: t('terminal'), children: <span style={mono}>{b.terminalId}</span> },
                    { key: 'hot', label: t('hotlistVersion'), children: b.hotlistVersion ?? '—' },
                    { key: 'at', label: t('createdAt'), children: dateTime(b.createdAt) },
                    ...(['received', 'posted', 'duplicates', 'rejected', 'forced', 'stationLiability'] as const).map((k) => ({
                      key: k,
                      label: t(k),
                      children: <span data-testid={`batch-${k}`}>{b.summary[k]}</span>,
                    })),
                  ]}
                />
              </Card>
              <Table
                rowKey="seq"
                size="small"
                pagination={false}
                dataSource={rows}
                scroll={{ x: 'max-content' }}
                locale={{ emptyText: <EmptyText /> }}
                onRow={(r) => ({ 'data-testid': 'batch-sale-row', 'data-seq': r.seq, 'data-status': r.status }) as HTMLAttributes<HTMLElement>}
                columns={[
                  { title: t('seq'), dataIndex: 'seq' },
                  {
                    title: t('result'),
                    key: 'result',
                    render: (_: unknown, r) => (
                      <span>
                        <Tag color={r.status === 'posted' ? 'green' : r.status === 'rejected' ? 'red' : 'default'}>{t(`saleStatus_${r.status}`)}</Tag>
                        {r.code && <span style={{ ...mono, fontSize: 12 }}>{r.code}</span>}
                      </span>
                    ),
                  },
                  { title: t('occurredAt'), key: 'at', render: (_: unknown, r) => time(r.sale?.offlineAt) },
                  { title: t('cardNo'), key: 'card', render: (_: unknown, r) => (r.sale ? <CardNo cardNo={r.sale.cardNo} /> : '—') },
                  { title: t('grade'), key: 'grade', render: (_: unknown, r) => (r.sale?.grade ? gradeName(grades.data, r.sale.grade, lang) : '—') },
                  { title: t('volume'), key: 'vol', align: 'right', render: (_: unknown, r) => (r.sale ? litres(r.sale.volumeMl) : '—') },
                  { title: t('amount'), key: 'amount', align: 'right', render: (_: unknown, r) => (r.sale ? <span className="fc-num">{yuan(r.sale.amount)}</span> : '—') },
                  { title: t('approvalCode'), key: 'code', render: (_: unknown, r) => <span style={mono}>{r.sale?.approvalCode ?? '—'}</span> },
                  { title: t('status'), key: 'status', render: (_: unknown, r) => (r.sale ? t(`saleStatus_${r.sale.status}`) : '—') },
                  { title: t('flags'), key: 'flags', render: (_: unknown, r) => <FlagTags flags={r.sale?.flags ?? r.flags} liability={r.sale?.liability ?? r.liability} /> },
                ]}
              />
            </>
          );
        }}
      </LoadState>
    </div>
  );
}
