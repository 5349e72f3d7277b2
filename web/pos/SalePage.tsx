import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ChangeEvent, type FormEvent, type KeyboardEvent, type RefObject } from 'react';
import { Alert, Button, Input, Popconfirm, Spin, type InputRef } from 'antd';
import { CheckCircleFilled, ReloadOutlined, WarningFilled } from '@ant-design/icons';
import { ApiError, errorText, NetworkError, newIdempotencyKey } from '../shared/api';
import { digitsOnly, groupCardNo, luhnValid } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { unitPrice as priceText, yuan } from '../shared/money';
import { LoadState, useLoad } from '../shared/ui';
import { DeclinePanel } from './DeclinePanel';
import { Receipt } from './Receipt';
import { quote, sanitizeDecimal, type Quote } from './quote';
import { gradeLabel, litresText, maskCardNo, yuanInputText } from './saleMath';
import {
  EMPTY_FORM,
  useSaleFlow,
  useSalesLog,
  useTerminal,
  type PendingSale,
  type SaleDraft,
  type SaleForm,
  type SaleLogEntry,
} from './session';
import { jsonBody } from './sign';
import { REPAIR_CODES, type Forecourt } from './terminal';
import { isUnreachable, loadForecourtCached } from './forecourtApi';
import { useOffline, useShift } from './offline';
import { TF as T } from './textsForecourt';

/** POST /api/v1/pos/sales answers (docs/terminals.md). */
interface SaleAnswer {
  saleId: string;
  status: 'approved' | 'declined';
  approvalCode?: string;
  declineCode?: string;
  actionCode?: string;
  message?: string;
  amount: number;
  balance: number | null;
}

/** A sale that has not answered in this long is treated as "no answer" and offered for retry. */
const SALE_TIMEOUT_MS = 30_000;
const QUICK_AMOUNTS = [100, 200, 300, 500];

type Field = 'card' | 'pin' | 'litres' | 'amount';
const FIELD_LABEL: Record<Field, string> = { card: 'cardNo', pin: 'pin', litres: 'litres', amount: 'amountYuan' };

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

/** Whether an error means the request certainly did nothing, or that the answer is unknown. */
function classify(err: unknown): { retryable: boolean; uncertain: boolean } {
  if (err instanceof NetworkError || (err as Error)?.name === 'AbortError') return { retryable: true, uncertain: true };
  if (err instanceof ApiError) {
    // 5xx: the server failed before committing (docs/terminals.md), so a retry with the key is safe.
    if (err.status >= 500 || err.status === 429) return { retryable: true, uncertain: false };
    if (err.code === 'TERMINAL_TIMESTAMP_SKEW' || err.code === 'TERMINAL_NONCE_REPLAYED') return { retryable: true, uncertain: false };
  }
  return { retryable: false, uncertain: false };
}

export function SalePage() {
  const t = useT(T);
  const { lang } = useLang();
  const { client, setStation, noteError, creds, reachable } = useTerminal();
  const { upsert } = useSalesLog();
  const offline = useOffline();
  const shift = useShift();
  const { form, setForm, phase, setPhase } = useSaleFlow();
  const [fcTick, setFcTick] = useState(0);
  const forecourt = useLoad(() => (client ? loadForecourtCached(client) : Promise.reject(new Error('not paired'))), [client, fcTick]);
  const [touched, setTouched] = useState(false);
  const [activeField, setActiveField] = useState<Field>('card');

  const cardRef = useRef<InputRef>(null);
  const pinRef = useRef<InputRef>(null);
  const litresRef = useRef<InputRef>(null);
  const amountRef = useRef<InputRef>(null);
  const refs: Record<Field, RefObject<InputRef | null>> = { card: cardRef, pin: pinRef, litres: litresRef, amount: amountRef };
  /** A field just switched into by focus: the next keypad key replaces its computed value. */
  const freshField = useRef<Field | null>(null);

  useEffect(() => {
    if (forecourt.data) setStation(forecourt.data.station);
  }, [forecourt.data, setStation]);
  useEffect(() => {
    if (forecourt.error) noteError(forecourt.error);
  }, [forecourt.error, noteError]);

  const nozzles = forecourt.data?.nozzles ?? [];
  const selected = nozzles.find((n) => n.nozzle === form.nozzle) ?? null;
  const q: Quote = quote(form.mode, form.mode === 'volume' ? form.litres : form.amount, selected?.unitPrice ?? null);
  const cardOk = form.cardNo.length === 19 && luhnValid(form.cardNo);
  const pinOk = /^\d{6}$/.test(form.pin);

  // At once when the field is on screen, so keys typed right after Enter (a card reader types
  // fast) land in the next field; after the next render when it is not there yet.
  const focusField = useCallback((f: Field) => {
    if (refs[f].current) refs[f].current.focus();
    else setTimeout(() => refs[f].current?.focus(), 0);
  }, []);

  /** Focus on the chosen nozzle, else the first one that can sell. */
  const focusNozzle = useCallback(() => {
    setTimeout(() => (document.querySelector<HTMLButtonElement>('.pos-nozzle.selected:not(:disabled)') ?? document.querySelector<HTMLButtonElement>('.pos-nozzle:not(:disabled)'))?.focus(), 0);
  }, []);

  const nextEmptyField = (f: SaleForm): Field => {
    if (!(f.cardNo.length === 19 && luhnValid(f.cardNo))) return 'card';
    if (!/^\d{6}$/.test(f.pin)) return 'pin';
    return f.mode === 'volume' ? 'litres' : 'amount';
  };

  const chooseNozzle = useCallback(
    (n: number) => {
      setForm((f) => ({ ...f, nozzle: n }));
      focusField(nextEmptyField(form));
    },
    [form, setForm, focusField],
  );

  // When the forecourt first shows, a keyboard-only cashier starts where the sale does: at the
  // nozzles (or at the next field, coming back to a sale in progress). Focus someone already put
  // elsewhere is left alone.
  const autoFocused = useRef(false);
  useEffect(() => {
    if (!forecourt.data || autoFocused.current || phase.kind !== 'edit') return;
    autoFocused.current = true;
    if (document.activeElement && document.activeElement !== document.body) return;
    if (form.nozzle === null) focusNozzle();
    else focusField(nextEmptyField(form));
  }, [forecourt.data]);

  // Number keys 1–9 pick a nozzle when the cashier is not typing into a field.
  useEffect(() => {
    if (phase.kind !== 'edit') return;
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      if (!/^[1-9]$/.test(e.key)) return;
      const n = Number(e.key);
      const nz = nozzles.find((x) => x.nozzle === n);
      if (nz && nz.unitPrice) {
        e.preventDefault();
        chooseNozzle(n);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [phase.kind, nozzles, chooseNozzle]);

  // --- sending -------------------------------------------------------------------------------

  const logEntry = (p: PendingSale, patch: Partial<SaleLogEntry>): SaleLogEntry => ({
    key: p.key,
    at: p.at,
    terminalId: creds?.terminalId ?? '',
    stationName: p.draft.stationName,
    nozzle: p.draft.nozzle,
    grade: p.draft.grade,
    gradeName: p.draft.gradeName,
    gradeNameEn: p.draft.gradeNameEn,
    unitPrice: p.draft.unitPrice,
    volumeMl: p.draft.volumeMl,
    amount: p.draft.amount,
    cardNo: p.draft.cardNo,
    outcome: 'sending',
    ...patch,
  });

  /** Set synchronously, so a double tap on Confirm or Retry cannot send two requests. */
  const inFlight = useRef(false);

  const send = async (p: PendingSale) => {
    if (!client || inFlight.current) return;
    inFlight.current = true;
    const attempt = { ...p, attempts: p.attempts + 1 };
    setPhase({ kind: 'sending', pending: attempt });
    upsert(logEntry(attempt, { outcome: 'sending' }));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SALE_TIMEOUT_MS);
    try {
      const answer = await client.request<SaleAnswer>('POST', '/api/v1/pos/sales', {
        bodyBytes: attempt.bodyBytes,
        idempotencyKey: attempt.key,
        signal: abort.signal,
      });
      const entry = logEntry(attempt, {
        outcome: answer.status === 'approved' ? 'approved' : 'declined',
        saleId: answer.saleId,
        approvalCode: answer.approvalCode,
        declineCode: answer.declineCode,
        actionCode: answer.actionCode,
        message: answer.message,
        amount: answer.amount ?? attempt.draft.amount,
        balance: answer.balance,
        answeredAt: new Date().toISOString(),
      });
      upsert(entry);
      if (answer.status === 'approved')
        shift.record({ ref: attempt.key, saleId: answer.saleId, flow: 'online', status: 'approved', amount: entry.amount, goodsAmount: 0, cardNo: attempt.draft.cardNo, at: entry.answeredAt ?? attempt.at, label: `${attempt.draft.grade} ${litresText(attempt.draft.volumeMl)} L` });
      // The PIN is not kept once the card has answered.
      setForm((f) => ({ ...f, pin: '' }));
      setPhase(answer.status === 'approved' ? { kind: 'approved', entry } : { kind: 'declined', entry });
    } catch (err) {
      noteError(err);
      const c = classify(err);
      const uncertain = attempt.uncertain || c.uncertain;
      const failed = { ...attempt, uncertain };
      upsert(
        logEntry(failed, {
          outcome: uncertain ? 'no_answer' : 'error',
          message: err instanceof ApiError ? err.serverMessage : undefined,
          errorCode: err instanceof ApiError ? err.code : (err as Error)?.name === 'AbortError' ? 'TIMEOUT' : 'NETWORK',
        }),
      );
      // After an unanswered attempt only a retry with the same key can tell what happened, whatever this attempt got.
      setPhase({ kind: 'failed', pending: failed, error: err, retryable: c.retryable || uncertain });
    } finally {
      clearTimeout(timer);
      inFlight.current = false;
    }
  };

  /**
   * The sale approved (or refused) by the offline rules. An online attempt that may have gone
   * through is reversed when the platform is back, whatever the offline answer: the customer pays
   * by this offline sale or not at all.
   */
  const approveOffline = (draft: SaleDraft, key: string, at: string, uncertain: boolean) => {
    if (uncertain) offline.queueReversal({ originalRef: key, reason: 'timeout', at: new Date().toISOString() });
    const r = offline.approve({
      cardNo: draft.cardNo,
      grade: draft.grade,
      gradeName: draft.gradeName,
      gradeNameEn: draft.gradeNameEn,
      volumeMl: draft.volumeMl,
      unitPrice: draft.unitPrice,
      amount: draft.amount,
      nozzle: draft.nozzle,
    });
    const base: SaleLogEntry = {
      key,
      at,
      terminalId: creds?.terminalId ?? '',
      stationName: draft.stationName,
      nozzle: draft.nozzle,
      grade: draft.grade,
      gradeName: draft.gradeName,
      gradeNameEn: draft.gradeNameEn,
      unitPrice: draft.unitPrice,
      volumeMl: draft.volumeMl,
      amount: draft.amount,
      cardNo: draft.cardNo,
      outcome: 'approved',
      balance: null,
      answeredAt: new Date().toISOString(),
    };
    setForm((f) => ({ ...f, pin: '' }));
    if (r.ok) {
      const entry: SaleLogEntry = { ...base, approvalCode: r.sale.approvalCode, offlineSeq: r.sale.seq, actionCode: '000' };
      upsert(entry);
      setPhase({ kind: 'approved', entry });
      return;
    }
    const d = r.decision;
    const text = T[`off_${d.code}`]!;
    const vars = { floor: yuan(d.code === 'OVER_FLOOR_DAY' ? (d.floorDay ?? 0) : (d.floorSale ?? 0)), spent: yuan(d.spentToday ?? 0) };
    const fill = (x: string) => x.replace('{floor}', vars.floor).replace('{spent}', vars.spent);
    const entry: SaleLogEntry = { ...base, outcome: 'declined', declineCode: `OFFLINE_${d.code}`, message: `${fill(text.zh)} / ${fill(text.en)}` };
    upsert(entry);
    setPhase({ kind: 'declined', entry });
  };

  const confirm = (draft: SaleDraft, key: string) => {
    if (!reachable) {
      approveOffline(draft, key, new Date().toISOString(), false);
      return;
    }
    const body = {
      cardNo: draft.cardNo,
      pin: draft.pin,
      grade: draft.grade,
      volumeMl: draft.volumeMl,
      unitPrice: draft.unitPrice,
      amount: draft.amount,
      nozzle: draft.nozzle,
    };
    void send({ key, bodyBytes: jsonBody(body), draft, at: new Date().toISOString(), attempts: 0, uncertain: false });
  };

  const newSale = () => {
    setForm(EMPTY_FORM);
    setTouched(false);
    setPhase({ kind: 'edit' });
    setFcTick((x) => x + 1);
    // The next sale starts at the pump: with a nozzle focused, the number keys pick one at once.
    focusNozzle();
  };

  /** Back to the form with what was entered, to change it; a changed sale is a new sale with a new key. */
  const editAgain = (focus: Field) => {
    setTouched(false);
    setPhase({ kind: 'edit' });
    focusField(focus);
  };

  // --- the form ------------------------------------------------------------------------------


  const submit = (e: FormEvent) => {
    e.preventDefault();
    const qtyField: Field = form.mode === 'volume' ? 'litres' : 'amount';
    const firstInvalid: Field | 'nozzle' | null = !selected || !selected.unitPrice ? 'nozzle' : !cardOk ? 'card' : !pinOk ? 'pin' : !q.ok ? qtyField : null;
    if (firstInvalid !== null) {
      // Enter in a field that is already right moves on to the next one to fill; anything else shows what is wrong.
      const inField = (Object.keys(refs) as Field[]).some((f) => refs[f].current?.input === document.activeElement);
      const activeOk = activeField === 'card' ? cardOk : activeField === 'pin' ? pinOk : q.ok;
      if (!(inField && activeOk && firstInvalid !== activeField)) setTouched(true);
      if (firstInvalid === 'nozzle') focusNozzle();
      else focusField(firstInvalid);
      return;
    }
    if (!selected || !selected.unitPrice || !q.ok) return;
    setPhase({
      kind: 'review',
      // The key is made once per confirmed sale; going back to change it makes a new one.
      key: newIdempotencyKey(),
      draft: {
        nozzle: selected.nozzle,
        grade: selected.grade,
        gradeName: selected.gradeName,
        gradeNameEn: selected.gradeNameEn,
        unitPrice: selected.unitPrice,
        stationName: forecourt.data?.station.name ?? '',
        cardNo: form.cardNo,
        pin: form.pin,
        volumeMl: q.volumeMl,
        amount: q.amount,
      },
    });
  };

  const litresShown = form.mode === 'volume' ? form.litres : q.ok ? litresText(q.volumeMl) : '';
  const amountShown = form.mode === 'amount' ? form.amount : q.ok ? yuanInputText(q.amount) : '';

  const switchTo = (field: 'litres' | 'amount') => {
    const mode = field === 'litres' ? 'volume' : 'amount';
    if (form.mode === mode) return;
    // Start from what the field showed (the computed value), so the cashier can adjust or overwrite it.
    setForm((f) => ({ ...f, mode, litres: field === 'litres' ? litresShown : f.litres, amount: field === 'amount' ? amountShown : f.amount }));
    freshField.current = field;
  };

  const cardCaret = useRef<number | null>(null);
  useLayoutEffect(() => {
    const k = cardCaret.current;
    const el = cardRef.current?.input;
    if (k === null || !el) return;
    cardCaret.current = null;
    const pos = k === 0 ? 0 : k - 1 + Math.floor((k - 1) / 4) + 1;
    el.setSelectionRange(pos, pos);
  }, [form.cardNo]);

  const onCardChange = (e: ChangeEvent<HTMLInputElement>) => {
    const el = e.target;
    const caret = el.selectionStart ?? el.value.length;
    const digits = digitsOnly(el.value).slice(0, 19);
    cardCaret.current = Math.min(digitsOnly(el.value.slice(0, caret)).length, digits.length);
    setForm((f) => ({ ...f, cardNo: digits }));
  };

  const keypad = (key: string) => {
    const fresh = freshField.current === activeField;
    freshField.current = null;
    setForm((f) => {
      const edit = (v: string) => (key === 'back' ? v.slice(0, -1) : key === 'clear' ? '' : v + key);
      switch (activeField) {
        case 'card':
          return key === '.' ? f : { ...f, cardNo: edit(f.cardNo).slice(0, 19) };
        case 'pin':
          return key === '.' ? f : { ...f, pin: edit(f.pin).slice(0, 6) };
        case 'litres':
          return { ...f, mode: 'volume', litres: sanitizeDecimal(edit(fresh ? '' : f.litres), 3) };
        case 'amount':
          return { ...f, mode: 'amount', amount: sanitizeDecimal(edit(fresh ? '' : f.amount), 2) };
      }
    });
  };

  const quickAmount = (yuanValue: number) => {
    setForm((f) => ({ ...f, mode: 'amount', amount: String(yuanValue) }));
    focusField('amount');
  };

  const showCardError = touched || (form.cardNo.length === 19 && !cardOk);
  const cardError = !showCardError || cardOk ? '' : form.cardNo.length !== 19 ? t('cardNoLength', { n: form.cardNo.length }) : t('cardNoLuhn');
  const pinError = touched && !pinOk ? t('pinInvalid') : '';
  const qtyText = form.mode === 'volume' ? form.litres : form.amount;
  const qtyError = !q.ok && (touched || (qtyText !== '' && q.error !== 'quantityRequired' && q.error !== 'pickNozzleFirst')) ? t(q.error) : '';
  const nozzleError = touched && !selected ? t('pickNozzleFirst') : '';

  const editing = phase.kind === 'edit';

  return (
    <div className="pos-sale">
      <section className="pos-nozzles" aria-labelledby="nozzles-title">
        <div className="pos-section-head">
          <h2 id="nozzles-title" className="pos-h2">
            {t('nozzles')}
          </h2>
          {forecourt.data?.stale ? (
            <span className="pos-stale" data-testid="pos-forecourt-stale">
              {t('staleForecourt')}
            </span>
          ) : null}
          <Button icon={<ReloadOutlined />} onClick={() => setFcTick((x) => x + 1)} loading={forecourt.loading && !!forecourt.data} data-testid="pos-refresh-forecourt">
            {t('refreshPrices')}
          </Button>
        </div>
        <LoadState value={forecourt}>
          {(fc: Forecourt) =>
            fc.nozzles.length === 0 ? (
              <Alert type="warning" showIcon title={t('noNozzles')} />
            ) : (
              <>
                <div className="pos-nozzle-grid" role="group" aria-label={t('nozzles')}>
                  {fc.nozzles.map((n) => (
                    <button
                      key={n.nozzle}
                      type="button"
                      className={`pos-nozzle${n.nozzle === form.nozzle ? ' selected' : ''}`}
                      aria-pressed={n.nozzle === form.nozzle}
                      disabled={!editing || !n.unitPrice}
                      onClick={() => chooseNozzle(n.nozzle)}
                      data-testid={`nozzle-${n.nozzle}`}
                    >
                      <span className="pos-nozzle-no">{t('nozzleN', { n: n.nozzle })}</span>
                      <span className="pos-nozzle-grade">
                        {n.grade} <small className="pos-nozzle-name">{gradeLabel(n, lang)}</small>
                      </span>
                      <span className="pos-nozzle-price">{n.unitPrice ? priceText(n.unitPrice) : t('noPrice')}</span>
                    </button>
                  ))}
                </div>
                <p className="pos-muted pos-small">
                  {t('businessDay')} {fc.businessDay} · {t('nozzleKeysHint')}
                </p>
              </>
            )
          }
        </LoadState>
        {editing ? <Keypad onKey={keypad} target={t(FIELD_LABEL[activeField])} /> : null}
      </section>

      <section className="pos-work" aria-live="polite">
        {phase.kind === 'edit' ? (
          <form className="pos-card pos-form" onSubmit={submit} noValidate aria-labelledby="sale-title" data-testid="pos-sale-form">
            <h2 id="sale-title" className="pos-h2">
              {t('saleTitle')}
              {selected ? (
                <span className="pos-selected" data-testid="pos-selected-nozzle">
                  {t('nozzleN', { n: selected.nozzle })} · {selected.grade} · {priceText(selected.unitPrice)}
                </span>
              ) : null}
            </h2>
            {nozzleError ? <div className="pos-field-error" role="alert">{nozzleError}</div> : null}

            <div className="pos-field">
              <label htmlFor="sale-card">{t('cardNo')}</label>
              <Input
                id="sale-card"
                ref={cardRef}
                size="large"
                className="pos-input-big"
                inputMode="numeric"
                autoComplete="off"
                spellCheck={false}
                placeholder={t('cardNoHint')}
                value={groupCardNo(form.cardNo)}
                onChange={onCardChange}
                onFocus={() => setActiveField('card')}
                maxLength={23}
                status={cardError ? 'error' : undefined}
                aria-invalid={!!cardError}
                aria-describedby="sale-card-err"
                data-testid="pos-card"
                suffix={cardOk ? <CheckCircleFilled style={{ color: '#389e0d' }} aria-hidden="true" /> : <span />}
              />
              <div id="sale-card-err" className="pos-field-error" role="alert">
                {cardError}
              </div>
            </div>

            <div className="pos-field">
              <label htmlFor="sale-pin">{t('pin')}</label>
              <Input.Password
                id="sale-pin"
                ref={pinRef}
                size="large"
                className="pos-input-big pos-pin"
                inputMode="numeric"
                autoComplete="off"
                visibilityToggle={false}
                placeholder={t('pinHint')}
                value={form.pin}
                maxLength={6}
                onChange={(e) => setForm((f) => ({ ...f, pin: digitsOnly(e.target.value).slice(0, 6) }))}
                onFocus={() => setActiveField('pin')}
                status={pinError ? 'error' : undefined}
                aria-invalid={!!pinError}
                aria-describedby="sale-pin-err"
                data-testid="pos-pin"
              />
              <div id="sale-pin-err" className="pos-field-error" role="alert">
                {pinError}
              </div>
            </div>

            <div className="pos-qty">
              <div className="pos-field">
                <label htmlFor="sale-litres">
                  {t('litres')} {form.mode === 'amount' && q.ok ? <span className="pos-computed">{t('computed')}</span> : null}
                </label>
                <Input
                  id="sale-litres"
                  ref={litresRef}
                  size="large"
                  className={`pos-input-big${form.mode === 'volume' ? ' driving' : ''}`}
                  inputMode="decimal"
                  autoComplete="off"
                  placeholder="0.000"
                  value={litresShown}
                  onFocus={(e) => {
                    setActiveField('litres');
                    switchTo('litres');
                    e.target.select();
                  }}
                  onChange={(e) => {
                    freshField.current = null;
                    setForm((f) => ({ ...f, mode: 'volume', litres: sanitizeDecimal(e.target.value, 3) }));
                  }}
                  suffix="L"
                  status={form.mode === 'volume' && qtyError ? 'error' : undefined}
                  aria-invalid={form.mode === 'volume' && !!qtyError}
                  aria-describedby="sale-qty-err"
                  data-testid="pos-litres"
                />
              </div>
              <div className="pos-field">
                <label htmlFor="sale-amount">
                  {t('amountYuan')} {form.mode === 'volume' && q.ok ? <span className="pos-computed">{t('computed')}</span> : null}
                </label>
                <Input
                  id="sale-amount"
                  ref={amountRef}
                  size="large"
                  className={`pos-input-big${form.mode === 'amount' ? ' driving' : ''}`}
                  inputMode="decimal"
                  autoComplete="off"
                  placeholder="0.00"
                  value={amountShown}
                  onFocus={(e) => {
                    setActiveField('amount');
                    switchTo('amount');
                    e.target.select();
                  }}
                  onChange={(e) => {
                    freshField.current = null;
                    setForm((f) => ({ ...f, mode: 'amount', amount: sanitizeDecimal(e.target.value, 2) }));
                  }}
                  prefix="¥"
                  status={form.mode === 'amount' && qtyError ? 'error' : undefined}
                  aria-invalid={form.mode === 'amount' && !!qtyError}
                  aria-describedby="sale-qty-err"
                  data-testid="pos-amount"
                />
              </div>
            </div>
            <div className="pos-quick" role="group" aria-label={t('byAmount')}>
              {QUICK_AMOUNTS.map((v) => (
                <Button key={v} onClick={() => quickAmount(v)} data-testid={`pos-quick-${v}`}>
                  {yuan(v * 100)}
                </Button>
              ))}
            </div>
            <div id="sale-qty-err" className="pos-field-error" role="alert">
              {qtyError}
            </div>

            <div className="pos-summary" data-testid="pos-summary">
              {selected && q.ok ? (
                <>
                  <div>{t('summaryLine', { grade: selected.grade, litres: litresText(q.volumeMl), price: priceText(selected.unitPrice), amount: yuan(q.amount) })}</div>
                  <div className="pos-summary-amount">{yuan(q.amount)}</div>
                  {q.adjusted ? <div className="pos-muted pos-small">{t('amountAdjusted', { litres: litresText(q.volumeMl), amount: yuan(q.amount) })}</div> : null}
                </>
              ) : (
                <span className="pos-muted">—</span>
              )}
            </div>

            <div className="pos-actions">
              <Button type="primary" size="large" htmlType="submit" className="pos-sell" disabled={!forecourt.data} data-testid="pos-sell">
                {t('sell')}
              </Button>
              <Button size="large" onClick={newSale} data-testid="pos-clear">
                {t('clearForm')}
              </Button>
            </div>
          </form>
        ) : null}

        {phase.kind === 'review' ? <ReviewPanel draft={phase.draft} offline={!reachable} onConfirm={() => confirm(phase.draft, phase.key)} onBack={() => editAgain('card')} /> : null}

        {phase.kind === 'sending' ? (
          <div className="pos-card pos-sending" role="status" data-testid="pos-sending">
            <Spin size="large" />
            <p>{t('sending')}</p>
            {phase.pending.attempts > 1 ? <p className="pos-muted">{t('attempt', { n: phase.pending.attempts })}</p> : null}
          </div>
        ) : null}

        {phase.kind === 'failed' ? (
          <FailedPanel
            pending={phase.pending}
            error={phase.error}
            retryable={phase.retryable}
            onRetry={() => void send(phase.pending)}
            onOffline={isUnreachable(phase.error) ? () => approveOffline(phase.pending.draft, phase.pending.key, phase.pending.at, phase.pending.uncertain) : undefined}
            onAbandon={newSale}
            onEdit={() => editAgain(nextEmptyField(form))}
          />
        ) : null}

        {phase.kind === 'approved' ? (
          <div className="pos-approved" data-testid="pos-approved">
            <div className="pos-approved-head">
              <CheckCircleFilled aria-hidden="true" /> {phase.entry.offlineSeq ? t('offlineApproved') : t('approved')} · {yuan(phase.entry.amount)}
            </div>
            {phase.entry.offlineSeq ? (
              <Alert
                type="warning"
                showIcon
                className="pos-gap"
                data-testid="pos-offline-approved"
                title={`${t('offlineSeq')} ${phase.entry.offlineSeq} · ${t('offlineNoPin')}`}
              />
            ) : null}
            <Receipt entry={phase.entry} autoFocusPrint afterPrint={() => document.getElementById('pos-next-sale')?.focus()} />
            <div className="pos-actions">
              <Button id="pos-next-sale" type="primary" size="large" onClick={newSale} data-testid="pos-new-sale">
                {t('newSale')}
              </Button>
            </div>
          </div>
        ) : null}

        {phase.kind === 'declined' ? (
          <DeclinePanel
            entry={phase.entry}
            onNewSale={newSale}
            onEdit={() => editAgain(phase.entry.declineCode === 'PIN_WRONG' ? 'pin' : phase.entry.declineCode === 'CARD_UNKNOWN' ? 'card' : form.mode === 'volume' ? 'litres' : 'amount')}
          />
        ) : null}
      </section>
    </div>
  );
}

/** The on-screen number pad for the touch screen; it types into the field that last had focus. */
function Keypad({ onKey, target }: { onKey: (key: string) => void; target: string }) {
  const t = useT(T);
  const keys = ['7', '8', '9', 'back', '4', '5', '6', '.', '1', '2', '3', '0'];
  return (
    <div className="pos-keypad-wrap" aria-hidden="true">
      <div className="pos-keypad-target">{t('keypadInto', { field: target })}</div>
      <div className="pos-keypad">
      {keys.map((k) => (
        <button
          key={k}
          type="button"
          tabIndex={-1}
          className="pos-key"
          // Keep the focus (and the caret) in the field being typed into.
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => onKey(k)}
        >
          {k === 'back' ? '⌫' : k}
        </button>
      ))}
      </div>
    </div>
  );
}

function ReviewPanel({ draft, offline, onConfirm, onBack }: { draft: SaleDraft; offline: boolean; onConfirm: () => void; onBack: () => void }) {
  const t = useT(T);
  const { lang } = useLang();
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onBack();
    }
  };
  return (
    <section className="pos-card pos-review" aria-labelledby="review-title" onKeyDown={onKeyDown} data-testid="pos-review">
      <h2 id="review-title" className="pos-h2">
        {t('reviewTitle')}
      </h2>
      <dl className="pos-kv pos-kv-big">
        <dt>{t('receiptNozzle')}</dt>
        <dd>
          {draft.nozzle} · {draft.grade} {gradeLabel(draft, lang)}
        </dd>
        <dt>{t('receiptCard')}</dt>
        <dd>{groupCardNo(draft.cardNo)}</dd>
        <dt>{t('receiptLitres')}</dt>
        <dd>{litresText(draft.volumeMl)} L</dd>
        <dt>{t('receiptPrice')}</dt>
        <dd>{priceText(draft.unitPrice)}</dd>
        <dt>{t('receiptAmount')}</dt>
        <dd className="pos-review-amount" data-testid="pos-review-amount">
          {yuan(draft.amount)}
        </dd>
      </dl>
      {offline ? <Alert type="warning" showIcon title={t('offlineReviewHint')} data-testid="pos-review-offline" /> : null}
      <p className="pos-muted">{t('reviewHint')}</p>
      <div className="pos-actions">
        <Button ref={ref} type="primary" size="large" onClick={onConfirm} className="pos-sell" data-testid="pos-confirm">
          {offline ? t('offlineConfirm') : t('confirmSell')}
        </Button>
        <Button size="large" onClick={onBack} data-testid="pos-back">
          {t('backToEdit')}
        </Button>
      </div>
    </section>
  );
}

function FailedPanel({
  pending,
  error,
  retryable,
  onRetry,
  onOffline,
  onAbandon,
  onEdit,
}: {
  pending: PendingSale;
  error: unknown;
  retryable: boolean;
  onRetry: () => void;
  onOffline?: () => void;
  onAbandon: () => void;
  onEdit: () => void;
}) {
  const t = useT(T);
  const { lang } = useLang();
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  const code = error instanceof ApiError ? error.code : undefined;
  const repair = !!code && REPAIR_CODES.has(code);
  const noAnswer = pending.uncertain;
  return (
    <section className="pos-card pos-failed" role="alert" data-testid="pos-failed" data-uncertain={noAnswer ? 'true' : 'false'}>
      <h2 className="pos-h2">
        <WarningFilled aria-hidden="true" /> {noAnswer ? t('noAnswerTitle') : t('errorTitle')}
      </h2>
      <p className="pos-failed-msg" data-testid="pos-failed-message">
        {errorText(error, lang)}
        {code ? <code className="pos-code">{code}</code> : null}
      </p>
      {noAnswer ? <Alert type="warning" showIcon title={t('noAnswerText')} /> : <p>{t('errorNoCharge')}</p>}
      {repair ? <Alert type="error" showIcon title={t('repairAdvice')} className="pos-gap" /> : null}
      {code === 'TERMINAL_TIMESTAMP_SKEW' ? <Alert type="info" showIcon title={t('clockAdvice')} className="pos-gap" /> : null}
      <dl className="pos-kv">
        <dt>{t('receiptCard')}</dt>
        <dd>{maskCardNo(pending.draft.cardNo)}</dd>
        <dt>{t('receiptAmount')}</dt>
        <dd>{yuan(pending.draft.amount)}</dd>
        <dt>{t('saleKey')}</dt>
        <dd>
          <code data-testid="pos-failed-key">{pending.key}</code> · {t('attempt', { n: pending.attempts })}
        </dd>
      </dl>
      <div className="pos-actions">
        {retryable ? (
          <Button ref={ref} type="primary" size="large" onClick={onRetry} data-testid="pos-retry">
            {t('retrySame')}
          </Button>
        ) : (
          <Button ref={ref} type="primary" size="large" onClick={onEdit} data-testid="pos-failed-edit">
            {t('backToEdit')}
          </Button>
        )}
        {onOffline ? (
          <Button size="large" onClick={onOffline} data-testid="pos-offline-approve">
            {t('offlineApprove')}
          </Button>
        ) : null}
        {noAnswer ? (
          <Popconfirm title={t('abandonConfirm')} onConfirm={onAbandon} okText={t('abandon')} cancelText={t('cancel')} okButtonProps={{ danger: true, size: 'large' }} cancelButtonProps={{ size: 'large' }}>
            <Button size="large" danger data-testid="pos-abandon">
              {t('abandon')}
            </Button>
          </Popconfirm>
        ) : (
          <Button size="large" onClick={onAbandon} data-testid="pos-abandon">
            {t('newSalePlain')}
          </Button>
        )}
      </div>
    </section>
  );
}
