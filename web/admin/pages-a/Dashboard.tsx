import { Button, Card, Col, Empty, Row, Statistic, Table, Tag } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { litres, yuan } from '../../shared/money';
import { useSession } from '../session';
import { DECLINE_NAMES, label } from '../i18n';
import { PageTitle, useA, type T } from './common';
import type { Dashboard as DashboardData } from './types';

/** 仪表盘: today's business at a glance and the last seven business days. */
export function Dashboard() {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const value = useLoad(() => api.request<DashboardData>('GET', '/api/v1/dashboard/today'), [api]);

  return (
    <div data-testid="dashboard">
      <PageTitle
        title={t('dashTitle')}
        sub={value.data ? t('dashBusinessDay', { day: value.data.businessDay }) : undefined}
        extra={
          <Button icon={<ReloadOutlined />} onClick={value.reload} loading={value.loading && value.data !== undefined}>
            {t('refresh')}
          </Button>
        }
      />
      <LoadState value={value}>
        {(d) => (
          <>
            <Row gutter={[16, 16]}>
              <Col xs={24} sm={12} xl={6}>
                <Card>
                  <Statistic title={t('dashSalesAmount')} value={yuan(d.sales.amount)} />
                  <div style={{ color: '#888', marginTop: 4 }} data-testid="dash-sales-count">
                    {t('dashSalesCountVolume', { count: d.sales.count, litres: litres(d.sales.volumeMl) })}
                  </div>
                </Card>
              </Col>
              <Col xs={24} sm={12} xl={6}>
                <Card>
                  <Statistic title={t('dashRecharges')} value={yuan(d.recharges.amount)} />
                  <div style={{ color: '#888', marginTop: 4 }}>{t('dashRechargeCount', { count: d.recharges.count })}</div>
                </Card>
              </Col>
              <Col xs={24} sm={12} xl={6}>
                <Card>
                  <Statistic title={t('dashActiveCards')} value={d.activeCards} />
                  <div style={{ color: '#888', marginTop: 4 }}>{t('dashIssuedToday', { count: d.cardsIssuedToday })}</div>
                </Card>
              </Col>
              <Col xs={24} sm={12} xl={6}>
                <Card>
                  <Statistic title={t('dashDeclines')} value={d.declines.count} />
                  <div style={{ color: '#888', marginTop: 4 }}>{t('dashDeclinesHint')}</div>
                </Card>
              </Col>
            </Row>
            <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
              <Col xs={24} xl={14}>
                <Card title={t('dashChartTitle')}>
                  <DaysChart days={d.days} t={t} />
                </Card>
              </Col>
              <Col xs={24} xl={10}>
                <Card title={t('dashDeclinesByCode')}>
                  <Table
                    size="small"
                    rowKey="code"
                    pagination={false}
                    dataSource={[...d.declines.byCode].sort((a, b) => b.count - a.count)}
                    locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dashNoDeclines')} /> }}
                    columns={[
                      { title: t('declineCode'), dataIndex: 'code', render: (c: string) => <Tag>{c}</Tag> },
                      { title: t('declineMeaning'), dataIndex: 'code', key: 'meaning', render: (c: string) => label(DECLINE_NAMES, c, lang) },
                      { title: t('count'), dataIndex: 'count', align: 'right' },
                    ]}
                  />
                </Card>
              </Col>
            </Row>
          </>
        )}
      </LoadState>
    </div>
  );
}

/** A round axis maximum (1, 2, 2.5 or 5 × 10^n) at or above the largest value, so the ticks read well. */
function niceCeiling(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const SALES_COLOR = '#0f6e5f';
const RECHARGE_COLOR = '#f0a020';

/** Seven business days of sales and recharges as grouped bars, drawn in SVG (no chart library). */
function DaysChart({ days, t }: { days: DashboardData['days']; t: T }) {
  if (days.length === 0) return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('dashNoDays')} />;
  const W = 640;
  const H = 260;
  const left = 72;
  const bottom = 40;
  const top = 16;
  const plotH = H - top - bottom;
  const max = niceCeiling(Math.max(1, ...days.map((d) => Math.max(d.salesAmount, d.rechargeAmount))));
  const step = (W - left - 8) / days.length;
  const barW = Math.min(28, step / 3);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const ticks = [0, 0.5, 1].map((f) => Math.round(max * f));
  const summary = days.map((d) => `${d.businessDay}: ${t('dashSales')} ${yuan(d.salesAmount)}, ${t('dashRecharge')} ${yuan(d.rechargeAmount)}`).join('; ');

  return (
    <div data-testid="dash-chart">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`${t('dashChartTitle')}: ${summary}`} style={{ display: 'block', maxHeight: 300 }}>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={left} x2={W - 8} y1={y(v)} y2={y(v)} stroke="#e5e5e5" />
            <text x={left - 6} y={y(v) + 4} fontSize={11} textAnchor="end" fill="#888">
              {yuan(v)}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          const cx = left + step * i + step / 2;
          return (
            <g key={d.businessDay}>
              <rect x={cx - barW - 1} y={y(d.salesAmount)} width={barW} height={Math.max(0, top + plotH - y(d.salesAmount))} fill={SALES_COLOR} rx={2}>
                <title>{`${d.businessDay} ${t('dashSales')} ${yuan(d.salesAmount)} (${d.salesCount})`}</title>
              </rect>
              <rect x={cx + 1} y={y(d.rechargeAmount)} width={barW} height={Math.max(0, top + plotH - y(d.rechargeAmount))} fill={RECHARGE_COLOR} rx={2}>
                <title>{`${d.businessDay} ${t('dashRecharge')} ${yuan(d.rechargeAmount)}`}</title>
              </rect>
              <text x={cx} y={H - bottom + 16} fontSize={11} textAnchor="middle" fill="#555">
                {d.businessDay.slice(5)}
              </text>
              <text x={cx} y={H - bottom + 31} fontSize={10} textAnchor="middle" fill="#999">
                {t('dashCountShort', { count: d.salesCount })}
              </text>
            </g>
          );
        })}
        <line x1={left} x2={W - 8} y1={top + plotH} y2={top + plotH} stroke="#bbb" />
      </svg>
      <div style={{ display: 'flex', gap: 16, justifyContent: 'center', marginTop: 8, fontSize: 13 }}>
        <span>
          <span aria-hidden style={{ display: 'inline-block', width: 10, height: 10, background: SALES_COLOR, marginRight: 6, borderRadius: 2 }} />
          {t('dashSales')}
        </span>
        <span>
          <span aria-hidden style={{ display: 'inline-block', width: 10, height: 10, background: RECHARGE_COLOR, marginRight: 6, borderRadius: 2 }} />
          {t('dashRecharge')}
        </span>
      </div>
    </div>
  );
}
