import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Button, Empty, Popconfirm, type InputRef } from 'antd';
import { MinusOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { newIdempotencyKey } from '../shared/api';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { unitPrice as priceText, yuan } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { AnswerPanel, CardPinFields, cardPinCheck, DeclineCodeRow, RetryAlert, useRetryable } from './forecourtParts';
import { posApi, type Goods, type PumpSale, type SaleAnswer } from './forecourtApi';
import { useShift } from './offline';
import { litresText, maskCardNo } from './saleMath';
import { useTerminal } from './session';
import { cartTotal, cartLines, setQuantity, type Cart } from './cart';
import { TF } from './textsForecourt';

interface PostpayAttempt {
  key: string;
  body: { cardNo: string; pin: string; pumpSaleId: string; items?: Array<{ sku: string; quantity: number }> };
  ps: PumpSale;
  gAmount: number;
}

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
  const [answer, setAnswer] = useState<(SaleAnswer & { pumpSale: PumpSale; goodsAmount: number }) | null>(null);
  const cardRef = useRef<InputRef>(null);
  useEffect(() => {
    if (unpaid.error) noteError(unpaid.error);
  }, [unpaid.error, noteError]);

  const catalogue: Goods[] = goods.data?.items ?? [];
  const goodsAmount = cartTotal(cart, catalogue);
  const { cardOk, pinOk, cardError, pinError } = cardPinCheck(t, touched, cardNo, pin);

  const { sending, failure, send, fail, clearFailure } = useRetryable(async (client, { key, body, ps, gAmount }: PostpayAttempt) => {
    const a = await posApi.sale(client, key, body);
    setAnswer({ ...a, pumpSale: ps, goodsAmount: gAmount });
    setPin('');
    if (a.status === 'approved') {
      shift.record({ ref: key, saleId: a.saleId, flow: 'postpay', status: 'approved', amount: a.amount, goodsAmount: gAmount, cardNo: body.cardNo, at: new Date().toISOString(), label: `${ps.grade} ${litresText(ps.volumeMl)} L` });
      setTick((x) => x + 1);
    }
  });

  // The same request again (same key and body), for the fill and goods now on screen.
  const last = failure?.attempt ?? null;
  const retry = last && picked ? () => void send({ ...last, ps: picked, gAmount: goodsAmount }) : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!picked || !cardOk || !pinOk) {
      setTouched(true);
      return;
    }
    const items = cartLines(cart);
    void send({ key: newIdempotencyKey(), body: { cardNo, pin, pumpSaleId: picked.pumpSaleId, ...(items.length ? { items } : {}) }, ps: picked, gAmount: goodsAmount });
  };

  const settleCash = async (ps: PumpSale) => {
    if (!client) return;
    try {
      await posApi.settlePumpSale(client, ps.pumpSaleId, { tender: 'cash' });
      if (picked?.pumpSaleId === ps.pumpSaleId) setPicked(null);
      setTick((x) => x + 1);
    } catch (err) {
      fail(err);
    }
  };

  const reset = () => {
    setAnswer(null);
    setPicked(null);
    setCart({});
    setCardNo('');
    setPin('');
    setTouched(false);
    clearFailure();
  };

  if (answer) {
    const approved = answer.status === 'approved';
    return (
      <AnswerPanel
        answer={answer}
        testPrefix="pos-postpay"
        title={
          <>
            {approved ? t('paid') : t('declined')} · {yuan(answer.amount)}
          </>
        }
        advice
        reasonTestId="pos-postpay-decline-reason"
        onNext={reset}
        nextTestId="pos-postpay-next"
      >
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
          <DeclineCodeRow code={answer.declineCode} />
        )}
        <dt>{t('receiptBalance')}</dt>
        <dd>{yuan(answer.balance)}</dd>
        <dt>{t('receiptTerminal')}</dt>
        <dd>{creds?.terminalId}</dd>
      </AnswerPanel>
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
        <CardPinFields idPrefix="postpay" testPrefix="pos-postpay" cardRef={cardRef} cardNo={cardNo} onCardNo={setCardNo} pin={pin} onPin={setPin} cardError={cardError} pinError={pinError} />
        <div className="pos-summary" data-testid="pos-postpay-summary">
          <div>
            {t('fuelPart')} {yuan(picked?.amount ?? 0)} + {t('goodsPart')} {yuan(goodsAmount)}
          </div>
          <div className="pos-summary-amount">{yuan((picked?.amount ?? 0) + goodsAmount)}</div>
        </div>
        {failure ? <RetryAlert error={failure.error} testPrefix="pos-postpay" onRetry={retry} /> : null}
        <div className="pos-actions">
          <Button type="primary" size="large" htmlType="submit" className="pos-sell" loading={sending} data-testid="pos-postpay-submit">
            {sending ? t('paying') : t('payByCard')}
          </Button>
        </div>
      </form>
    </div>
  );
}
