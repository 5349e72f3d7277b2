import { useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { App, Button, Card, Checkbox, Col, Descriptions, Form, Input, Modal, Row, Select, Space, Switch } from 'antd';
import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { LocalResult } from '../ui';
import { PageHeader, SubmitError, markFieldError, mono, useIdempotencyKey } from '../pages-b/common';
import { StationStatusTag } from '../pages-b/stations';
import { TerminalsCard } from '../pages-b/terminals';
import { cstToday, HoursText, ServiceTags, regionText, type NetStation, type OpeningHours, BackLink } from './common';
import { fc, SERVICES, WEEKDAYS } from './i18n';
import { NozzlesPumpsCard } from './pumps';
import { CoordFields, RegionFields } from './stations';

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const CLOSE = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;

/** One station: its data (editable), terminals, pumps and nozzles, and links to its stock and statement. */
export function NetworkStationPage() {
  const t = useT(fc);
  const { api, can } = useSession();
  const { id } = useParams();
  const stationId = Number(id);
  const valid = Number.isInteger(stationId) && stationId > 0;
  const station = useLoad(() => (valid ? api.request<NetStation>('GET', `/api/v1/stations/${stationId}`) : Promise.reject(new Error('bad id'))), [api, stationId]);
  const [editing, setEditing] = useState(false);

  if (!valid || (station.error instanceof ApiError && station.error.code === 'STATION_NOT_FOUND'))
    return <LocalResult status="404" title={t('notFound')} subTitle={`#${id ?? ''}`} />;

  return (
    <div>
      <BackLink to="/stations">{t('backToStations')}</BackLink>
      <LoadState value={station}>
        {(s) => (
          <>
            <PageHeader
              title={
                <>
                  {s.name} <StationStatusTag status={s.status} />
                </>
              }
              extra={
                <>
                  {can('GET', '/api/v1/stations/:id/stock') && <Link to={`/stock/${s.id}`} data-testid="station-stock-link">{t('stockLink')}</Link>}
                  {can('GET', '/api/v1/stations/:id/settlements/:day') && (
                    <Link to={`/settlements/${s.id}/${cstToday()}`} data-testid="station-statement-link">
                      {t('statementLink')}
                    </Link>
                  )}
                  {can('PATCH', '/api/v1/stations/:id') && (
                    <Button icon={<EditOutlined />} onClick={() => setEditing(true)} data-testid="station-edit">
                      {t('editStation')}
                    </Button>
                  )}
                </>
              }
            />
            <Card size="small" style={{ marginBottom: 16 }}>
              <Descriptions
                size="small"
                column={{ xs: 1, sm: 2, lg: 3 }}
                items={[
                  { key: 'code', label: t('code'), children: <span style={mono}>{s.code}</span> },
                  { key: 'region', label: t('region'), children: <span data-testid="station-region">{regionText(s)}</span> },
                  { key: 'address', label: t('address'), children: <span data-testid="station-address">{s.address}</span> },
                  { key: 'geo', label: t('coords'), children: `${s.lat}, ${s.lng}` },
                  { key: 'phone', label: t('phone'), children: s.phone || '—' },
                  { key: 'hours', label: t('hours'), children: <span data-testid="station-hours"><HoursText hours={s.openingHours} /></span> },
                  { key: 'services', label: t('services'), children: <span data-testid="station-services"><ServiceTags services={s.services ?? []} /></span> },
                  { key: 'created', label: t('createdAt'), children: dateTime(s.createdAt) },
                ]}
              />
            </Card>
            <TerminalsCard station={s} />
            <NozzlesPumpsCard station={s} />
            {editing && (
              <EditStationModal
                station={s}
                onClose={(saved) => {
                  setEditing(false);
                  if (saved) station.reload();
                }}
              />
            )}
          </>
        )}
      </LoadState>
    </div>
  );
}

interface EditValues {
  name: string;
  address: string;
  province?: string;
  city?: string;
  district?: string;
  phone?: string;
  lat: number;
  lng: number;
  status: string;
  services: string[];
  always: boolean;
  weekly?: { day?: number; open?: string; close?: string }[];
}

function EditStationModal({ station, onClose }: { station: NetStation; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const w = useT(WEEKDAYS);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm<EditValues>();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const { message: msg } = App.useApp();
  const always = Form.useWatch('always', form) ?? station.openingHours?.always !== false;

  const initial: EditValues = {
    name: station.name,
    address: station.address,
    province: station.province,
    city: station.city,
    district: station.district,
    phone: station.phone ?? '',
    lat: station.lat,
    lng: station.lng,
    status: station.status,
    services: station.services ?? [],
    always: station.openingHours?.always !== false,
    weekly: station.openingHours && !station.openingHours.always ? station.openingHours.weekly : [{ day: 1, open: '06:00', close: '22:00' }],
  };

  const submit = async (v: EditValues) => {
    const openingHours: OpeningHours = v.always
      ? { always: true }
      : { always: false, weekly: (v.weekly ?? []).map((x) => ({ day: x.day!, open: x.open!.trim(), close: x.close!.trim() })) };
    const body = {
      name: v.name.trim(),
      address: v.address.trim(),
      province: v.province?.trim() ?? '',
      city: v.city?.trim() ?? '',
      district: v.district?.trim() ?? '',
      phone: v.phone?.trim() ? v.phone.trim() : null,
      lat: v.lat,
      lng: v.lng,
      status: v.status,
      services: v.services,
      openingHours,
    };
    setBusy(true);
    setError(undefined);
    try {
      await api.request('PATCH', `/api/v1/stations/${station.id}`, { body, idempotencyKey: idem.get() });
      idem.renew();
      msg.success(t('stationSaved'));
      onClose(true);
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['name', 'address', 'province', 'city', 'district', 'phone', 'lat', 'lng', 'status', 'services']);
    } finally {
      setBusy(false);
    }
  };

  const fillWeek = () => {
    const first = (form.getFieldValue('weekly') ?? [])[0] ?? { open: '06:00', close: '22:00' };
    form.setFieldValue(
      'weekly',
      [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, open: first.open, close: first.close })),
    );
  };

  return (
    <Modal
      open
      title={t('editStation')}
      onCancel={() => onClose(false)}
      okText={t('save')}
      cancelText={t('cancel')}
      onOk={() => form.submit()}
      confirmLoading={busy}
      destroyOnHidden
      width={720}
      okButtonProps={{ 'data-testid': 'station-edit-submit' } as any}
    >
      <Form form={form} layout="vertical" initialValues={initial} onFinish={submit} onValuesChange={() => idem.renew()} data-testid="station-edit-form" autoComplete="off">
        <SubmitError error={error} />
        <Row gutter={12}>
          <Col span={16}>
            <Form.Item name="name" label={t('name')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
              <Input maxLength={100} data-testid="station-edit-name" />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="status" label={t('status')}>
              <Select options={['active', 'closed'].map((s) => ({ value: s, label: t(`stationStatus_${s}`) }))} data-testid="station-edit-status" />
            </Form.Item>
          </Col>
        </Row>
        <RegionFields prefix="station-edit" />
        <Form.Item name="address" label={t('address')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
          <Input maxLength={300} data-testid="station-edit-address" />
        </Form.Item>
        <Row gutter={12}>
          <Col span={8}>
            <Form.Item name="phone" label={t('phone')} rules={[{ pattern: /^[0-9+() -]{3,30}$/, message: t('phoneInvalid') }]}>
              <Input maxLength={30} data-testid="station-edit-phone" />
            </Form.Item>
          </Col>
          <Col span={16}>
            <CoordFields prefix="station-edit" />
          </Col>
        </Row>
        <Form.Item name="services" label={t('services')}>
          <Checkbox.Group data-testid="station-edit-services" options={Object.keys(SERVICES).map((k) => ({ value: k, label: lang === 'en' ? SERVICES[k]!.en : SERVICES[k]!.zh }))} />
        </Form.Item>
        <Form.Item name="always" label={t('hours')} valuePropName="checked">
          <Switch checkedChildren={t('always')} unCheckedChildren={t('weekly')} data-testid="station-edit-always" />
        </Form.Item>
        {!always && (
          <Form.List name="weekly" rules={[{ validator: (_r, v) => (v && v.length ? Promise.resolve() : Promise.reject(new Error(t('windowsRequired')))) }]}>
            {(fields, { add, remove }, { errors }) => (
              <div data-testid="station-edit-weekly">
                {fields.map((field) => (
                  <Space key={field.key} align="start" wrap style={{ display: 'flex' }}>
                    <Form.Item name={[field.name, 'day']} rules={[{ required: true, message: t('required') }]}>
                      <Select style={{ width: 100 }} aria-label={t('weekday')} options={[1, 2, 3, 4, 5, 6, 7].map((d) => ({ value: d, label: w(String(d)) }))} data-testid="hours-day" />
                    </Form.Item>
                    <Form.Item name={[field.name, 'open']} rules={[{ required: true, message: t('required') }, { pattern: HHMM, message: t('hhmmInvalid') }]}>
                      <Input style={{ width: 90 }} placeholder="06:00" aria-label={t('opensAt')} maxLength={5} data-testid="hours-open" />
                    </Form.Item>
                    <span style={{ lineHeight: '32px' }}>–</span>
                    <Form.Item name={[field.name, 'close']} rules={[{ required: true, message: t('required') }, { pattern: CLOSE, message: t('hhmmInvalid') }]}>
                      <Input style={{ width: 90 }} placeholder="22:00" aria-label={t('closesAt')} maxLength={5} data-testid="hours-close" />
                    </Form.Item>
                    <Button icon={<DeleteOutlined />} aria-label={t('remove')} onClick={() => remove(field.name)} />
                  </Space>
                ))}
                <Form.ErrorList errors={errors} />
                <Space style={{ marginBottom: 12 }}>
                  <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ day: 1, open: '06:00', close: '22:00' })} disabled={fields.length >= 21} data-testid="hours-add">
                    {t('addWindow')}
                  </Button>
                  <Button onClick={fillWeek} data-testid="hours-fill-week">
                    {t('fillWeek')}
                  </Button>
                </Space>
              </div>
            )}
          </Form.List>
        )}
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}
