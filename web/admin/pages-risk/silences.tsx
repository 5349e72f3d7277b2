import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { App, Button, Card, Checkbox, DatePicker, Form, Input, Select, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { FlagOutlined, PlusOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { dateTime } from '../../shared/format';
import { useT } from '../../shared/i18n';
import { useSession } from '../session';
import { PageHeader, useCursorList, type Page } from '../pages-b/common';
import { CursorTable, FilterBar, FormModal, StationSelect, cstNowWall, cstWallToIso, stationLabel, useNetStations, useSending } from '../pages-forecourt/common';
import { ErrorAlert, RuleName, StaffName, useRules } from './common';
import { rk } from './i18n';
import type { Silence, StationFlag } from './types';

const time = (v: string | null | undefined) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span>;

/** 静默与可疑站点: the rule silences per card and the stations flagged as compromised. */
export function SilencesPage() {
  const t = useT(rk);
  return (
    <div>
      <PageHeader title={t('silencesTitle')} />
      <SilencesCard />
      <FlagsCard />
    </div>
  );
}

function SilencesCard() {
  const t = useT(rk);
  const { api, can } = useSession();
  const { modal, message } = App.useApp();
  const rules = useRules();
  const [params] = useSearchParams();
  const [all, setAll] = useState(false);
  const [cardId, setCardId] = useState<string>(params.get('cardId') ?? '');
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<unknown>();
  const validCard = /^[1-9][0-9]{0,15}$/.test(cardId) ? cardId : undefined;
  const list = useCursorList<Silence>((cursor) => api.request<Page<Silence>>('GET', '/api/v1/risk/silences', { query: { all: all || undefined, cardId: validCard, limit: 50, cursor } }), `${all}:${validCard}`);
  const mayChange = can('DELETE', '/api/v1/risk/silences/:id');
  const revoke = (s: Silence) =>
    modal.confirm({
      title: t('revoke'),
      content: t('revokeConfirm'),
      okText: t('revoke'),
      cancelText: t('cancel'),
      okButtonProps: { danger: true, 'data-testid': 'silence-revoke-confirm' } as any,
      onOk: async () => {
        setError(undefined);
        try {
          await api.request('DELETE', `/api/v1/risk/silences/${s.id}`);
          message.success(t('revoked'));
          list.reload();
        } catch (err) {
          setError(err);
        }
      },
    });
  const now = Date.now();
  const columns: ColumnsType<Silence> = [
    { title: '#', dataIndex: 'id' },
    { title: t('cardId'), dataIndex: 'cardId', render: (v: number) => <Link to={`/risk-decisions?cardId=${v}`}>{v}</Link> },
    { title: t('rule'), dataIndex: 'rule', render: (v: string) => <RuleName id={v} rules={rules.data} /> },
    { title: t('until'), dataIndex: 'until', render: time },
    { title: t('reason'), dataIndex: 'reason' },
    { title: t('decisionId'), dataIndex: 'decisionId', render: (v: string | null) => (v ? <Link to={`/risk-decisions/${v}`} className="fc-num">{v.slice(0, 8)}</Link> : '—') },
    { title: t('createdBy'), dataIndex: 'createdBy', render: (v: number) => <StaffName id={v} /> },
    { title: t('time'), dataIndex: 'createdAt', render: time },
    {
      title: t('status'),
      key: 'state',
      render: (_: unknown, s) =>
        s.revokedAt ? <Tag>{t('revoked')}</Tag> : Date.parse(s.until) <= now ? <Tag>{t('expired')}</Tag> : <Tag color="blue">{t('inForceTag')}</Tag>,
    },
    ...(mayChange
      ? [
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, s: Silence) =>
              !s.revokedAt && Date.parse(s.until) > now ? (
                <Button size="small" danger onClick={() => revoke(s)} data-testid="silence-revoke">
                  {t('revoke')}
                </Button>
              ) : null,
          },
        ]
      : []),
  ];
  return (
    <Card
      size="small"
      title={t('silences')}
      style={{ marginBottom: 16 }}
      extra={
        can('POST', '/api/v1/risk/silences') && (
          <Button icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="silence-add">
            {t('addSilence')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary">{t('silencesHint')}</Typography.Paragraph>
      <FilterBar>
        <Input value={cardId} onChange={(e) => setCardId(e.target.value.replace(/\D/g, ''))} placeholder={t('cardId')} allowClear style={{ width: 160 }} data-testid="silences-filter-card" aria-label={t('cardId')} />
        <Checkbox checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="silences-all">
          {t('all')}
        </Checkbox>
      </FilterBar>
      <ErrorAlert error={error} />
      <CursorTable<Silence> list={list} testId="silences" rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'silences-row', 'data-silence-id': r.id, 'data-card-id': r.cardId, 'data-rule': r.rule })} />
      {adding && (
        <SilenceModal
          cardId={validCard}
          onClose={(saved) => {
            setAdding(false);
            if (saved) list.reload();
          }}
        />
      )}
    </Card>
  );
}

export function SilenceModal({ cardId, rule, decisionId, onClose }: { cardId?: string; rule?: string; decisionId?: string; onClose: (saved: boolean) => void }) {
  const t = useT(rk);
  const { api } = useSession();
  const { message } = App.useApp();
  const rules = useRules();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = async () => {
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      await api.request('POST', '/api/v1/risk/silences', {
        body: { cardId: Number(v.cardId), rule: v.rule, until: cstWallToIso(v.until as Dayjs), reason: String(v.reason).trim(), ...(decisionId ? { decisionId } : {}) },
      });
      message.success(t('saved'));
      onClose(true);
    });
  };
  return (
    <FormModal title={t('addSilence')} onCancel={() => onClose(false)} onOk={() => void submit()} busy={sending.busy} submitTestId="silence-submit">
      <Form form={form} layout="vertical" initialValues={{ cardId, rule, until: cstNowWall().add(7, 'day') }}>
        <Form.Item name="cardId" label={t('cardId')} rules={[{ required: true, pattern: /^[1-9][0-9]{0,15}$/, message: t('cardRefRequired') }]}>
          <Input inputMode="numeric" data-testid="silence-card" disabled={Boolean(decisionId)} />
        </Form.Item>
        <Form.Item name="rule" label={t('rule')} rules={[{ required: true }]}>
          <Select loading={rules.loading} options={(rules.data ?? []).map((r) => ({ value: r.id, label: `${r.zh} / ${r.en}` }))} data-testid="silence-rule" />
        </Form.Item>
        <Form.Item name="until" label={t('until')} extra={t('cstHint')} rules={[{ required: true, message: t('untilRequired') }]}>
          <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" style={{ width: '100%' }} data-testid="silence-until" />
        </Form.Item>
        <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('reasonRequired') }]}>
          <Input.TextArea rows={2} maxLength={500} data-testid="silence-reason" />
        </Form.Item>
      </Form>
      <ErrorAlert error={sending.error} />
    </FormModal>
  );
}

function FlagsCard() {
  const t = useT(rk);
  const { api, can } = useSession();
  const { modal, message } = App.useApp();
  const stations = useNetStations();
  const [all, setAll] = useState(false);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<unknown>();
  const list = useCursorList<StationFlag>((cursor) => api.request<Page<StationFlag>>('GET', '/api/v1/risk/flagged-stations', { query: { all: all || undefined, limit: 50, cursor } }), String(all));
  const mayClear = can('DELETE', '/api/v1/risk/flagged-stations/:stationId');
  const clear = (f: StationFlag) =>
    modal.confirm({
      title: t('clear'),
      content: t('clearConfirm'),
      okText: t('clear'),
      cancelText: t('cancel'),
      okButtonProps: { 'data-testid': 'flag-clear-confirm' } as any,
      onOk: async () => {
        setError(undefined);
        try {
          await api.request('DELETE', `/api/v1/risk/flagged-stations/${f.stationId}`);
          message.success(t('cleared'));
          list.reload();
        } catch (err) {
          setError(err);
        }
      },
    });
  const columns: ColumnsType<StationFlag> = [
    { title: t('station'), dataIndex: 'stationId', render: (v: number) => stationLabel(stations.data, v) },
    { title: t('reason'), dataIndex: 'reason' },
    { title: t('flaggedAt'), dataIndex: 'flaggedAt', render: time },
    { title: t('createdBy'), dataIndex: 'flaggedBy', render: (v: number | null) => <StaffName id={v} /> },
    { title: t('clearedAt'), dataIndex: 'clearedAt', render: time },
    ...(mayClear
      ? [
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, f: StationFlag) =>
              f.clearedAt ? null : (
                <Button size="small" onClick={() => clear(f)} data-testid="flag-clear">
                  {t('clear')}
                </Button>
              ),
          },
        ]
      : []),
  ];
  return (
    <Card
      size="small"
      title={t('flagged')}
      extra={
        can('POST', '/api/v1/risk/flagged-stations') && (
          <Button icon={<FlagOutlined />} onClick={() => setAdding(true)} data-testid="flag-add">
            {t('flagStation')}
          </Button>
        )
      }
    >
      <Typography.Paragraph type="secondary">{t('flaggedHint')}</Typography.Paragraph>
      <FilterBar>
        <Checkbox checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="flags-all">
          {t('all')}
        </Checkbox>
      </FilterBar>
      <ErrorAlert error={error} />
      <CursorTable<StationFlag> list={list} testId="flags" rowKey={(r) => String(r.id)} columns={columns} row={(r) => ({ 'data-testid': 'flags-row', 'data-station-id': r.stationId, 'data-cleared': r.clearedAt ? 'yes' : 'no' })} />
      {adding && (
        <FlagModal
          onClose={(saved) => {
            setAdding(false);
            if (saved) list.reload();
          }}
        />
      )}
    </Card>
  );
}

function FlagModal({ onClose }: { onClose: (saved: boolean) => void }) {
  const t = useT(rk);
  const { api } = useSession();
  const [form] = Form.useForm();
  const sending = useSending();
  const submit = async () => {
    const v = await form.validateFields().catch(() => null);
    if (!v) return;
    await sending.run(async () => {
      await api.request('POST', '/api/v1/risk/flagged-stations', { body: { stationId: v.stationId, reason: String(v.reason).trim() } });
      onClose(true);
    });
  };
  return (
    <FormModal title={t('flagStation')} onCancel={() => onClose(false)} onOk={() => void submit()} busy={sending.busy} submitTestId="flag-submit">
      <Form form={form} layout="vertical">
        <Form.Item name="stationId" label={t('station')} rules={[{ required: true, message: t('chooseStation') }]}>
          <StationSelect allowClear={false} testId="flag-station" style={{ width: '100%' }} />
        </Form.Item>
        <Form.Item name="reason" label={t('reason')} rules={[{ required: true, whitespace: true, message: t('reasonRequired') }]}>
          <Input.TextArea rows={2} maxLength={500} data-testid="flag-reason" />
        </Form.Item>
      </Form>
      <ErrorAlert error={sending.error} />
    </FormModal>
  );
}
