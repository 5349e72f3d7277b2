import { useState } from 'react';
import { useParams } from 'react-router-dom';
import { Alert, App as AntApp, Button, Form, Input, Switch } from 'antd';
import { errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { parseYuan, yuan } from '../shared/money';
import { availableLabel, AvailableValue, maskedCardNo, StatusBadge, useIdempotencyKey, type PortalCard } from './common';
import { CardState, useCard } from './Cards';
import { T } from './i18n';
import { Page, useGoBack } from './layout';
import { useSession } from './session';

const QUICK_YUAN = [50, 100, 200, 500];

/** 余额提醒: an amount in yuan below which a purchase triggers a text message, or off. */
export function AlertPage() {
  const t = useT(T);
  const { cardNo = '' } = useParams();
  const card = useCard(cardNo);
  return (
    <Page title={t('alertTitle')} back={`/cards/${cardNo}`}>
      <CardState card={card}>{(c) => <AlertForm card={c} />}</CardState>
    </Page>
  );
}

function AlertForm({ card }: { card: PortalCard }) {
  const t = useT(T);
  const { lang } = useLang();
  const goBack = useGoBack(`/cards/${card.cardNo}`);
  const { api } = useSession();
  const { message } = AntApp.useApp();
  const [form] = Form.useForm<{ on: boolean; amount: string }>();
  const on = Form.useWatch('on', form) ?? card.lowBalanceAlert !== null;
  const amountText = Form.useWatch('amount', form) ?? '';
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();

  const submit = async (v: { on: boolean; amount: string }) => {
    const lowBalance = v.on ? parseYuan(v.amount) : null;
    const body = { lowBalance };
    setBusy(true);
    setError(null);
    try {
      await api.request('PUT', `/api/v1/portal/cards/${encodeURIComponent(card.cardNo)}/alerts`, {
        body,
        idempotencyKey: idem.keyFor(JSON.stringify(body)),
      });
      idem.settled();
      message.success(lowBalance === null ? t('alertOffSaved') : t('alertSaved'));
      goBack();
    } catch (err) {
      idem.settled(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="pt-panel">
      <div className="pt-cardline">
        <span>{maskedCardNo(card.cardNo)}</span>
        <StatusBadge status={card.status} />
      </div>
      <p className="pt-intro">{t('alertIntro')}</p>
      {card.kind === 'master' && <Alert className="pt-alert" type="info" showIcon title={t('alertMasterNote')} data-testid="alert-master-note" />}
      <div className="pt-kv">
        <span>{availableLabel(t, card) ?? t('available')}</span>
        <b>
          <AvailableValue card={card} testid="alert-available" />
        </b>
      </div>
      <div className="pt-kv">
        <span>{t('lowAlert')}</span>
        <span data-testid="alert-current">{card.lowBalanceAlert === null ? t('lowAlertOff') : t('lowAlertBelow', { amount: yuan(card.lowBalanceAlert) })}</span>
      </div>
      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        size="large"
        onFinish={submit}
        onValuesChange={() => error && setError(null)}
        initialValues={{ on: card.lowBalanceAlert !== null, amount: card.lowBalanceAlert === null ? '' : yuan(card.lowBalanceAlert, { symbol: false }).replace(/,/g, '') }}
        className="pt-alertform"
      >
        <div className="pt-switchrow">
          <label htmlFor="alert-on">{t('alertOn')}</label>
          <Form.Item name="on" valuePropName="checked" noStyle>
            <Switch id="alert-on" data-testid="alert-switch" />
          </Form.Item>
        </div>
        {on && (
          <>
            <Form.Item
              name="amount"
              label={t('alertAmount')}
              rules={[
                { required: true, message: t('alertAmountRequired') },
                {
                  validator: (_r, v: string) => {
                    if (!v) return Promise.resolve();
                    const fen = parseYuan(v);
                    if (fen === null) return Promise.reject(new Error(t('invalidAmount')));
                    if (fen <= 0) return Promise.reject(new Error(t('alertAmountPositive')));
                    return Promise.resolve();
                  },
                },
              ]}
            >
              <Input inputMode="decimal" prefix="¥" suffix={lang === 'en' ? 'CNY' : '元'} placeholder={t('alertAmountPlaceholder')} maxLength={12} data-testid="alert-input" />
            </Form.Item>
            <div className="pt-chips" role="group" aria-label={t('alertQuick')}>
              {QUICK_YUAN.map((n) => {
                const sel = parseYuan(amountText) === n * 100;
                return (
                  <button
                    key={n}
                    type="button"
                    className={`pt-chip${sel ? ' is-on' : ''}`}
                    aria-pressed={sel}
                    onClick={() => form.setFieldsValue({ amount: String(n) })}
                    data-testid={`alert-quick-${n}`}
                  >
                    {yuan(n * 100)}
                  </button>
                );
              })}
            </div>
          </>
        )}
        {error !== null && <Alert className="pt-alert" type="error" showIcon data-testid="alert-error" title={errorText(error, lang)} />}
        <Button type="primary" htmlType="submit" block loading={busy} className="pt-btn-main" data-testid="alert-save">
          {t('save')}
        </Button>
      </Form>
    </div>
  );
}
