import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Alert, Button, Empty, Input, Popconfirm, type InputRef } from 'antd';
import { CheckCircleFilled, MinusOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { ApiError, errorText, newIdempotencyKey } from '../shared/api';
import { dateTime, digitsOnly, groupCardNo, luhnValid } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { unitPrice as priceText, yuan } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { explainDecline } from './declines';
import { posApi, type Goods, type PumpSale, type SaleAnswer } from './forecourtApi';
import { useShift } from './offline';
import { litresText, maskCardNo } from './saleMath';
import { useTerminal } from './session';
import { cartTotal, cartLines, setQuantity, type Cart } from './cart';
import { TF } from './textsForecourt';

/** 先加后付: the pump's unpaid fills, paid here by card, with store goods on the same sale if the customer wants. */
export function PostpayPage() {
  const t = useT(TF);
  const { lang } = useLang();
  const { client, creds, noteError } = useTerminal();
  const shift = useShift();
  const [tick, setTick] = useState(0);
  const unpaid = useLoad(() => (client ? posApi.unpaidPumpSales(client) : Promise.reject(new Error('not paired'))), [client, tick]);
  const goods = useLoad(() => (client ? posApi.goods(client) : Promise.reject(new Error('not paired'))), [client]);
  const [picked, setPicked] = useState<PumpSale | null>(null);
  const [cart, setCart] = useState<Cart>({});
  const [cardNo, setCardNo] = useState('');
  const [pin, setPin] = useState('');
  const [touched, setTouched] = useState(false);
  const [sending, setSending] = useState(false);
  const [answer, setAnswer] = useState<(SaleAnswer & { pumpSale: PumpSale; goodsAmount: number }) | null>(null);
  const [failure, setFailure] = useState<{ error: unknown; key: string; body: unknown } | null>(null);
  const cardRef = useRef<InputRef>(null);
  useEffect(() => {
    if (unpaid.error) noteError(unpaid.error);
  }, [unpaid.error, noteError]);

  const catalogue: Goods[] = goods.data?.items ?? [];
  const goodsAmount = cartTotal(cart, catalogue);
  const cardOk = cardNo.length === 19 && luhnValid(cardNo);
  const pinOk = /^\d{6}$/.test(pin);

  const send = async (key: string, body: { cardNo: string; pin: string; pumpSaleId: string; items?: Array<{ sku: string; quantity: number }> }, ps: PumpSale, gAmount: number) => {
    if (!client || sending) return;
    setSending(true);
    setFailure(null);
    try {
      const a = await posApi.sale(client, key, body);
      setAnswer({ ...a, pumpSale: ps, goodsAmount: gAmount });
      setPin('');
      if (a.status === 'approved') {
        shift.record({ ref: key, saleId: a.saleId, flow: 'postpay', status: 'approved', amount: a.amount, goodsAmount: gAmount, cardNo: body.cardNo, at: new Date().toISOString(), label: `${ps.grade} ${litresText(ps.volumeMl)} L` });
        setTick((x) => x + 1);
      }
    } catch (err) {
      noteError(err);
      setFailure({ error: err, key, body });
    } finally {
      setSending(false);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!picked || !cardOk || !pinOk) {
      setTouched(true);
      return;
    }
    const items = cartLines(cart);
    void send(newIdempotencyKey(), { cardNo, pin, pumpSaleId: picked.pumpSaleId, ...(items.length ? { items } : {}) }, picked, goodsAmount);
  };

  const settleCash = async (ps: PumpSale) => {
    if (!client) return;
    try {
      await posApi.settlePumpSale(client, ps.pumpSaleId, { tender: 'cash' });
      if (picked?.pumpSaleId === ps.pumpSaleId) setPicked(null);
      setTick((x) => x + 1);
    } catch (err) {
      noteError(err);
      setFailure({ error: err, key: '', body: null });
    }
  };

  const reset = () => {
    setAnswer(null);
    setPicked(null);
    setCart({});
    setCardNo('');
    setPin('');
    setTouched(false);
    setFailure(null);
  };

  if (answer) {
    const approved = answer.status === 'approved';
    const why = approved ? null : explainDecline(answer.declineCode, answer.message, lang);
    return (
      <section className={approved ? 'pos-approved' : 'pos-decline'} data-testid={approved ? 'pos-postpay-approved' : 'pos-postpay-declined'} role="status">
        <div className={approved ? 'pos-approved-head' : 'pos-decline-head'}>
          {approved ? <CheckCircleFilled aria-hidden="true" /> : null} {approved ? t('paid') : t('declined')} · {yuan(answer.amount)}
        </div>
        {why ? (
          <>
            <p className="pos-decline-reason" data-testid="pos-postpay-decline-reason">
              {why.reason}
            </p>
            <p>{why.advice}</p>
          </>
        ) : null}
        <dl className="pos-kv pos-kv-big">
          <dt>{t('receiptCard')}</dt>
          <dd>{maskCardNo(cardNo)}</dd>
          <dt>{t('fuelPart')}</dt>
          <dd>
            {answer.pumpSale.grade} {litresText(answer.pumpSale.volumeMl)} L · {yuan(answer.pumpSale.amount)}
          </dd>
          <dt>{t('goodsPart')}</dt>
          <dd>{yuan(answer.goodsAmount)}</dd>
          <dt>{t('total')}</dt>
          <dd data-testid="pos-postpay-amount">{yuan(answer.amount)}</dd>
          {approved ? (
            <>
              <dt>{t('approvalCode')}</dt>
              <dd>{answer.approvalCode}</dd>
            </>
          ) : (
            <>
              <dt>{t('declineCode')}</dt>
              <dd>
                <code>{answer.declineCode}</code>
              </dd>
            </>
          )}
          <dt>{t('receiptBalance')}</dt>
          <dd>{yuan(answer.balance)}</dd>
          <dt>{t('receiptTerminal')}</dt>
          <dd>{creds?.terminalId}</dd>
        </dl>
        <div className="pos-actions">
          <Button type="primary" size="large" autoFocus onClick={reset} data-testid="pos-postpay-next">
            {t('next')}
          </Button>
        </div>
      </section>
    );
  }

  return (
    <div className="pos-sale pos-forecourt">
      <section className="pos-card" aria-labelledby="unpaid-title" data-testid="pos-unpaid">
        <div className="pos-section-head">
          <h2 id="unpaid-title" className="pos-h2">
            {t('unpaidList')}
          </h2>
          <Button icon={<ReloadOutlined />} onClick={() => setTick((x) => x + 1)} data-testid="pos-unpaid-refresh">
            {t('refresh')}
          </Button>
        </div>
        <LoadState value={unpaid}>
          {(d) =>
            d.items.length === 0 ? (
              <Empty description={t('unpaidEmpty')} />
            ) : (
              <ul className="pos-list">
                {d.items.map((ps) => (
                  <li key={ps.pumpSaleId} className={`pos-list-row${picked?.pumpSaleId === ps.pumpSaleId ? ' selected' : ''}`} data-testid="pos-unpaid-row" data-pump-sale-id={ps.pumpSaleId}>
                    <button
                      type="button"
                      className="pos-list-pick"
                      aria-pressed={picked?.pumpSaleId === ps.pumpSaleId}
                      onClick={() => {
                        setPicked(ps);
                        setTimeout(() => cardRef.current?.focus(), 0);
                      }}
                      data-testid="pos-unpaid-pick"
                    >
                      <strong>{t('nozzleN', { n: ps.nozzle })}</strong> · {ps.grade} · {litresText(ps.volumeMl)} L × {priceText(ps.unitPrice)} = <strong>{yuan(ps.amount)}</strong>
                      <span className="pos-small pos-muted"> {dateTime(ps.createdAt).slice(11)}</span>
                    </button>
                    <Popconfirm title={t('paidCashConfirm')} onConfirm={() => void settleCash(ps)} okText={t('confirm')} cancelText={t('cancel')}>
                      <Button data-testid="pos-unpaid-cash">{t('paidCash')}</Button>
                    </Popconfirm>
                  </li>
                ))}
              </ul>
            )
          }
        </LoadState>
        <h2 className="pos-h2 pos-gap">{t('goods')}</h2>
        <LoadState value={goods}>
          {(d) =>
            d.items.length === 0 ? (
              <Empty description={t('goodsEmpty')} />
            ) : (
              <div className="pos-goods-grid">
                {d.items.map((g) => (
                  <button key={g.sku} type="button" className="pos-goods" onClick={() => setCart((c) => setQuantity(c, g.sku, (c[g.sku] ?? 0) + 1))} data-testid={`pos-goods-${g.sku}`}>
                    <span>{lang === 'en' ? g.nameEn : g.nameZh}</span>
                    <span className="pos-goods-price">{yuan(g.unitPrice)}</span>
                  </button>
                ))}
              </div>
            )
          }
        </LoadState>
      </section>

      <form className="pos-card pos-form" onSubmit={submit} noValidate aria-labelledby="postpay-title" data-testid="pos-postpay-form">
        <h2 id="postpay-title" className="pos-h2">
          {t('postpayTitle')}
        </h2>
        {picked ? (
          <p data-testid="pos-postpay-picked">
            {t('nozzleN', { n: picked.nozzle })} · {picked.grade} · {litresText(picked.volumeMl)} L · <strong>{yuan(picked.amount)}</strong>
          </p>
        ) : (
          <p className={touched ? 'pos-field-error' : 'pos-muted'} role={touched ? 'alert' : undefined}>
            {t('pickPumpSale')}
          </p>
        )}
        <div className="pos-cart" data-testid="pos-cart">
          <strong>{t('cart')}</strong>
          {cartLines(cart).length === 0 ? (
            <span className="pos-muted"> {t('cartEmpty')}</span>
          ) : (
            <ul className="pos-list">
              {cartLines(cart).map((l) => {
                const g = catalogue.find((x) => x.sku === l.sku);
                return (
                  <li key={l.sku} className="pos-list-row" data-testid="pos-cart-line" data-sku={l.sku}>
                    <span className="pos-list-main">
                      {g ? (lang === 'en' ? g.nameEn : g.nameZh) : l.sku} × {l.quantity} = {yuan((g?.unitPrice ?? 0) * l.quantity)}
                    </span>
                    <span className="pos-list-actions">
                      <Button icon={<MinusOutlined />} aria-label={t('remove')} onClick={() => setCart((c) => setQuantity(c, l.sku, l.quantity - 1))} />
                      <Button icon={<PlusOutlined />} aria-label={t('add')} onClick={() => setCart((c) => setQuantity(c, l.sku, l.quantity + 1))} />
                    </span>
                  </li>
                );
              })}
            </ul>
          )}
        </div>
        <div className="pos-field">
          <label htmlFor="postpay-card">{t('cardNo')}</label>
          <Input
            id="postpay-card"
            ref={cardRef}
            size="large"
            inputMode="numeric"
            autoComplete="off"
            value={groupCardNo(cardNo)}
            onChange={(e) => setCardNo(digitsOnly(e.target.value).slice(0, 19))}
            status={touched && !cardOk ? 'error' : undefined}
            data-testid="pos-postpay-card"
          />
          <div className="pos-field-error" role="alert">
            {touched && !cardOk ? (cardNo.length !== 19 ? t('cardNoLength', { n: cardNo.length }) : t('cardNoLuhn')) : ''}
          </div>
        </div>
        <div className="pos-field">
          <label htmlFor="postpay-pin">{t('pin')}</label>
          <Input.Password
            id="postpay-pin"
            size="large"
            inputMode="numeric"
            autoComplete="off"
            visibilityToggle={false}
            value={pin}
            maxLength={6}
            onChange={(e) => setPin(digitsOnly(e.target.value).slice(0, 6))}
            status={touched && !pinOk ? 'error' : undefined}
            data-testid="pos-postpay-pin"
          />
          <div className="pos-field-error" role="alert">
            {touched && !pinOk ? t('pinInvalid') : ''}
          </div>
        </div>
        <div className="pos-summary" data-testid="pos-postpay-summary">
          <div>
            {t('fuelPart')} {yuan(picked?.amount ?? 0)} + {t('goodsPart')} {yuan(goodsAmount)}
          </div>
          <div className="pos-summary-amount">{yuan((picked?.amount ?? 0) + goodsAmount)}</div>
        </div>
        {failure ? (
          <Alert
            type="error"
            showIcon
            data-testid="pos-postpay-error"
            title={errorText(failure.error, lang)}
            description={failure.error instanceof ApiError ? <code>{failure.error.code}</code> : undefined}
            action={
              failure.key && picked ? (
                <Button onClick={() => void send(failure.key, failure.body as Parameters<typeof send>[1], picked, goodsAmount)} data-testid="pos-postpay-retry">
                  {t('retrySame')}
                </Button>
              ) : undefined
            }
          />
        ) : null}
        <div className="pos-actions">
          <Button type="primary" size="large" htmlType="submit" className="pos-sell" loading={sending} data-testid="pos-postpay-submit">
            {sending ? t('paying') : t('payByCard')}
          </Button>
        </div>
      </form>
    </div>
  );
}
