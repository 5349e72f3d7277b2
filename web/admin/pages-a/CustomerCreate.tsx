import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { App, Button, Card, Form, Input, Select, Space } from 'antd';
import { ApiError } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { useSession } from '../session';
import { ID_TYPE_NAMES, label } from '../i18n';
import { ErrorAlert, PageTitle, useA } from './common';
import type { Customer } from './types';
import { useCancel } from '../ui';

/** The server's rules (customers.service.ts): mainland mobile numbers; other documents 5–20 letters or digits. */
export const PHONE = /^1[3-9]\d{9}$/;
export const RESIDENT_ID = /^\d{17}[\dXx]$/;
export const OTHER_ID = /^[A-Za-z0-9]{5,20}$/;

interface CreateForm {
  name: string;
  phone: string;
  idType: string;
  idNumber: string;
}

/** Which form field a server error code is about, so the message shows under it. */
const FIELD_OF_CODE: Record<string, keyof CreateForm> = {
  CUSTOMER_PHONE_INVALID: 'phone',
  CUSTOMER_ID_NUMBER_INVALID: 'idNumber',
  CUSTOMER_ID_NUMBER_TAKEN: 'idNumber',
};

/** 新增客户: a person with real-name data (name, mobile phone, ID document). */
export function CustomerCreate() {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const cancel = useCancel('/customers');
  const { message } = App.useApp();
  const [form] = Form.useForm<CreateForm>();
  const idType = Form.useWatch('idType', form);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (v: CreateForm) => {
    setBusy(true);
    setError(null);
    const body = { name: v.name.trim(), phone: v.phone.trim(), idType: v.idType, idNumber: v.idNumber.trim().toUpperCase() };
    try {
      const c = await api.request<Customer>('POST', '/api/v1/customers', { body });
      message.success(t('customerCreated'));
      navigate(`/customers/${c.id}`, { replace: true });
    } catch (err) {
      setError(err);
      if (err instanceof ApiError) {
        const reported = typeof err.details?.field === 'string' ? String(err.details.field).replace(/^body\./, '') : undefined;
        const field = FIELD_OF_CODE[err.code] ?? (reported && reported in body ? (reported as keyof CreateForm) : undefined);
        if (field) form.setFields([{ name: field, errors: [err.text(lang)] }]);
      }
    } finally {
      setBusy(false);
    }
  };

  const taken = error instanceof ApiError && error.code === 'CUSTOMER_ID_NUMBER_TAKEN';
  const values = form.getFieldsValue();

  return (
    <div data-testid="customer-create">
      <PageTitle title={t('customerNewTitle')} sub={t('customerNewSub')} />
      <Card style={{ maxWidth: 640 }}>
        <ErrorAlert error={error} testId="customer-create-error" />
        {taken && (
          <div style={{ marginTop: -8, marginBottom: 16 }}>
            <Link to={`/customers?idType=${encodeURIComponent(values.idType ?? 'resident_id')}&idNumber=${encodeURIComponent((values.idNumber ?? '').trim().toUpperCase())}`}>
              {t('findExistingCustomer')}
            </Link>
          </div>
        )}
        <Form<CreateForm> form={form} layout="vertical" onFinish={submit} initialValues={{ idType: 'resident_id' }} disabled={busy}>
          <Form.Item
            label={t('name')}
            name="name"
            rules={[
              { required: true, whitespace: true, message: t('nameRequired') },
              { max: 50, message: t('nameTooLong') },
            ]}
          >
            <Input autoComplete="off" maxLength={50} autoFocus data-testid="customer-name-input" />
          </Form.Item>
          <Form.Item
            label={t('phone')}
            name="phone"
            extra={t('phoneHint')}
            rules={[
              { required: true, message: t('phoneRequired') },
              { pattern: PHONE, message: t('phoneInvalid') },
            ]}
          >
            <Input inputMode="numeric" autoComplete="off" maxLength={11} data-testid="customer-phone-input" />
          </Form.Item>
          <Form.Item label={t('idType')} name="idType" rules={[{ required: true }]}>
            <Select
              options={Object.keys(ID_TYPE_NAMES).map((k) => ({ value: k, label: label(ID_TYPE_NAMES, k, lang) }))}
              onChange={() => void form.validateFields(['idNumber']).catch(() => undefined)}
              data-testid="customer-idtype-input"
            />
          </Form.Item>
          <Form.Item
            label={t('idNumber')}
            name="idNumber"
            extra={idType === 'resident_id' ? t('residentIdHint') : undefined}
            rules={[
              { required: true, whitespace: true, message: t('idNumberRequired') },
              {
                validator: async (_r, value: string | undefined) => {
                  const v = (value ?? '').trim();
                  if (!v) return;
                  if (form.getFieldValue('idType') === 'resident_id') {
                    if (!RESIDENT_ID.test(v)) throw new Error(t('residentIdInvalid'));
                  } else if (!OTHER_ID.test(v)) throw new Error(t('idNumberLength'));
                },
              },
            ]}
          >
            <Input autoComplete="off" maxLength={30} data-testid="customer-idnumber-input" />
          </Form.Item>
          <Form.Item style={{ marginBottom: 0, marginTop: 8 }}>
            <Space>
              <Button type="primary" htmlType="submit" loading={busy} data-testid="customer-create-submit">
                {t('create')}
              </Button>
              <Button onClick={cancel} disabled={false}>
                {t('cancel')}
              </Button>
            </Space>
          </Form.Item>
        </Form>
      </Card>
    </div>
  );
}
