import { useMemo, useState, type HTMLAttributes } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Button, Card, Descriptions, Form, Input, InputNumber, Modal, Table, Tag, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ArrowLeftOutlined, PlusOutlined } from '@ant-design/icons';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, markFieldError, mono, useIdempotencyKey, type Station } from './common';
import { dict } from './i18n';
import { ApiError } from '../../shared/api';
import { LocalResult } from '../ui';
import { NozzlesCard } from './nozzles';
import { TerminalsCard } from './terminals';

const PAGE_SIZE = 20;

export function StationStatusTag({ status }: { status: string }) {
  const t = useT(dict);
  return <Tag color={status === 'active' || status === 'open' ? 'green' : 'default'}>{t(`stationStatus_${status}`)}</Tag>;
}

export function StationsPage() {
  const t = useT(dict);
  const { api, can } = useSession();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get('page')) || 1);
  const [creating, setCreating] = useState(false);
  const mayOpen = can('GET', '/api/v1/stations/:id');
  const list = useLoad(
    () => api.request<{ items: Station[]; total: number }>('GET', '/api/v1/stations', { query: { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE } }),
    [api, page],
  );

  const columns: ColumnsType<Station> = useMemo(
    () => [
      { title: t('stationCode'), dataIndex: 'code', render: (v: string) => <span style={mono}>{v}</span> },
      {
        title: t('stationName'),
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
      { title: t('address'), dataIndex: 'address', render: (v: string) => <span style={{ display: 'inline-block', minWidth: 200, maxWidth: 360 }}>{v}</span> },
      { title: t('status'), dataIndex: 'status', render: (v: string) => <StationStatusTag status={v} /> },
      { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
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
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Station>
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
      <CreateStationModal open={creating} onClose={() => setCreating(false)} />
    </div>
  );
}

function CreateStationModal({ open, onClose }: { open: boolean; onClose: () => void }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [msg, holder] = message.useMessage();

  const submit = async (v: { code: string; name: string; address: string; lat: number; lng: number }) => {
    setBusy(true);
    setError(undefined);
    try {
      const s = await api.request<Station>('POST', '/api/v1/stations', {
        body: { code: v.code.trim(), name: v.name.trim(), address: v.address.trim(), lat: v.lat, lng: v.lng },
        idempotencyKey: idem.get(),
      });
      idem.renew();
      form.resetFields();
      msg.success(t('stationCreated', { name: s.name }));
      onClose();
      navigate(`/stations/${s.id}`);
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['code', 'name', 'address', 'lat', 'lng']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {holder}
      <Modal
        open={open}
        title={t('newStation')}
        onCancel={onClose}
        okText={t('submit')}
        cancelText={t('cancel')}
        onOk={() => form.submit()}
        confirmLoading={busy}
        destroyOnHidden
        okButtonProps={{ 'data-testid': 'station-form-submit' } as any}
      >
        <Form
          form={form}
          layout="vertical"
          onFinish={submit}
          onValuesChange={() => idem.renew()}
          data-testid="station-form"
          preserve={false}
        >
          <SubmitError error={error} />
          <Form.Item name="code" label={t('stationCode')} rules={[{ required: true, message: t('required') }, { pattern: /^[A-Za-z0-9_-]{2,20}$/, message: t('stationCodeInvalid') }]}>
            <Input data-testid="station-form-code" autoComplete="off" maxLength={20} autoFocus />
          </Form.Item>
          <Form.Item name="name" label={t('stationName')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 100 }]}>
            <Input data-testid="station-form-name" maxLength={100} />
          </Form.Item>
          <Form.Item name="address" label={t('address')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 300 }]}>
            <Input data-testid="station-form-address" maxLength={300} />
          </Form.Item>
          <div style={{ display: 'flex', gap: 12 }}>
            <Form.Item
              style={{ flex: 1 }}
              name="lat"
              label={t('lat')}
              rules={[{ required: true, message: t('required') }, { type: 'number', min: -90, max: 90, message: t('latInvalid') }]}
            >
              <InputNumber style={{ width: '100%' }} step={0.000001} data-testid="station-form-lat" />
            </Form.Item>
            <Form.Item
              style={{ flex: 1 }}
              name="lng"
              label={t('lng')}
              rules={[{ required: true, message: t('required') }, { type: 'number', min: -180, max: 180, message: t('lngInvalid') }]}
            >
              <InputNumber style={{ width: '100%' }} step={0.000001} data-testid="station-form-lng" />
            </Form.Item>
          </div>
          {/* Enter in a field submits the form. */}
          <button type="submit" hidden aria-hidden tabIndex={-1} />
        </Form>
      </Modal>
    </>
  );
}

export function StationDetailPage() {
  const t = useT(dict);
  const { api } = useSession();
  const { id } = useParams();
  const stationId = Number(id);
  const valid = Number.isInteger(stationId) && stationId > 0;
  const station = useLoad(() => (valid ? api.request<Station>('GET', `/api/v1/stations/${stationId}`) : Promise.reject(new Error('bad id'))), [api, stationId]);

  return (
    <div>
      <div style={{ marginBottom: 8 }}>
        <Link to="/stations">
          <ArrowLeftOutlined /> {t('backToStations')}
        </Link>
      </div>
      {!valid || (station.error instanceof ApiError && station.error.code === 'STATION_NOT_FOUND') ? (
        <LocalResult status="404" title={t('stationNotFound')} subTitle={t('stationNotFoundText', { id: id ?? '' })} />
      ) : (
        <LoadState value={station}>
          {(s) => (
            <>
              <PageHeader
                title={
                  <>
                    {s.name} <StationStatusTag status={s.status} />
                  </>
                }
              />
              <Card size="small" style={{ marginBottom: 16 }}>
                <Descriptions
                  size="small"
                  column={{ xs: 1, sm: 2, lg: 3 }}
                  items={[
                    { key: 'code', label: t('stationCode'), children: <span style={mono}>{s.code}</span> },
                    { key: 'address', label: t('address'), children: s.address },
                    { key: 'geo', label: `${t('lat')} / ${t('lng')}`, children: `${s.lat}, ${s.lng}` },
                    { key: 'acct', label: t('settlementAccount'), children: s.settlementAccountId },
                    { key: 'created', label: t('createdAt'), children: dateTime(s.createdAt) },
                  ]}
                />
              </Card>
              <TerminalsCard station={s} />
              <NozzlesCard station={s} />
            </>
          )}
        </LoadState>
      )}
    </div>
  );
}
