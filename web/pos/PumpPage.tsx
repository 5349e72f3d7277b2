import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Alert, Button, Empty, Input, Popconfirm, Segmented, Spin, Tag, type InputRef } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { errorText, newIdempotencyKey } from '../shared/api';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { parseYuan, unitPrice as priceText, yuan } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { AnswerPanel, CardPinFields, cardPinCheck, DeclineCodeRow, RetryAlert, useRetryable } from './forecourtParts';
import { loadForecourtCached, posApi, type AuthorisationAnswer, type OpenAuthorisation, type SaleAnswer } from './forecourtApi';
import { useShift } from './offline';
import { quote, sanitizeDecimal } from './quote';
import { litresText, maskCardNo } from './saleMath';
import { useTerminal } from './session';
import { TF } from './textsForecourt';
import type { Forecourt } from './terminal';

type Mode = 'preauth' | 'prepay';

/** authorisationId → the Idempotency-Key it was made with: a reversal names the original by it. */
function refsKey(tid: string) {
  return `fuelcard.pos.auths.${tid}`;
}
function loadRefs(tid: string): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(refsKey(tid)) ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}
function saveRef(tid: string, authorisationId: string, key: string) {
  const refs = loadRefs(tid);
  refs[authorisationId] = key;
  // Only recent ones matter (a hold expires within the hour): keep the last 200.
  const entries = Object.entries(refs).slice(-200);
  try {
    localStorage.setItem(refsKey(tid), JSON.stringify(Object.fromEntries(entries)));
  } catch {
    // Not kept: the hold can still be completed, or left to expire.
  }
}

/** 预授权 / 预付: unlock a nozzle with a hold on the card, and resolve the open holds (grey locks). */
export function PumpPage() {
  const t = useT(TF);
  const { client, noteError } = useTerminal();
  const forecourt = useLoad(() => (client ? loadForecourtCached(client) : Promise.reject(new Error('not paired'))), [client]);
  const [listTick, setListTick] = useState(0);
  const open = useLoad(() => (client ? posApi.openAuthorisations(client) : Promise.reject(new Error('not paired'))), [client, listTick]);
  const [completing, setCompleting] = useState<OpenAuthorisation | null>(null);
  useEffect(() => {
    if (open.error) noteError(open.error);
  }, [open.error, noteError]);

  return (
    <div className="pos-sale pos-forecourt">
      <section className="pos-work">
        <LoadState value={forecourt}>
          {(fc) =>
            completing ? (
              <CompletionPanel
                auth={completing}
                fc={fc}
                onDone={() => {
                  setCompleting(null);
                  setListTick((x) => x + 1);
                }}
              />
            ) : (
              <AuthoriseForm fc={fc} onAuthorised={() => setListTick((x) => x + 1)} />
            )
          }
        </LoadState>
      </section>
      <section className="pos-card" aria-labelledby="open-auths-title" data-testid="pos-open-auths">
        <div className="pos-section-head">
          <h2 id="open-auths-title" className="pos-h2">
            {t('openAuths')}
          </h2>
          <Button icon={<ReloadOutlined />} onClick={() => setListTick((x) => x + 1)} loading={open.loading && !!open.data} data-testid="pos-auths-refresh">
            {t('refresh')}
          </Button>
        </div>
        <LoadState value={open}>
          {(d) =>
            d.items.length === 0 ? (
              <Empty description={t('openAuthsEmpty')} />
            ) : (
              <ul className="pos-list">
                {d.items.map((a) => (
                  <OpenAuthRow key={a.authorisationId} auth={a} onComplete={() => setCompleting(a)} onChanged={() => setListTick((x) => x + 1)} />
                ))}
              </ul>
            )
          }
        </LoadState>
      </section>
    </div>
  );
}

function OpenAuthRow({ auth, onComplete, onChanged }: { auth: OpenAuthorisation; onComplete: () => void; onChanged: () => void }) {
  const t = useT(TF);
  const { lang } = useLang();
  const { client, creds, noteError } = useTerminal();
  const mine = auth.terminalId === creds?.terminalId;
  const ref = creds ? loadRefs(creds.terminalId)[auth.authorisationId] : undefined;
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const reverse = async () => {
    if (!client || !ref) return;
    setBusy(true);
    setError(undefined);
    try {
      await posApi.reverse(client, { originalRef: ref, reason: 'customer_cancel' });
      onChanged();
    } catch (err) {
      noteError(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="pos-list-row" data-testid="pos-auth-row" data-authorisation-id={auth.authorisationId} data-nozzle={auth.nozzle}>
      <div className="pos-list-main">
        <strong>{t('nozzleN', { n: auth.nozzle })}</strong> · {auth.grade} · <Tag>{t(`mode_${auth.mode}`)}</Tag>
        <code>{auth.cardNo}</code>
        <div className="pos-small pos-muted">
          {t('held')} <strong data-testid="pos-auth-held">{yuan(auth.heldAmount)}</strong> · {t('approvalCode')} {auth.approvalCode} · {t('expiresAt')} {dateTime(auth.expiresAt).slice(11)}
          {mine ? null : ` · ${t('otherTerminal')} ${auth.terminalId}`}
        </div>
        {error ? <Alert type="error" showIcon title={errorText(error, lang)} className="pos-gap" /> : null}
      </div>
      <div className="pos-list-actions">
        <Button type="primary" onClick={onComplete} data-testid="pos-auth-complete">
          {t('complete')}
        </Button>
        {mine && ref ? (
          <Popconfirm title={t('reverseConfirm')} onConfirm={() => void reverse()} okText={t('reverse')} cancelText={t('cancel')} okButtonProps={{ danger: true, size: 'large' }}>
            <Button danger loading={busy} data-testid="pos-auth-reverse">
              {t('reverse')}
            </Button>
          </Popconfirm>
        ) : (
          <Button danger disabled title={t('reverseOnlyOwn')}>
            {t('reverse')}
          </Button>
        )}
      </div>
    </li>
  );
}

interface Attempt<B> {
  key: string;
  body: B;
}

function AuthoriseForm({ fc, onAuthorised }: { fc: Forecourt; onAuthorised: () => void }) {
  const t = useT(TF);
  const { creds } = useTerminal();
  const [mode, setMode] = useState<Mode>('preauth');
  const [nozzle, setNozzle] = useState<number | null>(null);
  const [cardNo, setCardNo] = useState('');
  const [pin, setPin] = useState('');
  const [amountText, setAmountText] = useState('');
  const [touched, setTouched] = useState(false);
  const [answer, setAnswer] = useState<AuthorisationAnswer | null>(null);
  const cardRef = useRef<InputRef>(null);

  const { cardOk, pinOk, cardError, pinError } = cardPinCheck(t, touched, cardNo, pin);
  const amount = amountText.trim() === '' ? null : parseYuan(amountText);
  const amountOk = mode === 'prepay' ? amount !== null && amount > 0 : amountText.trim() === '' || (amount !== null && amount > 0);

  const { sending, failure, retry, send, clearFailure } = useRetryable(async (client, attempt: Attempt<Parameters<typeof posApi.authorise>[2]>) => {
    const a = await posApi.authorise(client, attempt.key, attempt.body);
    if (a.status === 'approved' && creds) saveRef(creds.terminalId, a.authorisationId, attempt.key);
    setAnswer(a);
    setPin('');
    onAuthorised();
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (nozzle === null || !cardOk || !pinOk || !amountOk) {
      setTouched(true);
      return;
    }
    const body = { cardNo, pin, nozzle, mode, ...(amount !== null ? { amount } : {}) };
    void send({ key: newIdempotencyKey(), body });
  };

  const again = () => {
    setAnswer(null);
    clearFailure();
    setNozzle(null);
    setCardNo('');
    setPin('');
    setAmountText('');
    setTouched(false);
    setTimeout(() => document.querySelector<HTMLButtonElement>('.pos-pump-nozzles .pos-nozzle:not(:disabled)')?.focus(), 0);
  };

  if (answer) {
    const approved = answer.status === 'approved';
    return (
      <AnswerPanel
        answer={answer}
        testPrefix="pos-auth"
        title={approved ? t('authApproved') : t('declined')}
        advice
        reasonTestId="pos-auth-decline-reason"
        extra={approved && answer.actionCode === '002' ? <Alert type="warning" showIcon title={t('authPartial')} /> : null}
        onNext={again}
        nextTestId="pos-auth-next"
      >
        <dt>{t('receiptNozzle')}</dt>
        <dd>
          {answer.nozzle} · {answer.grade} · {t(`mode_${answer.mode}`)}
        </dd>
        <dt>{t('requested')}</dt>
        <dd>{yuan(answer.requestedAmount)}</dd>
        {approved ? (
          <>
            <dt>{t('held')}</dt>
            <dd data-testid="pos-auth-held-amount">{yuan(answer.heldAmount)}</dd>
            <dt>{t('approvalCode')}</dt>
            <dd>{answer.approvalCode}</dd>
            <dt>{t('expiresAt')}</dt>
            <dd>{dateTime(answer.expiresAt)}</dd>
          </>
        ) : (
          <DeclineCodeRow code={answer.declineCode} testId="pos-auth-decline-code" />
        )}
        {answer.balance !== null ? (
          <>
            <dt>{t('balanceNow')}</dt>
            <dd>{yuan(answer.balance)}</dd>
          </>
        ) : null}
      </AnswerPanel>
    );
  }

  const nozzleError = touched && nozzle === null ? t('pickNozzleFirst') : '';
  const amountError = (touched || amountText !== '') && !amountOk ? (mode === 'prepay' && amountText.trim() === '' ? t('quantityRequired') : t('amountInvalid')) : '';

  return (
    <form className="pos-card pos-form" onSubmit={submit} noValidate aria-labelledby="pump-title" data-testid="pos-auth-form">
      <h2 id="pump-title" className="pos-h2">
        {t('pumpTitle')}
      </h2>
      <Segmented<Mode>
        block
        size="large"
        value={mode}
        onChange={setMode}
        options={[
          { label: <span data-testid="pos-mode-preauth">{t('modePreauth')}</span>, value: 'preauth' },
          { label: <span data-testid="pos-mode-prepay">{t('modePrepay')}</span>, value: 'prepay' },
        ]}
      />
      <div className="pos-nozzle-grid pos-pump-nozzles" role="group" aria-label={t('nozzles')}>
        {fc.nozzles.map((n) => (
          <button
            key={n.nozzle}
            type="button"
            className={`pos-nozzle${nozzle === n.nozzle ? ' selected' : ''}`}
            aria-pressed={nozzle === n.nozzle}
            onClick={() => {
              setNozzle(n.nozzle);
              cardRef.current?.focus();
            }}
            data-testid={`pump-nozzle-${n.nozzle}`}
          >
            <span className="pos-nozzle-no">{t('nozzleN', { n: n.nozzle })}</span>
            <span className="pos-nozzle-grade">{n.grade}</span>
            <span className="pos-nozzle-price">{n.unitPrice ? priceText(n.unitPrice) : t('noPrice')}</span>
          </button>
        ))}
      </div>
      {nozzleError ? <div className="pos-field-error" role="alert">{nozzleError}</div> : null}
      <CardPinFields idPrefix="auth" testPrefix="pos-auth" cardRef={cardRef} cardNo={cardNo} onCardNo={setCardNo} pin={pin} onPin={setPin} cardError={cardError} pinError={pinError} />
      <div className="pos-field">
        <label htmlFor="auth-amount">{mode === 'prepay' ? t('presetAmount') : t('holdAmount')}</label>
        <Input
          id="auth-amount"
          size="large"
          inputMode="decimal"
          autoComplete="off"
          prefix="¥"
          placeholder={mode === 'preauth' ? t('holdDefault') : '0.00'}
          value={amountText}
          onChange={(e) => setAmountText(sanitizeDecimal(e.target.value, 2))}
          status={amountError ? 'error' : undefined}
          data-testid="pos-auth-amount"
        />
        <div className="pos-field-error" role="alert">
          {amountError}
        </div>
      </div>
      {failure ? <RetryAlert error={failure.error} testPrefix="pos-auth" onRetry={retry} /> : null}
      <div className="pos-actions">
        <Button type="primary" size="large" htmlType="submit" className="pos-sell" loading={sending} data-testid="pos-auth-submit">
          {sending ? t('authorising') : t('authorise')}
        </Button>
      </div>
    </form>
  );
}

function CompletionPanel({ auth, fc, onDone }: { auth: OpenAuthorisation; fc: Forecourt; onDone: () => void }) {
  const t = useT(TF);
  const shift = useShift();
  const price = fc.nozzles.find((n) => n.nozzle === auth.nozzle)?.unitPrice ?? null;
  const [qtyMode, setQtyMode] = useState<'volume' | 'amount'>('volume');
  const [text, setText] = useState('');
  const [touched, setTouched] = useState(false);
  const [answer, setAnswer] = useState<SaleAnswer | null>(null);
  const inputRef = useRef<InputRef>(null);
  useEffect(() => inputRef.current?.focus(), []);

  const q = quote(qtyMode, text, price);
  const overHold = q.ok && q.amount > auth.heldAmount;

  const { sending, failure, retry, send } = useRetryable(async (client, attempt: Attempt<{ volumeMl: number; unitPrice: number; amount: number }>) => {
    const a = await posApi.complete(client, auth.authorisationId, attempt.key, attempt.body);
    setAnswer(a);
    if (a.status === 'approved')
      shift.record({ ref: attempt.key, saleId: a.saleId, flow: 'completion', status: 'approved', amount: a.amount, goodsAmount: 0, cardNo: auth.cardNo, at: new Date().toISOString(), label: `${auth.grade} ${litresText(attempt.body.volumeMl)} L` });
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!q.ok || overHold || !price) {
      setTouched(true);
      return;
    }
    void send({ key: newIdempotencyKey(), body: { volumeMl: q.volumeMl, unitPrice: price, amount: q.amount } });
  };

  if (answer) {
    const approved = answer.status === 'approved';
    return (
      <AnswerPanel answer={answer} testPrefix="pos-completion" title={approved ? t('completed') : t('declined')} onNext={onDone} nextTestId="pos-completion-done">
        <dt>{t('receiptCard')}</dt>
        <dd>{auth.cardNo}</dd>
        <dt>{t('receiptAmount')}</dt>
        <dd data-testid="pos-completion-amount">{yuan(answer.amount)}</dd>
        {approved ? (
          <>
            <dt>{t('released')}</dt>
            <dd data-testid="pos-completion-released">{yuan(Math.max(0, auth.heldAmount - answer.amount))}</dd>
            <dt>{t('approvalCode')}</dt>
            <dd>{answer.approvalCode}</dd>
            <dt>{t('receiptBalance')}</dt>
            <dd>{yuan(answer.balance)}</dd>
          </>
        ) : (
          <DeclineCodeRow code={answer.declineCode} />
        )}
      </AnswerPanel>
    );
  }

  const qtyError = touched && !q.ok ? t(q.error) : overHold ? t('overHold', { held: yuan(auth.heldAmount) }) : '';
  return (
    <form
      className="pos-card pos-form"
      onSubmit={submit}
      noValidate
      onKeyDown={(e) => {
        if (e.key === 'Escape') onDone();
      }}
      data-testid="pos-completion-form"
    >
      <h2 className="pos-h2">{t('completeTitle', { nozzle: auth.nozzle })}</h2>
      <p>
        {auth.grade} · {price ? priceText(price) : t('noPrice')} · {maskCardNo(auth.cardNo)} · {t('held')} <strong>{yuan(auth.heldAmount)}</strong>
      </p>
      <p className="pos-muted">{t('completeHint', { held: yuan(auth.heldAmount) })}</p>
      <Segmented<'volume' | 'amount'>
        value={qtyMode}
        onChange={(m) => {
          setQtyMode(m);
          setText('');
        }}
        options={[
          { label: t('byVolume'), value: 'volume' },
          { label: t('byAmount'), value: 'amount' },
        ]}
      />
      <div className="pos-field">
        <label htmlFor="completion-qty">{qtyMode === 'volume' ? t('litres') : t('amountYuan')}</label>
        <Input
          id="completion-qty"
          ref={inputRef}
          size="large"
          inputMode="decimal"
          autoComplete="off"
          value={text}
          suffix={qtyMode === 'volume' ? 'L' : undefined}
          prefix={qtyMode === 'amount' ? '¥' : undefined}
          onChange={(e) => setText(sanitizeDecimal(e.target.value, qtyMode === 'volume' ? 3 : 2))}
          status={qtyError ? 'error' : undefined}
          data-testid="pos-completion-qty"
        />
        <div className="pos-field-error" role="alert">
          {qtyError}
        </div>
      </div>
      <div className="pos-summary" data-testid="pos-completion-summary">
        {q.ok && price ? (
          <>
            <div>{t('summaryLine', { grade: auth.grade, litres: litresText(q.volumeMl), price: priceText(price), amount: yuan(q.amount) })}</div>
            <div className="pos-summary-amount">{yuan(q.amount)}</div>
            {!overHold ? (
              <div className="pos-muted pos-small">
                {t('released')} {yuan(auth.heldAmount - q.amount)}
              </div>
            ) : null}
          </>
        ) : (
          <span className="pos-muted">—</span>
        )}
      </div>
      {failure ? <RetryAlert error={failure.error} testPrefix="pos-completion" onRetry={retry} /> : null}
      <div className="pos-actions">
        <Button type="primary" size="large" htmlType="submit" className="pos-sell" loading={sending} data-testid="pos-completion-submit">
          {t('completeSubmit')}
        </Button>
        <Button size="large" onClick={onDone} data-testid="pos-completion-cancel">
          {t('cancel')}
        </Button>
      </div>
      {sending ? <Spin /> : null}
    </form>
  );
}
