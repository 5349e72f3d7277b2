import { useEffect, useState, type HTMLAttributes, type ReactNode } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Select, Space, Switch, Table, Tag, Tooltip, Typography, Button } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ApiOutlined, ReloadOutlined } from '@ant-design/icons';
import { dateTime } from '../shared/format';
import { useLang, useT, type Dict } from '../shared/i18n';
import { LoadState, useLoad } from '../shared/ui';
import { useSession } from './session';
import type { AdminPage } from './pages';
import { EmptyText, ListError, MoreFooter, PageHeader, mono, useCursorList, type Page } from './pages-b/common';
import { BackLink, FilterBar } from './pages-forecourt/common';
import { KeyCeremonyAction } from './pages-terminal-host-ceremony';

/**
 * 终端主机 (issue 6 §6): the ISO 8583 terminals with their connection and sign-on state and message
 * rates, and per terminal the masked message log for support. Both refresh on their own.
 */

const th: Dict = {
  title: { zh: '终端主机', en: 'Terminal host' },
  logTitle: { zh: '报文日志 · {iso}（{id}）', en: 'Message log · {iso} ({id})' },
  back: { zh: '返回终端列表', en: 'Back to the terminals' },
  running: { zh: '主机运行中 · 端口 {port}', en: 'Host running · port {port}' },
  notRunning: { zh: '本实例未运行终端主机', en: 'Terminal host not running in this instance' },
  autoRefresh: { zh: '自动刷新', en: 'Auto-refresh' },
  refresh: { zh: '刷新', en: 'Refresh' },
  updatedAt: { zh: '更新于 {t}', en: 'Updated {t}' },
  truncated: { zh: '仅显示前 {n} 台终端', en: 'Only the first {n} terminals are shown' },
  de41: { zh: '终端标识 (DE 41)', en: 'Terminal ID (DE 41)' },
  terminal: { zh: '平台终端号', en: 'Platform terminal' },
  station: { zh: '油站', en: 'Station' },
  status: { zh: '状态', en: 'Status' },
  online: { zh: '在线', en: 'Online' },
  offline: { zh: '离线', en: 'Offline' },
  signedOn: { zh: '已签到', en: 'Signed on' },
  signedOff: { zh: '未签到', en: 'Not signed on' },
  disabled: { zh: '已停用', en: 'Disabled' },
  lastSignOn: { zh: '最近签到', en: 'Last sign-on' },
  lastMessage: { zh: '最近报文', en: 'Last message' },
  rate: { zh: '报文/分钟', en: 'Msgs/min' },
  messages1h: { zh: '近1小时报文', en: 'Msgs 1 h' },
  errors1h: { zh: '近1小时错误', en: 'Errors 1 h' },
  errors24h: { zh: '24小时错误', en: 'Errors 24 h' },
  keys: { zh: '密钥', en: 'Keys' },
  keyVersions: { zh: 'MAC 密钥 v{tak} · PIN 密钥 v{tpk}', en: 'MAC key v{tak} · PIN key v{tpk}' },
  noSession: { zh: '尚未签到', en: 'Never signed on' },
  openLog: { zh: '报文日志', en: 'Message log' },
  time: { zh: '时间', en: 'Time' },
  mti: { zh: '报文类型', en: 'MTI' },
  stan: { zh: '流水号', en: 'STAN' },
  action: { zh: '应答码', en: 'Action code' },
  outcome: { zh: '处理结果', en: 'Outcome' },
  anyOutcome: { zh: '全部结果', en: 'Any outcome' },
  errorsOnly: { zh: '只看错误', en: 'Errors only' },
  duration: { zh: '耗时', en: 'Time taken' },
  size: { zh: '字节', en: 'Bytes' },
  request: { zh: '请求（已脱敏）', en: 'Request (masked)' },
  response: { zh: '应答（已脱敏）', en: 'Response (masked)' },
  noResponse: { zh: '未应答', en: 'No answer' },
  undecodable: { zh: '无法解析：{n} 字节，SHA-256 {hash}', en: 'Undecodable: {n} bytes, SHA-256 {hash}' },
  detail: { zh: '说明', en: 'Detail' },
  maskedHint: {
    zh: '卡号仅显示前 6 后 4 位；PIN 块、MAC 与密钥只显示长度。',
    en: 'Card numbers show the first 6 and last 4 digits; PIN blocks, MACs and keys show only their length.',
  },
  o_OK: { zh: '正常', en: 'OK' },
  o_DUPLICATE: { zh: '重复请求（原应答重发）', en: 'Repeat (first answer resent)' },
  o_FORMAT_ERROR: { zh: '格式错误', en: 'Format error' },
  o_UNKNOWN_MTI: { zh: '未知报文类型', en: 'Unknown MTI' },
  o_UNKNOWN_TERMINAL: { zh: '未知终端', en: 'Unknown terminal' },
  o_TERMINAL_DISABLED: { zh: '终端已停用', en: 'Terminal disabled' },
  o_MAC_MISSING: { zh: '缺少 MAC', en: 'MAC missing' },
  o_MAC_INVALID: { zh: 'MAC 校验失败', en: 'MAC invalid' },
  o_MAC_KEY_SYNC: { zh: 'MAC 密钥不同步', en: 'MAC key out of sync' },
  o_STALE_TRANSMISSION: { zh: '传输时间超出窗口', en: 'Transmission time outside the window' },
  o_REPLAY_CONFLICT: { zh: '流水号冲突', en: 'STAN conflict' },
  o_IN_PROGRESS: { zh: '处理中', en: 'In progress' },
  o_NOT_SIGNED_ON: { zh: '未签到', en: 'Not signed on' },
  o_UNSUPPORTED: { zh: '不支持的交易', en: 'Not supported' },
  o_HANDLER_FAILED: { zh: '处理失败', en: 'Handler failed' },
  o_INTERNAL: { zh: '主机内部错误', en: 'Host internal error' },
};

const OUTCOMES = Object.keys(th)
  .filter((k) => k.startsWith('o_'))
  .map((k) => k.slice(2));
const REFRESH_MS = 10_000;

interface HostTerminal {
  terminalId: string;
  isoTerminalId: string;
  stationId: number;
  stationCode: string;
  stationName: string;
  terminalStatus: string;
  enabled: boolean;
  keyAlgorithm: string;
  macAlgorithm: string;
  pinFormat: number;
  framing: string;
  signedOn: boolean;
  signedOnAt: string | null;
  signedOffAt: string | null;
  takVersion: number | null;
  tpkVersion: number | null;
  lastMessageAt: string | null;
  lastLoggedAt: string | null;
  connected: boolean;
  connections: number;
  remoteAddresses: string[];
  messages1h: number;
  errors1h: number;
  messages24h: number;
  errors24h: number;
  messagesPerMinute: number;
}

interface HostTerminals {
  running: boolean;
  port: number | null;
  generatedAt: string;
  truncated: boolean;
  items: HostTerminal[];
}

interface Masked {
  mti?: string;
  fields?: Record<string, unknown>;
  undecodable?: boolean;
  length?: number;
  sha256?: string;
}

interface LoggedMessage {
  id: string;
  receivedAt: string;
  connId: string;
  mti: string | null;
  responseMti: string | null;
  stan: string | null;
  actionCode: string | null;
  actionMeaning: { zh: string; en: string } | null;
  outcome: string;
  error: boolean;
  detail: string | null;
  durationMs: number;
  requestBytes: number;
  responseBytes: number | null;
  request: Masked;
  response: Masked | null;
}

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{v ? dateTime(v) : '—'}</span>;

/** Runs `tick` every REFRESH_MS while `on`. */
function useAutoRefresh(on: boolean, tick: () => void) {
  useEffect(() => {
    if (!on) return undefined;
    const id = window.setInterval(tick, REFRESH_MS);
    return () => window.clearInterval(id);
  }, [on, tick]);
}

function RefreshControls({ on, setOn, reload, at }: { on: boolean; setOn: (v: boolean) => void; reload: () => void; at?: string }) {
  const t = useT(th);
  return (
    <Space>
      {at && (
        <Typography.Text type="secondary" data-testid="th-updated">
          {t('updatedAt', { t: dateTime(at) })}
        </Typography.Text>
      )}
      <Switch checked={on} onChange={setOn} data-testid="th-auto-refresh" aria-label={t('autoRefresh')} />
      <span>{t('autoRefresh')}</span>
      <Button icon={<ReloadOutlined />} onClick={reload} data-testid="th-refresh">
        {t('refresh')}
      </Button>
    </Space>
  );
}

function OutcomeTag({ outcome, error }: { outcome: string; error: boolean }) {
  const t = useT(th);
  const color = outcome === 'OK' ? 'green' : outcome === 'DUPLICATE' ? 'blue' : error && /MAC|TERMINAL|INTERNAL|FAILED/.test(outcome) ? 'red' : 'orange';
  return (
    <Tag color={color} data-testid="th-outcome" data-outcome={outcome}>
      {th[`o_${outcome}`] ? t(`o_${outcome}`) : outcome}
    </Tag>
  );
}

export function TerminalHostPage() {
  const t = useT(th);
  const { api } = useSession();
  const [auto, setAuto] = useState(true);
  const list = useLoad(() => api.request<HostTerminals>('GET', '/api/v1/terminal-host/terminals'), [api]);
  useAutoRefresh(auto, list.reload);
  const columns: ColumnsType<HostTerminal> = [
    {
      title: t('de41'),
      dataIndex: 'isoTerminalId',
      render: (v: string, r) => (
        <Link to={`/terminal-host/${r.terminalId}`} data-testid="th-open" style={mono}>
          {v}
        </Link>
      ),
    },
    { title: t('terminal'), dataIndex: 'terminalId', render: (v: string) => <span style={mono}>{v}</span> },
    { title: t('station'), dataIndex: 'stationName', render: (v: string, r) => <Tooltip title={r.stationCode}>{v}</Tooltip> },
    {
      title: t('status'),
      key: 'status',
      render: (_: unknown, r) => (
        <Space size={4} wrap>
          <Tooltip title={r.remoteAddresses.join(', ') || undefined}>
            <Tag color={r.connected ? 'green' : 'default'} data-testid="th-connected" data-connected={String(r.connected)}>
              {r.connected ? t('online') : t('offline')}
            </Tag>
          </Tooltip>
          <Tag color={r.signedOn ? 'blue' : 'default'} data-testid="th-signed-on" data-signed-on={String(r.signedOn)}>
            {r.signedOn ? t('signedOn') : t('signedOff')}
          </Tag>
          {(!r.enabled || r.terminalStatus !== 'active') && <Tag color="red">{t('disabled')}</Tag>}
        </Space>
      ),
    },
    { title: t('lastSignOn'), dataIndex: 'signedOnAt', render: time },
    { title: t('lastMessage'), key: 'last', render: (_: unknown, r) => time(r.lastLoggedAt ?? r.lastMessageAt) },
    { title: t('rate'), dataIndex: 'messagesPerMinute', align: 'right', render: (v: number) => <span className="fc-num" data-testid="th-rate">{v}</span> },
    { title: t('messages1h'), dataIndex: 'messages1h', align: 'right', render: (v: number) => <span className="fc-num" data-testid="th-messages-1h">{v}</span> },
    {
      title: t('errors1h'),
      dataIndex: 'errors1h',
      align: 'right',
      render: (v: number) => (
        <span className="fc-num" data-testid="th-errors-1h" style={v > 0 ? { color: '#cf1322', fontWeight: 600 } : undefined}>
          {v}
        </span>
      ),
    },
    { title: t('errors24h'), dataIndex: 'errors24h', align: 'right', render: (v: number) => <span className="fc-num">{v}</span> },
    {
      title: t('keys'),
      key: 'keys',
      render: (_: unknown, r) => (
        <Tooltip title={r.takVersion !== null ? t('keyVersions', { tak: r.takVersion, tpk: r.tpkVersion ?? '—' }) : t('noSession')}>
          <span style={{ whiteSpace: 'nowrap' }}>
            {r.macAlgorithm} · {r.framing}
          </span>
        </Tooltip>
      ),
    },
  ];
  return (
    <div>
      <PageHeader
        title={
          <Space>
            <ApiOutlined />
            {t('title')}
            {list.data && (
              <Tag color={list.data.running ? 'green' : 'default'} data-testid="th-running">
                {list.data.running ? t('running', { port: list.data.port ?? '' }) : t('notRunning')}
              </Tag>
            )}
          </Space>
        }
        extra={
          <Space wrap>
            <RefreshControls on={auto} setOn={setAuto} reload={list.reload} at={list.data?.generatedAt} />
            <KeyCeremonyAction port={list.data?.port ?? null} onDone={list.reload} />
          </Space>
        }
      />
      <LoadState value={list}>
        {(d) => (
          <>
            {d.truncated && <Typography.Paragraph type="warning">{t('truncated', { n: d.items.length })}</Typography.Paragraph>}
            <Table<HostTerminal>
              size="small"
              rowKey="terminalId"
              pagination={false}
              scroll={{ x: 'max-content' }}
              dataSource={d.items}
              columns={columns}
              locale={{ emptyText: <EmptyText /> }}
              onRow={(r) => ({ 'data-testid': 'th-terminal-row', 'data-terminal-id': r.terminalId, 'data-iso-terminal-id': r.isoTerminalId }) as HTMLAttributes<HTMLElement>}
            />
          </>
        )}
      </LoadState>
    </div>
  );
}

function FieldsView({ title, value, testId }: { title: string; value: Masked | null; testId: string }) {
  const t = useT(th);
  let body: ReactNode;
  if (!value) body = <Typography.Text type="secondary">{t('noResponse')}</Typography.Text>;
  else if (value.undecodable) body = <Typography.Text type="warning">{t('undecodable', { n: value.length ?? 0, hash: value.sha256 ?? '' })}</Typography.Text>;
  else {
    const rows = Object.entries(value.fields ?? {}).map(([n, v]) => ({ n: Number(n), v: typeof v === 'string' ? v : JSON.stringify(v) }));
    body = (
      <Table
        size="small"
        pagination={false}
        rowKey="n"
        dataSource={rows}
        columns={[
          { title: 'DE', dataIndex: 'n', width: 64 },
          { title: value.mti ?? '', dataIndex: 'v', render: (v: string) => <span style={{ ...mono, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{v}</span> },
        ]}
        onRow={(r) => ({ 'data-testid': `${testId}-field`, 'data-field': r.n }) as HTMLAttributes<HTMLElement>}
      />
    );
  }
  return (
    <div style={{ flex: '1 1 360px', minWidth: 0 }} data-testid={testId}>
      <Typography.Text strong>{title}</Typography.Text>
      <div style={{ marginTop: 4 }}>{body}</div>
    </div>
  );
}

export function TerminalMessagesPage() {
  const t = useT(th);
  const { lang } = useLang();
  const { api } = useSession();
  const { terminalId = '' } = useParams();
  const [auto, setAuto] = useState(true);
  const [outcome, setOutcome] = useState<string | undefined>();
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [iso, setIso] = useState<string>('');
  const list = useCursorList<LoggedMessage>(
    (cursor) =>
      api
        .request<Page<LoggedMessage> & { isoTerminalId: string }>('GET', `/api/v1/terminal-host/terminals/${encodeURIComponent(terminalId)}/messages`, {
          query: { limit: 50, cursor, outcome, errors: errorsOnly ? 'true' : undefined },
        })
        .then((p) => {
          setIso(p.isoTerminalId);
          return p;
        }),
    `${terminalId}|${outcome ?? ''}|${errorsOnly}`,
  );
  // Refreshing reloads the first page: stop while older pages are open, so they do not vanish under the reader.
  useAutoRefresh(auto && list.items.length <= 50, list.reload);
  const columns: ColumnsType<LoggedMessage> = [
    { title: t('time'), dataIndex: 'receivedAt', render: time },
    {
      title: t('mti'),
      key: 'mti',
      render: (_: unknown, r) => (
        <span style={mono} data-testid="th-mti">
          {r.mti ?? '—'}
          {r.responseMti ? ` → ${r.responseMti}` : ''}
        </span>
      ),
    },
    { title: t('stan'), dataIndex: 'stan', render: (v: string | null) => <span style={mono}>{v ?? '—'}</span> },
    {
      title: t('action'),
      key: 'action',
      render: (_: unknown, r) =>
        r.actionCode ? (
          <span data-testid="th-action" data-code={r.actionCode}>
            <Tag color={r.actionCode.startsWith('0') || r.actionCode === '800' || r.actionCode === '400' ? 'green' : 'volcano'} style={mono}>
              {r.actionCode}
            </Tag>
            {r.actionMeaning ? (lang === 'en' ? r.actionMeaning.en : r.actionMeaning.zh) : ''}
          </span>
        ) : (
          '—'
        ),
    },
    { title: t('outcome'), key: 'outcome', render: (_: unknown, r) => <OutcomeTag outcome={r.outcome} error={r.error} /> },
    { title: t('duration'), dataIndex: 'durationMs', align: 'right', render: (v: number) => <span className="fc-num">{v} ms</span> },
    { title: t('size'), key: 'size', align: 'right', render: (_: unknown, r) => <span className="fc-num">{r.requestBytes} / {r.responseBytes ?? '—'}</span> },
  ];
  return (
    <div>
      <BackLink to="/terminal-host">{t('back')}</BackLink>
      <PageHeader title={t('logTitle', { iso: iso || '…', id: terminalId })} extra={<RefreshControls on={auto} setOn={setAuto} reload={list.reload} />} />
      <FilterBar>
        <Select
          value={outcome}
          onChange={(v) => setOutcome(v ?? undefined)}
          allowClear
          placeholder={t('anyOutcome')}
          options={OUTCOMES.map((o) => ({ value: o, label: t(`o_${o}`) }))}
          style={{ minWidth: 200 }}
          data-testid="th-filter-outcome"
          aria-label={t('outcome')}
        />
        <Switch checked={errorsOnly} onChange={setErrorsOnly} data-testid="th-filter-errors" aria-label={t('errorsOnly')} />
        <span>{t('errorsOnly')}</span>
        <Typography.Text type="secondary">{t('maskedHint')}</Typography.Text>
      </FilterBar>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<LoggedMessage>
        size="small"
        rowKey="id"
        pagination={false}
        loading={list.loading && !list.loaded}
        scroll={{ x: 'max-content' }}
        dataSource={list.items}
        columns={columns}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(r) => ({ 'data-testid': 'th-message-row', 'data-message-id': r.id, 'data-mti': r.mti ?? '', 'data-outcome': r.outcome }) as HTMLAttributes<HTMLElement>}
        expandable={{
          expandedRowRender: (r) => (
            <div style={{ display: 'flex', gap: 16, flexWrap: 'wrap' }}>
              {r.detail && (
                <div style={{ flexBasis: '100%' }}>
                  <Typography.Text type="secondary">
                    {t('detail')}: {r.detail}
                  </Typography.Text>
                </div>
              )}
              <FieldsView title={t('request')} value={r.request} testId="th-request" />
              <FieldsView title={t('response')} value={r.response} testId="th-response" />
            </div>
          ),
        }}
      />
      <MoreFooter list={list} testId="th-messages" />
    </div>
  );
}

export const pagesTerminalHost: AdminPage[] = [
  {
    path: 'terminal-host',
    menu: { key: 'terminal-host', zh: '终端主机', en: 'Terminal host', icon: <ApiOutlined />, order: 79 },
    requires: { method: 'GET', url: '/api/v1/terminal-host/terminals' },
    element: <TerminalHostPage />,
  },
  { path: 'terminal-host/:terminalId', requires: { method: 'GET', url: '/api/v1/terminal-host/terminals/:terminalId/messages' }, element: <TerminalMessagesPage /> },
];
