import { useEffect, useState } from 'react';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { LockOutlined, SafetyCertificateOutlined, UserOutlined } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { useLang, useT, type Dict } from '../shared/i18n';
import { TotpEnrolment } from './pages-security';
import { useSession } from './session';
import { SHELL } from './i18n';
import { clearSigningOut } from './shell-state';
import { BRAND_COLOR, LangSwitch } from './Shell';

interface LoginForm {
  username: string;
  password: string;
}

const TOTP_TEXT: Dict = {
  totpCode: { zh: '动态口令', en: 'Authentication code' },
  totpHint: { zh: '请输入身份验证器显示的 6 位动态口令；手机丢失时可输入一个恢复码。', en: 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.' },
  totpRequired: { zh: '请输入动态口令', en: 'Enter the code' },
  verify: { zh: '验证', en: 'Verify' },
  back: { zh: '返回', en: 'Back' },
  enrolTitle: { zh: '绑定动态口令', en: 'Enrol an authentication code' },
  signOut: { zh: '退出登录', en: 'Sign out' },
};

/**
 * Staff sign-in. Stays mounted while the session loads after a successful login, so a failure
 * to load the user's permissions is reported here rather than silently dropping back.
 */
export function Login() {
  const { signIn, signInWithTotp, ready, user, enrolment, refresh, signOut } = useSession();
  const { lang } = useLang();
  const t = useT(SHELL);
  const tt = useT(TOTP_TEXT);
  const [form] = Form.useForm<LoginForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // 'idle' → 'signedIn' (token received) → 'loading' (session loading) → back to idle on failure.
  const [phase, setPhase] = useState<'idle' | 'signedIn' | 'loading'>('idle');
  // Password accepted, a TOTP code still owed (POST /api/v1/auth/login/totp).
  const [challenge, setChallenge] = useState<string | null>(null);

  useEffect(() => clearSigningOut(), []);
  useEffect(() => {
    if (phase === 'signedIn' && !ready) setPhase('loading');
    // An enrolment-only session is not a failure: the enrolment is shown below.
    if (phase === 'loading' && ready && !user && !enrolment) {
      setPhase('idle');
      setBusy(false);
      setError(t('sessionFailed'));
    }
    if (phase === 'loading' && ready && enrolment) {
      setPhase('idle');
      setBusy(false);
    }
  }, [phase, ready, user, enrolment, t]);

  const submit = async (values: LoginForm) => {
    setBusy(true);
    setError(null);
    try {
      const r = await signIn(values.username.trim(), values.password);
      if (r.totpRequired) {
        setChallenge(r.challenge);
        setBusy(false);
        form.setFieldValue('password', '');
        return;
      }
      setPhase('signedIn');
    } catch (err) {
      setBusy(false);
      setError(errorText(err, lang));
      form.setFieldValue('password', '');
    }
  };

  const submitCode = async ({ code }: { code: string }) => {
    if (!challenge) return;
    setBusy(true);
    setError(null);
    try {
      await signInWithTotp(challenge, code.trim());
      setChallenge(null);
      setPhase('signedIn');
    } catch (err) {
      setBusy(false);
      const code = (err as { code?: string }).code;
      // A dead challenge (expired, used up, locked out) needs the password again.
      if (code === 'AUTH_CHALLENGE_INVALID' || code === 'RATE_LIMITED') setChallenge(null);
      setError(errorText(err, lang));
    }
  };

  if (enrolment && !user) {
    return (
      <main style={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', background: `linear-gradient(160deg, ${BRAND_COLOR} 0%, #0b3d35 100%)`, padding: 16 }}>
        <Card style={{ width: '100%', maxWidth: 560 }} styles={{ body: { padding: 32 } }} data-testid="login-enrolment">
          <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'flex-start', marginBottom: 16 }}>
            <Typography.Title level={4} style={{ margin: 0 }}>
              <SafetyCertificateOutlined /> {tt('enrolTitle')} · {enrolment.username}
            </Typography.Title>
            <LangSwitch />
          </div>
          <TotpEnrolment compact onEnrolled={refresh} />
          <Button type="link" onClick={() => void signOut()} style={{ paddingLeft: 0, marginTop: 16 }}>
            {tt('signOut')}
          </Button>
        </Card>
      </main>
    );
  }

  return (
    <main style={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', background: `linear-gradient(160deg, ${BRAND_COLOR} 0%, #0b3d35 100%)`, padding: 16 }}>
      <Card style={{ width: '100%', maxWidth: 400 }} styles={{ body: { padding: 32 } }}>
        <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'flex-start', marginBottom: 24 }}>
          <div>
            <Typography.Title level={3} style={{ margin: 0 }}>
              {t('appName')}
            </Typography.Title>
            <Typography.Text type="secondary">{t('loginTitle')}</Typography.Text>
          </div>
          <LangSwitch />
        </div>
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} data-testid="login-error" role="alert" />}
        {challenge ? (
          <Form<{ code: string }> layout="vertical" onFinish={submitCode} requiredMark={false} disabled={busy} data-testid="login-totp-form">
            <Typography.Paragraph type="secondary">{tt('totpHint')}</Typography.Paragraph>
            <Form.Item label={tt('totpCode')} name="code" rules={[{ required: true, whitespace: true, message: tt('totpRequired') }]}>
              <Input prefix={<SafetyCertificateOutlined />} inputMode="numeric" autoComplete="one-time-code" autoFocus maxLength={16} data-testid="login-totp-code" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="login-totp-submit">
              {tt('verify')}
            </Button>
            <Button type="link" block onClick={() => setChallenge(null)} style={{ marginTop: 8 }}>
              {tt('back')}
            </Button>
          </Form>
        ) : (
          <Form<LoginForm> form={form} layout="vertical" onFinish={submit} requiredMark={false} disabled={busy}>
            <Form.Item label={t('username')} name="username" rules={[{ required: true, whitespace: true, message: t('usernameRequired') }]}>
              <Input prefix={<UserOutlined />} autoComplete="username" autoFocus maxLength={64} data-testid="login-username" />
            </Form.Item>
            <Form.Item label={t('password')} name="password" rules={[{ required: true, message: t('passwordRequired') }]}>
              <Input.Password prefix={<LockOutlined />} autoComplete="current-password" maxLength={200} data-testid="login-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="login-submit">
              {t('signIn')}
            </Button>
          </Form>
        )}
      </Card>
    </main>
  );
}
