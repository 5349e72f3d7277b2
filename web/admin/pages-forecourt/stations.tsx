import { useEffect, useMemo, useState, type HTMLAttributes } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { Button, Card, Col, Form, Input, InputNumber, Modal, Row, Select, Table } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined, SearchOutlined } from '@ant-design/icons';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, markFieldError, mono, useIdempotencyKey } from '../pages-b/common';
import { StationStatusTag } from '../pages-b/stations';
import { HoursText, ServiceTags, regionText, type NetStation } from './common';
import { fc } from './i18n';

const PAGE_SIZE = 20;
const FILTERS = ['province', 'city', 'q', 'status'] as const;

/** The station network: filters by region, name and status; each station opens its own page. */
export function NetworkStationsPage() {
  const t = useT(fc);
  const { api, can } = useSession();
  const [params, setParams] = useSearchParams();
  const [form] = Form.useForm();
  const [creating, setCreating] = useState(false);
  const page = Math.max(1, Number(params.get('page')) || 1);
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? undefined]).filter(([, v]) => v)) as Record<string, string>;
  const key = JSON.stringify(filters);
  const list = useLoad(
    () => api.request<{ items: NetStation[]; total: number }>('GET', '/api/v1/stations', { query: { ...filters, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE } }),
    [api, key, page],
  );
  const mayOpen = can('GET', '/api/v1/stations/:id');

  useEffect(() => form.setFieldsValue({ province: filters.province, city: filters.city, q: filters.q, status: filters.status }), [key]);

  const search = (v: Record<string, string | undefined>) =>
    setParams(() => {
      const n = new URLSearchParams();
      for (const k of FILTERS) {
        const x = v[k]?.trim();
        if (x) n.set(k, x);
      }
      return n;
    });

  const columns: ColumnsType<NetStation> = useMemo(
    () => [
      { title: t('code'), dataIndex: 'code', render: (v: string) => <span style={mono}>{v}</span> },
      {
        title: t('name'),
        dataIndex: 'name',
        render: (v: string, s) =>
          mayOpen ? (
            <Link to={`/stations/${s.id}`} data-testid="stations-open">
              {v}
            </Link>
          ) : (
            v
          ),
      },
      { title: t('region'), key: 'region', render: (_: unknown, s) => <span style={{ whiteSpace: 'nowrap' }}>{regionText(s)}</span> },
      { title: t('address'), dataIndex: 'address', render: (v: string) => <span style={{ display: 'inline-block', minWidth: 180, maxWidth: 300 }}>{v}</span> },
      { title: t('hours'), dataIndex: 'openingHours', render: (v: NetStation['openingHours']) => <span style={{ display: 'inline-block', maxWidth: 260 }}><HoursText hours={v} /></span> },
      { title: t('services'), dataIndex: 'services', render: (v: string[] | undefined) => <ServiceTags services={v ?? []} /> },
      { title: t('status'), dataIndex: 'status', render: (v: string) => <StationStatusTag status={v} /> },
    ],
    [t, mayOpen],
  );

  return (
    <div>
      <PageHeader
        title={t('stationsTitle')}
        extra={
          can('POST', '/api/v1/stations') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="station-create">
              {t('newStation')}
            </Button>
          )
        }
      />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Form form={form} layout="inline" onFinish={search} data-testid="network-filters" style={{ rowGap: 8 }}>
          <Form.Item name="province" label={t('province')}>
            <Input allowClear maxLength={40} style={{ width: 140 }} data-testid="network-filter-province" />
          </Form.Item>
          <Form.Item name="city" label={t('city')}>
            <Input allowClear maxLength={40} style={{ width: 140 }} data-testid="network-filter-city" />
          </Form.Item>
          <Form.Item name="q" label={t('q')}>
            <Input allowClear maxLength={100} style={{ width: 200 }} data-testid="network-filter-q" />
          </Form.Item>
          <Form.Item name="status" label={t('status')}>
            <Select
              allowClear
              style={{ width: 120 }}
              placeholder={t('anyStatus')}
              options={['active', 'closed'].map((s) => ({ value: s, label: t(`stationStatus_${s}`) }))}
              data-testid="network-filter-status"
            />
          </Form.Item>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="network-search">
            {t('filter')}
          </Button>
        </Form>
      </Card>
      <ListError error={list.error} onRetry={list.reload} />
      <Table<NetStation>
        rowKey="id"
        size="small"
        columns={columns}
        dataSource={list.data?.items ?? []}
        loading={list.loading}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(s) => ({ 'data-testid': 'stations-row', 'data-station-id': s.id, 'data-station-code': s.code }) as HTMLAttributes<HTMLElement>}
        pagination={{
          current: page,
          pageSize: PAGE_SIZE,
          total: list.data?.total ?? 0,
          showSizeChanger: false,
          hideOnSinglePage: true,
          onChange: (p) =>
            setParams((prev) => {
              const n = new URLSearchParams(prev);
              n.set('page', String(p));
              return n;
            }),
        }}
      />
      {creating && <CreateStationModal onClose={() => setCreating(false)} />}
    </div>
  );
}

function CreateStationModal({ onClose }: { onClose: () => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const submit = async (v: Record<string, any>) => {
    setBusy(true);
    setError(undefined);
    try {
      const body = { code: v.code.trim(), name: v.name.trim(), address: v.address.trim(), lat: v.lat, lng: v.lng, province: v.province?.trim() ?? '', city: v.city?.trim() ?? '', district: v.district?.trim() ?? '' };
      const s = await api.request<NetStation>('POST', '/api/v1/stations', { body, idempotencyKey: idem.get() });
      idem.renew();
      onClose();
      navigate(`/stations/${s.id}`);
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['code', 'name', 'address', 'lat', 'lng', 'province', 'city', 'district']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open title={t('newStation')} onCancel={onClose} okText={t('submit')} cancelText={t('cancel')} onOk={() => form.submit()} confirmLoading={busy} destroyOnHidden width={640} okButtonProps={{ 'data-testid': 'network-create-submit' } as any}>
      <Form form={form} layout="vertical" onFinish={submit} onValuesChange={() => idem.renew()} data-testid="network-create-form">
        <SubmitError error={error} />
        <Row gutter={12}>
          <Col span={8}>
            <Form.Item name="code" label={t('code')} rules={[{ required: true, message: t('required') }, { pattern: /^[A-Za-z0-9_-]{2,20}$/, message: t('codeInvalid') }]}>
              <Input maxLength={20} autoFocus autoComplete="off" data-testid="network-create-code" />
            </Form.Item>
          </Col>
          <Col span={16}>
            <Form.Item name="name" label={t('name')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
              <Input maxLength={100} data-testid="network-create-name" />
            </Form.Item>
          </Col>
        </Row>
        <RegionFields prefix="network-create" />
        <Form.Item name="address" label={t('address')} rules={[{ required: true, whitespace: true, message: t('required') }]}>
          <Input maxLength={300} data-testid="network-create-address" />
        </Form.Item>
        <CoordFields prefix="network-create" />
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}

/** Province / city / district inputs, as the operator writes them (上海市 / 上海市 / 浦东新区). */
export function RegionFields({ prefix }: { prefix: string }) {
  const t = useT(fc);
  return (
    <Row gutter={12}>
      {(['province', 'city', 'district'] as const).map((k) => (
        <Col span={8} key={k}>
          <Form.Item name={k} label={t(k)} rules={[{ max: 40 }]}>
            <Input maxLength={40} data-testid={`${prefix}-${k}`} />
          </Form.Item>
        </Col>
      ))}
    </Row>
  );
}

export function CoordFields({ prefix }: { prefix: string }) {
  const t = useT(fc);
  return (
    <div style={{ display: 'flex', gap: 12 }}>
      <Form.Item style={{ flex: 1 }} name="lat" label={t('lat')} rules={[{ required: true, message: t('required') }, { type: 'number', min: -90, max: 90 }]}>
        <InputNumber style={{ width: '100%' }} step={0.000001} data-testid={`${prefix}-lat`} />
      </Form.Item>
      <Form.Item style={{ flex: 1 }} name="lng" label={t('lng')} rules={[{ required: true, message: t('required') }, { type: 'number', min: -180, max: 180 }]}>
        <InputNumber style={{ width: '100%' }} step={0.000001} data-testid={`${prefix}-lng`} />
      </Form.Item>
    </div>
  );
}
