import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { Alert, App as AntApp, Button, Empty, Form, Input, Result, Spin } from 'antd';
import { BankOutlined, CopyOutlined, HistoryOutlined, RightOutlined } from '@ant-design/icons';
import QRCode from 'qrcode';
import { errorText } from '../shared/api';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { parseYuan, yuan } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { focusErrorField, kindLabel, maskedCardNo, StatusBadge, useCards, useIdempotencyKey } from './common';
import { T } from './i18n';
import { Page } from './layout';
import { useSession } from './session';
import { FINAL, methodFor, POLL_MS, RECHARGEABLE, sortChannels, type TopupOptions, type TopupOrder } from './topup';
import { TOPUP } from './topupTexts';

/** Texts of this screen first, the portal's shared words after. */
function useTopupT() {
  const a = useT(TOPUP);
  const b = useT(T);
  return useCallback((k: string, vars?: Record<string, string | number>) => (TOPUP[k] ? a(k, vars) : b(k, vars)), [a, b]);
}

function useWord() {
  const t = useTopupT();
  return (prefix: string, v: string) => (TOPUP[`${prefix}_${v}`] ? t(`${prefix}_${v}`) : v);
}

/** Copies text; plain http has no Clipboard API, so fall back to a hidden textarea. */
async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // The old way below.
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok: boolean;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** The brands' colours, as a small mark beside each channel's name. */
const CHANNEL_DOT: Record<string, string> = { wechat: '#07c160', alipay: '#1677ff', unionpay: '#d9001b', bank_transfer: '#8c6d1f' };

interface Values {
  amount?: string;
}

/**
 * 充值: the card (from the card's page, ?card=, or picked here), an amount (presets or typed)
 * and a channel; creates the order and goes to its payment page.
 */
export function TopupPage() {
  const t = useTopupT();
  const { lang } = useLang();
  const navigate = useNavigate();
  const { cardNo: cardFromPath } = useParams();
  const [params] = useSearchParams();
  const { api } = useSession();
  const cards = useCards();
  const options = useLoad(() => api.request<TopupOptions>('GET', '/api/v1/portal/topup-options'), [api]);
  const [form] = Form.useForm<Values>();
  const amountText = Form.useWatch('amount', form) ?? '';
  const [cardNo, setCardNo] = useState<string | undefined>(cardFromPath ?? params.get('card') ?? undefined);
  const [channel, setChannel] = useState<string>();
  const [channelError, setChannelError] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();

  const usable = useMemo(() => (cards.data ?? []).filter((c) => RECHARGEABLE.has(c.status)), [cards.data]);
  const current = usable.find((c) => c.cardNo === cardNo) ?? usable[0];
  const channels = useMemo(() => sortChannels(options.data?.channels ?? []), [options.data]);

  const submit = async (v: Values) => {
    if (!current || !options.data) return;
    const chosen = channels.find((c) => c.channel === channel);
    if (!chosen) {
      setChannelError(true);
      return;
    }
    const amount = parseYuan(v.amount ?? '')!;
    const body = { amount, channel: chosen.channel, method: methodFor(chosen) };
    setBusy(true);
    setError(null);
    try {
      const order = await api.request<TopupOrder>('POST', `/api/v1/portal/cards/${encodeURIComponent(current.cardNo)}/topups`, {
        body,
        idempotencyKey: idem.keyFor(JSON.stringify({ card: current.cardNo, ...body })),
      });
      idem.settled();
      navigate(`/topups/${order.orderNo}`);
    } catch (err) {
      idem.settled(err);
      setError(err);
      focusErrorField(form, err, ['amount']);
    } finally {
      setBusy(false);
    }
  };

  const back = cardFromPath ? `/cards/${cardFromPath}` : undefined;
  return (
    <Page title={t('topupTitle')} {...(back ? { back } : { tab: 'topup' as const })}>
      <div className="pt-sectionhead">
        <span>{'\u00a0'}</span>
        <Link to="/topups" data-testid="topup-history-link">
          <HistoryOutlined /> {t('myTopups')}
        </Link>
      </div>
      <LoadState value={cards}>
        {() => (
          <LoadState value={options}>
            {(opts) =>
              !current ? (
                <Empty className="pt-empty" description={t('noRechargeableCard')} data-testid="topup-no-card" />
              ) : (
                <div className="pt-panel" data-testid="topup-form">
                  <div className="pt-h">{t('chooseCard')}</div>
                  {usable.length > 1 ? (
                    <div className="pt-cardpick" role="group" aria-label={t('chooseCard')}>
                      {usable.map((c) => {
                        const on = c.cardNo === current.cardNo;
                        return (
                          <button key={c.cardNo} type="button" className={`pt-cardpick__item${on ? ' is-on' : ''}`} aria-pressed={on} data-testid="topup-card" data-card-no={c.cardNo} onClick={() => setCardNo(c.cardNo)}>
                            <span className="pt-cardpick__kind">{kindLabel(t, c.kind)}</span>
                            <span className="pt-cardpick__no">•••• {c.cardNo.slice(-4)}</span>
                          </button>
                        );
                      })}
                    </div>
                  ) : null}
                  <div className="pt-cardline" data-testid="topup-current-card" data-card-no={current.cardNo}>
                    <span>{maskedCardNo(current.cardNo)}</span>
                    <StatusBadge status={current.status} />
                  </div>
                  <div className="pt-kv">
                    <span>{t('newBalance')}</span>
                    <b data-testid="topup-balance-before">{yuan(current.balance)}</b>
                  </div>
                  <Form form={form} layout="vertical" requiredMark={false} size="large" onFinish={submit} onValuesChange={() => error && setError(null)}>
                    <div className="pt-h" style={{ marginTop: 12 }}>
                      {t('amount')}
                    </div>
                    <div className="pt-chips pt-chips--grid4" role="group" aria-label={t('amount')}>
                      {opts.presets.map((fen) => {
                        const on = parseYuan(amountText) === fen;
                        return (
                          <button
                            key={fen}
                            type="button"
                            className={`pt-chip${on ? ' is-on' : ''}`}
                            aria-pressed={on}
                            onClick={() => form.setFieldsValue({ amount: String(fen / 100) })}
                            data-testid={`topup-preset-${fen}`}
                          >
                            {t('presetYuan', { n: fen % 100 === 0 ? String(fen / 100) : (fen / 100).toFixed(2) })}
                          </button>
                        );
                      })}
                    </div>
                    <Form.Item
                      name="amount"
                      label={t('otherAmount')}
                      extra={t('limitsNote', { order: yuan(opts.orderMax), day: yuan(opts.dayMax) })}
                      rules={[
                        { required: true, message: t('amountRequired') },
                        {
                          validator: (_r, v: string | undefined) => {
                            if (!v) return Promise.resolve();
                            const fen = parseYuan(v);
                            if (fen === null || fen <= 0) return Promise.reject(new Error(t('amountInvalid')));
                            if (fen > opts.orderMax) return Promise.reject(new Error(t('amountTooHigh', { max: yuan(opts.orderMax) })));
                            return Promise.resolve();
                          },
                        },
                      ]}
                    >
                      <Input inputMode="decimal" prefix="¥" suffix={lang === 'en' ? 'CNY' : '元'} placeholder={t('amountPlaceholder')} maxLength={12} autoComplete="off" data-testid="topup-amount" />
                    </Form.Item>
                    <div className="pt-h">{t('channel')}</div>
                    <div role="radiogroup" aria-label={t('channel')} data-testid="topup-channels" style={{ display: 'flex', flexDirection: 'column', gap: 8, marginTop: 8 }}>
                      {channels.map((c) => {
                        const on = c.channel === channel;
                        return (
                          <button
                            key={c.channel}
                            type="button"
                            role="radio"
                            aria-checked={on}
                            style={{
                              display: 'flex',
                              alignItems: 'center',
                              gap: 12,
                              width: '100%',
                              minHeight: 52,
                              padding: '8px 14px',
                              borderRadius: 12,
                              border: `1px solid ${on ? 'var(--pt-brand)' : 'var(--pt-line)'}`,
                              background: on ? 'var(--pt-brand-soft)' : '#fff',
                              color: 'var(--pt-text)',
                              font: 'inherit',
                              textAlign: 'left',
                              cursor: 'pointer',
                            }}
                            onClick={() => {
                              setChannel(c.channel);
                              setChannelError(false);
                            }}
                            data-testid={`topup-channel-${c.channel}`}
                          >
                            <span aria-hidden style={{ width: 10, height: 10, borderRadius: 5, background: CHANNEL_DOT[c.channel] ?? '#999', flex: 'none' }} />
                            <span style={{ flex: 1, fontWeight: on ? 600 : 400 }}>{lang === 'en' ? c.name.en : c.name.zh}</span>
                            {c.sandbox ? <span className="pt-minitag pt-minitag--grey">{t('sandboxTag')}</span> : null}
                            <span aria-hidden style={{ color: on ? 'var(--pt-brand)' : '#c0c4cc', fontSize: 16 }}>
                              {on ? '●' : '○'}
                            </span>
                          </button>
                        );
                      })}
                    </div>
                    {channelError && <div className="pt-field-error" role="alert">{t('channelRequired')}</div>}
                    {error !== null && <Alert className="pt-alert" type="error" showIcon data-testid="topup-error" title={errorText(error, lang)} style={{ marginTop: 12 }} />}
                    <Button type="primary" htmlType="submit" block loading={busy} className="pt-btn-main" style={{ marginTop: 16 }} data-testid="topup-submit">
                      {t('payNow')}
                    </Button>
                  </Form>
                </div>
              )
            }
          </LoadState>
        )}
      </LoadState>
    </Page>
  );
}

/** Draws the payment code in the browser: the code text never leaves the page. */
function QrImage({ text, alt }: { text: string; alt: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(text, { margin: 1, width: 240, errorCorrectionLevel: 'M' }).then(
      (url) => live && setSrc(url),
      () => live && setSrc(undefined),
    );
    return () => {
      live = false;
    };
  }, [text]);
  if (!src) return <Spin />;
  return <img src={src} alt={alt} width={240} height={240} data-testid="topup-qr" data-qr-text={text} style={{ display: 'block', margin: '0 auto', imageRendering: 'pixelated' }} />;
}

/** The order, asked again every 2 s while it waits for the payment (the server asks the channel when a notification is late). */
function useOrderPoll(orderNo: string) {
  const { api } = useSession();
  const [order, setOrder] = useState<TopupOrder>();
  const [error, setError] = useState<unknown>();
  const [trouble, setTrouble] = useState(false);
  const [tick, setTick] = useState(0);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const o = await api.request<TopupOrder>('GET', `/api/v1/portal/topups/${encodeURIComponent(orderNo)}`);
        if (!live) return;
        setOrder(o);
        setError(undefined);
        setTrouble(false);
        if (!FINAL.has(o.status)) timer.current = window.setTimeout(load, POLL_MS);
      } catch (err) {
        if (!live) return;
        // A first load that fails is the page's error; a poll that fails later only delays the answer.
        setOrder((prev) => {
          if (prev === undefined) setError(err);
          else setTrouble(true);
          return prev;
        });
        timer.current = window.setTimeout(load, POLL_MS * 2);
      }
    };
    void load();
    return () => {
      live = false;
      window.clearTimeout(timer.current);
    };
  }, [api, orderNo, tick]);
  return { order, error, trouble, reload: () => setTick((x) => x + 1) };
}

/** The payment page of one order: how to pay, then the result and the new balance. */
export function TopupOrderPage() {
  const t = useTopupT();
  const w = useWord();
  const { orderNo = '' } = useParams();
  const { order, error, trouble, reload } = useOrderPoll(orderNo);
  const value = { data: order, error: order ? undefined : error, loading: !order && error === undefined, reload };
  return (
    <Page title={t('payTitle')} back="/topups">
      <LoadState value={value}>
        {(o) => (
          <div data-testid="topup-order" data-order-no={o.orderNo} data-status={o.status}>
            {o.status === 'credited' ? (
              <Credited order={o} />
            ) : o.status === 'closed' || o.status === 'failed' || o.status === 'refunded' ? (
              <div className="pt-panel">
                <Result
                  status={o.status === 'refunded' ? 'info' : 'warning'}
                  title={<span data-testid="topup-ended">{o.status === 'closed' ? t('closedTitle') : o.status === 'failed' ? t('failedTitle') : t('refundedTitle')}</span>}
                  subTitle={o.status === 'closed' ? t('closedSub') : undefined}
                  extra={
                    <Link to={`/cards/${o.cardNo}/topup`}>
                      <Button type="primary" size="large" block className="pt-btn-main">
                        {t('again')}
                      </Button>
                    </Link>
                  }
                />
              </div>
            ) : (
              <Paying order={o} trouble={trouble} onCheck={reload} />
            )}
            <div className="pt-panel" style={{ marginTop: 12 }}>
              <div className="pt-kv">
                <span>{t('orderNo')}</span>
                <b data-testid="topup-order-no">{o.orderNo}</b>
              </div>
              <div className="pt-kv">
                <span>{t('card')}</span>
                <b>{maskedCardNo(o.cardNo)}</b>
              </div>
              <div className="pt-kv">
                <span>{t('channel')}</span>
                <b>{w('ch', o.channel)}</b>
              </div>
              <div className="pt-kv">
                <span>{t('createdAt')}</span>
                <b>{dateTime(o.createdAt)}</b>
              </div>
            </div>
          </div>
        )}
      </LoadState>
    </Page>
  );
}

function Paying({ order: o, trouble, onCheck }: { order: TopupOrder; trouble: boolean; onCheck: () => void }) {
  const t = useTopupT();
  const p = o.payload ?? {};
  const formRef = useRef<HTMLFormElement>(null);
  const scanText = o.channel === 'wechat' ? t('scanWechat') : o.channel === 'alipay' ? t('scanAlipay') : t('scanAny');
  return (
    <div className="pt-panel" style={{ textAlign: 'center' }}>
      <div className="pt-cardface__label" style={{ color: 'var(--pt-text-2)' }}>
        {t('amount')}
      </div>
      <div style={{ fontSize: 32, fontWeight: 700, margin: '4px 0 12px' }} data-testid="topup-pay-amount">
        {yuan(o.amount)}
      </div>
      {o.status === 'paid' ? (
        <Alert className="pt-alert" type="info" showIcon title={t('paidNotCredited')} data-testid="topup-paid" />
      ) : p.transfer || o.channel === 'bank_transfer' ? (
        <TransferBox order={o} />
      ) : (
        <>
          {p.qrText && (
            <>
              <QrImage text={p.qrText} alt={t('qrAlt')} />
              <p className="pt-intro" style={{ marginTop: 8 }}>
                {scanText}
              </p>
            </>
          )}
          {p.payUrl && (
            <a href={p.payUrl} target="_blank" rel="noopener noreferrer" data-testid="topup-pay-url">
              <Button type="primary" size="large" block className="pt-btn-main">
                {t('openPayPage')}
              </Button>
            </a>
          )}
          {!p.payUrl && p.form && (
            <form ref={formRef} method="post" action={p.form.action} target="_blank" acceptCharset="UTF-8" data-testid="topup-pay-form">
              {Object.entries(p.form.fields).map(([k, v]) => (
                <input key={k} type="hidden" name={k} value={v} />
              ))}
              <Button type="primary" size="large" block className="pt-btn-main" htmlType="submit">
                {t('openPayPage')}
              </Button>
            </form>
          )}
        </>
      )}
      {p.sandboxUrl && (
        <div style={{ marginTop: 12 }}>
          <a href={p.sandboxUrl} target="_blank" rel="noopener" data-testid="topup-sandbox-link" className="pt-link-strong">
            {t('sandboxLink')} <RightOutlined />
          </a>
          <div className="pt-footnote">{t('sandboxHint')}</div>
        </div>
      )}
      <div style={{ marginTop: 16, color: 'var(--pt-text-3)' }} role="status" data-testid="topup-waiting">
        <Spin size="small" /> {o.channel === 'bank_transfer' ? t('waitingTransfer') : t('waiting')}
      </div>
      {o.status !== 'paid' && <div className="pt-footnote">{t('payBefore', { time: dateTime(o.expiresAt) })}</div>}
      {trouble && <Alert className="pt-alert" type="warning" showIcon title={t('pollTrouble')} style={{ marginTop: 8 }} />}
      <Button type="link" onClick={onCheck} data-testid="topup-check">
        {t('checkAgain')}
      </Button>
    </div>
  );
}

function TransferBox({ order: o }: { order: TopupOrder }) {
  const t = useTopupT();
  const { message } = AntApp.useApp();
  const tr = o.payload?.transfer;
  const code = tr?.payerCode ?? o.payerCode ?? '';
  const row = (label: string, value: string, testid: string, strong?: boolean) => (
    <div className="pt-kv" style={{ alignItems: 'center' }}>
      <span>{label}</span>
      <span>
        <b data-testid={testid} style={strong ? { color: 'var(--pt-brand)', fontSize: 18, letterSpacing: 1 } : undefined}>
          {value}
        </b>{' '}
        <Button
          type="text"
          size="small"
          icon={<CopyOutlined />}
          aria-label={`${t('copy')} ${label}`}
          onClick={async () => {
            if (await copyText(testid === 'topup-account-no' ? value.replace(/\s/g, '') : value)) message.success(t('copied'));
          }}
        />
      </span>
    </div>
  );
  return (
    <div style={{ textAlign: 'left' }} data-testid="topup-transfer">
      <div className="pt-h">
        <BankOutlined /> {t('transferTitle')}
      </div>
      {tr && row(t('transferBank'), tr.bankName, 'topup-bank-name')}
      {tr && row(t('transferAccountName'), tr.accountName, 'topup-account-name')}
      {tr && row(t('transferAccountNo'), tr.accountNo, 'topup-account-no')}
      {row(t('transferAmount'), (o.amount / 100).toFixed(2), 'topup-transfer-amount')}
      {row(t('transferCode'), code, 'topup-payer-code', true)}
      <Alert className="pt-alert" type="warning" showIcon title={t('transferNote')} style={{ marginTop: 8 }} />
    </div>
  );
}

/** 充值成功 and the card's balance, read again now that the money is on it. */
function Credited({ order: o }: { order: TopupOrder }) {
  const t = useTopupT();
  const cards = useCards();
  const card = cards.data?.find((c) => c.cardNo === o.cardNo);
  return (
    <div className="pt-panel">
      <Result
        status="success"
        title={<span data-testid="topup-success">{t('success')}</span>}
        subTitle={t('successSub', { amount: yuan(o.amount) })}
        extra={
          <>
            <div className="pt-kv" style={{ textAlign: 'left' }}>
              <span>{t('newBalance')}</span>
              <b data-testid="topup-new-balance">{card ? yuan(card.balance) : cards.loading ? '…' : '—'}</b>
            </div>
            <Link to={`/cards/${o.cardNo}`} data-testid="topup-back-to-card">
              <Button type="primary" size="large" block className="pt-btn-main" style={{ marginTop: 12 }}>
                {t('backToCard')}
              </Button>
            </Link>
          </>
        }
      />
    </div>
  );
}

/** 我的充值: the cardholder's orders, newest first. */
export function TopupsPage() {
  const t = useTopupT();
  const w = useWord();
  const { lang } = useLang();
  const { api } = useSession();
  const [items, setItems] = useState<TopupOrder[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [state, setState] = useState<{ loading: boolean; error: unknown }>({ loading: true, error: undefined });
  const load = useCallback(
    async (cursor?: string) => {
      setState({ loading: true, error: undefined });
      try {
        const page = await api.request<{ items: TopupOrder[]; nextCursor: string | null }>('GET', '/api/v1/portal/topups', { query: { limit: 20, cursor } });
        setItems((prev) => (cursor ? [...prev, ...page.items] : page.items));
        setNext(page.nextCursor);
        setState({ loading: false, error: undefined });
      } catch (error) {
        setState({ loading: false, error });
      }
    },
    [api],
  );
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <Page title={t('myTopups')} back="/topup">
      {state.error !== undefined && (
        <Alert className="pt-alert" type="error" showIcon title={errorText(state.error, lang)} action={<Button size="small" onClick={() => void load()}>{t('retry')}</Button>} />
      )}
      {!state.loading && state.error === undefined && items.length === 0 ? (
        <Empty className="pt-empty" description={t('noTopups')} data-testid="topups-empty">
          <Link to="/topup">
            <Button type="primary">{t('topupTitle')}</Button>
          </Link>
        </Empty>
      ) : (
        <div className="pt-cells" data-testid="topups-list" style={{ marginTop: 0 }}>
          {items.map((o) => (
            <Link key={o.orderNo} to={`/topups/${o.orderNo}`} className="pt-cell pt-cell--link" data-testid="topups-row" data-order-no={o.orderNo} data-status={o.status}>
              <span className="pt-cell__label">
                <div>
                  {w('ch', o.channel)} · {maskedCardNo(o.cardNo).slice(-4)}
                </div>
                <div className="pt-footnote" style={{ margin: 0 }}>
                  {dateTime(o.createdAt)}
                </div>
              </span>
              <span className="pt-cell__value" style={{ textAlign: 'right' }}>
                <div>
                  <b>{yuan(o.amount)}</b>
                </div>
                <div className={o.status === 'credited' ? undefined : 'pt-footnote'} style={{ margin: 0 }}>
                  {w('st', o.status)}
                </div>
              </span>
              <RightOutlined className="pt-cell__arrow" />
            </Link>
          ))}
        </div>
      )}
      {state.loading && (
        <div style={{ textAlign: 'center', padding: 16 }}>
          <Spin />
        </div>
      )}
      {!state.loading && next && (
        <Button block onClick={() => void load(next)} style={{ marginTop: 12 }} data-testid="topups-more">
          {t('loadMore')}
        </Button>
      )}
    </Page>
  );
}
