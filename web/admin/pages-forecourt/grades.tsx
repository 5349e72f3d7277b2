import { useState, type HTMLAttributes } from 'react';
import { App, Button, Form, Input, Select, Space, Table, Tag } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { errorText } from '../../shared/api';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, markFieldError, mono, useIdempotencyKey } from '../pages-b/common';
import { FormModal, useSending } from './common';
import { fc } from './i18n';

export interface FullGrade {
  code: string;
  nameZh: string;
  nameEn: string;
  kind: string;
  active?: boolean;
}

const KINDS = ['petrol', 'diesel', 'gas', 'other'] as const;

/** Fuel grades: the national ones and those the operator adds (LPG, E92 …); rename; deactivate. */
export function GradesPage() {
  const t = useT(fc);
  const { lang } = useLang();
  const { api, can } = useSession();
  const { modal, message } = App.useApp();
  const list = useLoad(() => api.request<{ items: FullGrade[] }>('GET', '/api/v1/grades').then((r) => r.items), [api]);
  const [editing, setEditing] = useState<FullGrade | 'new' | null>(null);
  const mayPatch = can('PATCH', '/api/v1/grades/:code');

  const toggle = (g: FullGrade) => {
    const deactivating = g.active !== false;
    modal.confirm({
      title: t(deactivating ? 'confirmDeactivateGrade' : 'confirmActivateGrade', { code: g.code }),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { danger: deactivating, 'data-testid': 'grade-toggle-confirm' } as any,
      onOk: async () => {
        try {
          await api.request('PATCH', `/api/v1/grades/${encodeURIComponent(g.code)}`, { body: { active: !deactivating } });
          message.success(t('gradeSaved', { code: g.code }));
          list.reload();
        } catch (err) {
          message.error(errorText(err, lang));
        }
      },
    });
  };

  return (
    <div>
      <PageHeader
        title={t('gradesTitle')}
        extra={
          can('POST', '/api/v1/grades') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="grade-new">
              {t('newGrade')}
            </Button>
          )
        }
      />
      <ListError error={list.error} onRetry={list.reload} />
      <Table<FullGrade>
        rowKey="code"
        size="small"
        pagination={false}
        loading={list.loading}
        dataSource={list.data ?? []}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(g) => ({ 'data-testid': 'grade-row', 'data-grade': g.code, 'data-active': String(g.active !== false) }) as HTMLAttributes<HTMLElement>}
        columns={[
          { title: t('code'), dataIndex: 'code', render: (v: string) => <span style={mono}>{v}</span> },
          { title: t('nameZh'), dataIndex: 'nameZh' },
          { title: t('nameEn'), dataIndex: 'nameEn' },
          { title: t('kind'), dataIndex: 'kind', render: (v: string) => t(`kind_${v}`) },
          { title: t('status'), dataIndex: 'active', render: (v: boolean | undefined) => (v === false ? <Tag>{t('inactive')}</Tag> : <Tag color="green">{t('active')}</Tag>) },
          ...(mayPatch
            ? [
                {
                  title: t('actions'),
                  key: 'actions',
                  render: (_: unknown, g: FullGrade) => (
                    <Space>
                      <Button size="small" onClick={() => setEditing(g)} data-testid="grade-rename">
                        {t('edit')}
                      </Button>
                      <Button size="small" danger={g.active !== false} onClick={() => toggle(g)} data-testid="grade-toggle">
                        {g.active !== false ? t('deactivate') : t('activate')}
                      </Button>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
      {editing && (
        <GradeModal
          grade={editing === 'new' ? null : editing}
          onClose={(saved) => {
            setEditing(null);
            if (saved) list.reload();
          }}
        />
      )}
    </div>
  );
}

function GradeModal({ grade, onClose }: { grade: FullGrade | null; onClose: (saved: boolean) => void }) {
  const t = useT(fc);
  const { lang } = useLang();
  const { api } = useSession();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const idem = useIdempotencyKey();
  const { busy, error, run } = useSending();

  const submit = (v: { code?: string; nameZh: string; nameEn: string; kind?: string }) =>
    run(
      async () => {
        if (grade) await api.request('PATCH', `/api/v1/grades/${encodeURIComponent(grade.code)}`, { body: { nameZh: v.nameZh.trim(), nameEn: v.nameEn.trim() } });
        else await api.request('POST', '/api/v1/grades', { body: { code: v.code!.trim(), nameZh: v.nameZh.trim(), nameEn: v.nameEn.trim(), kind: v.kind }, idempotencyKey: idem.get() });
        idem.renew();
        message.success(t('gradeSaved', { code: grade?.code ?? v.code! }));
        onClose(true);
      },
      (err) => markFieldError(form, err, lang, ['code', 'nameZh', 'nameEn', 'kind']),
    );

  return (
    <FormModal title={grade ? t('renameGrade', { code: grade.code }) : t('newGrade')} onCancel={() => onClose(false)} onOk={() => form.submit()} busy={busy} submitTestId="grade-form-submit">
      <Form form={form} layout="vertical" initialValues={grade ?? { kind: 'petrol' }} onFinish={submit} onValuesChange={() => idem.renew()} data-testid="grade-form" autoComplete="off">
        <SubmitError error={error} />
        {!grade && (
          <>
            <Form.Item name="code" label={t('code')} rules={[{ required: true, message: t('required') }, { pattern: /^[A-Za-z0-9#+_-]{1,16}$/, message: t('gradeCodeInvalid') }]}>
              <Input maxLength={16} autoFocus data-testid="grade-form-code" />
            </Form.Item>
            <Form.Item name="kind" label={t('kind')} rules={[{ required: true }]}>
              <Select options={KINDS.map((k) => ({ value: k, label: t(`kind_${k}`) }))} data-testid="grade-form-kind" />
            </Form.Item>
          </>
        )}
        <Form.Item name="nameZh" label={t('nameZh')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 40 }]}>
          <Input maxLength={40} data-testid="grade-form-name-zh" />
        </Form.Item>
        <Form.Item name="nameEn" label={t('nameEn')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 60 }]}>
          <Input maxLength={60} data-testid="grade-form-name-en" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </FormModal>
  );
}
