import { useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { Button, Card, Form, Input, Select, Space, Table, Tag } from 'antd';
import { EyeInvisibleOutlined, PlusOutlined, SearchOutlined } from '@ant-design/icons';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { dateTime, digitsOnly, luhnValid } from '../../shared/format';
import { useSession } from '../session';
import { ID_TYPE_NAMES, REAL_NAME_NAMES, label } from '../i18n';
import { PageTitle, useA } from './common';
import { OTHER_ID, PHONE, RESIDENT_ID } from './CustomerCreate';
import type { Customer } from './types';

type Field = 'name' | 'phone' | 'idNumber' | 'cardNo';
const FIELDS: Field[] = ['name', 'phone', 'idNumber', 'cardNo'];
const PAGE_SIZE = 20;

interface SearchForm {
  field: Field;
  idType: string;
  text: string;
}

export function RealNameTag({ status }: { status: string }) {
  const { lang } = useLang();
  const color = status === 'verified' ? 'green' : status === 'rejected' ? 'red' : 'default';
  return (
    <Tag color={color} data-testid="real-name-status">
      {label(REAL_NAME_NAMES, status, lang)}
    </Tag>
  );
}

/** 客户: find customers by one of their identifiers; without a filter, the newest. */
export function Customers() {
  const { api, can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [form] = Form.useForm<SearchForm>();
  const [field, setField] = useState<Field>(() => FIELDS.find((f) => params.has(f)) ?? 'name');

  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const query = {
    name: params.get('name') ?? undefined,
    phone: params.get('phone') ?? undefined,
    idType: params.get('idNumber') ? (params.get('idType') ?? 'resident_id') : undefined,
    idNumber: params.get('idNumber') ?? undefined,
    cardNo: params.get('cardNo') ?? undefined,
  };
  const filtered = Object.values(query).some((v) => v !== undefined);
  const canOpen = can('GET', '/api/v1/customers/:id');
  const key = params.toString();
  const value = useLoad(
    () => api.request<{ items: Customer[]; total: number }>('GET', '/api/v1/customers', { query: { ...query, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE } }),
    [api, key],
  );

  // The address is the source of truth (back button, menu click, shared link): keep the form in step.
  useEffect(() => {
    const f = FIELDS.find((x) => params.has(x));
    if (f) {
      setField(f);
      form.setFieldsValue({ field: f, text: params.get(f) ?? '', idType: params.get('idType') ?? 'resident_id' });
    } else form.setFieldsValue({ text: '' });
  }, [key]);

  const onSearch = (v: SearchForm) => {
    const text = v.text?.trim() ?? '';
    const next = new URLSearchParams();
    if (text) {
      const clean = v.field === 'phone' || v.field === 'cardNo' ? digitsOnly(text) : v.field === 'idNumber' ? text.toUpperCase() : text;
      next.set(v.field, clean);
      if (v.field === 'idNumber') next.set('idType', v.idType);
    }
    setParams(next);
  };

  const validator = async (_r: unknown, text: string | undefined) => {
    const v = (text ?? '').trim();
    if (!v) return;
    const f = form.getFieldValue('field') as Field;
    if (f === 'phone' && !PHONE.test(digitsOnly(v))) throw new Error(t('phoneInvalid'));
    if (f === 'cardNo' && !(digitsOnly(v).length === 19 && luhnValid(digitsOnly(v)))) throw new Error(t('cardNoLuhn'));
    if (f === 'idNumber') {
      if (form.getFieldValue('idType') === 'resident_id') {
        if (!RESIDENT_ID.test(v)) throw new Error(t('residentIdInvalid'));
      } else if (!OTHER_ID.test(v)) throw new Error(t('idNumberLength'));
    }
  };

  return (
    <div data-testid="customers">
      <PageTitle
        title={t('customersTitle')}
        extra={
          can('POST', '/api/v1/customers') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/customers/new')} data-testid="customer-new">
              {t('customerNew')}
            </Button>
          )
        }
      />
      <Card style={{ marginBottom: 16 }}>
        <Form<SearchForm>
          form={form}
          layout="inline"
          onFinish={onSearch}
          initialValues={{ field, idType: params.get('idType') ?? 'resident_id', text: params.get(field) ?? '' }}
          style={{ rowGap: 8 }}
        >
          <Form.Item name="field" label={t('searchBy')}>
            <Select
              style={{ width: 140 }}
              onChange={(f: Field) => {
                setField(f);
                void form.validateFields(['text']).catch(() => undefined);
              }}
              options={FIELDS.map((f) => ({ value: f, label: t(`searchBy_${f}`) }))}
              data-testid="customer-search-field"
            />
          </Form.Item>
          {field === 'idNumber' && (
            <Form.Item name="idType" label={t('idType')}>
              <Select style={{ width: 200 }} options={Object.keys(ID_TYPE_NAMES).map((k) => ({ value: k, label: label(ID_TYPE_NAMES, k, lang) }))} />
            </Form.Item>
          )}
          <Form.Item name="text" rules={[{ validator }]} style={{ minWidth: 260 }}>
            <Input allowClear placeholder={t(`searchPlaceholder_${field}`)} aria-label={t(`searchBy_${field}`)} data-testid="customer-search-text" />
          </Form.Item>
          <Form.Item>
            <Space>
              <Button type="primary" htmlType="submit" icon={<SearchOutlined />} data-testid="customer-search-submit">
                {t('search')}
              </Button>
              <Button
                onClick={() => {
                  form.setFieldsValue({ text: '' });
                  setParams(new URLSearchParams());
                }}
              >
                {t('reset')}
              </Button>
            </Space>
          </Form.Item>
        </Form>
        <div style={{ marginTop: 8, color: '#888', fontSize: 13 }}>{filtered ? t('searchHintFiltered') : t('searchHintNewest')}</div>
      </Card>
      <Card>
        <LoadState value={value}>
          {(d) => (
            <>
              {d.items.some((c) => c.masked) && (
                <Tag icon={<EyeInvisibleOutlined />} style={{ marginBottom: 12 }} data-testid="customers-masked">
                  {t('maskedForRole')}
                </Tag>
              )}
              <Table<Customer>
                rowKey="id"
                dataSource={d.items}
                loading={value.loading}
                scroll={{ x: 'max-content' }}
                className="fc-nowrap-table"
                data-testid="customer-results"
                pagination={{
                  current: page,
                  pageSize: PAGE_SIZE,
                  total: d.total,
                  showSizeChanger: false,
                  showTotal: (n) => t('totalN', { n }),
                  onChange: (p) => {
                    const next = new URLSearchParams(params);
                    next.set('page', String(p));
                    setParams(next);
                  },
                }}
                locale={{ emptyText: filtered ? t('noCustomerFound') : t('empty') }}
                columns={[
                  { title: t('customerId'), dataIndex: 'id' },
                  {
                    title: t('name'),
                    dataIndex: 'name',
                    render: (name: string, c) => (
                      <span style={{ display: 'inline-block', maxWidth: 200, whiteSpace: 'normal' }}>
                        {canOpen ? (
                          <Link to={`/customers/${c.id}`} data-testid={`customer-link-${c.id}`}>
                            {name}
                          </Link>
                        ) : (
                          name
                        )}
                      </span>
                    ),
                  },
                  { title: t('phone'), dataIndex: 'phone', className: 'fc-num' },
                  {
                    // The document: its number, and under it what kind of document it is.
                    title: t('idDocument'),
                    dataIndex: 'idNumber',
                    render: (v: string, c) => (
                      <span style={{ display: 'inline-flex', flexDirection: 'column', lineHeight: 1.3 }}>
                        <span className="fc-num">{v}</span>
                        <span style={{ fontSize: 12, color: '#888' }}>{label(ID_TYPE_NAMES, c.idType, lang)}</span>
                      </span>
                    ),
                  },
                  { title: t('realNameStatus'), dataIndex: 'realNameStatus', render: (s: string) => <RealNameTag status={s} /> },
                  { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => dateTime(v) },
                ]}
              />
            </>
          )}
        </LoadState>
      </Card>
    </div>
  );
}
