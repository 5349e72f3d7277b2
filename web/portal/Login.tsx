import { useState } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router-dom';
import { Alert, App as AntApp, Button, Form, Input } from 'antd';
import { LockOutlined, MobileOutlined } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { duration, Logo, retryAfter } from './common';
import { useCountdown } from './countdown';
import { T } from './i18n';
import { LangToggle } from './layout';
import { useSession, type SignInAnswer } from './session';

/** 11-digit mainland mobile number: 1 then 10 digits (13x–19x today; the leading 1 is all that never changes). */
export const PHONE_RE = /^1\d{10}$/;

export function phoneRules(t: (k: string) => string) {
  return [
    { required: true, message: t('phoneRequired') },
    { pattern: PHONE_RE, message: t('phoneInvalid') },
  ];
}

/**
 * Where a signed-in person goes from the sign-in screens: the page that sent them to sign in,
 * or my cards. Signing in re-renders the screen signed in, which redirects there.
 */
export function useAfterSignIn(): string {
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  return from && from.startsWith('/') && !from.startsWith('/login') && !from.startsWith('/reset') ? from : '/cards';
}

/** Brand band over the two sign-in screens, with the language pill. */
export function AuthHero() {
  const t = useT(T);
  return (
    <div className="pt-hero">
      <div className="pt-hero__lang">
        <LangToggle />
      </div>
      <Logo size={52} />
      <div className="pt-hero__name">{t('appName')}</div>
      <div className="pt-hero__slogan">{t('appSlogan')}</div>
    </div>
  );
}

export function LoginPage() {
  const t = useT(T);
  const { lang } = useLang();
  const { api, signedIn, signIn, expired } = useSession();
  const { message } = AntApp.useApp();
  const location = useLocation();
  const target = useAfterSignIn();
  const [form] = Form.useForm<{ phone: string; password: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [locked, startLock] = useCountdown();
  const navigate = useNavigate();
  const presetPhone = (location.state as { phone?: string } | null)?.phone;
  const from = (location.state as { from?: string } | null)?.from;

  if (signedIn) return <Navigate to={target} replace />;

  const submit = async (v: { phone: string; password: string }) => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api.request<SignInAnswer>('POST', '/api/v1/portal/auth/login', { body: { phone: v.phone, password: v.password } });
      message.success(t('signedIn'));
      signIn(answer);
    } catch (err) {
      setError(err);
      const wait = retryAfter(err);
      if (wait) startLock(wait);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="pt-page pt-page--auth">
      <AuthHero />
      <main className="pt-main">
        <div className="pt-panel pt-panel--raised">
          <h1 className="pt-authtitle">{t('signInTitle')}</h1>
          {expired && !error && <Alert className="pt-alert" type="warning" showIcon title={t('sessionExpired')} />}
          <Form
            form={form}
            layout="vertical"
            requiredMark={false}
            onFinish={submit}
            initialValues={{ phone: presetPhone ?? '' }}
            size="large"
            onValuesChange={() => error && !locked && setError(null)}
          >
            <Form.Item name="phone" label={t('phone')} rules={phoneRules(t)} validateTrigger="onBlur" normalize={(v: string) => v.replace(/\D/g, '')}>
              <Input
                prefix={<MobileOutlined />}
                type="tel"
                inputMode="numeric"
                autoComplete="tel"
                maxLength={11}
                placeholder={t('phonePlaceholder')}
                data-testid="login-phone"
                allowClear
              />
            </Form.Item>
            <Form.Item name="password" label={t('password')} rules={[{ required: true, message: t('passwordRequired') }]}>
              <Input.Password prefix={<LockOutlined />} autoComplete="current-password" placeholder={t('passwordPlaceholder')} data-testid="login-password" />
            </Form.Item>
            {error !== null && (
              <Alert
                className="pt-alert"
                type="error"
                showIcon
                data-testid="login-error"
                title={
                  <>
                    {errorText(error, lang)}
                    {locked > 0 && <div className="pt-alert-sub">{t('retryIn', { time: duration(locked, lang === 'en') })}</div>}
                  </>
                }
              />
            )}
            <Button type="primary" htmlType="submit" block loading={busy} disabled={locked > 0} data-testid="login-submit" className="pt-btn-main">
              {locked > 0 ? t('retryIn', { time: duration(locked, lang === 'en') }) : t('signIn')}
            </Button>
          </Form>
          <div className="pt-auth-links">
            <Link
              to="/reset"
              data-testid="first-time-link"
              className="pt-link-strong"
              onClick={(e) => {
                // The phone typed so far travels along, so it need not be typed twice.
                e.preventDefault();
                navigate('/reset', { state: { phone: form.getFieldValue('phone') as string | undefined, from } });
              }}
            >
              {t('firstTime')}
            </Link>
            <Link to="/find" data-testid="finder-link">
              {t('findStations')}
            </Link>
          </div>
        </div>
        <p className="pt-footnote">{t('agreement')}</p>
      </main>
    </div>
  );
}
