import { useState } from 'react';
import { App, Button, Checkbox, Col, Form, Input, Modal, Radio, Row, Table, Tag, Tooltip, Typography } from 'antd';
import { EditOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { litres, parseLitres, parseYuan, yuan } from '../../shared/money';
import { useSession } from '../session';
import { CARD_STATUS_NAMES, label } from '../i18n';
import { capable } from './cardRules';
import { ErrorAlert, useA, type T } from './common';
import { useReturnFocus } from '../ui';
import type { Card, CardLimits as Limits, Grade } from './types';

type Period = 'sale' | 'day' | 'week' | 'month';
const PERIODS: Period[] = ['sale', 'day', 'week', 'month'];
type AmountKey = `${Period}Amount`;
type VolumeKey = `${Period}VolumeMl`;
type FillsKey = 'dayFills' | 'weekFills' | 'monthFills';

/** The grade list is the same for every card: load it once per page view. */
export function useGrades() {
  const { api, can } = useSession();
  const allowed = can('GET', '/api/v1/grades');
  return useLoad(() => (allowed ? api.request<{ items: Grade[] }>('GET', '/api/v1/grades').then((r) => r.items) : Promise.resolve([] as Grade[])), [api, allowed]);
}

export function gradeName(grades: Grade[] | undefined, code: string, lang: string): string {
  const g = grades?.find((x) => x.code === code);
  return g ? (lang === 'en' ? g.nameEn : g.nameZh) : code;
}

/** 限额: the card's limits as a table (per sale / day / week / month × amount, volume, fills), and the editor. */
export function CardLimitsPanel({ card, onChanged }: { card: Card; onChanged: () => void }) {
  const { can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const [editing, setEditing] = useState(false);
  const focus = useReturnFocus();
  const grades = useGrades();
  const l = card.limits;
  const none = <Typography.Text type="secondary">{t('noLimit')}</Typography.Text>;
  const rows = PERIODS.map((p) => ({
    period: p,
    amount: l[`${p}Amount` as AmountKey],
    volume: l[`${p}VolumeMl` as VolumeKey],
    fills: p === 'sale' ? undefined : l[`${p}Fills` as FillsKey],
  }));
  const allowedEdit = capable('limits', card.status);

  return (
    <div data-testid="card-limits">
      <div style={{ display: 'flex', justifyContent: 'flex-end', marginBottom: 12 }}>
        {can('PUT', '/api/v1/cards/:cardNo/limits') && (
          <Tooltip title={allowedEdit ? undefined : t('limitsNotAllowedInState', { status: label(CARD_STATUS_NAMES, card.status, lang) })}>
            <Button
              icon={<EditOutlined />}
              disabled={!allowedEdit}
              onClick={() => {
                focus.remember();
                setEditing(true);
              }}
              data-testid="card-action-limits"
            >
              {t('editLimits')}
            </Button>
          </Tooltip>
        )}
      </div>
      <Table
        size="small"
        rowKey="period"
        pagination={false}
        dataSource={rows}
        columns={[
          { title: t('period'), dataIndex: 'period', render: (p: Period) => t(`period_${p}`) },
          { title: t('limitAmount'), dataIndex: 'amount', align: 'right', render: (v: number | null) => (v === null ? none : <span className="fc-num">{yuan(v)}</span>) },
          { title: t('limitVolume'), dataIndex: 'volume', align: 'right', render: (v: number | null) => (v === null ? none : <span className="fc-num">{litres(v)}</span>) },
          {
            title: t('limitFills'),
            dataIndex: 'fills',
            align: 'right',
            render: (v: number | null | undefined) => (v === undefined ? '—' : v === null ? none : t('fillsN', { n: v })),
          },
        ]}
      />
      <div style={{ marginTop: 12 }}>
        <strong>{t('minFillInterval')}：</strong>
        {l.minFillIntervalSeconds === null ? none : t('secondsN', { n: l.minFillIntervalSeconds })}
      </div>
      <div style={{ marginTop: 8 }}>
        <strong>{t('allowedGrades')}：</strong>
        {l.allowedGrades === null ? (
          <Tag color="green">{t('allGrades')}</Tag>
        ) : l.allowedGrades.length === 0 ? (
          <Tag color="red">{t('noGrades')}</Tag>
        ) : (
          l.allowedGrades.map((g) => <Tag key={g}>{gradeName(grades.data, g, lang)}</Tag>)
        )}
      </div>
      {editing && (
        <LimitsEditor
          card={card}
          grades={grades}
          onClose={(changed) => {
            setEditing(false);
            if (changed) onChanged();
            focus.restore();
          }}
        />
      )}
    </div>
  );
}

interface LimitsForm {
  [field: string]: string | string[] | undefined;
  gradesMode: 'all' | 'some';
  grades?: string[];
}

function fenText(v: number | null): string | undefined {
  return v === null ? undefined : (v / 100).toFixed(2);
}
function mlText(v: number | null): string | undefined {
  return v === null ? undefined : String(v / 1000);
}

function LimitsEditor({ card, grades, onClose }: { card: Card; grades: ReturnType<typeof useGrades>; onClose: (changed: boolean) => void }) {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const { message } = App.useApp();
  const [form] = Form.useForm<LimitsForm>();
  const gradesMode = Form.useWatch('gradesMode', form);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const l = card.limits;

  const initial: LimitsForm = { gradesMode: l.allowedGrades === null ? 'all' : 'some', grades: l.allowedGrades ?? [] };
  for (const p of PERIODS) {
    initial[`${p}Amount`] = fenText(l[`${p}Amount` as AmountKey]);
    initial[`${p}Volume`] = mlText(l[`${p}VolumeMl` as VolumeKey]);
    if (p !== 'sale') initial[`${p}Fills`] = l[`${p}Fills` as FillsKey]?.toString();
  }
  initial.minFillIntervalSeconds = l.minFillIntervalSeconds?.toString();

  const submit = async () => {
    let v: LimitsForm;
    try {
      v = await form.validateFields();
    } catch {
      return;
    }
    const body: Partial<Limits> = {};
    // The validators passed, so every text field is empty or well formed. An empty field is left
    // out of the body rather than sent as null: the API reads both as "no limit", and its request
    // validator (coerceTypes) turns an explicit null integer into 0, i.e. "nothing allowed".
    const set = (key: keyof Limits, name: string, parse: (s: string) => number | null) => {
      const x = v[name];
      if (typeof x !== 'string' || x.trim() === '') return;
      const n = parse(x.trim());
      if (n !== null) (body as Record<string, unknown>)[key] = n;
    };
    for (const p of PERIODS) {
      set(`${p}Amount` as AmountKey, `${p}Amount`, parseYuan);
      set(`${p}VolumeMl` as VolumeKey, `${p}Volume`, mlOf);
      if (p !== 'sale') set(`${p}Fills` as FillsKey, `${p}Fills`, Number);
    }
    set('minFillIntervalSeconds', 'minFillIntervalSeconds', Number);
    body.allowedGrades = v.gradesMode === 'all' ? null : (v.grades ?? []);
    setBusy(true);
    setError(null);
    try {
      await api.request('PUT', `/api/v1/cards/${card.cardNo}/limits`, { body });
      message.success(t('limitsSaved'));
      onClose(true);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.code === 'CARD_GRADE_UNKNOWN') form.setFields([{ name: 'grades', errors: [err.text(lang)] }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open
      width={760}
      title={t('editLimits')}
      onCancel={() => !busy && onClose(false)}
      onOk={submit}
      okText={t('save')}
      cancelText={t('cancel')}
      okButtonProps={{ loading: busy, 'data-testid': 'limits-save' }}
      mask={{ closable: false }}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">{t('limitsHint')}</Typography.Paragraph>
      <ErrorAlert error={error} testId="limits-error" />
      <Form<LimitsForm> form={form} layout="vertical" initialValues={initial} disabled={busy} onFinish={submit} data-testid="limits-form">
        <Row gutter={12} style={{ fontWeight: 600, marginBottom: 4 }}>
          <Col span={4} />
          <Col span={7}>{t('limitAmount')}</Col>
          <Col span={7}>{t('limitVolume')}</Col>
          <Col span={6}>{t('limitFills')}</Col>
        </Row>
        {PERIODS.map((p) => (
          <Row gutter={12} key={p} align="top">
            <Col span={4} style={{ paddingTop: 5 }}>
              {t(`period_${p}`)}
            </Col>
            <Col span={7}>
              <Form.Item name={`${p}Amount`} rules={amountRules(t)}>
                <Input prefix="¥" placeholder={t('noLimit')} aria-label={`${t(`period_${p}`)} ${t('limitAmount')}`} data-testid={`limit-${p}-amount`} />
              </Form.Item>
            </Col>
            <Col span={7}>
              <Form.Item name={`${p}Volume`} rules={volumeRules(t)}>
                <Input suffix="L" placeholder={t('noLimit')} aria-label={`${t(`period_${p}`)} ${t('limitVolume')}`} data-testid={`limit-${p}-volume`} />
              </Form.Item>
            </Col>
            <Col span={6}>
              {p !== 'sale' && (
                <Form.Item name={`${p}Fills`} rules={intRules(t, p === 'day' ? 1000 : p === 'week' ? 10000 : 100000)}>
                  <Input inputMode="numeric" placeholder={t('noLimit')} aria-label={`${t(`period_${p}`)} ${t('limitFills')}`} data-testid={`limit-${p}-fills`} />
                </Form.Item>
              )}
            </Col>
          </Row>
        ))}
        <Form.Item label={t('minFillIntervalSeconds')} name="minFillIntervalSeconds" rules={intRules(t, 604800)}>
          <Input inputMode="numeric" placeholder={t('noLimit')} style={{ width: 220 }} suffix={t('seconds')} data-testid="limit-min-interval" />
        </Form.Item>
        <Form.Item label={t('allowedGrades')} name="gradesMode">
          <Radio.Group
            options={[
              { value: 'all', label: t('allGrades') },
              { value: 'some', label: t('onlyGrades') },
            ]}
            data-testid="limit-grades-mode"
          />
        </Form.Item>
        {gradesMode === 'some' && (
          <LoadState value={grades} isEmpty={(g) => g.length === 0}>
            {(list) => (
              <Form.Item name="grades" rules={[{ validator: async (_r, v: string[] | undefined) => { if (!v || v.length === 0) throw new Error(t('gradesRequired')); } }]}>
                <Checkbox.Group options={list.map((g) => ({ value: g.code, label: `${g.code} ${lang === 'en' ? g.nameEn : g.nameZh}` }))} data-testid="limit-grades" />
              </Form.Item>
            )}
          </LoadState>
        )}
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}

/** Litres typed → ml; unlike parseLitres, zero is a valid limit (nothing may be bought). */
function mlOf(text: string): number | null {
  return /^0+(\.0{1,3})?$/.test(text.trim()) ? 0 : parseLitres(text);
}

function amountRules(t: T) {
  return [
    {
      validator: async (_r: unknown, v: string | undefined) => {
        if (v === undefined || v.trim() === '') return;
        if (parseYuan(v) === null) throw new Error(t('amountInvalid'));
      },
    },
  ];
}

function volumeRules(t: T) {
  return [
    {
      validator: async (_r: unknown, v: string | undefined) => {
        if (v === undefined || v.trim() === '') return;
        if (mlOf(v) === null) throw new Error(t('volumeInvalid'));
      },
    },
  ];
}

function intRules(t: T, max: number) {
  return [
    {
      validator: async (_r: unknown, v: string | undefined) => {
        if (v === undefined || v.trim() === '') return;
        if (!/^\d{1,7}$/.test(v.trim()) || Number(v) > max) throw new Error(t('intInvalid', { max }));
      },
    },
  ];
}
