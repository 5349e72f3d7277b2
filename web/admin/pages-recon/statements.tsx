import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { Alert, Button, Card, Checkbox, DatePicker, Descriptions, Form, Select, Space, Typography, Upload, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined, UploadOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { ApiError, errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, fromDay, isDay, toDay, useCursorList, useUrlFilters, type Page } from '../pages-b/common';
import { BackLink, CursorTable, FilterBar, FormModal, useSending } from '../pages-forecourt/common';
import { ChannelSelect, ChannelTag, StatementStatusTag, bytesText, feeYuan, fileToBase64, useChannelName } from './common';
import { rc } from './i18n';
import type { ImportAnswer, Statement, StatementLine, StatementWithLines } from './types';

const MAX_BYTES = 20 * 1024 * 1024;
const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;
const KEYS = ['channel', 'status', 'billDate'] as const;

/** Download the file exactly as it was received, with the bearer token (a plain link would carry none). */
export function useStatementDownload() {
  const { api } = useSession();
  const { lang } = useLang();
  const t = useT(rc);
  const [msg, holder] = message.useMessage();
  const [busy, setBusy] = useState<number>();
  const download = async (s: Pick<Statement, 'id' | 'fileName'>) => {
    setBusy(s.id);
    try {
      await api.download(`/api/v1/reconciliation/statements/${s.id}/file`, undefined, s.fileName);
    } catch (err) {
      msg.error(t('downloadFailed', { msg: errorText(err, lang) }));
    } finally {
      setBusy(undefined);
    }
  };
  return { download, busy, holder };
}

/** 对账单: the statements fetched by the daily job or imported by finance, with the import itself. */
export function StatementsPage() {
  const t = useT(rc);
  const { api, can } = useSession();
  const { filters, key, apply } = useUrlFilters(KEYS);
  const [uploading, setUploading] = useState(false);
  const { download, busy, holder } = useStatementDownload();
  const [msg, msgHolder] = message.useMessage();
  const mayImport = can('POST', '/api/v1/reconciliation/statements');
  const mayDownload = can('GET', '/api/v1/reconciliation/statements/:id/file');

  const list = useCursorList<Statement>(
    (cursor) =>
      api.request<Page<Statement>>('GET', '/api/v1/reconciliation/statements', {
        query: { channel: filters.channel, status: filters.status, billDate: isDay(filters.billDate) ? filters.billDate : undefined, limit: 50, cursor },
      }),
    key,
  );

  const columns: ColumnsType<Statement> = [
    { title: '#', dataIndex: 'id', render: (v: number) => <Link to={`/recon-statements/${v}`} data-testid="statement-open">#{v}</Link> },
    { title: t('billDate'), dataIndex: 'billDate', render: (v: string) => <span className="fc-num">{v}</span> },
    { title: t('channel'), dataIndex: 'channel', render: (v: string) => <ChannelTag channel={v} /> },
    { title: t('status'), dataIndex: 'status', render: (v: string, r) => <StatementStatusTag status={v} rejection={r.rejection} /> },
    { title: t('source'), dataIndex: 'source', render: (v: string) => t(`source_${v}`) },
    {
      title: t('fileName'),
      dataIndex: 'fileName',
      // Bank exports carry long names: keep the row to one line, the full name on hover.
      render: (v: string, r) => (
        <span title={v} style={{ display: 'inline-block', maxWidth: 280, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', verticalAlign: 'bottom' }}>
          {v} <Typography.Text type="secondary">({bytesText(r.sizeBytes)})</Typography.Text>
        </span>
      ),
    },
    { title: t('lines'), dataIndex: 'lineCount', align: 'right' },
    { title: t('payments'), key: 'payments', align: 'right', render: (_: unknown, r) => <span className="fc-num">{r.paymentCount} / {yuan(r.paymentTotal)}</span> },
    { title: t('refunds'), key: 'refunds', align: 'right', render: (_: unknown, r) => <span className="fc-num">{r.refundCount} / {yuan(r.refundTotal)}</span> },
    { title: t('fees'), dataIndex: 'feeTotalMfen', align: 'right', render: (v: number) => <span className="fc-num">{feeYuan(v)}</span> },
    { title: t('createdAt'), dataIndex: 'createdAt', render: time },
    {
      title: t('actions'),
      key: 'actions',
      render: (_: unknown, r) =>
        mayDownload && (
          <Button size="small" icon={<DownloadOutlined />} loading={busy === r.id} onClick={() => void download(r)} data-testid="statement-download">
            {t('download')}
          </Button>
        ),
    },
  ];

  return (
    <div>
      {holder}
      {msgHolder}
      <PageHeader
        title={t('statementsTitle')}
        extra={
          mayImport && (
            <Button type="primary" icon={<UploadOutlined />} onClick={() => setUploading(true)} data-testid="statement-upload">
              {t('upload')}
            </Button>
          )
        }
      />
      <FilterBar>
        <ChannelSelect value={filters.channel} onChange={(v) => apply({ ...filters, channel: v })} testId="statements-filter-channel" />
        <Select
          value={filters.status}
          onChange={(v) => apply({ ...filters, status: v ?? undefined })}
          allowClear
          placeholder={t('anyStatus')}
          options={['accepted', 'rejected'].map((s) => ({ value: s, label: t(`statementStatus_${s}`) }))}
          style={{ minWidth: 140 }}
          data-testid="statements-filter-status"
          aria-label={t('status')}
        />
        <DatePicker value={toDay(filters.billDate)} onChange={(d: Dayjs | null) => apply({ ...filters, billDate: fromDay(d) })} placeholder={t('billDate')} data-testid="statements-filter-day" aria-label={t('billDate')} />
      </FilterBar>
      <CursorTable<Statement> list={list} testId="statements" rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'statements-row', 'data-statement-id': r.id, 'data-status': r.status })} />
      {uploading && <UploadModal onClose={() => setUploading(false)} onImported={list.reload} notify={(text, ok) => (ok ? msg.success(text) : msg.warning(text, 8))} />}
    </div>
  );
}

/** Import: channel, bill date, the file (read in the browser as base64; the server keeps the bytes as received). */
function UploadModal({ onClose, onImported, notify }: { onClose: () => void; onImported: () => void; notify: (text: string, ok: boolean) => void }) {
  const t = useT(rc);
  const { lang } = useLang();
  const { api } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const [file, setFile] = useState<File>();
  const [needsReplace, setNeedsReplace] = useState(false);
  const sending = useSending();

  const submit = async () => {
    // An invalid form shows its own messages; nothing to send.
    const v = await form.validateFields().catch(() => null);
    if (!file) form.setFields([{ name: 'file', errors: [t('fileRequired')] }]);
    if (!v || !file) return;
    await sending.run(
      async () => {
        const contentBase64 = await fileToBase64(file);
        const answer = await api.request<ImportAnswer>('POST', '/api/v1/reconciliation/statements', {
          body: { channel: v.channel, billDate: fromDay(v.billDate), fileName: file.name, contentBase64, ...(v.replace ? { replace: true } : {}) },
        });
        if (answer.runError) notify(t('runFailedAfterImport', { code: answer.runError }), false);
        else notify(t('imported', { n: answer.lineCount }), true);
        onImported();
        onClose();
        if (answer.run) navigate(`/recon-runs/${answer.run.id}`);
      },
      (err) => {
        if (err instanceof ApiError && err.code === 'RECON_STATEMENT_EXISTS') setNeedsReplace(true);
        // A refused file is kept on the server for the record: show it in the list too.
        if (err instanceof ApiError && err.status === 422) onImported();
      },
    );
  };

  const error = sending.error;
  return (
    <FormModal title={t('uploadTitle')} onCancel={onClose} onOk={() => void submit()} busy={sending.busy} submitTestId="statement-upload-submit" okText={t('upload')} width={560}>
      <Form form={form} layout="vertical" data-testid="statement-upload-form" initialValues={{ replace: false }}>
        <Form.Item name="channel" label={t('channel')} rules={[{ required: true, message: t('chooseChannel') }]}>
          <ChannelSelect allowClear={false} testId="statement-upload-channel" />
        </Form.Item>
        <Form.Item name="billDate" label={t('billDate')} extra={t('cstHint')} rules={[{ required: true, message: t('chooseBillDate') }]}>
          <DatePicker style={{ width: '100%' }} data-testid="statement-upload-day" />
        </Form.Item>
        <Form.Item name="file" label={t('file')} extra={t('fileHint')} required>
          <Upload
            maxCount={1}
            // Nothing is sent by the Upload itself: the file goes in the JSON body.
            beforeUpload={(f) => {
              if (f.size > MAX_BYTES) {
                form.setFields([{ name: 'file', errors: [t('fileTooBig')] }]);
                return Upload.LIST_IGNORE;
              }
              setFile(f);
              form.setFields([{ name: 'file', errors: [] }]);
              return false;
            }}
            onRemove={() => setFile(undefined)}
            data-testid="statement-upload-file"
          >
            <Button icon={<UploadOutlined />}>{t('chooseFile')}</Button>
          </Upload>
        </Form.Item>
        {needsReplace && (
          <Form.Item name="replace" valuePropName="checked" extra={t('replaceHint')}>
            <Checkbox data-testid="statement-upload-replace">{t('replace')}</Checkbox>
          </Form.Item>
        )}
      </Form>
      {error !== undefined && (
        <Alert type="error" showIcon role="alert" data-testid="statement-upload-error" title={error instanceof ApiError && error.status === 422 ? t('importRejected', { msg: errorText(error, lang) }) : errorText(error, lang)} />
      )}
    </FormModal>
  );
}

/** One statement: what the file said, and its lines (paged by line number). */
export function StatementDetailPage() {
  const t = useT(rc);
  const { id } = useParams();
  const { api, can } = useSession();
  const channelName = useChannelName();
  const { download, busy, holder } = useStatementDownload();
  const valid = /^[0-9]{1,18}$/.test(id ?? '');
  const fetchPage = (lineCursor: number | undefined, limit: number) =>
    valid
      ? api.request<StatementWithLines>('GET', `/api/v1/reconciliation/statements/${id}`, { query: { limit, lineCursor } })
      : Promise.reject(new ApiError(404, 'NOT_FOUND', t('notFound'), undefined));
  const s = useLoad(() => fetchPage(undefined, 1), [api, id]);
  const lines = useCursorList<StatementLine>(
    (cursor) => fetchPage(cursor === undefined ? undefined : Number(cursor), 100).then((p) => ({ items: p.lines, nextCursor: p.nextLineCursor === null ? null : String(p.nextLineCursor) })),
    String(id),
  );
  if (s.error instanceof ApiError && s.error.status === 404) {
    return <LocalResult status="404" title={t('notFound')} extra={<Link to="/recon-statements">{t('backToStatements')}</Link>} />;
  }
  const columns: ColumnsType<StatementLine> = [
    { title: t('lineNo'), dataIndex: 'lineNo', align: 'right' },
    { title: t('kind'), dataIndex: 'kind', render: (v: string) => t(`kind_${v}`) },
    { title: t('channelTxnId'), dataIndex: 'channelTxnId', render: (v: string | null) => <span className="fc-num">{v ?? '—'}</span> },
    { title: t('orderNo'), dataIndex: 'orderNo', render: (v: string | null) => <span className="fc-num">{v ?? '—'}</span> },
    { title: t('refundNo'), dataIndex: 'refundNo', render: (v: string | null) => <span className="fc-num">{v ?? '—'}</span> },
    { title: t('amount'), dataIndex: 'amount', align: 'right', render: (v: number) => <span className="fc-num">{yuan(v)}</span> },
    { title: t('fees'), dataIndex: 'feeMfen', align: 'right', render: (v: number) => <span className="fc-num">{feeYuan(v)}</span> },
    { title: t('channelStatus'), dataIndex: 'status' },
    { title: t('occurredAt'), dataIndex: 'occurredAt', render: time },
  ];
  return (
    <div>
      {holder}
      <BackLink to="/recon-statements">{t('backToStatements')}</BackLink>
      <LoadState value={s}>
        {(st) => (
          <>
            <PageHeader
              title={t('statementTitle', { id: st.id })}
              extra={
                <Space>
                  <Link to={`/recon-runs?channel=${st.channel}&billDate=${st.billDate}`}>{t('runsOfStatement')}</Link>
                  {can('GET', '/api/v1/reconciliation/statements/:id/file') && (
                    <Button icon={<DownloadOutlined />} loading={busy === st.id} onClick={() => void download(st)} data-testid="statement-download">
                      {t('download')}
                    </Button>
                  )}
                </Space>
              }
            />
            <Card size="small" style={{ marginBottom: 16 }}>
              <Descriptions size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
                <Descriptions.Item label={t('channel')}>{channelName(st.channel)}</Descriptions.Item>
                <Descriptions.Item label={t('billDate')}>{st.billDate}</Descriptions.Item>
                <Descriptions.Item label={t('status')}>
                  <StatementStatusTag status={st.status} />
                </Descriptions.Item>
                {st.rejection && <Descriptions.Item label={t('rejection')}>{rc[st.rejection] ? t(st.rejection) : st.rejection}</Descriptions.Item>}
                <Descriptions.Item label={t('source')}>{t(`source_${st.source}`)}</Descriptions.Item>
                <Descriptions.Item label={t('fileName')}>
                  {st.fileName} ({bytesText(st.sizeBytes)})
                </Descriptions.Item>
                <Descriptions.Item label={t('sha256')}>
                  <Typography.Text code copyable style={{ fontSize: 12 }}>
                    {st.sha256}
                  </Typography.Text>
                </Descriptions.Item>
                <Descriptions.Item label={t('lines')}>{st.lineCount}</Descriptions.Item>
                <Descriptions.Item label={t('payments')}>
                  {st.paymentCount} / {yuan(st.paymentTotal)}
                </Descriptions.Item>
                <Descriptions.Item label={t('refunds')}>
                  {st.refundCount} / {yuan(st.refundTotal)}
                </Descriptions.Item>
                <Descriptions.Item label={t('fees')}>{feeYuan(st.feeTotalMfen)}</Descriptions.Item>
                <Descriptions.Item label={t('createdAt')}>{dateTime(st.createdAt)}</Descriptions.Item>
              </Descriptions>
            </Card>
          </>
        )}
      </LoadState>
      <Card size="small" title={t('statementLines')}>
        <CursorTable<StatementLine> list={lines} testId="statement-lines" rowKey={(r) => String(r.lineNo)} columns={columns} row={(r) => ({ 'data-testid': 'statement-line', 'data-line-no': r.lineNo })} />
      </Card>
    </div>
  );
}
