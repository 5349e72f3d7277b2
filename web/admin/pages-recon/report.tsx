import { useState, type HTMLAttributes } from 'react';
import { Link } from 'react-router-dom';
import { Alert, Button, Card, DatePicker, Table, Tooltip, Typography, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined } from '@ant-design/icons';
import dayjs from 'dayjs';
import { errorText } from '../../shared/api';
import { useLang, useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, fromDay, isDay, toDay, useUrlFilters } from '../pages-b/common';
import { FilterBar, cstToday } from '../pages-forecourt/common';
import { BalanceTag, ChannelSelect, ChannelTag, ReportStatusTag } from './common';
import { rc } from './i18n';
import type { ReportDay } from './types';

const KEYS = ['from', 'to', 'channel'] as const;
/** The server's limit (a quarter): one row per channel per day. */
const MAX_DAYS = 92;

const net = (x: { paymentTotal: number; refundTotal: number } | null | undefined) => (x ? x.paymentTotal - x.refundTotal : null);
const countTotal = (count: number | undefined, total: number | undefined) =>
  count === undefined ? '—' : (
    <span className="fc-num">
      {count} / {yuan(total)}
    </span>
  );

const CHANNEL_ORDER = ['wechat', 'alipay', 'unionpay', 'bank_transfer'];
/** The latest day on top (that is the morning's work), channels in a fixed order within a day. */
const newestFirst = (days: ReportDay[]) => [...days].sort((a, b) => b.billDate.localeCompare(a.billDate) || CHANNEL_ORDER.indexOf(a.channel) - CHANNEL_ORDER.indexOf(b.channel));

/** 对账日报: per channel per day, what the statement, the platform and the ledger say, and what is still open. */
export function ReportPage() {
  const t = useT(rc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const { filters, apply } = useUrlFilters(KEYS);
  // The last seven finished business days (China time; today has no statement yet) unless the address says otherwise.
  const today = cstToday();
  const yesterday = dayjs(today).subtract(1, 'day').format('YYYY-MM-DD');
  const to = isDay(filters.to) ? filters.to : yesterday;
  const from = isDay(filters.from) ? filters.from : dayjs(to).subtract(6, 'day').format('YYYY-MM-DD');
  const tooLong = dayjs(to).diff(dayjs(from), 'day') + 1 > MAX_DAYS;
  const [exporting, setExporting] = useState(false);
  const [msg, holder] = message.useMessage();

  const report = useLoad(
    () => (tooLong ? Promise.resolve({ days: [] as ReportDay[] }) : api.request<{ days: ReportDay[] }>('GET', '/api/v1/reconciliation/report', { query: { from, to, channel: filters.channel } })),
    [api, from, to, filters.channel, tooLong],
  );

  const doExport = async () => {
    setExporting(true);
    try {
      await api.download('/api/v1/reconciliation/report.xlsx', { from, to, channel: filters.channel }, 'report.xlsx');
      msg.success(t('exportDone'));
    } catch (err) {
      msg.error(t('exportFailed', { msg: errorText(err, lang) }));
    } finally {
      setExporting(false);
    }
  };

  const columns: ColumnsType<ReportDay> = [
    { title: t('billDate'), dataIndex: 'billDate', render: (v: string) => <span className="fc-num">{v}</span> },
    { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
    {
      title: t('status'),
      dataIndex: 'status',
      // Why the nets differ on a day with nothing open: the pool, a match across midnight, items worked earlier.
      render: (v: string, r) =>
        r.explanations && r.explanations.length > 0 ? (
          <Tooltip title={r.explanations.join('；')}>
            <span data-testid="report-explanations">
              <ReportStatusTag status={v} />
            </span>
          </Tooltip>
        ) : (
          <ReportStatusTag status={v} />
        ),
    },
    {
      title: t('statement'),
      children: [
        { title: t('payments'), key: 'sp', align: 'right', render: (_: unknown, r) => countTotal(r.statement?.paymentCount, r.statement?.paymentTotal) },
        { title: t('refunds'), key: 'sr', align: 'right', render: (_: unknown, r) => countTotal(r.statement?.refundCount, r.statement?.refundTotal) },
      ],
    },
    {
      title: t('platform'),
      children: [
        { title: t('payments'), key: 'pp', align: 'right', render: (_: unknown, r) => countTotal(r.platform?.paymentCount, r.platform?.paymentTotal) },
        { title: t('refunds'), key: 'pr', align: 'right', render: (_: unknown, r) => countTotal(r.platform?.refundCount, r.platform?.refundTotal) },
      ],
    },
    {
      title: t('net'),
      children: [
        { title: t('statement'), key: 'sn', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(net(r.statement))}</span> },
        { title: t('platform'), key: 'pn', align: 'right', render: (_: unknown, r) => <span className="fc-num">{yuan(net(r.platform))}</span> },
        { title: t('ledger'), dataIndex: 'ledgerClearingNet', align: 'right', render: (v: number | null) => <span className="fc-num">{yuan(v)}</span> },
      ],
    },
    { title: t('check'), key: 'check', render: (_: unknown, r) => (r.status === 'not_run' || r.status === 'statement_rejected' ? '—' : <BalanceTag nets={[net(r.statement), net(r.platform), r.ledgerClearingNet]} explained={r.openItems === 0 && r.resolvedItems > 0} testId="report-balance" />) },
    { title: t('matched'), dataIndex: 'matched', align: 'right' },
    {
      title: t('openItems'),
      dataIndex: 'openItems',
      align: 'right',
      render: (v: number, r) =>
        v > 0 ? (
          <Link to={`/recon-items?channel=${r.channel}&billDate=${r.billDate}`} style={{ color: '#cf1322', fontWeight: 600 }} data-testid="report-open-items">
            {v}
          </Link>
        ) : (
          <span data-testid="report-open-items">{v}</span>
        ),
    },
    {
      title: t('resolvedItems'),
      dataIndex: 'resolvedItems',
      align: 'right',
      render: (v: number, r) =>
        v > 0 ? (
          <Link to={`/recon-items?channel=${r.channel}&billDate=${r.billDate}&status=resolved`} data-testid="report-resolved-items">
            {v}
          </Link>
        ) : (
          <span data-testid="report-resolved-items">{v}</span>
        ),
    },
    { title: t('runsTitle'), dataIndex: 'runId', render: (v: number | null) => (v ? <Link to={`/recon-runs/${v}`}>#{v}</Link> : '—') },
  ];

  return (
    <div>
      {holder}
      <PageHeader
        title={t('reportTitle')}
        extra={
          can('GET', '/api/v1/reconciliation/report.xlsx') && (
            <Button icon={<DownloadOutlined />} onClick={() => void doExport()} loading={exporting} disabled={tooLong} data-testid="report-export">
              {exporting ? t('exporting') : t('exportExcel')}
            </Button>
          )
        }
      />
      <FilterBar>
        <DatePicker.RangePicker
          value={[toDay(from) ?? null, toDay(to) ?? null]}
          allowClear={false}
          disabledDate={(d) => d.format('YYYY-MM-DD') >= today}
          onChange={(r) => apply({ ...filters, from: fromDay(r?.[0]), to: fromDay(r?.[1]) })}
          placeholder={[t('dateFrom'), t('dateTo')]}
          data-testid="report-range"
          aria-label={t('dateRange')}
        />
        <ChannelSelect value={filters.channel} onChange={(v) => apply({ ...filters, channel: v })} testId="report-filter-channel" />
        <Typography.Text type="secondary">{t('cstHint')}</Typography.Text>
      </FilterBar>
      {tooLong && <Alert type="warning" showIcon title={t('rangeTooLong')} style={{ marginBottom: 12 }} data-testid="report-range-too-long" />}
      {report.error !== undefined ? (
        <ListError error={report.error} onRetry={report.reload} />
      ) : (
        <Card size="small">
          <LoadState value={report}>
            {(r) => (
              <Table<ReportDay>
                size="small"
                bordered
                pagination={false}
                scroll={{ x: 'max-content' }}
                rowKey={(d) => `${d.channel}:${d.billDate}`}
                dataSource={newestFirst(r.days)}
                columns={columns}
                locale={{ emptyText: <EmptyText text={t('noDays')} /> }}
                onRow={(d) => ({ 'data-testid': 'report-row', 'data-channel': d.channel, 'data-bill-date': d.billDate, 'data-status': d.status }) as HTMLAttributes<HTMLElement>}
              />
            )}
          </LoadState>
        </Card>
      )}
    </div>
  );
}
