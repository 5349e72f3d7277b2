import { useState } from 'react';
import { Alert, Button, Card, Col, DatePicker, Form, Row, Select, Statistic, Table, Typography } from 'antd';
import { ExperimentOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { PageHeader, dayEndIso, dayStartIso, fromDay, type Page } from '../pages-b/common';
import { cstToday, useSending } from '../pages-forecourt/common';
import { ErrorAlert, OutcomeTag, RuleName, pct, useRules, useScopeText, useWord } from './common';
import { rk } from './i18n';
import { OUTCOMES, type BacktestReport, type ParamVersion } from './types';

const MAX_DAYS = 31;

/** 回测: replay a version (or a draft, or the built-in defaults) over a range of past sales. */
export function BacktestPage() {
  const t = useT(rk);
  const w = useWord();
  const { api, can } = useSession();
  const scopeText = useScopeText();
  const rules = useRules();
  const versions = useLoad(() => api.request<Page<ParamVersion>>('GET', '/api/v1/risk/parameter-versions', { query: { limit: 200 } }).then((r) => r.items), [api]);
  const [form] = Form.useForm();
  const sending = useSending();
  const [report, setReport] = useState<BacktestReport | null>(null);
  const today = cstToday();
  const mayRun = can('POST', '/api/v1/risk/backtests');

  const run = async () => {
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    const [from, to] = v.range as [Dayjs, Dayjs];
    setReport(null);
    await sending.run(async () => {
      const body: Record<string, unknown> = { from: dayStartIso(fromDay(from)!), to: dayEndIso(fromDay(to)!) };
      if (v.version !== 'defaults') body.versionId = Number(v.version);
      setReport(await api.request<BacktestReport>('POST', '/api/v1/risk/backtests', { body }));
    });
  };

  const ruleRows = report ? Object.entries(report.rules).map(([id, r]) => ({ id, ...r })) : [];
  return (
    <div>
      <PageHeader title={t('backtestTitle')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t('backtestHint')}</Typography.Paragraph>
        <Form form={form} layout="inline" initialValues={{ version: 'defaults' }} onFinish={() => void run()} style={{ rowGap: 12 }}>
          <Form.Item name="version" label={t('chooseVersion')}>
            <Select
              style={{ minWidth: 320 }}
              loading={versions.loading}
              data-testid="backtest-version"
              options={[
                { value: 'defaults', label: t('builtIn') },
                ...(versions.data ?? [])
                  .filter((v) => v.status !== 'retired' && v.status !== 'rejected')
                  .map((v) => ({ value: String(v.id), label: `#${v.id} ${scopeText(v.scope, v.scopeKey)} · v${v.version} · ${w('status', v.status)}` })),
              ]}
            />
          </Form.Item>
          <Form.Item
            name="range"
            label={t('dateRange')}
            extra={t('cstHint')}
            rules={[
              { required: true, message: t('rangeRequired') },
              {
                validator: (_, r: [Dayjs, Dayjs] | undefined) => (r && r[1].diff(r[0], 'day') + 1 > MAX_DAYS ? Promise.reject(new Error(t('rangeTooLong'))) : Promise.resolve()),
              },
            ]}
          >
            <DatePicker.RangePicker disabledDate={(d) => d.format('YYYY-MM-DD') > today} placeholder={[t('dateFrom'), t('dateTo')]} aria-label={t('dateRange')} data-testid="backtest-range" />
          </Form.Item>
          {mayRun && (
            <Form.Item>
              <Button type="primary" htmlType="submit" icon={<ExperimentOutlined />} loading={sending.busy} data-testid="backtest-run">
                {sending.busy ? t('running') : t('runBacktest')}
              </Button>
            </Form.Item>
          )}
        </Form>
      </Card>
      <ErrorAlert error={sending.error} testId="backtest-error" />
      {report && (
        <div data-testid="backtest-result">
          {report.truncated && <Alert type="warning" showIcon title={t('truncated')} style={{ marginBottom: 12 }} />}
          <Card size="small" style={{ marginBottom: 16 }}>
            <Row gutter={16}>
              <Col xs={12} md={6}>
                <Statistic title={t('sales')} value={report.sales} valueRender={() => <span data-testid="backtest-sales">{report.sales}</span>} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('stopped')} value={report.stopped} valueRender={() => <span data-testid="backtest-stopped">{report.stopped}</span>} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('stoppedAmount')} value={report.stoppedAmount} valueRender={() => <span data-testid="backtest-stopped-amount">{yuan(report.stoppedAmount)}</span>} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('paramVersion')} value={report.paramVersionId ?? 0} valueRender={() => <span>{report.paramVersionId ? `#${report.paramVersionId}` : t('builtIn')}</span>} />
              </Col>
            </Row>
          </Card>
          <Row gutter={16}>
            <Col xs={24} lg={16}>
              <Card size="small" title={t('perRule')} style={{ marginBottom: 16 }}>
                <Table
                  size="small"
                  pagination={false}
                  rowKey="id"
                  dataSource={ruleRows}
                  onRow={(r) => ({ 'data-testid': 'backtest-rule', 'data-rule': r.id }) as React.HTMLAttributes<HTMLElement>}
                  columns={[
                    { title: t('rule'), dataIndex: 'id', render: (v: string) => <RuleName id={v} rules={rules.data} /> },
                    { title: t('hits'), dataIndex: 'hits', align: 'right', render: (v: number) => <span data-testid="backtest-hits">{v}</span> },
                    { title: t('hitRate'), dataIndex: 'hitRate', align: 'right', render: (v: number) => pct(v) },
                    { title: t('stoppedAmount'), dataIndex: 'stoppedAmount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
                  ]}
                />
              </Card>
            </Col>
            <Col xs={24} lg={8}>
              <Card size="small" title={t('perOutcome')}>
                <Table
                  size="small"
                  pagination={false}
                  rowKey="o"
                  dataSource={OUTCOMES.map((o) => ({ o, n: report.outcomes[o] ?? 0 }))}
                  onRow={(r) => ({ 'data-testid': 'backtest-outcome', 'data-outcome': r.o }) as React.HTMLAttributes<HTMLElement>}
                  columns={[
                    { title: t('outcome'), dataIndex: 'o', render: (v: string) => <OutcomeTag outcome={v} /> },
                    { title: t('count'), dataIndex: 'n', align: 'right' },
                  ]}
                />
              </Card>
            </Col>
          </Row>
        </div>
      )}
    </div>
  );
}
