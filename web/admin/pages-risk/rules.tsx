import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Alert, App, Button, Card, Col, Descriptions, Form, Input, InputNumber, Row, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CheckOutlined, CloseOutlined, CopyOutlined, PlusOutlined, SendOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { parseYuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending } from '../pages-forecourt/common';
import {
  ErrorAlert,
  OutcomeSelect,
  OutcomeTag,
  RuleName,
  StaffName,
  VersionStatusTag,
  defaultsOf,
  isFenField,
  numberSchema,
  ruleFields,
  useParamText,
  useRules,
  useScopeText,
  useWord,
} from './common';
import { FIELD_NAMES, rk } from './i18n';
import { SCOPES, SEGMENTS, VERSION_STATUSES, type ParamVersion, type ParamsSet, type RuleDef, type RuleParams } from './types';

const V = '/api/v1/risk/parameter-versions';

/** The published version of every scope (a scope has at most one). */
function usePublished() {
  const { api } = useSession();
  return useLoad(() => api.request<Page<ParamVersion>>('GET', V, { query: { status: 'published', limit: 200 } }).then((r) => r.items), [api]);
}

/** A rule's parameters in one line: its outcome, its switches, its fields; fields differing from `base` in bold. */
function ParamSummary({ rule, params, base }: { rule: RuleDef; params: RuleParams | undefined; base?: RuleParams }) {
  const t = useT(rk);
  const f = useT(FIELD_NAMES);
  const text = useParamText();
  if (!params) return <>—</>;
  const differs = (k: string) => base !== undefined && JSON.stringify(base[k]) !== JSON.stringify(params[k]);
  return (
    <Space size={[12, 4]} wrap>
      {!params.enabled ? <Tag>{t('off')}</Tag> : <OutcomeTag outcome={params.outcome} testId="param-outcome" />}
      {params.shadow && <Tag color="blue">{t('shadow')}</Tag>}
      {ruleFields(rule).map((k) => (
        <span key={k} style={{ whiteSpace: 'nowrap', fontWeight: differs(k) ? 600 : undefined, color: differs(k) ? '#d46b08' : undefined }} data-testid="param-value" data-field={`${rule.id}.${k}`} data-value={JSON.stringify(params[k])}>
          {f(k)} {text(k, params[k])}
        </span>
      ))}
    </Space>
  );
}

/** 风控规则: the catalogue with the parameters in force per scope, and the versions. */
export function RulesPage() {
  const t = useT(rk);
  const { lang } = useLang();
  const { can } = useSession();
  const navigate = useNavigate();
  const rules = useRules();
  const published = usePublished();
  const scopeText = useScopeText();
  const columns: ColumnsType<RuleDef> = [
    { title: t('rule'), key: 'rule', fixed: 'left', render: (_: unknown, r) => <div style={{ minWidth: 160 }}><div>{lang === 'en' ? r.en : r.zh}</div><Typography.Text type="secondary" style={{ fontSize: 12 }} className="fc-num">{r.id}</Typography.Text></div> },
    { title: t('builtIn'), key: 'defaults', render: (_: unknown, r) => <ParamSummary rule={r} params={r.defaults} /> },
    ...(published.data ?? []).map((v) => ({
      title: (
        <Link to={`/risk-rules/versions/${v.id}`} data-testid="in-force-version" data-version-id={v.id}>
          {scopeText(v.scope, v.scopeKey)} · v{v.version}
        </Link>
      ),
      key: `v${v.id}`,
      render: (_: unknown, r: RuleDef) => <ParamSummary rule={r} params={v.params[r.id]} base={r.defaults} />,
    })),
  ];
  return (
    <div>
      <PageHeader
        title={t('rulesTitle')}
        extra={
          can('POST', V) && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/risk-rules/new')} data-testid="risk-new-draft">
              {t('newDraft')}
            </Button>
          )
        }
      />
      <Card size="small" title={t('catalogue')} style={{ marginBottom: 16 }}>
        <Typography.Paragraph type="secondary">{t('catalogueHint')}</Typography.Paragraph>
        <ErrorAlert error={published.error} />
        <LoadState value={rules}>
          {(items) => (
            <Table<RuleDef>
              size="small"
              pagination={false}
              rowKey="id"
              dataSource={items}
              columns={columns}
              scroll={{ x: 'max-content' }}
              onRow={(r) => ({ 'data-testid': 'rule-row', 'data-rule': r.id }) as React.HTMLAttributes<HTMLElement>}
            />
          )}
        </LoadState>
      </Card>
      <Card size="small" title={t('versions')}>
        <VersionsTable />
      </Card>
    </div>
  );
}

const KEYS = ['scope', 'status'] as const;

function VersionsTable() {
  const t = useT(rk);
  const w = useWord();
  const { api } = useSession();
  const scopeText = useScopeText();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const list = useCursorList<ParamVersion>((cursor) => api.request<Page<ParamVersion>>('GET', V, { query: { scope: filters.scope, status: filters.status, limit: 50, cursor } }), key);
  const columns: ColumnsType<ParamVersion> = [
    { title: '#', dataIndex: 'id', render: (v: number) => <Link to={`/risk-rules/versions/${v}`} data-testid="version-open">#{v}</Link> },
    { title: t('scope'), key: 'scope', render: (_: unknown, r) => scopeText(r.scope, r.scopeKey) },
    { title: t('version'), dataIndex: 'version', render: (v: number) => `v${v}` },
    { title: t('status'), dataIndex: 'status', render: (v: string) => <VersionStatusTag status={v} /> },
    { title: t('note'), dataIndex: 'note', render: (v: string | null) => v || '—' },
    { title: t('createdBy'), dataIndex: 'createdBy', render: (v: number) => <StaffName id={v} /> },
    { title: t('approvedBy'), dataIndex: 'approvedBy', render: (v: number | null) => <StaffName id={v} /> },
    { title: t('publishedAt'), dataIndex: 'publishedAt', render: (v: string | null) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
  ];
  return (
    <>
      <FilterBar>
        <Select value={filters.scope} onChange={(v) => apply({ ...filters, scope: v ?? undefined })} allowClear placeholder={t('anyScope')} options={SCOPES.map((s) => ({ value: s, label: w('scope', s) }))} style={{ minWidth: 140 }} data-testid="versions-filter-scope" aria-label={t('scope')} />
        <Select value={filters.status} onChange={(v) => apply({ ...filters, status: v ?? undefined })} allowClear placeholder={t('anyStatus')} options={VERSION_STATUSES.map((s) => ({ value: s, label: w('status', s) }))} style={{ minWidth: 140 }} data-testid="versions-filter-status" aria-label={t('status')} />
      </FilterBar>
      <CursorTable<ParamVersion> list={list} testId="versions" rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'versions-row', 'data-version-id': r.id, 'data-status': r.status })} />
    </>
  );
}

interface DiffRow {
  key: string;
  rule: string;
  field: string;
  before: unknown;
  after: unknown;
}

function diffParams(rules: RuleDef[], before: ParamsSet, after: ParamsSet): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const r of rules) {
    for (const k of ['enabled', 'shadow', 'outcome', ...ruleFields(r)]) {
      const b = before[r.id]?.[k];
      const a = after[r.id]?.[k];
      if (JSON.stringify(a) !== JSON.stringify(b)) rows.push({ key: `${r.id}.${k}`, rule: r.id, field: k, before: b, after: a });
    }
  }
  return rows;
}

/** One version: its parameters, its difference from what is in force for its scope, and its approval. */
export function VersionPage() {
  const t = useT(rk);
  const { id } = useParams();
  const { api, can, user } = useSession();
  const { modal, message } = App.useApp();
  const navigate = useNavigate();
  const scopeText = useScopeText();
  const valid = /^[0-9]{1,15}$/.test(id ?? '');
  const version = useLoad(() => (valid ? api.request<ParamVersion>('GET', `${V}/${id}`) : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined))), [api, id]);
  const rules = useRules();
  const v = version.data;
  const inForce = useLoad(
    () => (v ? api.request<Page<ParamVersion>>('GET', V, { query: { scope: v.scope, scopeKey: v.scopeKey, status: 'published', limit: 1 } }).then((r) => r.items[0] ?? null) : Promise.resolve(null)),
    [api, v?.id, v?.status],
  );
  const [actionError, setActionError] = useState<unknown>();
  const [rejecting, setRejecting] = useState(false);
  const sending = useSending();

  if (version.error instanceof ApiError && version.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/risk-rules">{t('backToRules')}</Link>} />;
  }

  const act = (path: 'submit' | 'approve', done: string) =>
    sending.run(
      async () => {
        setActionError(undefined);
        await api.request<ParamVersion>('POST', `${V}/${id}/${path}`);
        message.success(done);
        version.reload();
      },
      (err) => setActionError(err),
    );

  const approve = () =>
    modal.confirm({
      title: t('approve'),
      content: t('approveConfirm'),
      okText: t('approve'),
      cancelText: t('cancel'),
      okButtonProps: { 'data-testid': 'version-approve-confirm' } as any,
      onOk: () => act('approve', t('approved')),
    });

  return (
    <div>
      <BackLink to="/risk-rules">{t('backToRules')}</BackLink>
      <LoadState value={version}>
        {(ver) => {
          const mine = user?.id === ver.createdBy;
          return (
            <>
              <PageHeader
                title={
                  <Space>
                    {t('versionTitle', { id: ver.id })}
                    <span style={{ fontWeight: 400, fontSize: 16 }}>
                      {scopeText(ver.scope, ver.scopeKey)} · v{ver.version}
                    </span>
                    <VersionStatusTag status={ver.status} />
                  </Space>
                }
                extra={
                  <>
                    {ver.status === 'draft' && mine && can('POST', `${V}/:id/submit`) && (
                      <Button type="primary" icon={<SendOutlined />} loading={sending.busy} onClick={() => void act('submit', t('submitted'))} data-testid="version-submit">
                        {t('submit')}
                      </Button>
                    )}
                    {ver.status === 'pending_approval' && can('POST', `${V}/:id/approve`) && (
                      <Button type="primary" icon={<CheckOutlined />} loading={sending.busy} onClick={approve} data-testid="version-approve">
                        {t('approve')}
                      </Button>
                    )}
                    {(ver.status === 'pending_approval' || ver.status === 'draft') && can('POST', `${V}/:id/reject`) && (
                      <Button danger icon={<CloseOutlined />} onClick={() => setRejecting(true)} data-testid="version-reject">
                        {t('reject')}
                      </Button>
                    )}
                    {can('POST', V) && (
                      <Button icon={<CopyOutlined />} onClick={() => navigate(`/risk-rules/new?base=${ver.id}`)} data-testid="version-copy">
                        {t('copyToDraft')}
                      </Button>
                    )}
                  </>
                }
              />
              {ver.status === 'pending_approval' && mine && can('POST', `${V}/:id/approve`) && <Alert type="info" showIcon title={t('selfApprovalHint')} style={{ marginBottom: 12 }} data-testid="version-self-hint" />}
              <ErrorAlert error={actionError} testId="version-error" />
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
                  <Descriptions.Item label={t('scope')}>{scopeText(ver.scope, ver.scopeKey)}</Descriptions.Item>
                  <Descriptions.Item label={t('version')}>v{ver.version}</Descriptions.Item>
                  <Descriptions.Item label={t('status')}>
                    <VersionStatusTag status={ver.status} />
                  </Descriptions.Item>
                  <Descriptions.Item label={t('createdBy')}>
                    <StaffName id={ver.createdBy} />
                  </Descriptions.Item>
                  <Descriptions.Item label={t('approvedBy')}>
                    <StaffName id={ver.approvedBy} />
                  </Descriptions.Item>
                  <Descriptions.Item label={t('publishedAt')}>{dateTime(ver.publishedAt)}</Descriptions.Item>
                  <Descriptions.Item label={t('note')}>{ver.note || '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('hash')}>
                    <span className="fc-num" style={{ fontSize: 12 }}>
                      {ver.hash.slice(0, 16)}…
                    </span>
                  </Descriptions.Item>
                </Descriptions>
              </Card>
              {rules.data && <DiffCard rules={rules.data} version={ver} inForce={inForce.data ?? null} loading={inForce.loading} />}
              {rules.data && (
                <Card size="small" title={t('allParams')}>
                  <Table<RuleDef>
                    size="small"
                    pagination={false}
                    rowKey="id"
                    dataSource={rules.data}
                    scroll={{ x: 'max-content' }}
                    columns={[
                      { title: t('rule'), key: 'rule', render: (_: unknown, r) => <RuleName id={r.id} rules={rules.data} /> },
                      { title: t('thisVersion'), key: 'p', render: (_: unknown, r) => <ParamSummary rule={r} params={ver.params[r.id]} base={r.defaults} /> },
                    ]}
                  />
                </Card>
              )}
              {rejecting && (
                <RejectModal
                  id={ver.id}
                  onClose={(changed) => {
                    setRejecting(false);
                    if (changed) version.reload();
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

function DiffCard({ rules, version, inForce, loading }: { rules: RuleDef[]; version: ParamVersion; inForce: ParamVersion | null; loading: boolean }) {
  const t = useT(rk);
  const f = useT(FIELD_NAMES);
  const text = useParamText();
  const scopeText = useScopeText();
  // Compared with the scope's version in force (itself when this one is in force: then with the built-in defaults).
  const against = inForce && inForce.id !== version.id ? inForce : null;
  const before = against ? against.params : defaultsOf(rules);
  const rows = useMemo(() => diffParams(rules, before, version.params), [rules, before, version.params]);
  const what = against ? `#${against.id} ${scopeText(against.scope, against.scopeKey)} · v${against.version}` : t('builtIn');
  return (
    <Card size="small" title={t('diffTitle')} style={{ marginBottom: 16 }} loading={loading} data-testid="version-diff">
      <Typography.Paragraph type="secondary" data-testid="version-diff-against">
        {t('diffAgainst', { what })}
      </Typography.Paragraph>
      {rows.length === 0 ? (
        <Typography.Text data-testid="version-no-diff">{t('noDiff')}</Typography.Text>
      ) : (
        <Table<DiffRow>
          size="small"
          pagination={false}
          rowKey="key"
          dataSource={rows}
          onRow={(r) => ({ 'data-testid': 'diff-row', 'data-field': r.key }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            { title: t('rule'), dataIndex: 'rule', render: (v: string) => <RuleName id={v} rules={rules} /> },
            { title: t('field'), dataIndex: 'field', render: (v: string) => f(v) },
            { title: t('inForce'), key: 'b', render: (_: unknown, r) => <span data-testid="diff-before">{text(r.field, r.before)}</span> },
            { title: t('thisVersion'), key: 'a', render: (_: unknown, r) => <span data-testid="diff-after" style={{ fontWeight: 600, color: '#d46b08' }}>{text(r.field, r.after)}</span> },
          ]}
        />
      )}
    </Card>
  );
}

function RejectModal({ id, onClose }: { id: number; onClose: (changed: boolean) => void }) {
  const t = useT(rk);
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = async () => {
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      await api.request('POST', `${V}/${id}/reject`, { body: { reason: v.reason.trim() } });
      onClose(true);
    });
  };
  return (
    <FormModal title={t('rejectTitle')} onCancel={() => onClose(false)} onOk={() => void submit()} busy={sending.busy} submitTestId="reject-submit" okText={t('reject')}>
      <Form form={form} layout="vertical">
        <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('reasonRequired') }]}>
          <Input.TextArea rows={3} maxLength={500} data-testid="reject-reason" />
        </Form.Item>
      </Form>
      <ErrorAlert error={sending.error} />
    </FormModal>
  );
}

// ---- the draft editor ----

/** Form values: fen fields as yuan strings, numbers as numbers, null limits as empty. */
type FormRule = Record<string, unknown>;

function toForm(rules: RuleDef[], params: ParamsSet): Record<string, FormRule> {
  const out: Record<string, FormRule> = {};
  for (const r of rules) {
    const p = params[r.id] ?? r.defaults;
    const o: FormRule = { enabled: p.enabled, shadow: p.shadow, outcome: p.outcome };
    for (const k of ruleFields(r)) {
      const v = p[k];
      o[k] = v === null || v === undefined ? null : isFenField(k) && typeof v === 'number' ? (v / 100).toFixed(2) : v;
    }
    out[r.id] = o;
  }
  return out;
}

/**
 * Back to the wire. A value that is not a number is sent as it is (null, or the text) so the
 * server's validation names the field: the form shows its words, not a second set of rules.
 */
function fromForm(rules: RuleDef[], values: Record<string, FormRule>): ParamsSet {
  const out: ParamsSet = {};
  for (const r of rules) {
    const f = values[r.id] ?? {};
    const o: RuleParams = { enabled: Boolean(f.enabled), shadow: Boolean(f.shadow), outcome: String(f.outcome ?? '') };
    for (const k of ruleFields(r)) {
      const v = f[k];
      if (v === null || v === undefined || v === '') o[k] = null;
      else if (isFenField(k)) o[k] = parseYuan(String(v)) ?? String(v);
      else o[k] = typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    }
    out[r.id] = o;
  }
  return out;
}

/** "/sale_amount/maxAmount must be >= 0" → ['sale_amount', 'maxAmount'] and the message. */
function parseParamError(e: string): { path: string[]; message: string } {
  const i = e.indexOf(' ');
  const p = i < 0 ? e : e.slice(0, i);
  return { path: p.split('/').filter(Boolean), message: i < 0 ? '' : e.slice(i + 1) };
}

const SCOPE_KEY = /^[a-z0-9_]{1,40}$/;

/** 新建参数草稿: a form generated from each rule's parameter schema. */
export function DraftPage() {
  const t = useT(rk);
  const f = useT(FIELD_NAMES);
  const { lang } = useLang();
  const w = useWord();
  const { api } = useSession();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const baseId = /^[0-9]{1,15}$/.test(params.get('base') ?? '') ? Number(params.get('base')) : null;
  const rules = useRules();
  const published = usePublished();
  const base = useLoad(() => (baseId ? api.request<ParamVersion>('GET', `${V}/${baseId}`) : Promise.resolve(null)), [api, baseId]);
  const [form] = Form.useForm();
  const scope = Form.useWatch('scope', form) as string | undefined;
  const sending = useSending();
  const [fieldErrors, setFieldErrors] = useState<string[]>([]);
  const [ready, setReady] = useState(false);

  // Fill the form once the catalogue (and the base version) are known.
  useEffect(() => {
    if (ready || !rules.data || base.loading) return;
    const b = base.data;
    form.setFieldsValue({
      scope: b?.scope ?? 'programme',
      scopeKey: b?.scopeKey ?? 'default',
      baseFrom: b ? `v${b.id}` : 'defaults',
      params: toForm(rules.data, b?.params ?? defaultsOf(rules.data)),
    });
    setReady(true);
  }, [rules.data, base.data, base.loading, ready, form]);

  const startFrom = (key: string) => {
    if (!rules.data) return;
    const src = key === 'defaults' ? defaultsOf(rules.data) : (published.data?.find((v) => `v${v.id}` === key)?.params ?? (base.data && `v${base.data.id}` === key ? base.data.params : defaultsOf(rules.data)));
    form.setFieldsValue({ params: toForm(rules.data, src) });
  };

  const submit = async () => {
    if (!rules.data) return;
    const v = await form.validateFields(['scope', 'scopeKey', 'note']).catch(() => null);
    if (!v) return;
    // Clear the server's earlier field errors before sending again.
    form.setFields(rules.data.flatMap((r) => ['enabled', 'shadow', 'outcome', ...ruleFields(r)].map((k) => ({ name: ['params', r.id, k], errors: [] }))));
    setFieldErrors([]);
    const all = form.getFieldsValue(true) as { params: Record<string, FormRule>; scope: string; scopeKey: string; note?: string };
    await sending.run(
      async () => {
        const created = await api.request<ParamVersion>('POST', V, {
          body: { scope: all.scope, scopeKey: all.scope === 'programme' ? 'default' : String(all.scopeKey).trim(), params: fromForm(rules.data!, all.params), ...(all.note?.trim() ? { note: all.note.trim() } : {}) },
        });
        message.success(t('draftSaved'));
        navigate(`/risk-rules/versions/${created.id}`);
      },
      (err) => {
        if (!(err instanceof ApiError) || err.code !== 'RISK_PARAMS_INVALID') return;
        const details = err.details as { field?: string; errors?: string[] } | undefined;
        const list = details?.errors?.length ? details.errors : details?.field ? [`/${details.field.replace(/^body\.(params|patch)\.?/, '').replace(/\./g, '/')} invalid`] : [];
        const byField = new Map<string, string[]>();
        const other: string[] = [];
        for (const e of list) {
          const { path, message: m } = parseParamError(e);
          const [ruleId, field] = path;
          const rule = rules.data!.find((r) => r.id === ruleId);
          if (rule && field && (field in (rule.schema.properties ?? {}) || field in rule.defaults)) {
            const k = `${ruleId}.${field}`;
            const { schema } = numberSchema(rule.schema.properties?.[field]);
            const words = schema && schema.minimum !== undefined && schema.maximum !== undefined ? t('range', { min: fmtBound(field, schema.minimum), max: fmtBound(field, schema.maximum) }) : t('draftInvalid');
            byField.set(k, [...(byField.get(k) ?? []), `${words} (${m})`]);
          } else other.push(e);
        }
        // ajv reports each branch of a nullable field: one message per field is enough.
        form.setFields([...byField].map(([k, msgs]) => ({ name: ['params', ...k.split('.')], errors: [msgs[0]!] })));
        setFieldErrors(other);
        const first = [...byField.keys()][0];
        if (first) form.scrollToField(['params', ...first.split('.')]);
      },
    );
  };

  return (
    <div>
      <BackLink to="/risk-rules">{t('backToRules')}</BackLink>
      <PageHeader title={t('draftTitle')} />
      <ErrorAlert error={rules.error ?? base.error} />
      {rules.data && (
        <Form form={form} layout="vertical" onFinish={() => void submit()} data-testid="draft-form">
          <Card size="small" style={{ marginBottom: 16 }}>
            <Row gutter={16}>
              <Col xs={24} md={6}>
                <Form.Item name="scope" label={t('scope')} rules={[{ required: true }]}>
                  <Select
                    options={SCOPES.map((s) => ({ value: s, label: w('scope', s) }))}
                    onChange={(s: string) => form.setFieldValue('scopeKey', s === 'programme' ? 'default' : s === 'segment' ? 'personal' : '')}
                    data-testid="draft-scope"
                  />
                </Form.Item>
              </Col>
              <Col xs={24} md={6}>
                {scope === 'segment' ? (
                  <Form.Item name="scopeKey" label={t('scopeKey')} rules={[{ required: true }]}>
                    <Select options={SEGMENTS.map((s) => ({ value: s, label: w('segment', s) }))} data-testid="draft-scope-key" />
                  </Form.Item>
                ) : scope === 'enterprise' ? (
                  <Form.Item name="scopeKey" label={t('masterCardId')} rules={[{ required: true, pattern: /^[1-9][0-9]{0,17}$/, message: t('masterCardIdRequired') }]}>
                    <Input inputMode="numeric" data-testid="draft-scope-key" />
                  </Form.Item>
                ) : (
                  <Form.Item name="scopeKey" label={t('scopeKey')} rules={[{ pattern: SCOPE_KEY }]}>
                    <Input disabled data-testid="draft-scope-key" />
                  </Form.Item>
                )}
              </Col>
              <Col xs={24} md={12}>
                <Form.Item name="baseFrom" label={t('base')}>
                  <Select
                    onChange={startFrom}
                    data-testid="draft-base"
                    options={[
                      { value: 'defaults', label: t('builtIn') },
                      ...(base.data && !published.data?.some((p) => p.id === base.data!.id) ? [base.data] : []).concat(published.data ?? []).map((p) => ({ value: `v${p.id}`, label: `#${p.id} ${w('scope', p.scope)} ${p.scopeKey} · v${p.version} · ${w('status', p.status)}` })),
                    ]}
                  />
                </Form.Item>
              </Col>
              <Col span={24}>
                <Form.Item name="note" label={t('note')}>
                  <Input maxLength={500} data-testid="draft-note" />
                </Form.Item>
              </Col>
            </Row>
          </Card>
          {fieldErrors.length > 0 && <Alert type="error" showIcon title={t('draftInvalid')} description={fieldErrors.join('; ')} style={{ marginBottom: 12 }} />}
          <Row gutter={[16, 16]}>
            {rules.data.map((r) => (
              <Col xs={24} lg={12} key={r.id}>
                <Card size="small" title={lang === 'en' ? r.en : r.zh} extra={<span className="fc-num" style={{ fontSize: 12, color: '#888' }}>{r.id}</span>} data-testid="draft-rule" data-rule={r.id}>
                  <Space wrap size="large" align="start">
                    <Form.Item name={['params', r.id, 'enabled']} label={t('enabled')} valuePropName="checked">
                      <Switch data-testid={`draft-${r.id}-enabled`} />
                    </Form.Item>
                    <Form.Item name={['params', r.id, 'shadow']} label={t('shadow')} valuePropName="checked" tooltip={t('shadowHint')}>
                      <Switch data-testid={`draft-${r.id}-shadow`} />
                    </Form.Item>
                    <Form.Item name={['params', r.id, 'outcome']} label={t('outcome')}>
                      <OutcomeSelect allowClear={false} testId={`draft-${r.id}-outcome`} style={{ minWidth: 150 }} />
                    </Form.Item>
                  </Space>
                  <Row gutter={12}>
                    {ruleFields(r).map((k) => {
                      const { schema, nullable } = numberSchema(r.schema.properties?.[k]);
                      const fen = isFenField(k);
                      const hint = [
                        fen ? t('fenAsYuan') : null,
                        schema?.minimum !== undefined && schema.maximum !== undefined ? t('range', { min: fmtBound(k, schema.minimum), max: fmtBound(k, schema.maximum) }) : null,
                        nullable ? `${t('nullable')}: ∅` : null,
                      ]
                        .filter(Boolean)
                        .join(' · ');
                      return (
                        <Col xs={24} sm={12} key={k}>
                          <Form.Item name={['params', r.id, k]} label={f(k)} extra={hint}>
                            <InputNumber
                              stringMode={fen}
                              precision={fen ? 2 : undefined}
                              step={schema?.type === 'integer' ? 1 : fen ? 1 : 0.1}
                              placeholder={nullable ? t('nullable') : undefined}
                              style={{ width: '100%' }}
                              data-testid={`draft-${r.id}-${k}`}
                              aria-label={`${lang === 'en' ? r.en : r.zh} ${f(k)}`}
                            />
                          </Form.Item>
                        </Col>
                      );
                    })}
                  </Row>
                </Card>
              </Col>
            ))}
          </Row>
          <ErrorAlert error={sending.error} testId="draft-error" style={{ marginTop: 16 }} />
          <Space style={{ marginTop: 16 }}>
            <Button type="primary" htmlType="submit" loading={sending.busy} data-testid="draft-save">
              {t('createDraft')}
            </Button>
          </Space>
        </Form>
      )}
    </div>
  );
}

function fmtBound(field: string, n: number): string {
  return isFenField(field) ? `¥${(n / 100).toLocaleString('en-US')}` : String(n);
}
