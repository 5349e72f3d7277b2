import { useState, type HTMLAttributes } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Card, DatePicker, Descriptions, Table, Tag } from 'antd';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, fromDay, mono, useCursorList, type Page } from '../pages-b/common';
import { stationLabel, StationSelect, useNetStations, BackLink, CursorTable, FilterBar } from './common';
import { fc } from './i18n';

interface KindTotal {
  kind: string;
  count: number;
  amount: number;
}
interface Difference {
  kind: string;
  declaredCount: number;
  computedCount: number;
  declaredAmount: number;
  computedAmount: number;
}
interface ShiftItem {
  shiftId: number;
  shiftNo: number;
  terminalId: string;
  stationId: number;
  openedAt: string;
  closedAt: string | null;
  businessDay: string | null;
  cashier: string | null;
  endOfDay: boolean;
  balanced: boolean | null;
  differenceCount?: number;
}
interface Shift extends ShiftItem {
  declared: KindTotal[] | null;
  computed: KindTotal[];
  differences: Difference[] | null;
  openAuthorisations: number;
  unpaidPumpSales: number;
}

const KINDS = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'];
const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;

export function BalancedTag({ s }: { s: Pick<ShiftItem, 'closedAt' | 'balanced'> }) {
  const t = useT(fc);
  if (!s.closedAt) return <Tag color="blue">{t('stillOpen')}</Tag>;
  return s.balanced ? (
    <Tag color="green" data-testid="shift-balanced">
      {t('isBalanced')}
    </Tag>
  ) : (
    <Tag color="red" data-testid="shift-unbalanced">
      {t('notBalanced')}
    </Tag>
  );
}

/** Terminal shifts (班次): who closed, when, and whether the terminal's totals matched the platform's. */
export function ShiftsPage() {
  const t = useT(fc);
  const { api } = useSession();
  const stations = useNetStations();
  const [stationId, setStationId] = useState<number>();
  const [day, setDay] = useState<string>();
  const list = useCursorList<ShiftItem>(
    (cursor) => api.request<Page<ShiftItem>>('GET', '/api/v1/shifts', { query: { stationId, day, limit: 50, cursor } }),
    `${stationId}:${day}`,
  );
  return (
    <div>
      <PageHeader title={t('shiftsTitle')} />
      <FilterBar>
        <StationSelect value={stationId} onChange={setStationId} testId="shifts-filter-station" />
        <DatePicker placeholder={t('day')} onChange={(d) => setDay(fromDay(d))} data-testid="shifts-filter-day" />
      </FilterBar>
      <CursorTable<ShiftItem>
        list={list}
        testId="shifts"
        rowKey="shiftId"
        row={(s) => ({ 'data-testid': 'shift-row', 'data-shift-id': s.shiftId })}
        columns={[
          { title: t('shiftNo'), dataIndex: 'shiftNo', render: (v: number, s) => <Link to={`/shifts/${s.shiftId}`} data-testid="shift-open">#{v}</Link> },
          { title: t('station'), dataIndex: 'stationId', render: (v: number) => stationLabel(stations.data, v) },
          { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('openedAt'), dataIndex: 'openedAt', render: time },
          { title: t('closedAt'), dataIndex: 'closedAt', render: time },
          { title: t('day'), dataIndex: 'businessDay', render: (v: string | null) => v ?? '—' },
          { title: t('cashier'), dataIndex: 'cashier', render: (v: string | null) => v ?? '—' },
          { title: t('balanced'), key: 'balanced', render: (_: unknown, s) => <BalancedTag s={s} /> },
        ]}
      />
    </div>
  );
}

export function ShiftDetailPage() {
  const t = useT(fc);
  const { api } = useSession();
  const { id } = useParams();
  const stations = useNetStations();
  const shiftId = Number(id);
  const valid = Number.isInteger(shiftId) && shiftId > 0;
  const shift = useLoad(() => (valid ? api.request<Shift>('GET', `/api/v1/shifts/${shiftId}`) : Promise.reject(new Error('bad id'))), [api, shiftId]);
  if (!valid || (shift.error instanceof ApiError && shift.error.status === 404)) return <LocalResult status="404" title={t('notFound')} subTitle={`#${id ?? ''}`} />;

  return (
    <div>
      <BackLink to="/shifts">{t('backToShifts')}</BackLink>
      <LoadState value={shift}>
        {(s) => {
          const declared = new Map((s.declared ?? []).map((d) => [d.kind, d]));
          const computed = new Map(s.computed.map((d) => [d.kind, d]));
          const rows = KINDS.map((kind) => {
            const d = declared.get(kind);
            const c = computed.get(kind) ?? { count: 0, amount: 0 };
            return { kind, d, c, differs: !!d && (d.count !== c.count || d.amount !== c.amount) };
          });
          return (
            <>
              <PageHeader title={<>{t('shiftTitle', { no: s.shiftNo, terminal: s.terminalId })} <BalancedTag s={s} /></>} />
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions
                  size="small"
                  column={{ xs: 1, sm: 2, lg: 3 }}
                  items={[
                    { key: 'station', label: t('station'), children: stationLabel(stations.data, s.stationId) },
                    { key: 'cashier', label: t('cashier'), children: s.cashier ?? '—' },
                    { key: 'day', label: t('day'), children: s.businessDay ?? '—' },
                    { key: 'opened', label: t('openedAt'), children: dateTime(s.openedAt) },
                    { key: 'closed', label: t('closedAt'), children: dateTime(s.closedAt) },
                    { key: 'open', label: t('statementOpenItems'), children: `${t('openAuthorisations')} ${s.openAuthorisations} · ${t('unpaidPumpSales')} ${s.unpaidPumpSales}` },
                  ]}
                />
              </Card>
              <Table
                rowKey="kind"
                size="small"
                pagination={false}
                dataSource={rows}
                scroll={{ x: 'max-content' }}
                onRow={(r) => ({ 'data-testid': 'shift-kind-row', 'data-kind': r.kind, 'data-differs': String(r.differs), style: r.differs ? { background: '#fff1f0' } : undefined }) as HTMLAttributes<HTMLElement>}
                columns={[
                  { title: t('kindCol'), dataIndex: 'kind', render: (v: string) => t(`shiftKind_${v}`) },
                  { title: `${t('declared')} · ${t('count')}`, key: 'dc', align: 'right', render: (_: unknown, r) => (r.d ? r.d.count : '—') },
                  { title: `${t('declared')} · ${t('amount')}`, key: 'da', align: 'right', render: (_: unknown, r) => (r.d ? <span className="fc-num">{yuan(r.d.amount)}</span> : '—') },
                  { title: `${t('computed')} · ${t('count')}`, key: 'cc', align: 'right', render: (_: unknown, r) => r.c.count },
                  { title: `${t('computed')} · ${t('amount')}`, key: 'ca', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(r.c.amount)}</span> },
                  {
                    title: t('difference'),
                    key: 'diff',
                    align: 'right',
                    render: (_: unknown, r) =>
                      r.d ? (
                        <span className="fc-num" style={r.differs ? { color: '#cf1322', fontWeight: 600 } : undefined}>
                          {r.d.count - r.c.count} / {yuan(r.d.amount - r.c.amount)}
                        </span>
                      ) : (
                        '—'
                      ),
                  },
                ]}
              />
            </>
          );
        }}
      </LoadState>
    </div>
  );
}
