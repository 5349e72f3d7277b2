import { useEffect, useState } from 'react';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { useLang, useT } from '../shared/i18n';
import { useSession } from './session';
import { SHELL } from './i18n';
import { clearSigningOut } from './shell-state';
import { BRAND_COLOR, LangSwitch } from './Shell';

interface LoginForm {
  username: string;
  password: string;
}

/**
 * Staff sign-in. Stays mounted while the session loads after a successful login, so a failure
 * to load the user's permissions is reported here rather than silently dropping back.
 */
export function Login() {
  const { signIn, ready, user } = useSession();
  const { lang } = useLang();
  const t = useT(SHELL);
  const [form] = Form.useForm<LoginForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // 'idle' → 'signedIn' (token received) → 'loading' (session loading) → back to idle on failure.
  const [phase, setPhase] = useState<'idle' | 'signedIn' | 'loading'>('idle');

  useEffect(() => clearSigningOut(), []);
  useEffect(() => {
    if (phase === 'signedIn' && !ready) setPhase('loading');
    if (phase === 'loading' && ready && !user) {
      setPhase('idle');
      setBusy(false);
      setError(t('sessionFailed'));
    }
  }, [phase, ready, user, t]);

  const submit = async (values: LoginForm) => {
    setBusy(true);
    setError(null);
    try {
      await signIn(values.username.trim(), values.password);
      setPhase('signedIn');
    } catch (err) {
      setBusy(false);
      setError(errorText(err, lang));
      form.setFieldValue('password', '');
    }
  };

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
      </Card>
    </main>
  );
}
