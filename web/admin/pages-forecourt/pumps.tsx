import { useState, type HTMLAttributes } from 'react';
import { App, Button, Card, Form, Input, InputNumber, Select, Space, Table } from 'antd';
import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, SubmitError, gradeName, useGrades, useIdempotencyKey, type Station } from '../pages-b/common';
import { FormModal, useSending } from './common';
import { fc } from './i18n';

interface Pump {
  pump: number;
  name: string;
  nozzles?: { nozzle: number; grade: string }[];
}
interface Nozzle {
  nozzle: number;
  grade: string;
  pump?: number | null;
}

/**
 * A station's pumps (加油机) and the nozzles on each, with the grade each nozzle pumps. Pumps are
 * saved first (a nozzle may only name a pump the station has), nozzles in their own dialog.
 */
export function NozzlesPumpsCard({ station }: { station: Station }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const grades = useGrades();
  const mayPumps = can('GET', '/api/v1/stations/:id/pumps');
  const pumps = useLoad(
    () => (mayPumps ? api.request<{ items: Pump[] }>('GET', `/api/v1/stations/${station.id}/pumps`).then((r) => r.items) : Promise.resolve([] as Pump[])),
    [api, station.id, mayPumps],
  );
  const nozzles = useLoad(() => api.request<{ items: Nozzle[] }>('GET', `/api/v1/stations/${station.id}/nozzles`).then((r) => r.items), [api, station.id]);
  const [editing, setEditing] = useState<'pumps' | 'nozzles' | null>(null);
  const pumpName = (n: number | null | undefined) => {
    if (n === null || n === undefined) return t('noPump');
    const p = pumps.data?.find((x) => x.pump === n);
    return p?.name ? `${t('pumpN', { n })} · ${p.name}` : t('pumpN', { n });
  };

  return (
    <Card
      size="small"
      title={`${t('pumps')} / ${t('nozzles')}`}
      extra={
        <Space>
          {can('PUT', '/api/v1/stations/:id/pumps') && pumps.data && (
            <Button size="small" icon={<EditOutlined />} onClick={() => setEditing('pumps')} data-testid="pumps-edit">
              {t('editPumps')}
            </Button>
          )}
          {can('PUT', '/api/v1/stations/:id/nozzles') && nozzles.data && (
            <Button size="small" icon={<EditOutlined />} onClick={() => setEditing('nozzles')} data-testid="nozzles-edit">
              {t('editNozzles')}
            </Button>
          )}
        </Space>
      }
    >
      <ListError error={pumps.error ?? nozzles.error} onRetry={() => (pumps.reload(), nozzles.reload())} />
      {mayPumps && (
        <div style={{ marginBottom: 8 }} data-testid="pumps-list">
          {(pumps.data ?? []).length === 0 && !pumps.loading ? (
            <span style={{ color: '#888' }}>{t('noPumps')}</span>
          ) : (
            (pumps.data ?? []).map((p) => (
              <span key={p.pump} style={{ marginRight: 16 }} data-testid="pump-item" data-pump={p.pump}>
                <strong>{t('pumpN', { n: p.pump })}</strong> {p.name}
              </span>
            ))
          )}
        </div>
      )}
      <Table<Nozzle>
        rowKey="nozzle"
        size="small"
        pagination={false}
        loading={nozzles.loading}
        dataSource={nozzles.data ?? []}
        locale={{ emptyText: nozzles.loading ? ' ' : <EmptyText text={t('noNozzles')} /> }}
        onRow={(n) => ({ 'data-testid': 'nozzle-row', 'data-nozzle': n.nozzle, 'data-pump': n.pump ?? '' }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('nozzleNo'), dataIndex: 'nozzle', width: 100 },
          { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
          ...(mayPumps ? [{ title: t('pump'), dataIndex: 'pump', render: (v: number | null | undefined) => pumpName(v) }] : []),
        ]}
      />
      {editing === 'pumps' && (
        <PumpsModal
          station={station}
          pumps={pumps.data ?? []}
          onClose={(saved) => {
            setEditing(null);
            if (saved) pumps.reload();
          }}
        />
      )}
      {editing === 'nozzles' && (
        <NozzlesModal
          station={station}
          nozzles={nozzles.data ?? []}
          pumps={mayPumps ? (pumps.data ?? []) : null}
          onClose={(saved) => {
            setEditing(null);
            if (saved) nozzles.reload();
          }}
        />
      )}
    </Card>
  );
}

function useSaver(method: string, url: string, done: (saved: boolean) => void, okText: string) {
  const { api } = useSession();
  const { message } = App.useApp();
  const idem = useIdempotencyKey();
  const { busy, error, run } = useSending();
  const save = (body: unknown) =>
    run(async () => {
      await api.request(method, url, { body, idempotencyKey: idem.get() });
      idem.renew();
      message.success(okText);
      done(true);
    });
  return { save, busy, error, renew: idem.renew };
}

function PumpsModal({ station, pumps, onClose }: { station: Station; pumps: Pump[]; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const [form] = Form.useForm<{ items: Partial<Pump>[] }>();
  const s = useSaver('PUT', `/api/v1/stations/${station.id}/pumps`, onClose, t('pumpsSaved'));
  const submit = (v: { items?: Partial<Pump>[] }) =>
    s.save({ items: (v.items ?? []).map((p) => ({ pump: p.pump!, name: (p.name ?? '').trim() })).sort((a, b) => a.pump - b.pump) });
  return (
    <FormModal title={t('editPumps')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={s.busy} submitTestId="pumps-form-submit">
      <Form form={form} initialValues={{ items: pumps.map((p) => ({ pump: p.pump, name: p.name })) }} onFinish={submit} onValuesChange={s.renew} data-testid="pumps-form" autoComplete="off">
        <SubmitError error={s.error} />
        <Form.List name="items">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field, i) => (
                <Space key={field.key} align="start" style={{ display: 'flex' }}>
                  <Form.Item name={[field.name, 'pump']} label={t('pumpNo')} rules={[{ required: true, type: 'integer', min: 1, max: 99, message: t('numberInvalid') }, uniqueIn(form, 'pump', i, t('duplicate'))]}>
                    <InputNumber min={1} max={99} precision={0} style={{ width: 90 }} data-testid="pumps-form-number" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'name']} label={t('pumpName')} rules={[{ max: 40 }]}>
                    <Input maxLength={40} style={{ width: 200 }} data-testid="pumps-form-name" />
                  </Form.Item>
                  <Button icon={<DeleteOutlined />} aria-label={t('remove')} onClick={() => remove(field.name)} />
                </Space>
              ))}
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ pump: nextNumber(form.getFieldValue('items'), 'pump'), name: '' })} data-testid="pumps-form-add">
                {t('add')}
              </Button>
            </>
          )}
        </Form.List>
      </Form>
    </FormModal>
  );
}

function NozzlesModal({ station, nozzles, pumps, onClose }: { station: Station; nozzles: Nozzle[]; pumps: Pump[] | null; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const grades = useGrades();
  const [form] = Form.useForm<{ items: Partial<Nozzle>[] }>();
  const s = useSaver('PUT', `/api/v1/stations/${station.id}/nozzles`, onClose, t('nozzlesSaved'));
  const submit = (v: { items?: Partial<Nozzle>[] }) =>
    s.save({
      items: (v.items ?? [])
        .map((n) => ({ nozzle: n.nozzle!, grade: n.grade!, ...(n.pump ? { pump: n.pump } : {}) }))
        .sort((a, b) => a.nozzle - b.nozzle),
    });
  const gradeOptions = (grades.data ?? []).filter((g) => (g as { active?: boolean }).active !== false).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }));
  return (
    <FormModal width={640} title={t('editNozzles')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={s.busy} submitTestId="fc-nozzles-form-submit">
      <Form form={form} initialValues={{ items: nozzles.map((n) => ({ ...n })) }} onFinish={submit} onValuesChange={s.renew} data-testid="fc-nozzles-form" autoComplete="off">
        <SubmitError error={s.error} />
        <Form.List name="items">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field, i) => (
                <Space key={field.key} align="start" wrap style={{ display: 'flex' }}>
                  <Form.Item name={[field.name, 'nozzle']} label={t('nozzleNo')} rules={[{ required: true, type: 'integer', min: 1, max: 99, message: t('numberInvalid') }, uniqueIn(form, 'nozzle', i, t('duplicate'))]}>
                    <InputNumber min={1} max={99} precision={0} style={{ width: 80 }} data-testid="fc-nozzles-form-number" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'grade']} label={t('grade')} rules={[{ required: true, message: t('required') }]}>
                    <Select style={{ width: 170 }} options={gradeOptions} loading={grades.loading} data-testid="fc-nozzles-form-grade" />
                  </Form.Item>
                  {pumps && (
                    <Form.Item name={[field.name, 'pump']} label={t('pump')}>
                      <Select allowClear style={{ width: 130 }} placeholder={t('noPump')} options={pumps.map((p) => ({ value: p.pump, label: t('pumpN', { n: p.pump }) }))} data-testid="fc-nozzles-form-pump" />
                    </Form.Item>
                  )}
                  <Button icon={<DeleteOutlined />} aria-label={t('remove')} onClick={() => remove(field.name)} />
                </Space>
              ))}
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ nozzle: nextNumber(form.getFieldValue('items'), 'nozzle') })} data-testid="fc-nozzles-form-add">
                {t('add')}
              </Button>
            </>
          )}
        </Form.List>
      </Form>
    </FormModal>
  );
}

function nextNumber(items: Record<string, unknown>[] | undefined, key: string): number | undefined {
  const next = Math.max(0, ...(items ?? []).map((x) => Number(x?.[key] ?? 0))) + 1;
  return next <= 99 ? next : undefined;
}

function uniqueIn(form: { getFieldValue: (name: 'items') => unknown }, key: string, index: number, text: string) {
  return {
    validator: (_r: unknown, value: unknown) => {
      const all = (form.getFieldValue('items') ?? []) as Record<string, unknown>[];
      const dup = value !== undefined && value !== null && all.some((o, j) => j !== index && o?.[key] === value);
      return dup ? Promise.reject(new Error(text)) : Promise.resolve();
    },
  };
}
