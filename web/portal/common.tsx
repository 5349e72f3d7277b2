import { useMemo, useRef, useState, type MouseEvent, type ReactNode } from 'react';
import { EyeInvisibleOutlined, EyeOutlined } from '@ant-design/icons';
import { ApiError, newIdempotencyKey } from '../shared/api';
import { dateTime, groupCardNo } from '../shared/format';
import { useT } from '../shared/i18n';
import { yuan } from '../shared/money';
import { useLoad, type Loadable } from '../shared/ui';
import { useSession } from './session';
import { T } from './i18n';

/** One card as GET /api/v1/portal/cards lists it: the full number (the cardholder's own card), money in fen. */
export interface PortalCard {
  cardNo: string;
  kind: string;
  status: string;
  balance: number;
  available: number;
  /** A sub card that may also spend its master card's reserve (so available can exceed balance). */
  sharedBalance?: boolean;
  usableFrom: string | null;
  lowBalanceAlert: number | null;
  createdAt: string;
}

export function useCards(): Loadable<PortalCard[]> {
  const { api } = useSession();
  return useLoad(() => api.request<{ items: PortalCard[] }>('GET', '/api/v1/portal/cards').then((r) => r.items), [api]);
}

/** Statuses in which the card can still be used, so a loss report makes sense (the cards module's state machine). */
export const REPORTABLE = new Set(['pending', 'active', 'frozen']);
/** Statuses in which the PIN may change. */
export const PIN_CHANGEABLE = new Set(['pending', 'active', 'frozen']);
/** Statuses in which alerts still mean something. */
export const ALERTABLE = new Set(['pending', 'active', 'frozen', 'lost']);

/**
 * Why the card cannot buy fuel now, or null when it can: the checks the POS runs first (the card's
 * state, a master card, a replacement still in its loss wait). A sub card suspended by a frozen
 * master card is not told apart here: the portal's card has no link to its master.
 */
export function blockedReason(card: PortalCard, now = Date.now()): string | null {
  if (card.status !== 'active') return card.status;
  if (card.kind === 'master') return 'master';
  if (card.usableFrom && Date.parse(card.usableFrom) > now) return 'not_yet';
  return null;
}

/**
 * The "available" figure as people should read it: an amount only where the card can spend it.
 * A master card's money is spent by its sub cards, so it is shown as theirs; a lost, frozen,
 * closed, replaced or not yet active card says it cannot be used rather than showing money it
 * cannot spend. data-usable / data-reason carry the same for tests and styling.
 */
export function AvailableValue({ card, testid = 'card-available' }: { card: PortalCard; testid?: string }) {
  const t = useT(T);
  const reason = blockedReason(card);
  if (reason === null)
    return (
      <span data-testid={testid} data-usable="true">
        {yuan(card.available)}
      </span>
    );
  if (reason === 'master')
    return (
      <span data-testid={testid} data-usable="false" data-reason="master">
        {yuan(card.available)}
      </span>
    );
  return (
    <span className="pt-unusable" data-testid={testid} data-usable="false" data-reason={reason}>
      {t('notUsable')}
    </span>
  );
}

/** The label in front of AvailableValue: a master card's money is its sub cards'; "not usable" needs none. */
export function availableLabel(t: (k: string) => string, card: PortalCard): string | null {
  const reason = blockedReason(card);
  if (reason === null) return t('available');
  return reason === 'master' ? t('sharedBySubs') : null;
}

/** For a sub card: whether it shares its master's balance, as a short tag. */
export function SubTag({ card }: { card: PortalCard }) {
  const t = useT(T);
  if (card.kind !== 'sub') return null;
  return (
    <span className={`pt-subtag${card.sharedBalance ? ' is-shared' : ''}`} data-testid="card-sub-tag" data-shared={card.sharedBalance ? 'true' : 'false'}>
      {card.sharedBalance ? t('subShared') : t('subOwn')}
    </span>
  );
}

/**
 * First 6 and last 4 digits, grouped in fours like the full number, so that revealing it keeps
 * every digit in its place: "9000 01** **** ***2 666".
 */
export function maskedCardNo(cardNo: string): string {
  if (cardNo.length <= 10) return groupCardNo(cardNo);
  return groupCardNo(cardNo.slice(0, 6) + '*'.repeat(cardNo.length - 10) + cardNo.slice(-4));
}

export function StatusBadge({ status, testid = 'card-status' }: { status: string; testid?: string }) {
  const t = useT(T);
  const key = `status_${status}`;
  const label = T[key] ? t(key) : status;
  return (
    <span className={`pt-badge pt-badge--${status}`} data-testid={testid} data-status={status}>
      {label}
    </span>
  );
}

export function kindLabel(t: (k: string) => string, kind: string): string {
  return T[`kind_${kind}`] ? t(`kind_${kind}`) : kind;
}

/**
 * The card as a physical-looking face: kind, status, number (tap to reveal), balance, available
 * and the low-balance alert. `footer` sits under it inside the same tile.
 */
export function CardFace({ card, onOpen, footer }: { card: PortalCard; onOpen?: () => void; footer?: ReactNode }) {
  const t = useT(T);
  const [full, setFull] = useState(false);
  const toggle = (e: MouseEvent) => {
    e.stopPropagation();
    setFull((f) => !f);
  };
  const usable = card.usableFrom && new Date(card.usableFrom).getTime() > Date.now() ? card.usableFrom : null;
  return (
    <article
      className="pt-cardtile"
      data-testid="portal-card"
      data-card-no={card.cardNo}
      data-status={card.status}
      data-kind={card.kind}
      data-usable={blockedReason(card) === null ? 'true' : 'false'}
    >
      <div
        className={`pt-cardface pt-cardface--${card.kind} pt-cardface--st-${card.status}${onOpen ? ' is-clickable' : ''}`}
        onClick={onOpen}
      >
        <div className="pt-cardface__top">
          <span className="pt-cardface__brand">
            <Logo size={22} />
            <span>
              {t('brand')} · {kindLabel(t, card.kind)}
            </span>
          </span>
          <StatusBadge status={card.status} />
        </div>
        <button
          type="button"
          className="pt-cardface__no"
          onClick={toggle}
          aria-label={full ? t('hideFullNo') : t('showFullNo')}
          aria-pressed={full}
          data-testid="card-no"
        >
          <span>{full ? groupCardNo(card.cardNo) : maskedCardNo(card.cardNo)}</span>
          {full ? <EyeInvisibleOutlined /> : <EyeOutlined />}
        </button>
        <div className="pt-cardface__money">
          <div>
            <div className="pt-cardface__label">{t('balance')}</div>
            <div className="pt-cardface__balance" data-testid="card-balance">
              {yuan(card.balance, { symbol: false })}
            </div>
          </div>
          <div className="pt-cardface__side">
            <SubTag card={card} />
            <div>
              {availableLabel(t, card) !== null && <span className="pt-cardface__label">{availableLabel(t, card)} </span>}
              <AvailableValue card={card} />
            </div>
            <div>
              <span className="pt-cardface__label">{t('lowAlert')} </span>
              <span data-testid="card-alert">
                {card.lowBalanceAlert === null ? t('lowAlertOff') : t('lowAlertBelow', { amount: yuan(card.lowBalanceAlert) })}
              </span>
            </div>
          </div>
        </div>
        {usable && <div className="pt-cardface__note">{t('usableFrom', { time: dateTime(usable) })}</div>}
      </div>
      {footer}
    </article>
  );
}

/** The brand mark: a fuel drop in a rounded square. */
export function Logo({ size = 40 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 40 40" aria-hidden className="pt-logo">
      <rect width="40" height="40" rx="11" fill="#fff" fillOpacity="0.22" />
      <path d="M20 7c-4.6 6.2-9 11.4-9 16.2A9 9 0 0 0 29 23.2C29 18.4 24.6 13.2 20 7Z" fill="#fff" />
      <path d="M16.2 24.2a4 4 0 0 0 4 3.8" stroke="#ee5a24" strokeWidth="2.2" strokeLinecap="round" fill="none" />
    </svg>
  );
}

/**
 * The Idempotency-Key of one state-changing operation. The same request sent again (after a
 * network error or a 5xx, where the first try may or may not have happened) reuses its key, so
 * the server runs it at most once; a definite answer, success or refusal, ends the operation, and
 * a changed request is a new operation — both get a fresh key.
 */
export function useIdempotencyKey() {
  const current = useRef<{ signature: string; key: string } | null>(null);
  return useMemo(
    () => ({
      keyFor(signature: string): string {
        if (!current.current || current.current.signature !== signature) current.current = { signature, key: newIdempotencyKey() };
        return current.current.key;
      },
      settled(err?: unknown) {
        const definite = err === undefined || (err instanceof ApiError && err.status < 500);
        if (definite) current.current = null;
      },
    }),
    [],
  );
}

/** "1分05秒" / "1 min 5 s" for retry-after countdowns. */
export function duration(seconds: number, en: boolean): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (en) return m > 0 ? `${m} min ${s} s` : `${s} s`;
  return m > 0 ? `${m} 分 ${s} 秒` : `${s} 秒`;
}

/**
 * The form field a refusal is about (details.field, e.g. "oldPin" or "body.code"), so the screen
 * can put the cursor back there; null when the server named none.
 */
export function errorField(err: unknown): string | null {
  if (!(err instanceof ApiError)) return null;
  const f = err.details?.field;
  return typeof f === 'string' && f ? f.replace(/^body\./, '') : null;
}

/** Puts the cursor in the field a refusal names, when the form has it. */
export function focusErrorField(form: { getFieldInstance: (name: string) => unknown }, err: unknown, fields: readonly string[]): void {
  const field = errorField(err);
  if (!field || !fields.includes(field)) return;
  (form.getFieldInstance(field) as { focus?: (o?: { cursor?: 'all' }) => void } | undefined)?.focus?.({ cursor: 'all' });
}

/** retryAfterSeconds from an error's details, when the server sent one. */
export function retryAfter(err: unknown): number | null {
  if (!(err instanceof ApiError)) return null;
  const v = err.details?.retryAfterSeconds;
  return typeof v === 'number' && v > 0 ? Math.ceil(v) : null;
}
