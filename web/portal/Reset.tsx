import { useEffect, useState } from 'react';
import { Link, Navigate, useLocation } from 'react-router-dom';
import { Alert, App as AntApp, Button, Form, Input } from 'antd';
import { LockOutlined, MessageOutlined, MobileOutlined, SafetyOutlined } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { focusErrorField, retryAfter, useIdempotencyKey } from './common';
import { useCountdown } from './countdown';
import { T } from './i18n';
import { AuthHero, phoneRules, useAfterSignIn } from './Login';
import { useSession, type SignInAnswer } from './session';

interface Values {
  phone: string;
  code: string;
  password: string;
  password2: string;
}

/** The server refuses a second code to one phone within this many seconds (PORTAL_CODE_TOO_SOON). */
const RESEND_SECONDS = 60;

function maskPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone;
}

/**
 * Whether the platform runs the development message sender, whose outbox page shows the codes.
 * The JSON list only answers in that mode, so asking it is the test.
 */
function useDevOutbox(): boolean {
  const [on, setOn] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    fetch('/api/v1/dev/messages?limit=1', { signal: ctl.signal })
      .then((r) => setOn(r.ok))
      .catch(() => undefined);
    return () => ctl.abort();
  }, []);
  return on;
}

/** 首次登录 / 忘记密码: a one-time code to the registered phone sets a new password and signs in. */
export function ResetPage() {
  const t = useT(T);
  const { lang } = useLang();
  const { api, signedIn, signIn } = useSession();
  const { message } = AntApp.useApp();
  const location = useLocation();
  const target = useAfterSignIn();
  const [form] = Form.useForm<Values>();
  const phone = Form.useWatch('phone', form) ?? '';
  const [left, startCountdown] = useCountdown();
  const [sentTo, setSentTo] = useState<{ phone: string; minutes: number } | null>(null);
  // Binds the code to this request: only the code sent for it is checked (docs/portal.md).
  const [challenge, setChallenge] = useState<{ phone: string; value: string } | null>(null);
  const [sending, setSending] = useState(false);
  const [codeError, setCodeError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();
  const devOutbox = useDevOutbox();
  const presetPhone = (location.state as { phone?: string } | null)?.phone;

  if (signedIn) return <Navigate to={target} replace />;

  // The wait applies per phone: another number may have its code at once.
  const waiting = left > 0 && sentTo?.phone === phone;

  const requestCode = async () => {
    try {
      await form.validateFields(['phone']);
    } catch {
      return;
    }
    const target = form.getFieldValue('phone') as string;
    setSending(true);
    setCodeError(null);
    try {
      const r = await api.request<{ sent: boolean; expiresInSeconds: number; challenge?: string }>('POST', '/api/v1/portal/auth/code', { body: { phone: target } });
      setChallenge(r?.challenge ? { phone: target, value: r.challenge } : null);
      setSentTo({ phone: target, minutes: Math.max(1, Math.round((r?.expiresInSeconds ?? 300) / 60)) });
      startCountdown(RESEND_SECONDS);
      window.setTimeout(() => (form.getFieldInstance('code') as { focus?: () => void } | undefined)?.focus?.(), 0);
    } catch (err) {
      setCodeError(err);
      const wait = retryAfter(err);
      if (wait) {
        setSentTo((s) => (s?.phone === target ? s : { phone: target, minutes: 5 }));
        startCountdown(wait);
      }
    } finally {
      setSending(false);
    }
  };

  const submit = async (v: Values) => {
    const body = { phone: v.phone, code: v.code, password: v.password, ...(challenge && challenge.phone === v.phone ? { challenge: challenge.value } : {}) };
    setBusy(true);
    setError(null);
    try {
      const answer = await api.request<SignInAnswer>('POST', '/api/v1/portal/auth/password', {
        body,
        idempotencyKey: idem.keyFor(JSON.stringify(body)),
      });
      idem.settled();
      message.success(t('signedIn'));
      signIn(answer);
    } catch (err) {
      idem.settled(err);
      setError(err);
      focusErrorField(form, err, ['phone', 'code', 'password']);
    } finally {
      setBusy(false);
    }
  };

  const codeButton = (
    <Button
      className="pt-codebtn"
      onClick={requestCode}
      loading={sending}
      disabled={waiting}
      data-testid="code-request"
    >
      {waiting ? t('resendIn', { s: left }) : sentTo ? t('resend') : t('getCode')}
    </Button>
  );

  return (
    <div className="pt-page pt-page--auth">
      <AuthHero />
      <main className="pt-main">
        <div className="pt-panel pt-panel--raised">
          <h1 className="pt-authtitle">{t('resetTitle')}</h1>
          <p className="pt-intro">{t('resetIntro')}</p>
          <Form
            form={form}
            layout="vertical"
            requiredMark={false}
            onFinish={submit}
            initialValues={{ phone: presetPhone ?? '' }}
            size="large"
            onValuesChange={() => error && setError(null)}
          >
            <Form.Item name="phone" label={t('phone')} rules={phoneRules(t)} validateTrigger="onBlur" normalize={(v: string) => v.replace(/\D/g, '')}>
              <Input
                prefix={<MobileOutlined />}
                type="tel"
                inputMode="numeric"
                autoComplete="tel"
                maxLength={11}
                placeholder={t('phonePlaceholder')}
                data-testid="reset-phone"
                allowClear
                onPressEnter={(e) => {
                  // Enter after the phone asks for the code (the next step), not for the whole form.
                  if (!sentTo || sentTo.phone !== phone) {
                    e.preventDefault();
                    void requestCode();
                  }
                }}
              />
            </Form.Item>
            <Form.Item label={t('code')} required>
              <div className="pt-coderow">
                <Form.Item
                  name="code"
                  noStyle
                  rules={[
                    { required: true, message: t('codeRequired') },
                    { pattern: /^\d{6}$/, message: t('codeInvalid') },
                  ]}
                  normalize={(v: string) => v.replace(/\D/g, '')}
                >
                  <Input
                    prefix={<SafetyOutlined />}
                    inputMode="numeric"
                    autoComplete="one-time-code"
                    maxLength={6}
                    placeholder={t('codePlaceholder')}
                    data-testid="code-input"
                    aria-label={t('code')}
                  />
                </Form.Item>
                {codeButton}
              </div>
            </Form.Item>
            {sentTo && codeError === null && (
              <Alert className="pt-alert" type="success" showIcon icon={<MessageOutlined />} data-testid="code-sent" title={t('codeSent', { phone: maskPhone(sentTo.phone), min: sentTo.minutes })} />
            )}
            {codeError !== null && <Alert className="pt-alert" type="error" showIcon data-testid="code-error" title={errorText(codeError, lang)} />}
            {devOutbox && (
              <p className="pt-devhint">
                <a href="/dev/outbox" target="_blank" rel="noopener noreferrer" data-testid="dev-outbox-link">
                  {t('devOutbox')}
                </a>
              </p>
            )}
            <Form.Item
              name="password"
              label={t('newPassword')}
              rules={[
                { required: true, message: t('newPasswordRequired') },
                { min: 8, message: t('newPasswordWeak') },
                { max: 128, message: t('newPasswordLong') },
              ]}
            >
              <Input.Password prefix={<LockOutlined />} autoComplete="new-password" placeholder={t('newPasswordPlaceholder')} data-testid="new-password" />
            </Form.Item>
            <Form.Item
              name="password2"
              label={t('confirmPassword')}
              dependencies={['password']}
              rules={[
                { required: true, message: t('newPasswordRequired') },
                ({ getFieldValue }) => ({
                  validator: (_r, v: string) => (!v || v === getFieldValue('password') ? Promise.resolve() : Promise.reject(new Error(t('passwordMismatch')))),
                }),
              ]}
            >
              <Input.Password prefix={<LockOutlined />} autoComplete="new-password" placeholder={t('confirmPasswordPlaceholder')} data-testid="new-password-confirm" />
            </Form.Item>
            {error !== null && <Alert className="pt-alert" type="error" showIcon data-testid="reset-error" title={errorText(error, lang)} />}
            <Button type="primary" htmlType="submit" block loading={busy} data-testid="password-submit" className="pt-btn-main">
              {t('setPasswordAndSignIn')}
            </Button>
          </Form>
          <div className="pt-auth-links">
            <Link to="/login" replace state={{ phone, from: (location.state as { from?: string } | null)?.from }} data-testid="back-to-login">
              {t('backToSignIn')}
            </Link>
          </div>
        </div>
      </main>
    </div>
  );
}
