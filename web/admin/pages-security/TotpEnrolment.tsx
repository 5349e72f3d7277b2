import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Descriptions, Form, Input, Space, Tag, Typography } from 'antd';
import { SafetyCertificateOutlined } from '@ant-design/icons';
import { ApiError, errorText } from '../../shared/api';
import { useLang, useT, type Dict } from '../../shared/i18n';
import { useSession } from '../session';

const T: Dict = {
  title: { zh: '动态口令（双因素认证）', en: 'Authentication code (two-factor)' },
  requiredHint: {
    zh: '管理员账号须绑定动态口令后才能使用控制台。请用身份验证器应用（如 Google Authenticator、Microsoft Authenticator、阿里云 App）添加下方密钥。',
    en: 'Administrators must enrol an authentication code before using the console. Add the key below to an authenticator app (Google Authenticator, Microsoft Authenticator, …).',
  },
  optionalHint: { zh: '绑定后，登录时除密码外还需输入身份验证器显示的 6 位动态口令。', en: 'Once enrolled, signing in asks for the 6-digit code from your authenticator app as well as the password.' },
  enabled: { zh: '已启用', en: 'Enabled' },
  notEnabled: { zh: '未启用', en: 'Not enabled' },
  status: { zh: '状态', en: 'Status' },
  recoveryLeft: { zh: '剩余恢复码', en: 'Recovery codes left' },
  start: { zh: '开始绑定', en: 'Start enrolment' },
  restart: { zh: '重新生成密钥', en: 'New key' },
  secret: { zh: '密钥（手动输入）', en: 'Key (enter manually)' },
  uri: { zh: '配置链接（otpauth://）', en: 'Set-up link (otpauth://)' },
  code: { zh: '身份验证器显示的 6 位动态口令', en: '6-digit code from the authenticator' },
  codeInvalid: { zh: '请输入 6 位数字', en: 'Enter 6 digits' },
  confirm: { zh: '确认绑定', en: 'Confirm' },
  recoveryTitle: { zh: '恢复码（只显示这一次）', en: 'Recovery codes (shown this once only)' },
  recoveryHint: {
    zh: '手机丢失时，每个恢复码可代替动态口令登录一次。请抄写或打印后妥善保管；关闭本页后将无法再次查看。',
    en: 'If you lose your phone, each code signs you in once instead of an authentication code. Write them down or print them now: they cannot be shown again.',
  },
  done: { zh: '我已保存恢复码，继续', en: 'I have saved them — continue' },
  resetHint: { zh: '如需更换手机，请联系安全管理员重置动态口令。', en: 'To move to a new phone, ask a security officer to reset your authentication code.' },
  signOut: { zh: '退出登录', en: 'Sign out' },
  enrolmentCode: { zh: '启用码', en: 'Enrolment code' },
  enrolmentCodeHint: {
    zh: '您的动态口令已被重置。请输入重置人当面交给您的启用码后再绑定。',
    en: 'Your second factor was reset. Enter the enrolment code the person who reset it handed to you.',
  },
  password: { zh: '当前登录密码', en: 'Current password' },
  passwordHint: { zh: '重新生成密钥会替换尚未确认的密钥，请输入登录密码确认是您本人。', en: 'A new key replaces the one not yet confirmed: enter your password to confirm it is you.' },
  required: { zh: '必填', en: 'Required' },
  continue: { zh: '继续', en: 'Continue' },
  cancel: { zh: '取消', en: 'Cancel' },
};

/** What enrolling may need besides the session: the reset's enrolment code, the password to replace a pending key. */
interface Proof {
  enrolmentCode?: string;
  password?: string;
}
type ProofField = keyof Proof;
const PROOF_FOR: Record<string, ProofField> = { AUTH_TOTP_ENROLMENT_CODE_INVALID: 'enrolmentCode', AUTH_PASSWORD_REQUIRED: 'password' };

/** "JBSWY3DPEHPK3PXP…" → "JBSW Y3DP EHPK 3PXP …": easier to type into an app by hand. */
export function groupBy4(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

interface Status {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
  required: boolean;
}

/**
 * TOTP enrolment: start (a new key, shown once as text and as the otpauth:// link authenticator
 * apps read), confirm with a current code, then the recovery codes, shown once. Used both on the
 * sign-in screen for an administrator whose session may only enrol, and as the console's security
 * page. onEnrolled runs after the recovery codes have been acknowledged.
 */
export function TotpEnrolment({ onEnrolled, compact = false }: { onEnrolled?: () => void; compact?: boolean }) {
  const t = useT(T);
  const { lang } = useLang();
  const { api } = useSession();
  const [status, setStatus] = useState<Status | null>(null);
  const [key, setKey] = useState<{ secret: string; otpauthUri: string } | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The field the server asked for (403), and what was given so far: after a reset a new key needs
  // the enrolment code until the factor is confirmed, and replacing a pending one the password too.
  const [need, setNeed] = useState<ProofField | null>(null);
  const [proof, setProof] = useState<Proof>({});

  const load = useCallback(() => {
    api
      .request<Status>('GET', '/api/v1/auth/totp')
      .then(setStatus)
      .catch((e: unknown) => setError(errorText(e, lang)));
  }, [api, lang]);
  useEffect(load, [load]);

  const start = async (given: Proof = proof) => {
    setBusy(true);
    setError(null);
    try {
      const body = given.enrolmentCode !== undefined || given.password !== undefined ? given : undefined;
      setKey(await api.request<{ secret: string; otpauthUri: string }>('POST', '/api/v1/auth/totp/enrol', body ? { body } : undefined));
      setNeed(null);
      // The code stays valid until the factor is confirmed; the password is not kept in memory.
      setProof(given.enrolmentCode !== undefined ? { enrolmentCode: given.enrolmentCode } : {});
    } catch (e) {
      const field = e instanceof ApiError && e.status === 403 ? PROOF_FOR[e.code] : undefined;
      if (field) {
        // Being asked is not a failure; only a value that was sent and refused is.
        if (given[field] !== undefined) setError(errorText(e, lang));
        setProof({ ...given, [field]: undefined });
        setNeed(field);
      } else {
        setError(errorText(e, lang));
      }
    } finally {
      setBusy(false);
    }
  };

  const proofForm = need && (
    <Form<Record<ProofField, string>> key={need} layout="vertical" onFinish={(v) => start({ ...proof, [need]: v[need].trim() })} disabled={busy} requiredMark={false} data-testid="totp-proof">
      <Typography.Paragraph type="secondary">{t(need === 'password' ? 'passwordHint' : 'enrolmentCodeHint')}</Typography.Paragraph>
      <Form.Item label={t(need === 'password' ? 'password' : 'enrolmentCode')} name={need} rules={[{ required: true, whitespace: true, message: t('required') }]}>
        {need === 'password' ? (
          <Input.Password autoComplete="current-password" style={{ maxWidth: 320 }} data-testid="totp-password" autoFocus />
        ) : (
          <Input autoComplete="off" spellCheck={false} style={{ maxWidth: 320, fontFamily: 'monospace', textTransform: 'uppercase' }} data-testid="totp-enrolment-code" autoFocus />
        )}
      </Form.Item>
      <Space>
        <Button type="primary" htmlType="submit" loading={busy} data-testid="totp-proof-submit">
          {t('continue')}
        </Button>
        {key && (
          <Button
            onClick={() => {
              setNeed(null);
              setError(null);
            }}
          >
            {t('cancel')}
          </Button>
        )}
      </Space>
    </Form>
  );

  const confirm = async ({ code }: { code: string }) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.request<{ recoveryCodes: string[] }>('POST', '/api/v1/auth/totp/confirm', { body: { code: code.trim() } });
      setKey(null);
      setCodes(r.recoveryCodes);
    } catch (e) {
      setError(errorText(e, lang));
    } finally {
      setBusy(false);
    }
  };

  const finish = () => {
    setCodes(null);
    load();
    onEnrolled?.();
  };

  return (
    <div data-testid="totp-enrolment">
      {!compact && (
        <Typography.Title level={4}>
          <SafetyCertificateOutlined /> {t('title')}
        </Typography.Title>
      )}
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 16 }} role="alert" data-testid="totp-error" />}
      {codes ? (
        <Card size="small" title={t('recoveryTitle')} data-testid="totp-recovery-codes">
          <Typography.Paragraph type="warning">{t('recoveryHint')}</Typography.Paragraph>
          <pre style={{ fontSize: 16, lineHeight: 1.8, columns: 2 }}>{codes.join('\n')}</pre>
          <Button type="primary" onClick={finish} data-testid="totp-done">
            {t('done')}
          </Button>
        </Card>
      ) : (
        <>
          {status && (
            <Descriptions size="small" column={1} style={{ marginBottom: 16 }}>
              <Descriptions.Item label={t('status')}>
                <Tag color={status.enabled ? 'green' : 'orange'} data-testid="totp-status">
                  {status.enabled ? t('enabled') : t('notEnabled')}
                </Tag>
              </Descriptions.Item>
              {status.enabled && <Descriptions.Item label={t('recoveryLeft')}>{status.recoveryCodesLeft}</Descriptions.Item>}
            </Descriptions>
          )}
          {status?.enabled ? (
            <Typography.Paragraph type="secondary">{t('resetHint')}</Typography.Paragraph>
          ) : (
            <>
              <Typography.Paragraph type="secondary">{status?.required ? t('requiredHint') : t('optionalHint')}</Typography.Paragraph>
              {proofForm ? (
                proofForm
              ) : key ? (
                <Space direction="vertical" style={{ width: '100%' }}>
                  <div>
                    <Typography.Text strong>{t('secret')}</Typography.Text>
                    <Typography.Paragraph copyable={{ text: key.secret }} style={{ fontFamily: 'monospace', fontSize: 18 }} data-testid="totp-secret">
                      {groupBy4(key.secret)}
                    </Typography.Paragraph>
                  </div>
                  <div>
                    <Typography.Text strong>{t('uri')}</Typography.Text>
                    <Typography.Paragraph copyable style={{ fontFamily: 'monospace', wordBreak: 'break-all' }} data-testid="totp-uri">
                      {key.otpauthUri}
                    </Typography.Paragraph>
                  </div>
                  <Form<{ code: string }> layout="vertical" onFinish={confirm} disabled={busy} requiredMark={false}>
                    <Form.Item label={t('code')} name="code" rules={[{ required: true, pattern: /^\s*[0-9]{6}\s*$/, message: t('codeInvalid') }]}>
                      <Input inputMode="numeric" autoComplete="one-time-code" maxLength={8} style={{ maxWidth: 200 }} data-testid="totp-code" autoFocus />
                    </Form.Item>
                    <Space>
                      <Button type="primary" htmlType="submit" loading={busy} data-testid="totp-confirm">
                        {t('confirm')}
                      </Button>
                      <Button onClick={() => void start()} disabled={busy} data-testid="totp-restart">
                        {t('restart')}
                      </Button>
                    </Space>
                  </Form>
                </Space>
              ) : (
                <Button type="primary" onClick={() => void start()} loading={busy} data-testid="totp-start">
                  {t('start')}
                </Button>
              )}
            </>
          )}
        </>
      )}
    </div>
  );
}

/** The console's security page (账号安全): the signed-in member's own second factor. */
export function SecurityPage() {
  return (
    <Card>
      <TotpEnrolment />
    </Card>
  );
}

export const SECURITY_TEXT = T;
