import { useMemo, useState } from 'react';
import { App, Button, Card, Col, DatePicker, Form, Input, Radio, Row, Select, Space, Tabs, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { Dayjs } from 'dayjs';
import { errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { parseYuan, unitPrice } from '../../shared/money';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { ListError, PageHeader, SubmitError, gradeName, markFieldError, useGrades, useIdempotencyKey } from '../pages-b/common';
import { cstNowWall, cstWallToIso, nextMidnightWall, stationLabel, StationSelect, useNetStations, useTab, type NetStation, FilterBar, ListTable } from './common';
import { fc } from './i18n';

export interface PriceRow {
  id: number;
  grade: string;
  unitPrice: number;
  effectiveFrom: string;
  stationId: number | null;
  province?: string | null;
  status?: 'scheduled' | 'in_force' | 'superseded';
  createdBy?: string;
  createdAt?: string;
}

type Scope = 'national' | 'province' | 'station';
const TABS = ['inforce', 'history'] as const;

function scopeOf(p: Pick<PriceRow, 'stationId' | 'province'>): Scope {
  return p.stationId !== null && p.stationId !== undefined ? 'station' : p.province ? 'province' : 'national';
}

/** Scope of a price as a tag: 全国 / 省份 广东省 / 油站 S001 …. */
function ScopeTag({ p, stations }: { p: Pick<PriceRow, 'stationId' | 'province'>; stations: NetStation[] | undefined }) {
  const t = useT(fc);
  const s = scopeOf(p);
  if (s === 'national') return <Tag color="blue">{t('scope_national')}</Tag>;
  if (s === 'province') return <Tag color="gold">{p.province}</Tag>;
  return <Tag color="purple">{stationLabel(stations, p.stationId)}</Tag>;
}

/**
 * Prices in force by scope (national, a province's, a station's own — the station's wins, then its
 * province's, then the national one), scheduled changes with cancel, a grade's history with who
 * set each price, and setting a price now or at a set time (by default the next 00:00).
 */
export function ForecourtPricesPage() {
  const t = useT(fc);
  const { can } = useSession();
  const [tab, setTab] = useTab(TABS, 'inforce');
  const [tick, setTick] = useState(0);
  return (
    <div>
      <PageHeader title={t('pricesTitle')} />
      {can('POST', '/api/v1/prices') && <SetPriceCard onSaved={() => setTick((x) => x + 1)} />}
      <Tabs
        activeKey={tab}
        onChange={setTab}
        items={[
          { key: 'inforce', label: <span data-testid="prices-tab-inforce">{t('inForce')}</span>, children: <InForce tick={tick} /> },
          ...(can('GET', '/api/v1/prices/history') ? [{ key: 'history', label: <span data-testid="prices-tab-history">{t('history')}</span>, children: <History tick={tick} /> }] : []),
        ]}
      />
    </div>
  );
}

function InForce({ tick }: { tick: number }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const { modal, message } = App.useApp();
  const grades = useGrades();
  const stations = useNetStations();
  const [scope, setScope] = useState<{ stationId?: number; province?: string }>({});
  const [provinceText, setProvinceText] = useState('');
  const list = useLoad(() => api.request<{ items: PriceRow[]; next: PriceRow[] }>('GET', '/api/v1/prices', { query: scope }), [api, JSON.stringify(scope), tick]);
  const mayCancel = can('DELETE', '/api/v1/prices/:id');

  const order = (code: string) => {
    const i = grades.data?.findIndex((g) => g.code === code) ?? -1;
    return i < 0 ? 999 : i;
  };
  const sort = (rows: PriceRow[]) => [...rows].sort((a, b) => order(a.grade) - order(b.grade) || a.grade.localeCompare(b.grade) || scopeOf(a).localeCompare(scopeOf(b)));

  const cancel = (p: PriceRow) =>
    modal.confirm({
      title: t('cancelChange'),
      content: t('confirmCancelChange', { grade: gradeName(grades.data, p.grade, lang), scope: p.province ?? (p.stationId ? stationLabel(stations.data, p.stationId) : t('scope_national')), at: dateTime(p.effectiveFrom), price: unitPrice(p.unitPrice) }),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { danger: true, 'data-testid': 'price-cancel-confirm' } as any,
      onOk: async () => {
        try {
          await api.request('DELETE', `/api/v1/prices/${p.id}`);
          message.success(t('changeCancelled'));
          list.reload();
        } catch (err) {
          message.error(errorText(err, lang));
        }
      },
    });

  const columns: ColumnsType<PriceRow> = [
    { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
    { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => <strong className="fc-num">{unitPrice(v)}</strong> },
    { title: t('scope'), key: 'scope', render: (_: unknown, p) => <ScopeTag p={p} stations={stations.data} /> },
    { title: t('effectiveFrom'), dataIndex: 'effectiveFrom', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
  ];
  const nextColumns: ColumnsType<PriceRow> = [
    ...columns,
    ...(mayCancel
      ? [
          {
            title: t('actions'),
            key: 'actions',
            render: (_: unknown, p: PriceRow) => (
              <Button size="small" danger onClick={() => cancel(p)} data-testid="price-cancel">
                {t('cancelChange')}
              </Button>
            ),
          },
        ]
      : []),
  ];

  return (
    <>
      <FilterBar>
        <span>{t('viewScope')}</span>
        <StationSelect value={scope.stationId} onChange={(v) => setScope(v ? { stationId: v } : {})} testId="prices-scope-station" />
        <Input.Search
          placeholder={t('province')}
          allowClear
          value={provinceText}
          onChange={(e) => setProvinceText(e.target.value)}
          onSearch={(v) => setScope(v.trim() ? { province: v.trim() } : {})}
          style={{ width: 200 }}
          maxLength={40}
          data-testid="prices-scope-province"
        />
      </FilterBar>
      <ListError error={list.error} onRetry={list.reload} />
      <ListTable<PriceRow>
        rowKey="id"
        columns={columns}
        items={sort(list.data?.items ?? [])}
        loading={list.loading}
        emptyText={t('noPrices')}
        row={(p) => ({ 'data-testid': 'fc-price-row', 'data-grade': p.grade, 'data-scope': scopeOf(p), 'data-price-id': p.id })}
      />
      <Card size="small" title={t('next')} style={{ marginTop: 16 }}>
        <ListTable<PriceRow>
          rowKey="id"
          columns={nextColumns}
          items={sort(list.data?.next ?? [])}
          loading={list.loading}
          emptyText={t('noScheduled')}
          row={(p) => ({ 'data-testid': 'price-next-row', 'data-grade': p.grade, 'data-scope': scopeOf(p), 'data-price-id': p.id })}
        />
      </Card>
    </>
  );
}

function History({ tick }: { tick: number }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const grades = useGrades();
  const stations = useNetStations();
  const [grade, setGrade] = useState<string>();
  const [stationId, setStationId] = useState<number>();
  const list = useLoad(
    () => (grade ? api.request<{ items: PriceRow[] }>('GET', '/api/v1/prices/history', { query: { grade, stationId, limit: 100 } }).then((r) => r.items) : Promise.resolve([] as PriceRow[])),
    [api, grade, stationId, tick],
  );
  const columns: ColumnsType<PriceRow> = useMemo(
    () => [
      { title: t('effectiveFrom'), dataIndex: 'effectiveFrom', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
      { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => <span className="fc-num">{unitPrice(v)}</span> },
      { title: t('scope'), key: 'scope', render: (_: unknown, p) => <ScopeTag p={p} stations={stations.data} /> },
      { title: t('status'), dataIndex: 'status', render: (v: string) => <Tag color={v === 'in_force' ? 'green' : v === 'scheduled' ? 'blue' : 'default'}>{t(`priceStatus_${v}`)}</Tag> },
      { title: t('createdBy'), dataIndex: 'createdBy' },
      { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
    ],
    [t, stations.data],
  );
  return (
    <>
      <FilterBar>
        <Select
          style={{ width: 200 }}
          placeholder={t('historyGrade')}
          value={grade}
          onChange={setGrade}
          options={(grades.data ?? []).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }))}
          data-testid="prices-history-grade"
        />
        <StationSelect value={stationId} onChange={setStationId} testId="prices-history-station" />
      </FilterBar>
      <ListError error={list.error} onRetry={list.reload} />
      <ListTable<PriceRow>
        rowKey="id"
        columns={columns}
        items={list.data ?? []}
        loading={list.loading}
        emptyText={grade ? t('noPrices') : t('historyGrade')}
        row={(p) => ({ 'data-testid': 'price-history-row', 'data-status': p.status ?? '' })}
      />
    </>
  );
}

interface SetValues {
  grade: string;
  price: string;
  scope: Scope;
  province?: string;
  stationId?: number;
  when: 'now' | 'at';
  at?: Dayjs;
}

function SetPriceCard({ onSaved }: { onSaved: () => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { modal, message } = App.useApp();
  const grades = useGrades();
  const stations = useNetStations();
  const [form] = Form.useForm<SetValues>();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const scope = Form.useWatch('scope', form) ?? 'national';
  const when = Form.useWatch('when', form) ?? 'at';

  const send = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', '/api/v1/prices', { body, idempotencyKey: idem.get() });
      idem.renew();
      message.success(t('priceSaved'));
      form.resetFields();
      form.setFieldValue('at', nextMidnightWall());
      onSaved();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['grade', 'stationId', 'province']);
    } finally {
      setBusy(false);
    }
  };

  const submit = (v: SetValues) => {
    const fen = parseYuan(v.price)!;
    const body: Record<string, unknown> = { grade: v.grade, unitPrice: fen };
    if (v.scope === 'station') body.stationId = v.stationId;
    if (v.scope === 'province') body.province = v.province!.trim();
    if (v.when === 'at' && v.at) body.effectiveFrom = cstWallToIso(v.at);
    const scopeText = v.scope === 'station' ? stationLabel(stations.data, v.stationId) : v.scope === 'province' ? v.province!.trim() : t('scope_national');
    modal.confirm({
      title: t('setPrice'),
      content: t('confirmPrice', {
        grade: gradeName(grades.data, v.grade, lang),
        scope: scopeText,
        price: unitPrice(fen),
        when: v.when === 'at' && v.at ? t('effectiveAt', { at: `${v.at.format('YYYY-MM-DD HH:mm')} (${t('cstHint')})` }) : t('effectiveNow'),
      }),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { 'data-testid': 'fc-price-confirm' } as any,
      onOk: () => send(body),
    });
  };

  return (
    <Card size="small" title={t('setPrice')} style={{ marginBottom: 16 }}>
      <Form form={form} layout="vertical" initialValues={{ scope: 'national', when: 'at', at: nextMidnightWall() }} onFinish={submit} onValuesChange={() => idem.renew()} data-testid="fc-price-form" autoComplete="off">
        <SubmitError error={error} />
        <Row gutter={16}>
          <Col xs={24} sm={12} md={5}>
            <Form.Item name="grade" label={t('grade')} rules={[{ required: true, message: t('required') }]}>
              <Select
                loading={grades.loading}
                options={(grades.data ?? []).filter((g) => (g as { active?: boolean }).active !== false).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }))}
                data-testid="fc-price-grade"
              />
            </Form.Item>
          </Col>
          <Col xs={24} sm={12} md={4}>
            <Form.Item
              name="price"
              label={t('unitPriceYuan')}
              rules={[
                { required: true, message: t('required') },
                { validator: (_r, v: string | undefined) => (!v || ((x) => x !== null && x >= 1 && x <= 99_999)(parseYuan(v)) ? Promise.resolve() : Promise.reject(new Error(t('unitPriceInvalid')))) },
              ]}
            >
              <Input prefix="¥" suffix="/L" inputMode="decimal" placeholder="7.45" data-testid="fc-price-unit" />
            </Form.Item>
          </Col>
          <Col xs={24} md={15}>
            <Form.Item label={t('scope')} required>
              <Space wrap>
                <Form.Item name="scope" noStyle>
                  <Radio.Group
                    optionType="button"
                    options={(['national', 'province', 'station'] as const).map((s) => ({ value: s, label: t(`scope_${s}`) }))}
                    data-testid="fc-price-scope"
                  />
                </Form.Item>
                {scope === 'province' && (
                  <Form.Item name="province" noStyle rules={[{ required: true, whitespace: true, message: t('provinceRequired') }]}>
                    <Input style={{ width: 160 }} maxLength={40} placeholder={t('province')} data-testid="fc-price-province" />
                  </Form.Item>
                )}
                {scope === 'station' && (
                  <Form.Item name="stationId" noStyle rules={[{ required: true, message: t('chooseStation') }]}>
                    <StationSelect testId="fc-price-station" allowClear={false} />
                  </Form.Item>
                )}
              </Space>
            </Form.Item>
          </Col>
        </Row>
        <Row gutter={16} align="bottom">
          <Col>
            <Form.Item name="when" label={t('when')}>
              <Radio.Group optionType="button" options={[{ value: 'at', label: t('scheduled') }, { value: 'now', label: t('now') }]} data-testid="fc-price-when" />
            </Form.Item>
          </Col>
          {when === 'at' && (
            <Col>
              <Form.Item
                name="at"
                label={t('at')}
                rules={[
                  { required: true, message: t('atRequired') },
                  { validator: (_r, v: Dayjs | undefined) => (!v || v.isAfter(cstNowWall()) ? Promise.resolve() : Promise.reject(new Error(t('atPast')))) },
                ]}
              >
                <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" allowClear={false} data-testid="fc-price-at" />
              </Form.Item>
            </Col>
          )}
          <Col>
            <Form.Item>
              <Button type="primary" htmlType="submit" loading={busy} data-testid="fc-price-submit">
                {t('setPrice')}
              </Button>
            </Form.Item>
          </Col>
        </Row>
      </Form>
    </Card>
  );
}
