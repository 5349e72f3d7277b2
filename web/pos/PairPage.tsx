import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, Button, Input, Popconfirm } from 'antd';
import { ApiError, errorText } from '../shared/api';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { useLoad } from '../shared/ui';
import { useTerminal } from './session';
import { signingAvailable } from './sign';
import { loadForecourt, pingWithClock, SECRET_PATTERN, TERMINAL_ID_PATTERN } from './terminal';
import { T } from './texts';

/** 终端绑定: enter the terminal ID and secret once; they are checked with a signed ping and kept on this device. */
export function PairPage() {
  const t = useT(T);
  const { creds, needsRepair } = useTerminal();
  const [formOpen, setFormOpen] = useState(false);
  const showForm = !creds || needsRepair || formOpen;
  return (
    <div className="pos-pair">
      <h1 className="pos-h1">{t('pairTitle')}</h1>
      {creds && !needsRepair ? <PairedStatus onPairAnother={() => setFormOpen(true)} /> : null}
      {showForm ? <PairForm initialTerminalId={creds?.terminalId ?? ''} onDone={() => setFormOpen(false)} /> : null}
    </div>
  );
}

function PairedStatus({ onPairAnother }: { onPairAnother: () => void }) {
  const t = useT(T);
  const { lang } = useLang();
  const navigate = useNavigate();
  const { creds, client, unpair, setStation, noteError } = useTerminal();
  const check = useLoad(async () => {
    if (!client) throw new Error('not paired');
    const { ping, offset } = await pingWithClock(client);
    // The station's name comes with the forecourt; the pairing stands even if that call fails.
    const forecourt = await loadForecourt(client).catch(() => null);
    return { ping, offset, station: forecourt?.station ?? null };
  }, [client]);
  useEffect(() => {
    if (check.data?.station) setStation(check.data.station);
  }, [check.data, setStation]);
  useEffect(() => {
    if (check.error) noteError(check.error);
  }, [check.error, noteError]);
  const startRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (check.data) startRef.current?.focus();
  }, [check.data]);
  if (!creds) return null;
  return (
    <section className="pos-card" data-testid="pos-paired" aria-labelledby="paired-title">
      <h2 id="paired-title" className="pos-h2">
        {t('pairedTitle')}
      </h2>
      <dl className="pos-kv">
        <dt>{t('terminalId')}</dt>
        <dd data-testid="pos-paired-terminal">{creds.terminalId}</dd>
        <dt>{t('station')}</dt>
        <dd data-testid="pos-paired-station">
          {check.loading ? t('stationLoading') : check.data ? (check.data.station ? `${check.data.station.name} (#${check.data.station.id})` : `#${check.data.ping.stationId}`) : '—'}
        </dd>
        <dt>{t('pairedAt')}</dt>
        <dd>{dateTime(creds.pairedAt)}</dd>
      </dl>
      {check.data ? <Alert type="success" showIcon title={t('pairOk', { terminalId: check.data.ping.terminalId, stationId: check.data.ping.stationId })} /> : null}
      {check.data && check.data.offset !== 0 ? <Alert type="warning" showIcon title={t(check.data.offset < 0 ? 'clockFast' : 'clockSlow', { seconds: Math.abs(check.data.offset) })} className="pos-gap" /> : null}
      {check.error ? (
        <Alert
          type="error"
          showIcon
          title={pairErrorText(check.error, lang, t)}
          action={
            <Button size="small" onClick={check.reload}>
              {t('retry')}
            </Button>
          }
        />
      ) : null}
      <p className="pos-muted">{t('pairStorage')}</p>
      <div className="pos-actions">
        <Button type="primary" size="large" ref={startRef} onClick={() => navigate('/')} data-testid="pos-start-selling">
          {t('goSell')}
        </Button>
        <Button size="large" onClick={onPairAnother}>
          {t('pairAnother')}
        </Button>
        <Popconfirm title={t('unpairConfirm')} onConfirm={unpair} okText={t('unpair')} cancelText={t('cancel')} okButtonProps={{ danger: true, id: 'pos-unpair-confirm', size: 'large' }} cancelButtonProps={{ size: 'large' }}>
          <Button size="large" danger data-testid="pos-unpair">
            {t('unpair')}
          </Button>
        </Popconfirm>
      </div>
    </section>
  );
}

function pairErrorText(err: unknown, lang: 'zh-CN' | 'en', t: (k: string) => string): string {
  if (err instanceof ApiError && T[`pairErr_${err.code}`]) return t(`pairErr_${err.code}`);
  return errorText(err, lang);
}

function PairForm({ initialTerminalId, onDone }: { initialTerminalId: string; onDone: () => void }) {
  const t = useT(T);
  const { lang } = useLang();
  const navigate = useNavigate();
  const { pair } = useTerminal();
  const [terminalId, setTerminalId] = useState(initialTerminalId);
  const [secret, setSecret] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);

  const idOk = TERMINAL_ID_PATTERN.test(terminalId);
  const secretOk = SECRET_PATTERN.test(secret);
  const canSign = signingAvailable();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setFailure(null);
    if (!idOk || !secretOk || !canSign) return;
    setBusy(true);
    try {
      await pair(terminalId, secret);
      setSecret('');
      onDone();
      navigate('/pair', { replace: true });
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="pos-card" onSubmit={submit} noValidate aria-labelledby="pair-form-title" data-testid="pos-pair-form">
      <h2 id="pair-form-title" className="pos-h2">
        {t('pairFormTitle')}
      </h2>
      <p>{t('pairIntro')}</p>
      <Alert type="info" showIcon title={t('pairStorage')} className="pos-gap" />
      <div className="pos-field">
        <label htmlFor="pair-terminal-id">{t('terminalId')}</label>
        <Input
          id="pair-terminal-id"
          size="large"
          autoFocus={!initialTerminalId}
          autoComplete="off"
          spellCheck={false}
          placeholder={t('terminalIdHint')}
          value={terminalId}
          maxLength={9}
          onChange={(e) => setTerminalId(e.target.value.trim().toUpperCase())}
          status={touched && !idOk ? 'error' : undefined}
          aria-invalid={touched && !idOk}
          aria-describedby="pair-terminal-id-err"
          data-testid="pos-pair-terminal-id"
        />
        <div id="pair-terminal-id-err" className="pos-field-error" role="alert">
          {touched && !idOk ? t('terminalIdInvalid') : ''}
        </div>
      </div>
      <div className="pos-field">
        <label htmlFor="pair-secret">{t('terminalSecret')}</label>
        <Input.Password
          id="pair-secret"
          size="large"
          autoFocus={!!initialTerminalId}
          autoComplete="off"
          spellCheck={false}
          placeholder={t('terminalSecretHint')}
          value={secret}
          onChange={(e) => setSecret(e.target.value.trim())}
          status={touched && !secretOk ? 'error' : undefined}
          aria-invalid={touched && !secretOk}
          aria-describedby="pair-secret-err"
          data-testid="pos-pair-secret"
        />
        <div id="pair-secret-err" className="pos-field-error" role="alert">
          {touched && !secretOk ? t('terminalSecretInvalid') : ''}
        </div>
      </div>
      {failure ? <Alert type="error" showIcon title={pairErrorText(failure, lang, t)} className="pos-gap" data-testid="pos-pair-error" /> : null}
      <Button type="primary" size="large" htmlType="submit" loading={busy} disabled={!canSign} data-testid="pos-pair-submit">
        {busy ? t('pairing') : t('pairSubmit')}
      </Button>
    </form>
  );
}
