import { useEffect, useRef } from 'react';
import { Button } from 'antd';
import { CloseCircleFilled } from '@ant-design/icons';
import { useLang, useT } from '../shared/i18n';
import { yuan } from '../shared/money';
import { explainDecline } from './declines';
import type { SaleLogEntry } from './session';
import { maskCardNo } from './saleMath';
import { T } from './texts';

/** Codes after which the same card is tried again with changes (PIN, amount, number) rather than a fresh sale. */
const EDIT_CODES = new Set([
  'PIN_WRONG',
  'CARD_UNKNOWN',
  'GRADE_NOT_ALLOWED',
  'INSUFFICIENT_FUNDS',
  'LIMIT_SALE_AMOUNT',
  'LIMIT_SALE_VOLUME',
  'LIMIT_DAY_AMOUNT',
  'LIMIT_DAY_VOLUME',
  'LIMIT_WEEK_AMOUNT',
  'LIMIT_WEEK_VOLUME',
  'LIMIT_MONTH_AMOUNT',
  'LIMIT_MONTH_VOLUME',
]);

/** A declined sale: the reason in plain words, what to do next, and nothing charged. */
export function DeclinePanel({ entry, onNewSale, onEdit }: { entry: SaleLogEntry; onNewSale: () => void; onEdit: () => void }) {
  const t = useT(T);
  const { lang } = useLang();
  const { reason, advice } = explainDecline(entry.declineCode, entry.message, lang);
  const canEdit = !!entry.declineCode && EDIT_CODES.has(entry.declineCode);
  const pinRetry = entry.declineCode === 'PIN_WRONG';
  const primaryRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    primaryRef.current?.focus();
  }, []);
  return (
    <section className="pos-decline" data-testid="pos-decline" role="alert" aria-labelledby="decline-reason">
      <div className="pos-decline-head">
        <CloseCircleFilled aria-hidden="true" />
        <span>{t('declined')}</span>
      </div>
      <p id="decline-reason" className="pos-decline-reason" data-testid="pos-decline-reason">
        {reason}
      </p>
      <div className="pos-decline-advice">
        <strong>{t('nextStep')}</strong>
        <span data-testid="pos-decline-advice">{advice}</span>
      </div>
      <dl className="pos-kv pos-decline-facts">
        <dt>{t('receiptCard')}</dt>
        <dd>{maskCardNo(entry.cardNo)}</dd>
        <dt>{t('receiptAmount')}</dt>
        <dd>
          {yuan(entry.amount)} <span className="pos-muted">{t('noChargeParen')}</span>
        </dd>
        {entry.balance !== null && entry.balance !== undefined ? (
          <>
            <dt>{t('balanceNow')}</dt>
            <dd data-testid="pos-decline-balance">{yuan(entry.balance)}</dd>
          </>
        ) : null}
        <dt>{t('declineCode')}</dt>
        <dd>
          <code data-testid="pos-decline-code">{entry.declineCode ?? '—'}</code> · {t('actionCode')} <code>{entry.actionCode ?? '—'}</code>
        </dd>
      </dl>
      <div className="pos-actions">
        {pinRetry ? (
          <>
            <Button ref={primaryRef} type="primary" size="large" onClick={onEdit} data-testid="pos-decline-edit">
              {t('reenterPin')}
            </Button>
            <Button size="large" onClick={onNewSale} data-testid="pos-new-sale">
              {t('newSalePlain')}
            </Button>
          </>
        ) : (
          <>
            <Button ref={primaryRef} type="primary" size="large" onClick={onNewSale} data-testid="pos-new-sale">
              {t('newSale')}
            </Button>
            {canEdit ? (
              <Button size="large" onClick={onEdit} data-testid="pos-decline-edit">
                {t('editSale')}
              </Button>
            ) : null}
          </>
        )}
      </div>
    </section>
  );
}
