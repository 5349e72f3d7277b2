import { useMemo, useState, type HTMLAttributes } from 'react';
import { Button, Card, Col, Form, Input, Modal, Row, Select, Table, Tag, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { parseYuan, unitPrice } from '../../shared/money';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, gradeName, markFieldError, useGrades, useIdempotencyKey, useStations } from './common';
import { dict } from './i18n';

interface Price {
  grade: string;
  unitPrice: number;
  effectiveFrom: string;
  stationId: number | null;
}

/** The prices in force now (national per grade, and station overrides), and setting a new one. */
export function PricesPage() {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const grades = useGrades();
  const stations = useStations();
  const list = useLoad(() => api.request<{ items: Price[] }>('GET', '/api/v1/prices').then((r) => r.items), [api]);
  const stationName = (id: number | null) => (id === null ? null : (stations.data?.find((s) => s.id === id)?.name ?? `#${id}`));

  const rows = useMemo(() => {
    const order = (code: string) => {
      const i = grades.data?.findIndex((g) => g.code === code) ?? -1;
      return i < 0 ? 999 : i;
    };
    return [...(list.data ?? [])].sort((a, b) => order(a.grade) - order(b.grade) || a.grade.localeCompare(b.grade) || (a.stationId ?? 0) - (b.stationId ?? 0));
  }, [list.data, grades.data]);

  const columns: ColumnsType<Price> = [
    { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
    { title: t('unitPrice'), dataIndex: 'unitPrice', align: 'right', render: (v: number) => <strong>{unitPrice(v)}</strong> },
    {
      title: t('priceScope'),
      dataIndex: 'stationId',
      render: (v: number | null) => (v === null ? <Tag color="blue">{t('national')}</Tag> : <Tag color="purple">{stationName(v)}</Tag>),
    },
    { title: t('effectiveFrom'), dataIndex: 'effectiveFrom', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
  ];

  return (
    <div>
      <PageHeader title={t('pricesTitle')} />
      {can('POST', '/api/v1/prices') && <SetPriceCard onSaved={list.reload} />}
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Price>
        rowKey={(p) => `${p.grade}:${p.stationId ?? 'national'}`}
        size="small"
        columns={columns}
        dataSource={rows}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText text={t('noPrices')} /> }}
        onRow={(p) => ({ 'data-testid': 'prices-row', 'data-grade': p.grade, 'data-station-id': p.stationId ?? '' }) as HTMLAttributes<HTMLElement>}
      />
    </div>
  );
}

function SetPriceCard({ onSaved }: { onSaved: () => void }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const grades = useGrades();
  const stations = useStations();
  const [form] = Form.useForm<{ grade: string; price: string; stationId?: number }>();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [modal, modalHolder] = Modal.useModal();
  const [msg, msgHolder] = message.useMessage();

  const send = async (body: { grade: string; unitPrice: number; stationId?: number }) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', '/api/v1/prices', { body, idempotencyKey: idem.get() });
      idem.renew();
      msg.success(t('priceSaved'));
      form.resetFields();
      onSaved();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['grade', 'stationId']);
    } finally {
      setBusy(false);
    }
  };

  const submit = (v: { grade: string; price: string; stationId?: number }) => {
    const fen = parseYuan(v.price)!;
    const scope = v.stationId ? (stations.data?.find((s) => s.id === v.stationId)?.name ?? `#${v.stationId}`) : '';
    const body = { grade: v.grade, unitPrice: fen, ...(v.stationId ? { stationId: v.stationId } : {}) };
    // A price is in force the moment it is saved, at every pump it covers: say so and ask first.
    modal.confirm({
      title: t('setPrice'),
      content: t(v.stationId ? 'confirmPriceStation' : 'confirmPriceNational', { grade: gradeName(grades.data, v.grade, lang), scope, price: unitPrice(fen) }),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { 'data-testid': 'price-confirm' } as any,
      onOk: () => send(body),
    });
  };

  return (
    <Card size="small" title={t('setPrice')} style={{ marginBottom: 16 }}>
      {modalHolder}
      {msgHolder}
      <Form form={form} layout="vertical" onFinish={submit} onValuesChange={() => idem.renew()} data-testid="price-form" autoComplete="off">
        <SubmitError error={error} />
        <Row gutter={16}>
          <Col xs={24} sm={12} md={6}>
            <Form.Item name="grade" label={t('grade')} rules={[{ required: true, message: t('gradeRequired') }]}>
              <Select
                loading={grades.loading}
                placeholder={t('gradeRequired')}
                options={(grades.data ?? []).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }))}
                data-testid="price-form-grade"
              />
            </Form.Item>
          </Col>
          <Col xs={24} sm={12} md={6}>
            <Form.Item
              name="price"
              label={t('unitPriceYuan')}
              rules={[
                { required: true, message: t('required') },
                {
                  validator: (_r, v: string | undefined) => {
                    if (!v) return Promise.resolve();
                    const fen = parseYuan(v);
                    return fen !== null && fen >= 1 && fen <= 99_999 ? Promise.resolve() : Promise.reject(new Error(t('unitPriceInvalid')));
                  },
                },
              ]}
            >
              <Input prefix="¥" suffix="/L" inputMode="decimal" placeholder="7.45" data-testid="price-form-unit-price" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name="stationId" label={t('stationOptional')}>
              <Select
                allowClear
                showSearch={{ optionFilterProp: 'label' }}
                placeholder={t('national')}
                loading={stations.loading}
                options={(stations.data ?? []).map((s) => ({ value: s.id, label: `${s.code} ${s.name}` }))}
                data-testid="price-form-station"
              />
            </Form.Item>
          </Col>
        </Row>
        <Button type="primary" htmlType="submit" loading={busy} data-testid="price-form-submit">
          {t('setPrice')}
        </Button>
      </Form>
    </Card>
  );
}
