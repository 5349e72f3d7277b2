import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { Alert, App, Button, Card, Checkbox, Form, Input, InputNumber, Radio, Space, Typography } from 'antd';
import { useLang } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { digitsOnly, groupCardNo } from '../../shared/format';
import { ApiError, errorText } from '../../shared/api';
import { useSession } from '../session';
import { CARD_KIND_NAMES, CARD_STATUS_NAMES, label } from '../i18n';
import { ErrorAlert, PageTitle, cardNoRules, maskName, maskPhone, pinRules, useA, useIdempotencyKey } from './common';
import type { Card as CardT, Customer } from './types';
import { useCancel } from '../ui';

type Kind = 'personal' | 'master' | 'sub' | 'anonymous';
const KINDS: Kind[] = ['personal', 'master', 'sub', 'anonymous'];

interface IssueForm {
  kind: Kind;
  customerId?: number;
  masterCardNo?: string;
  sharedBalance?: boolean;
  pin: string;
  pin2: string;
}

/** 发卡: personal (记名) or master (主卡) for a customer, sub (副卡) under a master, or anonymous (不记名). */
export function CardIssue() {
  const { api, can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const cancel = useCancel('/cards');
  const { message } = App.useApp();
  const [params] = useSearchParams();
  const [form] = Form.useForm<IssueForm>();
  const initialKind = (KINDS as string[]).includes(params.get('kind') ?? '') ? (params.get('kind') as Kind) : 'personal';
  const kind = Form.useWatch('kind', form) ?? initialKind;
  const customerId = Form.useWatch('customerId', form);
  const masterCardNo = digitsOnly(Form.useWatch('masterCardNo', form) ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Opened from a customer or a master card, the holder is known: the PIN is the next thing to type.
  const prefilled = Boolean(params.get('customerId') || params.get('masterCardNo'));

  const needsCustomer = kind === 'personal' || kind === 'master';
  // Previews of the holder and the master card, for roles that may read them (the server checks the numbers anyway).
  const canHolder = can('GET', '/api/v1/customers/:id');
  const canMaster = can('GET', '/api/v1/cards/:cardNo');
  const holder = useLoad(
    () => (canHolder && needsCustomer && customerId && customerId > 0 ? api.request<Customer>('GET', `/api/v1/customers/${customerId}`) : Promise.resolve(null)),
    [api, canHolder, needsCustomer, customerId],
  );
  const master = useLoad(
    () => (canMaster && kind === 'sub' && masterCardNo.length === 19 ? api.request<CardT>('GET', `/api/v1/cards/${masterCardNo}`) : Promise.resolve(null)),
    [api, canMaster, kind, masterCardNo],
  );

  // A retry after a lost answer sends the same key: the server answers with the card it issued, not a second one.
  const idem = useIdempotencyKey();

  const submit = async (v: IssueForm) => {
    setBusy(true);
    setError(null);
    const body: Record<string, unknown> = { kind: v.kind, pin: v.pin };
    if (v.kind === 'personal' || v.kind === 'master') body.customerId = v.customerId;
    if (v.kind === 'sub') {
      body.masterCardNo = digitsOnly(v.masterCardNo ?? '');
      body.sharedBalance = Boolean(v.sharedBalance);
    }
    try {
      const card = await api.request<CardT>('POST', '/api/v1/cards', { body, idempotencyKey: idem.keyFor(body) });
      idem.settle();
      message.success(t('cardIssued', { cardNo: groupCardNo(card.cardNo) }));
      navigate(`/cards/${card.cardNo}`, { state: { issued: true } });
    } catch (err) {
      idem.settle(err);
      setError(err);
      form.setFieldsValue({ pin: '', pin2: '' });
      if (err instanceof ApiError) {
        if (err.code === 'CARD_MASTER_INVALID' || err.code === 'CARD_MASTER_REQUIRED') form.setFields([{ name: 'masterCardNo', errors: [err.text(lang)] }]);
        if (err.code === 'CUSTOMER_NOT_FOUND' || err.code === 'CARD_CUSTOMER_REQUIRED') form.setFields([{ name: 'customerId', errors: [err.text(lang)] }]);
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div data-testid="card-issue-page">
      <PageTitle title={t('cardIssueTitle')} />
      <Card style={{ maxWidth: 680 }}>
        <ErrorAlert error={error} testId="card-issue-error" />
        <Form<IssueForm>
          form={form}
          layout="vertical"
          onFinish={submit}
          disabled={busy}
          data-testid="card-issue-form"
          initialValues={{
            kind: initialKind,
            customerId: Number(params.get('customerId')) || undefined,
            masterCardNo: params.get('masterCardNo') ?? undefined,
            sharedBalance: false,
          }}
        >
          <Form.Item label={t('kind')} name="kind" extra={t(`kindHint_${kind}`)}>
            <Radio.Group
              optionType="button"
              buttonStyle="solid"
              options={KINDS.map((k) => ({ value: k, label: label(CARD_KIND_NAMES, k, lang), 'data-testid': `card-issue-kind-${k}` }) as { value: string; label: string })}
              data-testid="card-issue-kind"
            />
          </Form.Item>
          {needsCustomer && (
            <Form.Item
              label={t('customerId')}
              name="customerId"
              rules={[{ required: true, message: t('customerIdRequired') }]}
              extra={
                customerId ? (
                  holder.loading ? (
                    t('loading')
                  ) : holder.error ? (
                    <Typography.Text type="danger">{errorText(holder.error, lang)}</Typography.Text>
                  ) : holder.data ? (
                    <span data-testid="card-issue-holder">
                      {t('holderIs', { name: maskName(holder.data.name), phone: maskPhone(holder.data.phone) })}
                    </span>
                  ) : null
                ) : (
                  t('customerIdHint')
                )
              }
            >
              <InputNumber min={1} precision={0} style={{ width: 220 }} autoFocus={!prefilled} data-testid="card-issue-customer" />
            </Form.Item>
          )}
          {kind === 'sub' && (
            <>
              <Form.Item
                label={t('masterCardNo')}
                name="masterCardNo"
                rules={cardNoRules(t)}
                extra={
                  master.data ? (
                    master.data.kind !== 'master' ? (
                      <Typography.Text type="danger">{t('notAMaster')}</Typography.Text>
                    ) : (
                      <span>{t('masterIs', { status: label(CARD_STATUS_NAMES, master.data.status, lang) })}</span>
                    )
                  ) : master.error ? (
                    <Typography.Text type="danger">{errorText(master.error, lang)}</Typography.Text>
                  ) : undefined
                }
              >
                <Input inputMode="numeric" maxLength={30} autoComplete="off" data-testid="card-issue-master" />
              </Form.Item>
              <Form.Item name="sharedBalance" valuePropName="checked" extra={t('sharedBalanceHint')}>
                <Checkbox data-testid="card-issue-shared">{t('sharedBalance')}</Checkbox>
              </Form.Item>
            </>
          )}
          {kind === 'anonymous' && <Alert type="info" showIcon title={t('anonymousNote')} style={{ marginBottom: 16 }} />}
          <Space wrap size="large" align="start">
            <Form.Item label={t('initialPin')} name="pin" rules={pinRules(t)}>
              <Input.Password inputMode="numeric" maxLength={6} autoComplete="new-password" style={{ width: 200 }} autoFocus={prefilled} data-testid="card-issue-pin" />
            </Form.Item>
            <Form.Item label={t('pinAgain')} name="pin2" dependencies={['pin']} rules={pinRules(t, 'pin')}>
              <Input.Password inputMode="numeric" maxLength={6} autoComplete="new-password" style={{ width: 200 }} data-testid="card-issue-pin2" />
            </Form.Item>
          </Space>
          <Form.Item style={{ marginBottom: 0, marginTop: 8 }}>
            <Space>
              <Button type="primary" htmlType="submit" loading={busy} data-testid="card-issue-submit">
                {t('issue')}
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
