import { useState } from 'react';
import { useParams } from 'react-router-dom';
import { Alert, Button, Form, Input, Result } from 'antd';
import { errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { focusErrorField, maskedCardNo, PIN_CHANGEABLE, StatusBadge, useIdempotencyKey } from './common';
import { CardState, useCard } from './Cards';
import { T } from './i18n';
import { Page, useGoBack } from './layout';
import { useSession } from './session';

interface Values {
  oldPin: string;
  newPin: string;
  newPin2: string;
}

const digits = (v: string) => v.replace(/\D/g, '');

/** 修改支付密码: the old PIN, the new one twice. */
export function PinPage() {
  const t = useT(T);
  const { lang } = useLang();
  const { cardNo = '' } = useParams();
  const goBack = useGoBack(`/cards/${cardNo}`);
  const { api } = useSession();
  const card = useCard(cardNo);
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const idem = useIdempotencyKey();

  const submit = async (v: Values) => {
    const body = { oldPin: v.oldPin, newPin: v.newPin };
    setBusy(true);
    setError(null);
    try {
      await api.request('POST', `/api/v1/portal/cards/${encodeURIComponent(cardNo)}/pin`, { body, idempotencyKey: idem.keyFor(JSON.stringify(body)) });
      idem.settled();
      setDone(true);
    } catch (err) {
      idem.settled(err);
      setError(err);
      focusErrorField(form, err, ['oldPin', 'newPin']);
    } finally {
      setBusy(false);
    }
  };

  const pinRule = [
    { required: true, message: t('pinRequired') },
    { pattern: /^\d{6}$/, message: t('pinFormat') },
  ];
  const pinInput = (testid: string) => (
    <Input.Password inputMode="numeric" maxLength={6} autoComplete="off" placeholder={t('pinPlaceholder')} data-testid={testid} className="pt-pin" />
  );

  return (
    <Page title={t('pinTitle')} back={`/cards/${cardNo}`}>
      <CardState card={card}>
        {(c) =>
          done ? (
            <div className="pt-panel">
              <Result
                status="success"
                title={<span data-testid="pin-changed">{t('pinChanged')}</span>}
                subTitle={t('pinChangedSub')}
                extra={
                  <Button type="primary" size="large" block className="pt-btn-main" data-testid="pin-done" onClick={goBack}>
                    {t('done')}
                  </Button>
                }
              />
            </div>
          ) : (
            <div className="pt-panel">
              <div className="pt-cardline">
                <span>{maskedCardNo(c.cardNo)}</span>
                <StatusBadge status={c.status} />
              </div>
              <p className="pt-intro">{t('pinIntro')}</p>
              {!PIN_CHANGEABLE.has(c.status) && <Alert className="pt-alert" type="warning" showIcon title={t('notAllowedNow')} />}
              <Form form={form} layout="vertical" requiredMark={false} size="large" onFinish={submit} onValuesChange={() => error && setError(null)}>
                <Form.Item name="oldPin" label={t('oldPin')} rules={pinRule} normalize={digits}>
                  {pinInput('pin-old')}
                </Form.Item>
                <Form.Item
                  name="newPin"
                  label={t('newPin')}
                  normalize={digits}
                  dependencies={['oldPin']}
                  rules={[
                    ...pinRule,
                    ({ getFieldValue }) => ({
                      validator: (_r, v: string) => (!v || v !== getFieldValue('oldPin') ? Promise.resolve() : Promise.reject(new Error(t('pinSame')))),
                    }),
                  ]}
                >
                  {pinInput('pin-new')}
                </Form.Item>
                <Form.Item
                  name="newPin2"
                  label={t('newPin2')}
                  normalize={digits}
                  dependencies={['newPin']}
                  rules={[
                    { required: true, message: t('pinRequired') },
                    ({ getFieldValue }) => ({
                      validator: (_r, v: string) => (!v || v === getFieldValue('newPin') ? Promise.resolve() : Promise.reject(new Error(t('pinMismatch')))),
                    }),
                  ]}
                >
                  {pinInput('pin-confirm')}
                </Form.Item>
                {error !== null && <Alert className="pt-alert" type="error" showIcon data-testid="pin-error" title={errorText(error, lang)} />}
                <Button type="primary" htmlType="submit" block loading={busy} disabled={!PIN_CHANGEABLE.has(c.status)} className="pt-btn-main" data-testid="pin-submit">
                  {t('pinSubmit')}
                </Button>
              </Form>
            </div>
          )
        }
      </CardState>
    </Page>
  );
}
