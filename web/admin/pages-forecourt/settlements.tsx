import { type HTMLAttributes } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Alert, Button, Card, DatePicker, Descriptions, Space, Table } from 'antd';
import { PrinterOutlined } from '@ant-design/icons';
import dayjs from 'dayjs';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres, yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, gradeName, isDay, mono, useGrades } from '../pages-b/common';
import { cstToday, StationSelect, BackLink } from './common';
import { fc } from './i18n';
import { BalancedTag } from './shifts';

interface CountAmount {
  count: number;
  amount: number;
}
interface Statement {
  stationId: number;
  stationCode: string;
  stationName: string;
  businessDay: string;
  lines: { flow: string; grade: string | null; count: number; volumeMl: number; amount: number }[];
  goods: CountAmount;
  gross: number;
  reversed: CountAmount;
  voided: CountAmount;
  stationLiability: CountAmount;
  forced: CountAmount;
  owedToStation: number;
  shifts: { shiftId: number; terminalId: string; shiftNo: number; closedAt: string | null; balanced: boolean | null }[];
  openAuthorisations: number;
  unpaidPumpSales: number;
  generatedAt: string;
}
/** One station's row in the all-stations summary (fields beyond these are shown when present). */
interface SummaryRow {
  stationId: number;
  stationCode?: string;
  stationName?: string;
  count?: number;
  gross: number;
  owedToStation: number;
  reversed?: CountAmount;
  voided?: CountAmount;
  forced?: CountAmount;
  stationLiability?: CountAmount;
  unbalancedShifts?: number;
}

/** A day and a station: the statement; a day alone: every station's totals (finance). */
export function SettlementsPage() {
  const t = useT(fc);
  const { can } = useSession();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const day = isDay(params.get('day') ?? undefined) ? params.get('day')! : cstToday();
  const setDay = (d: string | undefined) =>
    setParams(() => {
      const n = new URLSearchParams();
      if (d) n.set('day', d);
      return n;
    });

  return (
    <div>
      <PageHeader title={t('settlementsTitle')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Space wrap>
          <span>{t('day')}</span>
          <DatePicker value={dayjs(day)} allowClear={false} onChange={(d) => setDay(d?.format('YYYY-MM-DD'))} data-testid="settlements-day" />
          <span style={{ marginLeft: 16 }}>{t('showStatement')}</span>
          <StationSelect allowClear={false} onChange={(id) => id && navigate(`/settlements/${id}/${day}`)} testId="settlements-station" />
        </Space>
      </Card>
      {can('GET', '/api/v1/settlements') && <AllStations day={day} />}
    </div>
  );
}

function AllStations({ day }: { day: string }) {
  const t = useT(fc);
  const { api } = useSession();
  const list = useLoad(() => api.request<{ items: SummaryRow[] }>('GET', '/api/v1/settlements', { query: { day, limit: 200 } }).then((r) => r.items), [api, day]);
  return (
    <Card size="small" title={`${t('allStations')} · ${day}`}>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<SummaryRow>
        rowKey="stationId"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.data ?? []}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText text={t('noSales')} /> }}
        onRow={(r) => ({ 'data-testid': 'settlement-summary-row', 'data-station-id': r.stationId }) as HTMLAttributes<HTMLElement>}
        summary={(rows) =>
          rows.length > 1 ? (
            <Table.Summary.Row>
              <Table.Summary.Cell index={0}>
                <strong>{t('allStations')}</strong>
              </Table.Summary.Cell>
              <Table.Summary.Cell index={1} align="right">
                <strong className="fc-num">{yuan(rows.reduce((a, r) => a + r.gross, 0))}</strong>
              </Table.Summary.Cell>
              <Table.Summary.Cell index={2} />
              <Table.Summary.Cell index={3} align="right">
                <strong className="fc-num">{yuan(rows.reduce((a, r) => a + r.owedToStation, 0))}</strong>
              </Table.Summary.Cell>
              <Table.Summary.Cell index={4} />
              <Table.Summary.Cell index={5} />
            </Table.Summary.Row>
          ) : null
        }
        columns={[
          { title: t('station'), key: 'station', render: (_: unknown, r) => <Link to={`/settlements/${r.stationId}/${day}`} data-testid="settlement-open">{`${r.stationCode ?? ''} ${r.stationName ?? `#${r.stationId}`}`}</Link> },
          { title: t('gross'), dataIndex: 'gross', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
          { title: `${t('reversedTotal')} / ${t('voidedTotal')}`, key: 'rv', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan((r.reversed?.amount ?? 0) + (r.voided?.amount ?? 0))}</span> },
          { title: t('owedToStation'), dataIndex: 'owedToStation', align: 'right', render: (v: number) => <strong className="fc-num">{yuan(v)}</strong> },
          { title: t('liabilityTotal'), key: 'liab', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(r.stationLiability?.amount ?? 0)}</span> },
          { title: t('unbalancedShifts'), dataIndex: 'unbalancedShifts', align: 'right', render: (v: number | undefined) => (v ? <span style={{ color: '#cf1322', fontWeight: 600 }}>{v}</span> : (v ?? '—')) },
        ]}
      />
    </Card>
  );
}

/** The statement (结算单) of one station for one business day: printable. */
export function StatementPage() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { id, day } = useParams();
  const grades = useGrades();
  const stationId = Number(id);
  const ok = Number.isInteger(stationId) && stationId > 0 && isDay(day);
  const st = useLoad(() => (ok ? api.request<Statement>('GET', `/api/v1/stations/${stationId}/settlements/${day}`) : Promise.reject(new Error('bad'))), [api, stationId, day]);
  const line = (label: string, v: CountAmount, testId: string, warn = false) => ({
    key: testId,
    label,
    children: (
      <span className="fc-num" data-testid={testId} style={warn && v.count > 0 ? { color: '#cf1322' } : undefined}>
        {v.count} · {yuan(v.amount)}
      </span>
    ),
  });

  return (
    <div>
      <BackLink to={`/settlements?day=${day ?? ''}`} className="fc-no-print">
        {t('backToSettlements')}
      </BackLink>
      <LoadState value={st}>
        {(s) => (
          <div data-testid="statement">
            <PageHeader
              title={`${t('statementTitle')} · ${s.stationCode} ${s.stationName} · ${s.businessDay}`}
              extra={
                <Button className="fc-no-print" icon={<PrinterOutlined />} onClick={() => window.print()}>
                  {t('print')}
                </Button>
              }
            />
            <Card size="small" style={{ marginBottom: 16 }}>
              <Descriptions
                size="small"
                column={{ xs: 1, sm: 2, lg: 3 }}
                items={[
                  { key: 'gross', label: t('gross'), children: <strong className="fc-num" data-testid="statement-gross">{yuan(s.gross)}</strong> },
                  { key: 'owed', label: t('owedToStation'), children: <strong className="fc-num" style={{ fontSize: 18, color: '#0f6e5f' }} data-testid="statement-owed">{yuan(s.owedToStation)}</strong> },
                  line(t('goodsLine'), s.goods, 'statement-goods'),
                  line(t('reversedTotal'), s.reversed, 'statement-reversed'),
                  line(t('voidedTotal'), s.voided, 'statement-voided'),
                  line(t('forcedTotal'), s.forced, 'statement-forced', true),
                  line(t('liabilityTotal'), s.stationLiability, 'statement-liability', true),
                  { key: 'gen', label: t('generatedAt'), children: dateTime(s.generatedAt) },
                ]}
              />
            </Card>
            {(s.openAuthorisations > 0 || s.unpaidPumpSales > 0) && (
              <Alert
                type="warning"
                showIcon
                style={{ marginBottom: 16 }}
                title={`${t('statementOpenItems')}：${t('openAuthorisations')} ${s.openAuthorisations} · ${t('unpaidPumpSales')} ${s.unpaidPumpSales}`}
              />
            )}
            <Table
              rowKey={(l) => `${l.flow}:${l.grade ?? ''}`}
              size="small"
              pagination={false}
              dataSource={s.lines}
              scroll={{ x: 'max-content' }}
              locale={{ emptyText: <EmptyText text={t('noSales')} /> }}
              onRow={(l) => ({ 'data-testid': 'statement-line', 'data-flow': l.flow, 'data-grade': l.grade ?? '' }) as HTMLAttributes<HTMLElement>}
              columns={[
                { title: t('flow'), dataIndex: 'flow', render: (v: string) => t(`flow_${v}`) },
                { title: t('grade'), dataIndex: 'grade', render: (v: string | null) => (v ? gradeName(grades.data, v, lang) : t('goodsLine')) },
                { title: t('count'), dataIndex: 'count', align: 'right' },
                { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number) => litres(v) },
                { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num" data-testid="statement-line-amount">{yuan(v)}</span> },
              ]}
            />
            {s.shifts.length > 0 && (
              <Card size="small" title={t('shiftsTitle')} style={{ marginTop: 16 }}>
                <Table
                  rowKey="shiftId"
                  size="small"
                  pagination={false}
                  dataSource={s.shifts}
                  columns={[
                    { title: t('shiftNo'), dataIndex: 'shiftNo', render: (v: number, r) => <Link to={`/shifts/${r.shiftId}`}>#{v}</Link> },
                    { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
                    { title: t('closedAt'), dataIndex: 'closedAt', render: (v: string | null) => dateTime(v) },
                    { title: t('balanced'), key: 'b', render: (_: unknown, r) => <BalancedTag s={r} /> },
                  ]}
                />
              </Card>
            )}
          </div>
        )}
      </LoadState>
    </div>
  );
}
