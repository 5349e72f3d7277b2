import { useRef, useState } from 'react';
import { Alert, Button, Card, Descriptions, Result, Table, Typography } from 'antd';
import { SafetyCertificateOutlined } from '@ant-design/icons';
import { errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { yuan } from '../../shared/money';
import { useLang, useT } from '../../shared/i18n';
import { useSession } from '../session';
import { PageHeader, mono } from './common';
import { dict } from './i18n';

interface VerifyProblem {
  check: string;
  accountId?: number;
  transferId?: string;
  currency?: string;
  expected?: number | string;
  actual?: number | string;
  [k: string]: unknown;
}

interface VerifyReport {
  ok: boolean;
  accounts: number;
  transfers: number;
  pendingOpen: number;
  arrearsAccounts: number;
  problems: VerifyProblem[];
  checkedAt: string;
}

function elapsedText(ms: number, t: (k: string, v?: Record<string, string | number>) => string): string {
  return ms < 1000 ? t('elapsedMs', { ms: Math.round(ms) }) : t('elapsedS', { s: (ms / 1000).toFixed(2) });
}

export function LedgerPage() {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ report: VerifyReport; ms: number } | null>(null);
  const [error, setError] = useState<unknown>();
  const resultRef = useRef<HTMLDivElement>(null);

  const verify = async () => {
    setBusy(true);
    setError(undefined);
    const started = performance.now();
    try {
      const report = await api.request<VerifyReport>('GET', '/api/v1/ledger/verify');
      setResult({ report, ms: performance.now() - started });
    } catch (err) {
      setResult(null);
      setError(err);
    } finally {
      setBusy(false);
      // Move focus to the answer so keyboard and screen reader users hear it.
      setTimeout(() => resultRef.current?.focus(), 0);
    }
  };

  const checkName = (c: string) => {
    const k = `check_${c}`;
    return dict[k] ? t(k) : c;
  };

  return (
    <div>
      <PageHeader title={t('ledgerTitle')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Typography.Paragraph style={{ maxWidth: 760 }}>{t('ledgerIntro')}</Typography.Paragraph>
        <Button type="primary" size="large" icon={<SafetyCertificateOutlined />} onClick={verify} loading={busy} data-testid="ledger-verify-button">
          {busy ? t('verifying') : t('verifyNow')}
        </Button>
      </Card>

      <div ref={resultRef} tabIndex={-1} aria-live="polite" style={{ outline: 'none' }}>
        {error !== undefined && (
          <Alert type="error" showIcon role="alert" title={errorText(error, lang)} data-testid="ledger-verify-error" action={<Button size="small" onClick={verify}>{t('retry')}</Button>} />
        )}
        {result && (
          <Card size="small" data-testid="ledger-verify-result" data-ok={String(result.report.ok)} data-problems={result.report.problems.length}>
            <Result
              status={result.report.ok ? 'success' : 'error'}
              title={result.report.ok ? t('ledgerOk') : t('ledgerProblems', { n: result.report.problems.length })}
              style={{ padding: '16px 0' }}
            />
            <Descriptions
              size="small"
              bordered
              column={{ xs: 1, sm: 2, lg: 3 }}
              items={[
                { key: 'accounts', label: t('accounts'), children: result.report.accounts.toLocaleString('en-US') },
                { key: 'transfers', label: t('transferCount'), children: result.report.transfers.toLocaleString('en-US') },
                { key: 'pending', label: t('pendingOpen'), children: result.report.pendingOpen.toLocaleString('en-US') },
                { key: 'arrears', label: t('arrearsAccounts'), children: result.report.arrearsAccounts.toLocaleString('en-US') },
                { key: 'at', label: t('checkedAt'), children: dateTime(result.report.checkedAt) },
                { key: 'elapsed', label: t('elapsed'), children: <span data-testid="ledger-verify-elapsed">{elapsedText(result.ms, t)}</span> },
              ]}
            />
            {result.report.problems.length > 0 && (
              <>
                <Typography.Title level={5} style={{ marginTop: 16 }}>
                  {t('ledgerProblems', { n: result.report.problems.length })}
                </Typography.Title>
                <Table<VerifyProblem>
                  size="small"
                  rowKey={(_p, i) => String(i)}
                  pagination={result.report.problems.length > 20 ? { pageSize: 20, showSizeChanger: false } : false}
                  dataSource={result.report.problems}
                  scroll={{ x: 'max-content' }}
                  columns={[
                    {
                      title: t('check'),
                      dataIndex: 'check',
                      render: (v: string) => (
                        <span>
                          {checkName(v)} <span style={{ ...mono, color: '#888', fontSize: 12 }}>{v}</span>
                        </span>
                      ),
                    },
                    { title: t('accountId'), dataIndex: 'accountId', render: (v?: number) => v ?? '—' },
                    { title: t('transferId'), dataIndex: 'transferId', render: (v?: string) => (v ? <span style={mono}>{v}</span> : '—') },
                    { title: t('currency'), dataIndex: 'currency', render: (v?: string) => v ?? '—' },
                    { title: t('expected'), dataIndex: 'expected', render: (v?: string | number) => <ProblemValue v={v} /> },
                    { title: t('actual'), dataIndex: 'actual', render: (v?: string | number) => <ProblemValue v={v} /> },
                  ]}
                />
                <Typography.Text type="secondary">{t('problemsTruncated')}</Typography.Text>
              </>
            )}
          </Card>
        )}
      </div>
    </div>
  );
}

/** Amounts the checks compare are fen: shown in yuan, the raw figure on hover. Text (a hold's state, counters) as it is. */
function ProblemValue({ v }: { v?: string | number }) {
  if (v === undefined || v === null) return <>—</>;
  if (typeof v === 'number') {
    return (
      <span className="fc-num" title={String(v)}>
        {yuan(v)}
      </span>
    );
  }
  return <span style={mono}>{v}</span>;
}
