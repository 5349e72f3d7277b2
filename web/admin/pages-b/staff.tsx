import { useMemo, useState, type HTMLAttributes } from 'react';
import { App, Button, Card, Form, Input, InputNumber, Modal, Select, Space, Table, Tag, Tooltip, Typography, message, type ButtonProps } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined } from '@ant-design/icons';
import { errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT, type Dict, type Lang } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, PageHeader, SubmitError, markFieldError, mono, useIdempotencyKey, useStations, type Station } from './common';
import { ACTOR_KINDS, ROLES, ROLE_INFO, dict } from './i18n';

/** The second-factor reset's words; kept here, next to the one place that uses them. */
const TOTP_T: Dict = {
  resetTotp: { zh: '重置二次验证', en: 'Reset second factor' },
  confirmResetTotp: { zh: '重置 {name} 的二次验证？', en: 'Reset the second factor of {name}?' },
  confirmResetTotpHint: {
    zh: '其动态口令和恢复码将被删除，登录会话立即结束。之后会显示一个一次性启用码，须当面交给本人，凭此码才能重新绑定。',
    en: 'Their authenticator key and recovery codes are removed and their sessions end at once. A one-time enrolment code follows: hand it to them in person; enrolling again needs it.',
  },
  enrolmentCodeTitle: { zh: '{name} 的启用码（只显示这一次）', en: 'Enrolment code for {name} (shown this once only)' },
  enrolmentCodeHint: {
    zh: '请当面将此启用码交给本人（当面念出或抄写），不要通过电话、短信或即时通讯发送。本人用密码登录后，输入此码即可重新绑定动态口令。关闭后将无法再次查看。',
    en: 'Hand this code to the holder in person (read it aloud or write it down); never send it by phone, text or chat. After signing in with their password they enter it to enrol a new authenticator. It cannot be shown again once closed.',
  },
  enrolmentCodeDone: { zh: '我已当面交付，关闭', en: 'Handed over — close' },
};

interface StaffUser {
  id: number;
  username: string;
  displayName: string;
  role: string;
  stationId: number | null;
  /** The enterprise customer an enterprise or department admin acts for. */
  customerId?: number | null;
  status: 'active' | 'disabled' | string;
  createdAt: string;
  /** Whether the caller may manage this account (the three-role split); the list says so, other answers do not. */
  mayManage?: boolean;
}

export function roleName(role: string, lang: Lang): string {
  const r = ROLE_INFO[role] ?? ACTOR_KINDS[role];
  return r ? (lang === 'en' ? r.en : r.zh) : role;
}

function roleOptions(lang: Lang) {
  return ROLES.map((r) => ({
    value: r,
    label: `${roleName(r, lang)} (${r})`,
  }));
}

/** Roles bound to one enterprise customer (CUSTOMER_ROLES in src/staff/staff.policy.ts). */
const CUSTOMER_ROLES = ['enterprise_admin', 'department_admin'];
const needsCustomer = (role: string | undefined) => role !== undefined && CUSTOMER_ROLES.includes(role);

function stationOptions(stations: Station[] | undefined) {
  return (stations ?? []).map((s) => ({ value: s.id, label: `${s.code} ${s.name}` }));
}

export function StaffPage() {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can, user } = useSession();
  const stations = useStations();
  const list = useLoad(() => api.request<{ items: StaffUser[] }>('GET', '/api/v1/staff').then((r) => r.items), [api]);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<StaffUser | null>(null);
  const [resetting, setResetting] = useState<StaffUser | null>(null);
  const [toggling, setToggling] = useState<number | null>(null);
  const [msg, holder] = message.useMessage();
  const { modal } = App.useApp();
  const mayPatch = can('PATCH', '/api/v1/staff/:id');
  const mayPassword = can('POST', '/api/v1/staff/:id/password');
  const mayResetTotp = can('POST', '/api/v1/staff/:id/totp/reset');
  const tt = useT(TOTP_T);
  const [enrolmentCode, setEnrolmentCode] = useState<{ name: string; code: string } | null>(null);

  const resetTotp = async (u: StaffUser) => {
    try {
      const r = await api.request<{ enrolmentCode: string }>('POST', `/api/v1/staff/${u.id}/totp/reset`);
      setEnrolmentCode({ name: u.displayName, code: r.enrolmentCode });
    } catch (err) {
      msg.error(errorText(err, lang));
    }
  };

  const askResetTotp = (u: StaffUser) => {
    modal.confirm({
      title: tt('confirmResetTotp', { name: u.displayName }),
      content: tt('confirmResetTotpHint'),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { danger: true, 'data-testid': 'staff-totp-reset-confirm' } as ButtonProps,
      onOk: () => resetTotp(u),
    });
  };

  const stationName = (id: number | null) => (id === null ? '—' : (stations.data?.find((s) => s.id === id)?.name ?? `#${id}`));

  const toggle = async (u: StaffUser) => {
    const next = u.status === 'active' ? 'disabled' : 'active';
    setToggling(u.id);
    try {
      await api.request('PATCH', `/api/v1/staff/${u.id}`, { body: { status: next } });
      msg.success(t(next === 'disabled' ? 'staffDisabled' : 'staffEnabled', { name: u.displayName }));
      list.reload();
    } catch (err) {
      msg.error(errorText(err, lang));
    } finally {
      setToggling(null);
    }
  };

  // A confirmation dialog rather than a popover: it takes the focus, Enter confirms and Esc cancels.
  const askToggle = (u: StaffUser) => {
    const disabling = u.status === 'active';
    modal.confirm({
      title: t(disabling ? 'confirmDisableStaff' : 'confirmEnableStaff', { name: u.displayName }),
      okText: t('confirm'),
      cancelText: t('cancel'),
      okButtonProps: { danger: disabling, 'data-testid': 'staff-toggle-confirm' } as ButtonProps,
      onOk: () => toggle(u),
    });
  };

  const columns: ColumnsType<StaffUser> = useMemo(
    () => [
      {
        title: t('username'),
        dataIndex: 'username',
        render: (v: string, u) => (
          <span style={{ whiteSpace: 'nowrap' }}>
            <span style={mono}>{v}</span>
            {u.id === user?.id ? t('you') : ''}
          </span>
        ),
      },
      { title: t('displayName'), dataIndex: 'displayName' },
      {
        title: t('role'),
        dataIndex: 'role',
        render: (v: string) => (
          <Tooltip title={ROLE_INFO[v] ? (lang === 'en' ? ROLE_INFO[v].descEn : ROLE_INFO[v].descZh) : undefined}>
            <Tag color={v === 'admin' ? 'red' : 'blue'}>{roleName(v, lang)}</Tag>
          </Tooltip>
        ),
      },
      { title: t('station'), dataIndex: 'stationId', render: (v: number | null) => <span style={{ display: 'inline-block', maxWidth: 200 }}>{stationName(v)}</span> },
      { title: t('status'), dataIndex: 'status', render: (v: string) => <Tag color={v === 'active' ? 'green' : 'default'}>{t(`staffStatus_${v}`)}</Tag> },
      { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
      {
        title: t('actions'),
        key: 'actions',
        fixed: 'right',
        render: (_: unknown, u) => {
          const self = u.id === user?.id;
          const disabling = u.status === 'active';
          // An account the three-role split puts out of the caller's reach shows no actions (the server would refuse them).
          if (u.mayManage === false) {
            return (
              <Tooltip title={t('outOfReach')}>
                <Typography.Text type="secondary" data-testid="staff-out-of-reach">
                  —
                </Typography.Text>
              </Tooltip>
            );
          }
          return (
            <Space size={4}>
              {mayPatch && (
                <Button size="small" onClick={() => setEditing(u)} data-testid="staff-edit">
                  {t('edit')}
                </Button>
              )}
              {mayPatch &&
                (self && disabling ? (
                  <Tooltip title={t('selfChange')}>
                    <Button size="small" disabled data-testid="staff-toggle">
                      {t('disable')}
                    </Button>
                  </Tooltip>
                ) : (
                  <Button size="small" danger={disabling} loading={toggling === u.id} onClick={() => askToggle(u)} data-testid="staff-toggle">
                    {disabling ? t('disable') : t('enable')}
                  </Button>
                ))}
              {mayPassword && (
                <Button size="small" onClick={() => setResetting(u)} data-testid="staff-password">
                  {t('resetPassword')}
                </Button>
              )}
              {mayResetTotp && !self && (
                <Button size="small" onClick={() => askResetTotp(u)} data-testid="staff-totp-reset">
                  {tt('resetTotp')}
                </Button>
              )}
            </Space>
          );
        },
      },
    ],
    [t, tt, lang, user?.id, mayPatch, mayPassword, mayResetTotp, toggling, stations.data, askToggle, askResetTotp],
  );

  return (
    <div>
      {holder}
      <PageHeader
        title={t('staffTitle')}
        extra={
          can('POST', '/api/v1/staff') && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="staff-create">
              {t('newStaff')}
            </Button>
          )
        }
      />
      <ListError error={list.error} onRetry={list.reload} />
      <Table<StaffUser>
        rowKey="id"
        size="small"
        columns={columns}
        dataSource={list.data ?? []}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText /> }}
        onRow={(u) => ({ 'data-testid': 'staff-row', 'data-username': u.username, 'data-status': u.status }) as HTMLAttributes<HTMLElement>}
      />
      <RolesCard />
      <CreateStaffModal
        open={creating}
        stations={stations.data}
        onClose={() => setCreating(false)}
        onSaved={(u) => {
          msg.success(t('staffCreated', { name: u.displayName }));
          list.reload();
        }}
      />
      <EditStaffModal
        staff={editing}
        self={editing?.id === user?.id}
        stations={stations.data}
        onClose={() => setEditing(null)}
        onSaved={() => {
          msg.success(t('staffSaved'));
          list.reload();
        }}
      />
      <PasswordModal staff={resetting} onClose={() => setResetting(null)} onSaved={(u) => msg.success(t('passwordReset', { name: u.displayName }))} />
      <EnrolmentCodeModal shown={enrolmentCode} onClose={() => setEnrolmentCode(null)} />
    </div>
  );
}

function RolesCard() {
  const t = useT(dict);
  const { lang } = useLang();
  return (
    <Card size="small" title={t('rolesTitle')} style={{ marginTop: 16 }} data-testid="staff-roles">
      <Table
        size="small"
        rowKey="role"
        pagination={false}
        dataSource={ROLES.map((r) => ({ role: r }))}
        columns={[
          { title: t('role'), dataIndex: 'role', render: (r: string) => <strong>{roleName(r, lang)}</strong> },
          { title: t('roleCode'), dataIndex: 'role', render: (r: string) => <span style={mono}>{r}</span> },
          { title: t('roleDesc'), dataIndex: 'role', render: (r: string) => (lang === 'en' ? ROLE_INFO[r]!.descEn : ROLE_INFO[r]!.descZh) },
        ]}
      />
    </Card>
  );
}

/** Description of the chosen role under the role picker. */
function RoleHint({ role }: { role: string | undefined }) {
  const { lang } = useLang();
  const info = role ? ROLE_INFO[role] : undefined;
  if (!info) return null;
  return (
    <Typography.Text type="secondary" style={{ display: 'block', marginTop: -16, marginBottom: 16 }}>
      {lang === 'en' ? info.descEn : info.descZh}
    </Typography.Text>
  );
}

function passwordRules(t: (k: string) => string) {
  return {
    password: [{ required: true, message: t('required') }, { min: 10, message: t('passwordShort') }, { max: 200 }],
    confirm: [
      { required: true, message: t('required') },
      ({ getFieldValue }: { getFieldValue: (n: string) => unknown }) => ({
        validator: (_r: unknown, v: string) => (!v || v === getFieldValue('password') ? Promise.resolve() : Promise.reject(new Error(t('passwordMismatch')))),
      }),
    ],
  };
}

function stationRule(t: (k: string) => string) {
  return ({ getFieldValue }: { getFieldValue: (n: string) => unknown }) => ({
    validator: (_r: unknown, v: number | undefined) => (getFieldValue('role') === 'station_staff' && !v ? Promise.reject(new Error(t('stationNeeded'))) : Promise.resolve()),
  });
}

function customerRule(t: (k: string) => string) {
  return ({ getFieldValue }: { getFieldValue: (n: string) => unknown }) => ({
    validator: (_r: unknown, v: number | undefined) => (needsCustomer(getFieldValue('role') as string) && !v ? Promise.reject(new Error(t('customerNeeded'))) : Promise.resolve()),
  });
}

/** Shown only for the roles that act for one enterprise customer; otherwise unmounted, so not sent. */
function CustomerField({ role, testId }: { role: string | undefined; testId: string }) {
  const t = useT(dict);
  if (!needsCustomer(role)) return null;
  return (
    <Form.Item name="customerId" label={t('staffCustomer')} extra={t('staffCustomerHint')} dependencies={['role']} rules={[customerRule(t)]}>
      <InputNumber min={1} precision={0} style={{ width: '100%' }} data-testid={testId} />
    </Form.Item>
  );
}

interface CreateValues {
  username: string;
  displayName?: string;
  role: string;
  stationId?: number;
  customerId?: number;
  password: string;
  confirm: string;
}

function CreateStaffModal({ open, stations, onClose, onSaved }: { open: boolean; stations?: Station[]; onClose: () => void; onSaved: (u: StaffUser) => void }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm<CreateValues>();
  const role = Form.useWatch('role', form);
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const pw = passwordRules(t);

  const submit = async (v: CreateValues) => {
    setBusy(true);
    setError(undefined);
    try {
      const u = await api.request<StaffUser>('POST', '/api/v1/staff', {
        body: {
          username: v.username.trim(),
          password: v.password,
          role: v.role,
          ...(v.displayName?.trim() ? { displayName: v.displayName.trim() } : {}),
          ...(v.stationId ? { stationId: v.stationId } : {}),
          ...(needsCustomer(v.role) && v.customerId ? { customerId: v.customerId } : {}),
        },
        idempotencyKey: idem.get(),
      });
      idem.renew();
      form.resetFields();
      onSaved(u);
      onClose();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['username', 'displayName', 'role', 'stationId', 'customerId', 'password']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('newStaff')}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('submit')}
      cancelText={t('cancel')}
      confirmLoading={busy}
      destroyOnHidden
      afterOpenChange={(o) => o && setError(undefined)}
      okButtonProps={{ 'data-testid': 'staff-form-submit' } as any}
    >
      <Form form={form} layout="vertical" onFinish={submit} onValuesChange={() => idem.renew()} data-testid="staff-form" preserve={false} autoComplete="off">
        <SubmitError error={error} />
        <Form.Item name="username" label={t('username')} rules={[{ required: true, message: t('required') }, { pattern: /^[a-z0-9_.-]{3,32}$/, message: t('usernameInvalid') }]}>
          <Input data-testid="staff-form-username" maxLength={32} autoComplete="off" autoFocus />
        </Form.Item>
        <Form.Item name="displayName" label={t('displayName')} rules={[{ max: 64 }]}>
          <Input data-testid="staff-form-display-name" maxLength={64} />
        </Form.Item>
        <Form.Item name="role" label={t('role')} rules={[{ required: true, message: t('required') }]}>
          <Select options={roleOptions(lang)} data-testid="staff-form-role" />
        </Form.Item>
        <RoleHint role={role} />
        <Form.Item name="stationId" label={t('station')} dependencies={['role']} rules={[stationRule(t)]}>
          <Select allowClear showSearch={{ optionFilterProp: 'label' }} placeholder={t('noStation')} options={stationOptions(stations)} data-testid="staff-form-station" />
        </Form.Item>
        <CustomerField role={role} testId="staff-form-customer" />
        <Form.Item name="password" label={t('password')} rules={pw.password}>
          <Input.Password data-testid="staff-form-password" autoComplete="new-password" />
        </Form.Item>
        <Form.Item name="confirm" label={t('password2')} dependencies={['password']} rules={pw.confirm}>
          <Input.Password data-testid="staff-form-password2" autoComplete="new-password" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}

interface EditValues {
  displayName: string;
  role: string;
  stationId?: number | null;
  customerId?: number | null;
}

function EditStaffModal({ staff, self, stations, onClose, onSaved }: { staff: StaffUser | null; self: boolean; stations?: Station[]; onClose: () => void; onSaved: () => void }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm<EditValues>();
  const role = Form.useWatch('role', form);
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const submit = async (v: EditValues) => {
    if (!staff) return;
    // Only what changed, so an edit of the name never touches the role (and STAFF_SELF_CHANGE).
    const body: Record<string, unknown> = {};
    if (v.displayName.trim() !== staff.displayName) body.displayName = v.displayName.trim();
    if (v.role !== staff.role) body.role = v.role;
    const station = v.stationId ?? null;
    if (station !== staff.stationId) body.stationId = station;
    // A role not bound to a customer carries none (the field is unmounted, so it reads as null).
    const customer = needsCustomer(v.role) ? (v.customerId ?? null) : null;
    if (customer !== (staff.customerId ?? null)) body.customerId = customer;
    if (Object.keys(body).length === 0) {
      setError(undefined);
      onClose();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api.request('PATCH', `/api/v1/staff/${staff.id}`, { body, idempotencyKey: idem.get() });
      idem.renew();
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['displayName', 'role', 'stationId', 'customerId']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={!!staff}
      title={staff ? t('editStaff', { name: staff.username }) : ''}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('save')}
      cancelText={t('cancel')}
      confirmLoading={busy}
      destroyOnHidden
      afterOpenChange={(o) => o && setError(undefined)}
      okButtonProps={{ 'data-testid': 'staff-edit-submit' } as any}
    >
      {staff && (
        <Form
          form={form}
          layout="vertical"
          onFinish={submit}
          onValuesChange={() => idem.renew()}
          initialValues={{ displayName: staff.displayName, role: staff.role, stationId: staff.stationId ?? undefined, customerId: staff.customerId ?? undefined }}
          data-testid="staff-edit-form"
          preserve={false}
        >
          <SubmitError error={error} />
          <Form.Item name="displayName" label={t('displayName')} rules={[{ required: true, whitespace: true, message: t('required') }, { max: 64 }]}>
            <Input data-testid="staff-edit-display-name" maxLength={64} autoFocus />
          </Form.Item>
          <Form.Item name="role" label={t('role')} rules={[{ required: true, message: t('required') }]} extra={self ? t('selfChange') : undefined}>
            <Select options={roleOptions(lang)} disabled={self} data-testid="staff-edit-role" />
          </Form.Item>
          <RoleHint role={role} />
          <Form.Item name="stationId" label={t('station')} dependencies={['role']} rules={[stationRule(t)]}>
            <Select allowClear showSearch={{ optionFilterProp: 'label' }} placeholder={t('noStation')} options={stationOptions(stations)} data-testid="staff-edit-station" />
          </Form.Item>
          <CustomerField role={role} testId="staff-edit-customer" />
          <button type="submit" hidden aria-hidden tabIndex={-1} />
        </Form>
      )}
    </Modal>
  );
}

function PasswordModal({ staff, onClose, onSaved }: { staff: StaffUser | null; onClose: () => void; onSaved: (u: StaffUser) => void }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api } = useSession();
  const [form] = Form.useForm<{ password: string; confirm: string }>();
  const idem = useIdempotencyKey();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const pw = passwordRules(t);

  const submit = async (v: { password: string }) => {
    if (!staff) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', `/api/v1/staff/${staff.id}/password`, { body: { password: v.password }, idempotencyKey: idem.get() });
      idem.renew();
      onSaved(staff);
      onClose();
    } catch (err) {
      setError(err);
      markFieldError(form, err, lang, ['password']);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={!!staff}
      title={staff ? t('resetPasswordOf', { name: staff.displayName }) : ''}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('resetPassword')}
      cancelText={t('cancel')}
      okButtonProps={{ danger: true, 'data-testid': 'staff-password-submit' } as any}
      confirmLoading={busy}
      destroyOnHidden
      afterOpenChange={(o) => o && setError(undefined)}
    >
      <Form form={form} layout="vertical" onFinish={submit} onValuesChange={() => idem.renew()} data-testid="staff-password-form" preserve={false} autoComplete="off">
        <Typography.Paragraph type="secondary">{t('resetPasswordHint')}</Typography.Paragraph>
        <SubmitError error={error} />
        <Form.Item name="password" label={t('newPassword')} rules={pw.password}>
          <Input.Password data-testid="staff-password-new" autoComplete="new-password" autoFocus />
        </Form.Item>
        <Form.Item name="confirm" label={t('password2')} dependencies={['password']} rules={pw.confirm}>
          <Input.Password data-testid="staff-password-confirm" autoComplete="new-password" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}

/**
 * The enrolment code a second-factor reset answers, shown once. Closing needs the button (not a
 * click outside), so the code is not lost by accident before it has been handed over.
 */
function EnrolmentCodeModal({ shown, onClose }: { shown: { name: string; code: string } | null; onClose: () => void }) {
  const tt = useT(TOTP_T);
  return (
    <Modal
      open={!!shown}
      title={shown ? tt('enrolmentCodeTitle', { name: shown.name }) : ''}
      closable={false}
      maskClosable={false}
      keyboard={false}
      destroyOnHidden
      footer={
        <Button type="primary" onClick={onClose} data-testid="staff-enrolment-code-done">
          {tt('enrolmentCodeDone')}
        </Button>
      }
    >
      <Typography.Paragraph type="warning">{tt('enrolmentCodeHint')}</Typography.Paragraph>
      {shown && (
        <Typography.Paragraph copyable={{ text: shown.code }} style={{ fontFamily: 'monospace', fontSize: 22, letterSpacing: 1 }} data-testid="staff-enrolment-code">
          {/* Groups of four, spaced, to read aloud; the copy button copies it as the server wrote it. */}
          {shown.code.split('-').join('  ')}
        </Typography.Paragraph>
      )}
    </Modal>
  );
}
