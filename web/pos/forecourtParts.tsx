import { useState, type ReactNode, type RefObject } from 'react';
import { Alert, Button, Input, type InputRef } from 'antd';
import { CheckCircleFilled } from '@ant-design/icons';
import { ApiError, errorText } from '../shared/api';
import { digitsOnly, groupCardNo, luhnValid } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { explainDecline } from './declines';
import type { TerminalClient } from './terminal';
import { useTerminal } from './session';
import { TF } from './textsForecourt';

/** The pieces the forecourt screens (pre-auth/prepay, completion, post-pay) share. */

type Translate = ReturnType<typeof useT>;

/** Whether the card number and PIN are well formed, and what to say under each field once the form was tried. */
export function cardPinCheck(t: Translate, touched: boolean, cardNo: string, pin: string) {
  const cardOk = cardNo.length === 19 && luhnValid(cardNo);
  const pinOk = /^\d{6}$/.test(pin);
  const cardError = touched && !cardOk ? (cardNo.length !== 19 ? t('cardNoLength', { n: cardNo.length }) : t('cardNoLuhn')) : '';
  const pinError = touched && !pinOk ? t('pinInvalid') : '';
  return { cardOk, pinOk, cardError, pinError };
}

/** The card number and PIN fields: ids `${idPrefix}-card` / `-pin`, test ids `${testPrefix}-card` / `-pin`. */
export function CardPinFields(props: {
  idPrefix: string;
  testPrefix: string;
  cardRef: RefObject<InputRef | null>;
  cardNo: string;
  onCardNo: (cardNo: string) => void;
  pin: string;
  onPin: (pin: string) => void;
  cardError: string;
  pinError: string;
}) {
  const t = useT(TF);
  const { idPrefix, testPrefix, cardError, pinError } = props;
  return (
    <>
      <div className="pos-field">
        <label htmlFor={`${idPrefix}-card`}>{t('cardNo')}</label>
        <Input
          id={`${idPrefix}-card`}
          ref={props.cardRef}
          size="large"
          inputMode="numeric"
          autoComplete="off"
          value={groupCardNo(props.cardNo)}
          onChange={(e) => props.onCardNo(digitsOnly(e.target.value).slice(0, 19))}
          status={cardError ? 'error' : undefined}
          data-testid={`${testPrefix}-card`}
        />
        <div className="pos-field-error" role="alert">
          {cardError}
        </div>
      </div>
      <div className="pos-field">
        <label htmlFor={`${idPrefix}-pin`}>{t('pin')}</label>
        <Input.Password
          id={`${idPrefix}-pin`}
          size="large"
          inputMode="numeric"
          autoComplete="off"
          visibilityToggle={false}
          value={props.pin}
          maxLength={6}
          onChange={(e) => props.onPin(digitsOnly(e.target.value).slice(0, 6))}
          status={pinError ? 'error' : undefined}
          data-testid={`${testPrefix}-pin`}
        />
        <div className="pos-field-error" role="alert">
          {pinError}
        </div>
      </div>
    </>
  );
}

/**
 * Sends one attempt at a time; a failure keeps the attempt so that the same request (same Idempotency-Key)
 * can be sent again. `fail` notes a failure that has nothing to retry.
 */
export function useRetryable<A>(run: (client: TerminalClient, attempt: A) => Promise<void>) {
  const { client, noteError } = useTerminal();
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<{ error: unknown; attempt: A | null } | null>(null);
  const send = async (attempt: A) => {
    if (!client || sending) return;
    setSending(true);
    setFailure(null);
    try {
      await run(client, attempt);
    } catch (err) {
      noteError(err);
      setFailure({ error: err, attempt });
    } finally {
      setSending(false);
    }
  };
  const fail = (error: unknown) => {
    noteError(error);
    setFailure({ error, attempt: null });
  };
  const last = failure?.attempt ?? null;
  /** Sends the failed attempt again, when there is one. */
  const retry = last === null ? undefined : () => void send(last);
  return { sending, failure, send, retry, fail, clearFailure: () => setFailure(null) };
}

/** A request that did not get an answer: what went wrong, and (when given) a button to send the same request again. */
export function RetryAlert({ error, testPrefix, onRetry }: { error: unknown; testPrefix: string; onRetry?: () => void }) {
  const t = useT(TF);
  const { lang } = useLang();
  return (
    <Alert
      type="error"
      showIcon
      data-testid={`${testPrefix}-error`}
      title={errorText(error, lang)}
      description={error instanceof ApiError ? <code>{error.code}</code> : undefined}
      action={
        onRetry ? (
          <Button onClick={onRetry} data-testid={`${testPrefix}-retry`}>
            {t('retrySame')}
          </Button>
        ) : undefined
      }
    />
  );
}

/**
 * The platform's answer: approved or declined, the decline in plain words, the facts (children of a
 * key/value list) and the button to go on. Test ids `${testPrefix}-approved` / `-declined`.
 */
export function AnswerPanel(props: {
  answer: { status: 'approved' | 'declined'; declineCode?: string; message?: string };
  testPrefix: string;
  title: ReactNode;
  /** With the decline's reason, its advice too; `reasonTestId` marks the reason. */
  advice?: boolean;
  reasonTestId?: string;
  extra?: ReactNode;
  children: ReactNode;
  onNext: () => void;
  nextTestId: string;
}) {
  const t = useT(TF);
  const { lang } = useLang();
  const { answer, testPrefix } = props;
  const approved = answer.status === 'approved';
  const why = approved ? null : explainDecline(answer.declineCode, answer.message, lang);
  return (
    <section className={approved ? 'pos-approved' : 'pos-decline'} data-testid={approved ? `${testPrefix}-approved` : `${testPrefix}-declined`} role="status">
      <div className={approved ? 'pos-approved-head' : 'pos-decline-head'}>
        {approved ? <CheckCircleFilled aria-hidden="true" /> : null} {props.title}
      </div>
      {why ? (
        <>
          <p className="pos-decline-reason" data-testid={props.reasonTestId}>
            {why.reason}
          </p>
          {props.advice ? <p>{why.advice}</p> : null}
        </>
      ) : null}
      {props.extra}
      <dl className="pos-kv pos-kv-big">{props.children}</dl>
      <div className="pos-actions">
        <Button type="primary" size="large" autoFocus onClick={props.onNext} data-testid={props.nextTestId}>
          {t('next')}
        </Button>
      </div>
    </section>
  );
}

/** The declined side of an answer's facts: its code. */
export function DeclineCodeRow({ code, testId }: { code: string | undefined; testId?: string }) {
  const t = useT(TF);
  return (
    <>
      <dt>{t('declineCode')}</dt>
      <dd>
        <code data-testid={testId}>{code}</code>
      </dd>
    </>
  );
}
