import { useState } from 'react';
import { useParams } from 'react-router-dom';
import { Alert, App as AntApp, Button, Modal } from 'antd';
import { ExclamationCircleFilled, WarningFilled } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { groupCardNo } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { yuan } from '../shared/money';
import { maskedCardNo, REPORTABLE, StatusBadge, useIdempotencyKey } from './common';
import { CardState, useCard } from './Cards';
import { T } from './i18n';
import { Page, useGoBack } from './layout';
import { useSession } from './session';

/** 挂失: effective at once, so a plain warning first and an explicit confirmation second. */
export function LossPage() {
  const t = useT(T);
  const { lang } = useLang();
  const { cardNo = '' } = useParams();
  const goBack = useGoBack(`/cards/${cardNo}`);
  const { api } = useSession();
  const { message } = AntApp.useApp();
  const card = useCard(cardNo);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();

  const report = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.request('POST', `/api/v1/portal/cards/${encodeURIComponent(cardNo)}/report-loss`, {
        body: {},
        idempotencyKey: idem.keyFor(`report-loss:${cardNo}`),
      });
      idem.settled();
      setConfirming(false);
      message.success(t('lossDone'));
      goBack();
    } catch (err) {
      idem.settled(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title={t('lossTitle')} back={`/cards/${cardNo}`}>
      <CardState card={card}>
        {(c) => {
          const statusText = T[`status_${c.status}`] ? t(`status_${c.status}`) : c.status;
          return (
            <>
              <div className="pt-panel">
                <div className="pt-cardline">
                  <span>{maskedCardNo(c.cardNo)}</span>
                  <StatusBadge status={c.status} />
                </div>
                <div className="pt-kv">
                  <span>{t('balance')}</span>
                  <b>{yuan(c.balance)}</b>
                </div>
              </div>
              <div className="pt-warnbox" role="note">
                <div className="pt-warnbox__title">
                  <WarningFilled /> {t('lossWarnTitle')}
                </div>
                <ol>
                  <li>{t('lossWarn1')}</li>
                  <li>{t('lossWarn2')}</li>
                  <li>{t('lossWarn3')}</li>
                </ol>
              </div>
              {!REPORTABLE.has(c.status) && <Alert className="pt-alert" type="info" showIcon title={t('lossNotAllowed', { status: statusText })} />}
              {error !== null && !confirming && <Alert className="pt-alert" type="error" showIcon data-testid="loss-error" title={errorText(error, lang)} />}
              <Button
                type="primary"
                danger
                size="large"
                block
                className="pt-btn-main"
                disabled={!REPORTABLE.has(c.status)}
                onClick={() => {
                  setError(null);
                  setConfirming(true);
                }}
                data-testid="report-loss"
              >
                {t('lossButton')}
              </Button>
              <Modal
                open={confirming}
                onCancel={() => !busy && setConfirming(false)}
                centered
                width={340}
                closable={false}
                mask={{ closable: !busy }}
                title={
                  <span className="pt-modal-title">
                    <ExclamationCircleFilled className="pt-modal-title__icon" /> {t('lossConfirmTitle')}
                  </span>
                }
                footer={
                  <div className="pt-modal-actions">
                    <Button size="large" onClick={() => setConfirming(false)} disabled={busy} data-testid="report-loss-cancel">
                      {t('cancel')}
                    </Button>
                    <Button size="large" type="primary" danger loading={busy} onClick={report} data-testid="report-loss-confirm">
                      {t('lossConfirm')}
                    </Button>
                  </div>
                }
              >
                <p>{t('lossConfirmBody', { cardNo: groupCardNo(c.cardNo) })}</p>
                {error !== null && <Alert type="error" showIcon title={errorText(error, lang)} data-testid="loss-error" />}
              </Modal>
            </>
          );
        }}
      </CardState>
    </Page>
  );
}
