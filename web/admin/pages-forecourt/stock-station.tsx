import { useState, type HTMLAttributes } from 'react';
import { useParams } from 'react-router-dom';
import { App, Button, Card, DatePicker, Form, Input, InputNumber, Select, Space, Table } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { litres } from '../../shared/money';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, gradeName, useCursorList, useGrades, useIdempotencyKey, type Page } from '../pages-b/common';
import { cstNowWall, cstWallToIso, stationLabel, useNetStations, BackLink, CursorTable, FormModal, useSending } from './common';
import { fc } from './i18n';
import { AlertsList, LowTag, StockBar, type TankStock } from './stock';

interface Tank {
  tank: number;
  grade: string;
  capacityMl: number;
  lowLevelMl: number;
}
interface Delivery {
  deliveryId: number;
  tank: number;
  grade: string;
  volumeMl: number;
  deliveredAt: string;
  reference: string | null;
  createdBy: string;
  createdAt: string;
}

/** Tank volumes run to tens of thousands of litres (money.ts's parseLitres stops at a pump's 9,999 L). */
function parseTankLitres(text: string): number | null {
  const m = /^(\d{1,6})(?:\.(\d{1,3}))?$/.exec(text.trim().replace(/,/g, ''));
  return m ? Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0')) : null;
}
const litresRule = (t: (k: string) => string, allowZero = false) => ({
  validator: (_r: unknown, v: string | undefined) => {
    if (!v) return Promise.resolve();
    const x = parseTankLitres(v);
    return x !== null && (allowZero || x > 0) ? Promise.resolve() : Promise.reject(new Error(t('litresInvalid')));
  },
});
const ml = (v: string | undefined) => (v ? (parseTankLitres(v) ?? 0) : 0);
const asLitres = (mlValue: number) => String(mlValue / 1000);

/** One station's tanks: book stock, tank set-up, deliveries and manual dips, and its alerts. */
export function StationStockPage() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const { id } = useParams();
  const stationId = Number(id);
  const stations = useNetStations();
  const grades = useGrades();
  const stock = useLoad(() => api.request<{ items: TankStock[] }>('GET', `/api/v1/stations/${stationId}/stock`).then((r) => r.items), [api, stationId]);
  const deliveries = useCursorList<Delivery>((cursor) => api.request<Page<Delivery>>('GET', `/api/v1/stations/${stationId}/deliveries`, { query: { limit: 20, cursor } }), String(stationId));
  const [dialog, setDialog] = useState<'tanks' | 'delivery' | 'reading' | null>(null);
  const [alertsKey, setAlertsKey] = useState(0);
  const tanks = stock.data ?? [];
  const done = (saved: boolean) => {
    setDialog(null);
    if (saved) {
      stock.reload();
      deliveries.reload();
      setAlertsKey((k) => k + 1);
    }
  };

  return (
    <div>
      <BackLink to="/stock">{t('stockTitle')}</BackLink>
      <PageHeader
        title={t('stationStockTitle', { name: stationLabel(stations.data, stationId) })}
        extra={
          <>
            {can('PUT', '/api/v1/stations/:id/tanks') && stock.data && (
              <Button onClick={() => setDialog('tanks')} data-testid="tanks-edit">
                {t('configureTanks')}
              </Button>
            )}
            {can('POST', '/api/v1/stations/:id/deliveries') && tanks.length > 0 && (
              <Button onClick={() => setDialog('delivery')} data-testid="delivery-new">
                {t('recordDelivery')}
              </Button>
            )}
            {can('POST', '/api/v1/stations/:id/tank-readings') && tanks.length > 0 && (
              <Button type="primary" onClick={() => setDialog('reading')} data-testid="reading-new">
                {t('recordReading')}
              </Button>
            )}
          </>
        }
      />
      <ListError error={stock.error} onRetry={stock.reload} />
      <Table<TankStock>
        rowKey="tank"
        size="small"
        pagination={false}
        loading={stock.loading}
        dataSource={tanks}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: stock.loading ? ' ' : <EmptyText text={t('noTanks')} /> }}
        onRow={(s) => ({ 'data-testid': 'tank-row', 'data-tank': s.tank, 'data-low': String(s.low), 'data-book-ml': s.bookStockMl ?? '' }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('tank'), dataIndex: 'tank', render: (v: number) => t('tankN', { n: v }) },
          { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
          { title: t('bookStock'), key: 'book', render: (_: unknown, s) => <StockBar s={s} /> },
          { title: t('status'), dataIndex: 'low', render: (v: boolean) => <LowTag low={v} /> },
          {
            title: t('lastReading'),
            key: 'reading',
            render: (_: unknown, s) =>
              s.lastReading ? (
                <span style={{ whiteSpace: 'nowrap' }}>
                  {litres(s.lastReading.volumeMl)} · {dateTime(s.lastReading.readAt)}
                </span>
              ) : (
                '—'
              ),
          },
          { title: t('deliveriesSince'), dataIndex: 'deliveriesSinceMl', align: 'right', render: (v: number) => <span className="fc-num">{litres(v)}</span> },
          { title: t('salesSince'), dataIndex: 'salesSinceMl', align: 'right', render: (v: number) => <span className="fc-num">{litres(v)}</span> },
          { title: t('lowLevel'), dataIndex: 'lowLevelMl', align: 'right', render: (v: number) => <span className="fc-num">{litres(v)}</span> },
        ]}
      />
      <Card size="small" title={t('deliveries')} style={{ marginTop: 16 }}>
        <CursorTable<Delivery>
          list={deliveries}
          testId="deliveries"
          rowKey="deliveryId"
          row={(d) => ({ 'data-testid': 'delivery-row', 'data-reference': d.reference ?? '' })}
          columns={[
            { title: t('deliveredAt'), dataIndex: 'deliveredAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
            { title: t('tank'), dataIndex: 'tank', render: (v: number) => t('tankN', { n: v }) },
            { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
            { title: t('volume'), dataIndex: 'volumeMl', align: 'right', render: (v: number) => <span className="fc-num">{litres(v)}</span> },
            { title: t('reference'), dataIndex: 'reference', render: (v: string | null) => v ?? '—' },
            { title: t('createdBy'), dataIndex: 'createdBy' },
          ]}
        />
      </Card>
      {can('GET', '/api/v1/stock-alerts') && (
        <Card size="small" title={t('alerts')} style={{ marginTop: 16 }}>
          <AlertsList key={alertsKey} stationId={stationId} />
        </Card>
      )}
      {dialog === 'tanks' && <TanksModal stationId={stationId} tanks={tanks} onClose={done} />}
      {dialog === 'delivery' && <DeliveryModal stationId={stationId} tanks={tanks} onClose={done} />}
      {dialog === 'reading' && <ReadingModal stationId={stationId} tanks={tanks} onClose={done} />}
    </div>
  );
}

function useSubmit(done: (saved: boolean) => void) {
  const s = useSending();
  const run = (fn: () => Promise<void>) =>
    s.run(async () => {
      await fn();
      done(true);
    });
  return { busy: s.busy, error: s.error, run };
}

function TanksModal({ stationId, tanks, onClose }: { stationId: number; tanks: Tank[]; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { message } = App.useApp();
  const grades = useGrades();
  const [form] = Form.useForm();
  const s = useSubmit(onClose);
  const submit = (v: { items?: { tank: number; grade: string; capacity: string; lowLevel?: string }[] }) =>
    s.run(async () => {
      const items = (v.items ?? []).map((x) => ({ tank: x.tank, grade: x.grade, capacityMl: ml(x.capacity), lowLevelMl: ml(x.lowLevel) })).sort((a, b) => a.tank - b.tank);
      await api.request('PUT', `/api/v1/stations/${stationId}/tanks`, { body: { items } });
      message.success(t('tanksSaved'));
    });
  return (
    <FormModal width={720} title={t('configureTanks')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={s.busy} submitTestId="tanks-form-submit">
      <Form
        form={form}
        initialValues={{ items: tanks.map((x) => ({ tank: x.tank, grade: x.grade, capacity: asLitres(x.capacityMl), lowLevel: asLitres(x.lowLevelMl) })) }}
        onFinish={submit}
        data-testid="tanks-form"
        autoComplete="off"
      >
        <SubmitError error={s.error} />
        <Form.List name="items">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field) => (
                <Space key={field.key} align="start" wrap style={{ display: 'flex' }}>
                  <Form.Item name={[field.name, 'tank']} label={t('tank')} rules={[{ required: true, type: 'integer', min: 1, max: 99, message: t('numberInvalid') }]}>
                    <InputNumber min={1} max={99} precision={0} style={{ width: 70 }} data-testid="tanks-form-number" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'grade']} label={t('grade')} rules={[{ required: true, message: t('required') }]}>
                    <Select style={{ width: 140 }} options={(grades.data ?? []).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }))} data-testid="tanks-form-grade" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'capacity']} label={t('capacityL')} rules={[{ required: true, message: t('required') }, litresRule(t)]}>
                    <Input style={{ width: 100 }} inputMode="decimal" data-testid="tanks-form-capacity" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'lowLevel']} label={t('lowLevelL')} rules={[litresRule(t, true)]}>
                    <Input style={{ width: 100 }} inputMode="decimal" data-testid="tanks-form-low" />
                  </Form.Item>
                  <Button icon={<DeleteOutlined />} aria-label={t('remove')} onClick={() => remove(field.name)} />
                </Space>
              ))}
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ tank: Math.max(0, ...((form.getFieldValue('items') ?? []) as { tank?: number }[]).map((x) => x?.tank ?? 0)) + 1 })} data-testid="tanks-form-add">
                {t('add')}
              </Button>
            </>
          )}
        </Form.List>
      </Form>
    </FormModal>
  );
}

function TankSelect({ tanks, testId }: { tanks: Tank[]; testId: string }) {
  const t = useT(fc);
  const { lang } = useLang();
  const grades = useGrades();
  return (
    <Form.Item name="tank" label={t('tank')} rules={[{ required: true, message: t('required') }]}>
      <Select options={tanks.map((x) => ({ value: x.tank, label: `${t('tankN', { n: x.tank })} · ${gradeName(grades.data, x.grade, lang)}` }))} data-testid={testId} />
    </Form.Item>
  );
}

function WhenItem({ name, label, testId }: { name: string; label: string; testId: string }) {
  const t = useT(fc);
  return (
    <Form.Item name={name} label={label} rules={[{ required: true, message: t('required') }, { validator: (_r, v: Dayjs | undefined) => (!v || !v.isAfter(cstNowWall().add(5, 'minute')) ? Promise.resolve() : Promise.reject(new Error(t('atPast')))) }]}>
      <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" allowClear={false} data-testid={testId} />
    </Form.Item>
  );
}

function DeliveryModal({ stationId, tanks, onClose }: { stationId: number; tanks: Tank[]; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const s = useSubmit(onClose);
  const submit = (v: { tank: number; volume: string; at: Dayjs; reference?: string }) =>
    s.run(async () => {
      const body = { tank: v.tank, volumeMl: ml(v.volume), deliveredAt: cstWallToIso(v.at), ...(v.reference?.trim() ? { reference: v.reference.trim() } : {}) };
      await api.request('POST', `/api/v1/stations/${stationId}/deliveries`, { body, idempotencyKey: idem.get() });
      idem.renew();
      message.success(t('deliverySaved'));
    });
  return (
    <FormModal title={t('recordDelivery')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={s.busy} submitTestId="delivery-form-submit">
      <Form form={form} layout="vertical" initialValues={{ tank: tanks[0]?.tank, at: cstNowWall() }} onFinish={submit} onValuesChange={() => idem.renew()} data-testid="delivery-form" autoComplete="off">
        <SubmitError error={s.error} />
        <TankSelect tanks={tanks} testId="delivery-form-tank" />
        <Form.Item name="volume" label={t('volumeL')} rules={[{ required: true, message: t('required') }, litresRule(t)]}>
          <Input inputMode="decimal" suffix="L" data-testid="delivery-form-volume" />
        </Form.Item>
        <WhenItem name="at" label={t('deliveredAt')} testId="delivery-form-at" />
        <Form.Item name="reference" label={t('reference')} rules={[{ max: 60 }]}>
          <Input maxLength={60} data-testid="delivery-form-reference" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </FormModal>
  );
}

function ReadingModal({ stationId, tanks, onClose }: { stationId: number; tanks: Tank[]; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const s = useSubmit(onClose);
  const submit = (v: { tank: number; volume: string; water?: string; temperature?: number; at: Dayjs }) =>
    s.run(async () => {
      const reading = {
        tank: v.tank,
        volumeMl: ml(v.volume),
        ...(v.water ? { waterMl: ml(v.water) } : {}),
        ...(v.temperature !== undefined && v.temperature !== null ? { temperatureDc: Math.round(v.temperature * 10) } : {}),
        readAt: cstWallToIso(v.at),
      };
      const r = await api.request<{ accepted: number; duplicates: number; alerts: { kind: string }[] }>('POST', `/api/v1/stations/${stationId}/tank-readings`, { body: { readings: [reading] } });
      message.success(t('readingSaved', { a: r.accepted, d: r.duplicates }));
      if (r.alerts.length) message.warning(t('readingAlerts', { list: r.alerts.map((a) => t(`alertKind_${a.kind}`)).join('、') }));
    });
  return (
    <FormModal title={t('recordReading')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={s.busy} submitTestId="reading-form-submit">
      <Form form={form} layout="vertical" initialValues={{ tank: tanks[0]?.tank, at: cstNowWall() }} onFinish={submit} data-testid="reading-form" autoComplete="off">
        <SubmitError error={s.error} />
        <TankSelect tanks={tanks} testId="reading-form-tank" />
        <Form.Item name="volume" label={t('volumeL')} rules={[{ required: true, message: t('required') }, litresRule(t, true)]}>
          <Input inputMode="decimal" suffix="L" data-testid="reading-form-volume" />
        </Form.Item>
        <Space>
          <Form.Item name="water" label={t('waterL')} rules={[litresRule(t, true)]}>
            <Input inputMode="decimal" suffix="L" style={{ width: 140 }} data-testid="reading-form-water" />
          </Form.Item>
          <Form.Item name="temperature" label={t('temperature')}>
            <InputNumber min={-60} max={90} step={0.1} precision={1} style={{ width: 140 }} data-testid="reading-form-temperature" />
          </Form.Item>
        </Space>
        <WhenItem name="at" label={t('readAt')} testId="reading-form-at" />
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </FormModal>
  );
}
