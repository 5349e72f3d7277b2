import { Alert, Button } from 'antd';
import { ApiError, errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { yuan } from '../shared/money';
import { dateTime } from '../shared/format';
import { useOffline } from './offline';
import { useTerminal } from './session';
import { TF } from './textsForecourt';

/**
 * Offline (the platform cannot be reached): a red banner with the number of sales waiting to
 * upload and a button to try now. Online with sales still waiting (or an upload that failed): an
 * amber one. After an upload: what the platform said about the batch.
 */
export function OfflineBanner() {
  const t = useT(TF);
  const { lang } = useLang();
  const { reachable } = useTerminal();
  const { pending, syncing, syncNow, lastAnswer, lastError, journal } = useOffline();
  const owed = pending + journal.reversals.length;
  const action = (
    <Button type="primary" onClick={() => void syncNow()} loading={syncing} data-testid="pos-sync-now">
      {syncing ? t('uploading') : t('uploadNow')}
    </Button>
  );
  if (!reachable)
    return (
      <Alert
        type="error"
        showIcon
        className="pos-banner"
        data-testid="pos-offline-banner"
        data-pending={pending}
        title={t('offlineBanner', { n: pending })}
        action={action}
      />
    );
  if (owed > 0)
    return (
      <Alert
        type="warning"
        showIcon
        className="pos-banner"
        data-testid="pos-pending-banner"
        data-pending={pending}
        title={t('pendingBanner', { n: pending })}
        description={lastError ? `${errorText(lastError, lang)}${lastError instanceof ApiError ? ` (${lastError.code})` : ''}` : undefined}
        action={action}
      />
    );
  if (lastAnswer)
    return (
      <Alert
        type={lastAnswer.summary.rejected > 0 ? 'warning' : 'success'}
        showIcon
        closable
        className="pos-banner"
        data-testid="pos-upload-result"
        title={t('uploadedSummary', { batchNo: lastAnswer.batchNo, posted: lastAnswer.summary.posted, duplicates: lastAnswer.summary.duplicates, rejected: lastAnswer.summary.rejected })}
      />
    );
  return null;
}

/** One line on what the terminal would approve offline, for the shift screen. */
export function OfflineParamsLine() {
  const t = useT(TF);
  const { params } = useOffline();
  if (!params) return <p className="pos-muted pos-small" data-testid="pos-offline-params">{t('paramsNone')}</p>;
  return (
    <p className="pos-muted pos-small" data-testid="pos-offline-params">
      {t('paramsInfo', {
        sale: yuan(params.floorSale),
        day: yuan(params.floorDay),
        hot: params.hotlist.length,
        version: params.hotlistVersion ?? '—',
        white: Object.keys(params.whitelist).length,
        at: dateTime(params.fetchedAt),
      })}
    </p>
  );
}
