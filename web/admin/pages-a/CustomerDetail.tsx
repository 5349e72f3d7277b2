import { useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { App, Button, Card, Descriptions, Space, Table, Tag, Tooltip } from 'antd';
import { CheckOutlined, CloseOutlined, CreditCardOutlined, EyeInvisibleOutlined } from '@ant-design/icons';
import { ApiError, errorText } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { dateTime } from '../../shared/format';
import { useSession } from '../session';
import { ID_TYPE_NAMES, label } from '../i18n';
import { CardLink, KindTag, Money, PageTitle, StatusTag, useA } from './common';
import { RealNameTag } from './Customers';
import type { Card as CardT, Customer } from './types';
import { LocalResult } from '../ui';

/** 客户详情: personal data (masked unless the role may see it), real-name status and the customer's cards. */
export function CustomerDetail() {
  const { id } = useParams();
  const customerId = Number(id);
  const { api, can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const { modal, message } = App.useApp();
  const [busy, setBusy] = useState<string | null>(null);

  const valid = Number.isInteger(customerId) && customerId > 0;
  const customer = useLoad(
    () => (valid ? api.request<Customer>('GET', `/api/v1/customers/${customerId}`) : Promise.reject(new Error('bad id'))),
    [api, customerId],
  );
  const canCards = can('GET', '/api/v1/cards');
  const cards = useLoad(
    () => (valid && canCards ? api.request<{ items: CardT[] }>('GET', '/api/v1/cards', { query: { customerId } }) : Promise.resolve({ items: [] })),
    [api, customerId, canCards],
  );

  const setRealName = (status: 'verified' | 'rejected') => {
    modal.confirm({
      title: status === 'verified' ? t('realNameVerifyConfirm') : t('realNameRejectConfirm'),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { 'data-testid': 'confirm-ok' },
      onOk: async () => {
        setBusy(status);
        try {
          await api.request('POST', `/api/v1/customers/${customerId}/real-name`, { body: { status } });
          message.success(t('saved'));
          customer.reload();
        } catch (err) {
          message.error(errorText(err, lang));
        } finally {
          setBusy(null);
        }
      },
    });
  };

  if (!valid || (customer.error instanceof ApiError && customer.error.code === 'CUSTOMER_NOT_FOUND')) {
    return (
      <div data-testid="customer-not-found">
        <LocalResult status="404" title={t('customerNotFoundTitle')} subTitle={t('customerNotFoundText', { id: id ?? '' })} extra={<Button type="primary" onClick={() => navigate('/customers')}>{t('backToList')}</Button>} />
      </div>
    );
  }

  const canIssue = can('POST', '/api/v1/cards');
  const canRealName = can('POST', '/api/v1/customers/:id/real-name');

  return (
    <div data-testid="customer-detail">
      <PageTitle
        title={t('customerDetailTitle', { id: valid ? customerId : '—' })}
        extra={
          <>
            <Button onClick={() => navigate('/customers')}>{t('backToList')}</Button>
            {canIssue && (
              <Button type="primary" icon={<CreditCardOutlined />} onClick={() => navigate(`/cards/new?customerId=${customerId}`)} data-testid="customer-issue-card">
                {t('issueCardForCustomer')}
              </Button>
            )}
          </>
        }
      />
      <Card title={t('personalData')} style={{ marginBottom: 16 }}>
        <LoadState value={customer}>
          {(c) => (
            <>
              {c.masked && (
                <Tag icon={<EyeInvisibleOutlined />} color="default" style={{ marginBottom: 12 }} data-testid="customer-masked">
                  {t('maskedForRole')}
                </Tag>
              )}
              <Descriptions
                column={{ xs: 1, sm: 2, lg: 3 }}
                items={[
                  { key: 'name', label: t('name'), children: <span data-testid="customer-name">{c.name}</span> },
                  { key: 'phone', label: t('phone'), children: <span className="fc-num">{c.phone}</span> },
                  { key: 'idType', label: t('idType'), children: label(ID_TYPE_NAMES, c.idType, lang) },
                  { key: 'idNumber', label: t('idNumber'), children: <span className="fc-num">{c.idNumber}</span> },
                  {
                    key: 'rn',
                    label: t('realNameStatus'),
                    children: (
                      <Space wrap>
                        <RealNameTag status={c.realNameStatus} />
                        {canRealName && (
                          <>
                            <Tooltip title={c.realNameStatus === 'verified' ? t('realNameAlready') : undefined}>
                              <Button size="small" icon={<CheckOutlined />} disabled={c.realNameStatus === 'verified'} loading={busy === 'verified'} onClick={() => setRealName('verified')} data-testid="real-name-verify">
                                {t('realNameVerify')}
                              </Button>
                            </Tooltip>
                            <Tooltip title={c.realNameStatus === 'rejected' ? t('realNameAlready') : undefined}>
                              <Button size="small" danger icon={<CloseOutlined />} disabled={c.realNameStatus === 'rejected'} loading={busy === 'rejected'} onClick={() => setRealName('rejected')} data-testid="real-name-reject">
                                {t('realNameReject')}
                              </Button>
                            </Tooltip>
                          </>
                        )}
                      </Space>
                    ),
                  },
                  { key: 'createdAt', label: t('createdAt'), children: dateTime(c.createdAt) },
                ]}
              />
            </>
          )}
        </LoadState>
      </Card>
      {canCards && (
        <Card title={t('customerCards')}>
          <LoadState value={cards}>
            {(d) => (
              <Table<CardT>
                rowKey="cardNo"
                dataSource={d.items}
                pagination={false}
                scroll={{ x: 800 }}
                locale={{ emptyText: t('noCards') }}
                data-testid="customer-cards"
                columns={[
                  {
                    title: t('cardNo'),
                    dataIndex: 'cardNo',
                    render: (no: string) => <CardLink cardNo={no} />,
                  },
                  { title: t('kind'), dataIndex: 'kind', render: (k: string) => <KindTag kind={k} /> },
                  { title: t('status'), dataIndex: 'status', render: (s: string) => <StatusTag status={s} /> },
                  { title: t('balance'), dataIndex: 'balance', align: 'right', render: (v: number) => <Money fen={v} /> },
                  { title: t('available'), dataIndex: 'available', align: 'right', render: (v: number) => <Money fen={v} /> },
                  { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span className="fc-num">{dateTime(v)}</span> },
                ]}
              />
            )}
          </LoadState>
        </Card>
      )}
    </div>
  );
}
