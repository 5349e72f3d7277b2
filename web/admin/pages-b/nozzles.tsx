import { useRef, useState, type HTMLAttributes } from 'react';
import { Button, Card, Form, InputNumber, Select, Space, Table, message } from 'antd';
import { DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, SubmitError, gradeName, useGrades, useIdempotencyKey, type Station } from './common';
import { dict } from './i18n';

interface Nozzle {
  nozzle: number;
  grade: string;
}

/** A station's nozzles (油枪) and the grade each one pumps; the POS reads them with the day's prices. */
export function NozzlesCard({ station }: { station: Station }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const grades = useGrades();
  const mayList = can('GET', '/api/v1/stations/:id/nozzles');
  const list = useLoad(
    () => (mayList ? api.request<{ items: Nozzle[] }>('GET', `/api/v1/stations/${station.id}/nozzles`).then((r) => r.items) : Promise.resolve([] as Nozzle[])),
    [api, station.id, mayList],
  );
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [form] = Form.useForm<{ items: Partial<Nozzle>[] }>();
  const idem = useIdempotencyKey();
  const [msg, holder] = message.useMessage();
  const mayEdit = can('PUT', '/api/v1/stations/:id/nozzles');
  const editButton = useRef<HTMLButtonElement>(null);

  const startEdit = () => {
    form.setFieldsValue({ items: (list.data ?? []).map((n) => ({ ...n })) });
    setError(undefined);
    idem.renew();
    setEditing(true);
  };

  const save = async (v: { items?: Partial<Nozzle>[] }) => {
    const items = (v.items ?? []).map((n) => ({ nozzle: n.nozzle!, grade: n.grade! })).sort((a, b) => a.nozzle - b.nozzle);
    setBusy(true);
    setError(undefined);
    try {
      await api.request('PUT', `/api/v1/stations/${station.id}/nozzles`, { body: { items }, idempotencyKey: idem.get() });
      idem.renew();
      msg.success(t('nozzlesSaved'));
      setEditing(false);
      list.reload();
      setTimeout(() => editButton.current?.focus(), 0);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const gradeOptions = (grades.data ?? []).map((g) => ({ value: g.code, label: gradeName(grades.data, g.code, lang) }));

  return (
    <Card
      size="small"
      title={t('nozzles')}
      extra={
        mayEdit &&
        !editing &&
        list.data && (
          <Button size="small" icon={<EditOutlined />} onClick={startEdit} ref={editButton} data-testid="nozzles-edit">
            {t('editNozzles')}
          </Button>
        )
      }
    >
      {holder}
      {!editing && (
        <>
          <ListError error={list.error} onRetry={list.reload} />
          <Table<Nozzle>
            rowKey="nozzle"
            size="small"
            pagination={false}
            loading={list.loading}
            dataSource={list.data ?? []}
            locale={{ emptyText: list.loading ? ' ' : <EmptyText text={t('noNozzles')} /> }}
            onRow={(n) => ({ 'data-testid': 'nozzle-row', 'data-nozzle': n.nozzle }) as HTMLAttributes<HTMLElement>}
            columns={[
              { title: t('nozzleNo'), dataIndex: 'nozzle', width: 120 },
              { title: t('grade'), dataIndex: 'grade', render: (v: string) => gradeName(grades.data, v, lang) },
            ]}
          />
        </>
      )}
      {editing && (
        <Form form={form} onFinish={save} onValuesChange={() => idem.renew()} data-testid="nozzles-form" autoComplete="off">
          <SubmitError error={error} />
          <Form.List name="items">
            {(fields, { add, remove }) => (
              <>
                {fields.map((field, i) => (
                  <Space key={field.key} align="start" wrap style={{ display: 'flex', marginBottom: 4 }}>
                    <Form.Item
                      name={[field.name, 'nozzle']}
                      label={t('nozzleNo')}
                      rules={[
                        { required: true, message: t('nozzleInvalid') },
                        { type: 'integer', min: 1, max: 99, message: t('nozzleInvalid') },
                        {
                          validator: (_r, value) => {
                            const all: Partial<Nozzle>[] = form.getFieldValue('items') ?? [];
                            const dup = value !== undefined && value !== null && all.some((o, j) => j !== i && o?.nozzle === value);
                            return dup ? Promise.reject(new Error(t('nozzleDuplicate', { n: value }))) : Promise.resolve();
                          },
                        },
                      ]}
                    >
                      <InputNumber min={1} max={99} precision={0} style={{ width: 100 }} autoFocus={i === 0} data-testid="nozzles-form-number" />
                    </Form.Item>
                    <Form.Item name={[field.name, 'grade']} label={t('grade')} rules={[{ required: true, message: t('gradeRequired') }]}>
                      <Select style={{ width: 200 }} options={gradeOptions} loading={grades.loading} data-testid="nozzles-form-grade" />
                    </Form.Item>
                    <Button
                      icon={<DeleteOutlined />}
                      aria-label={t('removeNozzle', { n: form.getFieldValue(['items', field.name, 'nozzle']) ?? i + 1 })}
                      onClick={() => remove(field.name)}
                      data-testid="nozzles-form-remove"
                    />
                  </Space>
                ))}
                <Button
                  type="dashed"
                  icon={<PlusOutlined />}
                  onClick={() => {
                    const all: Partial<Nozzle>[] = form.getFieldValue('items') ?? [];
                    const next = Math.max(0, ...all.map((n) => n?.nozzle ?? 0)) + 1;
                    add({ nozzle: next <= 99 ? next : undefined });
                  }}
                  style={{ marginBottom: 12 }}
                  data-testid="nozzles-form-add"
                >
                  {t('addNozzle')}
                </Button>
              </>
            )}
          </Form.List>
          <Space>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="nozzles-form-submit">
              {t('save')}
            </Button>
            <Button
              onClick={() => {
                setEditing(false);
                setTimeout(() => editButton.current?.focus(), 0);
              }}
            >
              {t('cancel')}
            </Button>
          </Space>
        </Form>
      )}
    </Card>
  );
}
