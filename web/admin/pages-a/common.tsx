import { useMemo, useRef, type ReactNode } from 'react';
import { Alert, Space, Tag, Typography, type FormRule as Rule } from 'antd';
import { ApiError, errorText, newIdempotencyKey } from '../../shared/api';
import { useLang, useT } from '../../shared/i18n';
import { digitsOnly, luhnValid } from '../../shared/format';
import { parseYuan, yuan } from '../../shared/money';
import { CARD_KIND_NAMES, CARD_STATUS_COLORS, CARD_STATUS_NAMES, label } from '../i18n';
import { CardNo } from '../ui';
import { A } from './i18n';

export type T = (key: string, vars?: Record<string, string | number>) => string;

export function useA(): T {
  return useT(A);
}

/** A screen's title row: heading on the left, actions on the right. */
export function PageTitle({ title, extra, sub }: { title: ReactNode; extra?: ReactNode; sub?: ReactNode }) {
  return (
    <div style={{ display: 'flex', flexWrap: 'wrap', alignItems: 'center', justifyContent: 'space-between', gap: 12, marginBottom: 16 }}>
      <div style={{ minWidth: 0 }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {title}
        </Typography.Title>
        {sub && <Typography.Text type="secondary">{sub}</Typography.Text>}
      </div>
      {extra && <Space wrap>{extra}</Space>}
    </div>
  );
}

export function StatusTag({ status }: { status: string }) {
  const { lang } = useLang();
  return (
    <Tag color={CARD_STATUS_COLORS[status] ?? 'default'} data-testid="card-status" data-status={status}>
      {label(CARD_STATUS_NAMES, status, lang)}
    </Tag>
  );
}

export function KindTag({ kind }: { kind: string }) {
  const { lang } = useLang();
  return <Tag>{label(CARD_KIND_NAMES, kind, lang)}</Tag>;
}

/**
 * A card number that opens the card (grouped in fours). Roles that may not see full numbers get
 * them masked (900001*********2666), which cannot be opened: those stay plain text.
 */
export function CardLink({ cardNo }: { cardNo: string }) {
  return <CardNo cardNo={cardNo} />;
}

export function Money({ fen, strong }: { fen: number | null | undefined; strong?: boolean }) {
  const text = yuan(fen);
  return <span className="fc-num">{strong ? <strong>{text}</strong> : text}</span>;
}

/** The error of a failed submit, in the chosen language (the server's message for its code). */
export function ErrorAlert({ error, testId }: { error: unknown; testId?: string }) {
  const { lang } = useLang();
  if (error === undefined || error === null) return null;
  return <Alert type="error" showIcon title={errorText(error, lang)} role="alert" data-testid={testId ?? 'form-error'} style={{ marginBottom: 16 }} />;
}

/** Card number field rules: 19 digits (spaces allowed while typing) with a valid Luhn check digit. */
export function cardNoRules(t: T, required = true): Rule[] {
  return [
    { required, message: t('cardNoRequired') },
    {
      validator: async (_r, value: string | undefined) => {
        const v = digitsOnly(value ?? '');
        if (!v) return;
        if (v.length !== 19) throw new Error(t('cardNo19'));
        if (!luhnValid(v)) throw new Error(t('cardNoLuhn'));
      },
    },
  ];
}

/** Yuan amount rules: at most two decimals, more than zero (or zero allowed), below a ceiling. */
export function yuanRules(t: T, opts: { required?: boolean; allowZero?: boolean; maxFen?: number } = {}): Rule[] {
  return [
    { required: opts.required ?? true, message: t('amountRequired') },
    {
      validator: async (_r, value: string | undefined) => {
        if (value === undefined || value.trim() === '') return;
        const fen = parseYuan(value);
        if (fen === null) throw new Error(t('amountInvalid'));
        if (fen === 0 && !opts.allowZero) throw new Error(t('amountPositive'));
        if (opts.maxFen !== undefined && fen > opts.maxFen) throw new Error(t('amountTooLarge', { max: yuan(opts.maxFen) }));
      },
    },
  ];
}

/** A six-digit PIN; `same` names the field a confirmation must equal. */
export function pinRules(t: T, same?: string): Rule[] {
  const rules: Rule[] = [
    { required: true, message: t('pinRequired') },
    { pattern: /^\d{6}$/, message: t('pinFormat') },
  ];
  if (same) {
    rules.push(({ getFieldValue }) => ({
      validator: async (_r, value: string | undefined) => {
        if (value && value !== getFieldValue(same)) throw new Error(t('pinMismatch'));
      },
    }));
  }
  return rules;
}

/** Personal data for a counter screen others may see: 张*, 138****8000. The server may have masked it already. */
export function maskName(name: string | null | undefined): string {
  if (!name) return '—';
  if (name.includes('*')) return name;
  const chars = [...name];
  return chars[0] + '*'.repeat(Math.max(1, chars.length - 1));
}

export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return '—';
  if (phone.includes('*') || phone.length < 7) return phone;
  return `${phone.slice(0, 3)}****${phone.slice(-4)}`;
}

/** Card numbers as receipts print them: first 6 and last 4. */
export function maskCardNo(cardNo: string): string {
  if (cardNo.includes('*') || cardNo.length < 10) return cardNo;
  return `${cardNo.slice(0, 6)}${'*'.repeat(cardNo.length - 10)}${cardNo.slice(-4)}`;
}

/**
 * The Idempotency-Key of one business operation. The same request retried (after a network
 * failure or a server error, when nobody knows whether it happened) reuses the key, so it cannot
 * happen twice; a changed request, or a new one after an answer, gets a fresh key. A business
 * refusal is an answer too: the server stores it under the key, so trying again after fixing the
 * cause needs a new key.
 */
export function useIdempotencyKey() {
  const current = useRef<{ key: string; request: string } | null>(null);
  return useMemo(
    () => ({
      keyFor(request: unknown): string {
        const r = JSON.stringify(request);
        if (!current.current || current.current.request !== r) current.current = { key: newIdempotencyKey(), request: r };
        return current.current.key;
      },
      settle(err?: unknown): void {
        const unknownOutcome = err !== undefined && !(err instanceof ApiError && err.status < 500);
        if (!unknownOutcome) current.current = null;
      },
      reset(): void {
        current.current = null;
      },
    }),
    [],
  );
}

/** Empty string → null, otherwise a number from digits; for optional count fields. */
export function intOrNull(text: string | undefined): number | null {
  const v = (text ?? '').trim();
  return v === '' ? null : Number(v);
}
