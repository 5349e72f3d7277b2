import { useEffect, useMemo, useState, type HTMLAttributes } from 'react';
import { AutoComplete, Button, Col, Descriptions, Form, Input, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime } from '../../shared/format';
import { errorText } from '../../shared/api';
import { useLoad } from '../../shared/ui';
import { useLang, useT, type Dict, type Lang } from '../../shared/i18n';
import { useSession } from '../session';
import { EmptyText, ListError, MoreFooter, PageHeader, fromDay, mono, rangeQuery, toDay, useCursorList, useUrlFilters, type Page } from './common';
import { DateRangeItems, FilterCard } from './filters';
import { dict } from './i18n';
import { AUDIT_ACTION_NAMES, AUDIT_ACTION_PREFIXES, AUDIT_TARGET_NAMES, DetailValue, detailsPreview, keyName, orderedEntries } from './auditFormat';
import { label } from '../i18n';
import { roleName } from './staff';

export interface AuditItem {
  id: number | string;
  at: string;
  actorName: string;
  actorRole: string;
  action: string;
  targetType: string;
  targetId: string | null;
  details: unknown;
  ip: string | null;
  requestId: string | null;
}

const KEYS = ['from', 'to', 'actor', 'action', 'targetType', 'targetId'] as const;

function matches(input: string, o: { value?: unknown; label?: unknown } | undefined): boolean {
  const q = input.trim().toLowerCase();
  return String(o?.value ?? '').toLowerCase().includes(q) || String(o?.label ?? '').toLowerCase().includes(q);
}

function auditQuery(f: Record<string, string>) {
  return { ...rangeQuery(f), actor: f.actor, action: f.action, targetType: f.targetType, targetId: f.targetId };
}

function isEmptyDetails(d: unknown): boolean {
  return d === null || d === undefined || (typeof d === 'object' && Object.keys(d as object).length === 0);
}

/** Details as a list of named values (money in yuan, codes in words beside the code); the raw JSON one click away. */
export function AuditDetails({ item }: { item: AuditItem }) {
  const t = useT(dict);
  const { lang } = useLang();
  const d = item.details;
  const entries = d && typeof d === 'object' && !Array.isArray(d) ? orderedEntries(d as Record<string, unknown>) : [];
  return (
    <div data-testid="audit-details" style={{ maxWidth: 900 }}>
      <Descriptions
        size="small"
        column={1}
        bordered
        items={[
          ...(isEmptyDetails(d)
            ? [{ key: '_none', label: t('details'), children: <Typography.Text type="secondary">{t('noDetails')}</Typography.Text> }]
            : entries.length > 0
              ? entries.map(([k, v]) => ({
                  key: k,
                  label: (
                    <span>
                      {keyName(k, lang)}
                      {keyName(k, lang) !== k && <code className="fc-code"> {k}</code>}
                    </span>
                  ),
                  children: <DetailValue name={k} value={v} lang={lang} />,
                }))
              : [{ key: '_value', label: t('details'), children: <pre style={{ margin: 0 }}>{JSON.stringify(d, null, 2)}</pre> }]),
          { key: '_ip', label: t('ip'), children: item.ip ?? '—' },
          { key: '_req', label: t('requestId'), children: item.requestId ? <Typography.Text copyable style={mono}>{item.requestId}</Typography.Text> : '—' },
        ]}
      />
      {!isEmptyDetails(d) && (
        <details style={{ marginTop: 8 }}>
          <summary style={{ cursor: 'pointer' }}>{t('rawJson')}</summary>
          <pre style={{ background: '#f5f5f5', padding: 8, borderRadius: 6, whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{JSON.stringify(d, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

/** A code with its meaning: the meaning for people, the code as the log stores it (and as the filter takes it). */
function Named({ names, code, lang }: { names: Dict; code: string; lang: Lang }) {
  const known = names[code];
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      {known ? label(names, code, lang) : <span style={mono}>{code}</span>}
      {known && <code className="fc-code"> {code}</code>}
    </span>
  );
}

/** The hash chain's texts: kept here, beside the only page that shows them. */
const chainDict: Dict = {
  chainOk: { zh: '审计链已校验至第 {seq} 条', en: 'Chain verified up to seq {seq}' },
  chainBroken: { zh: '审计链在第 {seq} 条处断开', en: 'Chain broken at seq {seq}' },
  chainProblem: { zh: '审计链校验未通过', en: 'Chain verification failed' },
  chainNever: { zh: '审计链尚未校验', en: 'Chain not verified yet' },
  chainUnavailable: { zh: '审计链状态不可用', en: 'Chain status unavailable' },
  chainDetail: {
    zh: '最近校验 {at}（{source}），共 {rows} 条；当前链头第 {head} 条，待封存 {unsealed} 条',
    en: 'Last verified {at} ({source}), {rows} rows; head at seq {head}, {unsealed} awaiting sealing',
  },
  chainVerifyNow: { zh: '立即校验', en: 'Verify now' },
};

interface ChainProblem {
  check: string;
  seq: number | null;
  id?: number;
  detail: string;
}
interface ChainStatus {
  head: { seq: number; hash: string; sealedAt: string };
  unsealed: number;
  lastVerification: { at: string; source: string; ok: boolean; rowsChecked: number; verifiedSeq: number; headSeq: number; brokenSeq: number | null; problems: ChainProblem[] } | null;
}

/** "Chain verified up to seq N": the newest full recomputation of the hash chain (docs/audit.md). */
function ChainIndicator() {
  const t = useT(chainDict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const status = useLoad(() => api.request<ChainStatus>('GET', '/api/v1/audit/chain'), [api]);
  const [verifying, setVerifying] = useState(false);
  const [verifyError, setVerifyError] = useState<unknown>(undefined);
  const verifyNow = async () => {
    setVerifying(true);
    setVerifyError(undefined);
    try {
      await api.request('POST', '/api/v1/audit/chain/verify');
      status.reload();
    } catch (e) {
      setVerifyError(e);
    } finally {
      setVerifying(false);
    }
  };
  const s = status.data;
  const v = s?.lastVerification ?? null;
  let tag;
  if (status.error) tag = <Tag color="default">{t('chainUnavailable')}</Tag>;
  else if (!s) tag = null;
  else if (!v) tag = <Tag color="warning">{t('chainNever')}</Tag>;
  else if (v.ok) tag = <Tag color="success">{t('chainOk', { seq: v.verifiedSeq })}</Tag>;
  else tag = <Tag color="error">{v.brokenSeq !== null ? t('chainBroken', { seq: v.brokenSeq }) : t('chainProblem')}</Tag>;
  const detail = s && v ? t('chainDetail', { at: dateTime(v.at), source: v.source, rows: v.rowsChecked, head: s.head.seq, unsealed: s.unsealed }) : undefined;
  const problems = v && !v.ok ? v.problems.slice(0, 5).map((p) => `${p.check}${p.seq !== null ? ` #${p.seq}` : ''}: ${p.detail}`).join('\n') : '';
  const tip = [detail, problems, verifyError ? errorText(verifyError, lang) : ''].filter(Boolean).join('\n');
  return (
    <span data-testid="audit-chain" data-ok={v ? String(v.ok) : ''} data-verified-seq={v?.verifiedSeq ?? ''}>
      <Tooltip title={tip ? <div style={{ whiteSpace: 'pre-line' }}>{tip}</div> : undefined}>{tag}</Tooltip>
      {can('POST', '/api/v1/audit/chain/verify') && (
        <Button size="small" loading={verifying} onClick={() => void verifyNow()} data-testid="audit-chain-verify">
          {t('chainVerifyNow')}
        </Button>
      )}
    </span>
  );
}

export function AuditPage() {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm();
  const { filters, key, apply } = useUrlFilters(KEYS);

  const list = useCursorList<AuditItem>((cursor) => api.request<Page<AuditItem>>('GET', '/api/v1/audit', { query: { ...auditQuery(filters), limit: 50, cursor } }), key);

  useEffect(() => {
    form.setFieldsValue({
      from: toDay(filters.from),
      to: toDay(filters.to),
      actor: filters.actor,
      action: filters.action,
      targetType: filters.targetType,
      targetId: filters.targetId,
    });
  }, [key]);

  const onSearch = (v: any) => {
    const trim = (x: unknown) => (typeof x === 'string' && x.trim() ? x.trim() : undefined);
    const next: Record<string, string | undefined> = {
      from: fromDay(v.from),
      to: fromDay(v.to),
      actor: trim(v.actor),
      action: trim(v.action),
      targetType: trim(v.targetType),
      targetId: trim(v.targetId),
    };
    const clean = Object.fromEntries(Object.entries(next).filter(([, x]) => x));
    if (JSON.stringify(clean) === key) list.reload();
    else apply(next);
  };

  const columns: ColumnsType<AuditItem> = useMemo(
    () => [
      { title: t('time'), dataIndex: 'at', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
      { title: t('actor'), dataIndex: 'actorName', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{v}</span> },
      { title: t('actorRole'), dataIndex: 'actorRole', render: (v: string) => <Tag>{roleName(v, lang)}</Tag> },
      { title: t('action'), dataIndex: 'action', render: (v: string) => <Named names={AUDIT_ACTION_NAMES} code={v} lang={lang} /> },
      {
        title: t('target'),
        key: 'target',
        render: (_: unknown, a) => (
          <span style={{ whiteSpace: 'nowrap' }}>
            <Tag color="blue">{AUDIT_TARGET_NAMES[a.targetType] ? label(AUDIT_TARGET_NAMES, a.targetType, lang) : a.targetType}</Tag>
            {a.targetId && <span className="fc-num">{a.targetId}</span>}
          </span>
        ),
      },
      {
        title: t('details'),
        dataIndex: 'details',
        render: (v: unknown) => {
          const text = detailsPreview(v, lang);
          return (
            <Typography.Text type="secondary" ellipsis={{ tooltip: text || undefined }} style={{ maxWidth: 320, display: 'inline-block' }}>
              {text || '—'}
            </Typography.Text>
          );
        },
      },
      { title: t('ip'), dataIndex: 'ip', render: (v: string | null) => <span style={mono}>{v ?? '—'}</span> },
    ],
    [t, lang],
  );

  // Suggestions name each code in words; the filter itself takes the code.
  const option = (names: Dict) => (code: string) => ({ value: code, label: `${code} ${label(names, code, lang)}` });
  const actionOptions = [...Object.keys(AUDIT_ACTION_PREFIXES).map(option(AUDIT_ACTION_PREFIXES)), ...Object.keys(AUDIT_ACTION_NAMES).map(option(AUDIT_ACTION_NAMES))];
  const targetOptions = Object.keys(AUDIT_TARGET_NAMES).map(option(AUDIT_TARGET_NAMES));

  return (
    <div>
      <PageHeader title={t('auditTitle')} extra={<ChainIndicator />} />
      <FilterCard
        form={form}
        prefix="audit"
        onSearch={onSearch}
        onReset={() => apply({})}
        exportUrl="/api/v1/audit/export"
        exportQuery={() => auditQuery(filters)}
        exportName="audit.xlsx"
      >
        <DateRangeItems form={form} prefix="audit" />
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="actor" label={t('actor')}>
            <Input allowClear maxLength={64} data-testid="audit-filter-actor" autoComplete="off" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item
            name="action"
            label={t('action')}
            tooltip={t('actionHint')}
            rules={[{ pattern: /^[A-Za-z0-9_.:-]{1,64}\*?$/, message: t('actionInvalid') }]}
            normalize={(v?: string) => v?.trim()}
          >
            <AutoComplete
              allowClear
              options={actionOptions}
              showSearch={{ filterOption: (input, o) => matches(input, o) }}
              popupMatchSelectWidth={false}
              data-testid="audit-filter-action"
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="targetType" label={t('targetType')}>
            <AutoComplete
              allowClear
              options={targetOptions}
              showSearch={{ filterOption: (input, o) => matches(input, o) }}
              popupMatchSelectWidth={false}
              data-testid="audit-filter-target-type"
            />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12} md={8} lg={6}>
          <Form.Item name="targetId" label={t('targetId')}>
            <Input allowClear maxLength={128} data-testid="audit-filter-target-id" autoComplete="off" />
          </Form.Item>
        </Col>
      </FilterCard>

      <ListError error={list.error} onRetry={list.reload} />
      <Table<AuditItem>
        rowKey={(a) => String(a.id)}
        size="small"
        columns={columns}
        dataSource={list.items}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        className="fc-nowrap-table"
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        expandable={{ expandedRowRender: (a) => <AuditDetails item={a} /> }}
        onRow={(a) => ({ 'data-testid': 'audit-row', 'data-action': a.action, 'data-target-type': a.targetType, 'data-target-id': a.targetId ?? '' }) as HTMLAttributes<HTMLElement>}
        data-testid="audit-table"
      />
      <MoreFooter list={list} testId="audit" />
    </div>
  );
}
