import { useMemo, useState, type HTMLAttributes } from 'react';
import { Alert, App, Button, Card, Form, Modal, Space, Table, Tag, Typography, message, type ButtonProps } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CopyOutlined, PlusOutlined } from '@ant-design/icons';
import { errorText } from '../../shared/api';
import { dateTime } from '../../shared/format';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, SubmitError, copyText, mono, useIdempotencyKey, type Station } from './common';
import { dict } from './i18n';

interface Terminal {
  terminalId: string;
  stationId: number;
  status: 'active' | 'disabled' | string;
  createdAt: string;
  lastSeenAt: string | null;
}

interface RegisteredTerminal extends Terminal {
  secret: string;
}

export function TerminalsCard({ station }: { station: Station }) {
  const t = useT(dict);
  const { lang } = useLang();
  const { api, can } = useSession();
  const mayList = can('GET', '/api/v1/stations/:id/terminals');
  const list = useLoad(
    () => (mayList ? api.request<{ items: Terminal[] }>('GET', `/api/v1/stations/${station.id}/terminals`).then((r) => r.items) : Promise.resolve([] as Terminal[])),
    [api, station.id, mayList],
  );
  const { modal } = App.useApp();
  const [registered, setRegistered] = useState<RegisteredTerminal | null>(null);
  const [registering, setRegistering] = useState(false);
  const [registerError, setRegisterError] = useState<unknown>();
  const [toggling, setToggling] = useState<string | null>(null);
  const idem = useIdempotencyKey();
  const [msg, holder] = message.useMessage();
  const mayRegister = can('POST', '/api/v1/stations/:id/terminals');
  const mayDisable = can('POST', '/api/v1/terminals/:terminalId/disable');
  const mayEnable = can('POST', '/api/v1/terminals/:terminalId/enable');

  const register = async () => {
    setRegistering(true);
    setRegisterError(undefined);
    try {
      const r = await api.request<RegisteredTerminal>('POST', `/api/v1/stations/${station.id}/terminals`, { idempotencyKey: idem.get() });
      idem.renew();
      setRegistered(r);
      list.reload();
    } catch (err) {
      setRegisterError(err);
    } finally {
      setRegistering(false);
    }
  };

  const toggle = async (term: Terminal) => {
    const action = term.status === 'active' ? 'disable' : 'enable';
    setToggling(term.terminalId);
    try {
      await api.request('POST', `/api/v1/terminals/${encodeURIComponent(term.terminalId)}/${action}`);
      msg.success(t(action === 'disable' ? 'terminalDisabled' : 'terminalEnabled', { id: term.terminalId }));
      list.reload();
    } catch (err) {
      msg.error(errorText(err, lang));
    } finally {
      setToggling(null);
    }
  };

  const columns: ColumnsType<Terminal> = useMemo(
    () => [
      { title: t('terminalId'), dataIndex: 'terminalId', render: (v: string) => <span className="fc-num">{v}</span> },
      {
        title: t('status'),
        dataIndex: 'status',
        render: (v: string) => <Tag color={v === 'active' ? 'green' : 'default'}>{t(`terminalStatus_${v}`)}</Tag>,
      },
      { title: t('createdAt'), dataIndex: 'createdAt', render: (v: string) => <span style={{ whiteSpace: 'nowrap' }}>{dateTime(v)}</span> },
      { title: t('lastSeen'), dataIndex: 'lastSeenAt', render: (v: string | null) => <span style={{ whiteSpace: 'nowrap' }}>{v ? dateTime(v) : t('never')}</span> },
      {
        title: t('actions'),
        key: 'actions',
        render: (_: unknown, term) => {
          const disabling = term.status === 'active';
          if (disabling ? !mayDisable : !mayEnable) return null;
          // A confirmation dialog rather than a popover: it takes the focus, Enter confirms and Esc cancels.
          const ask = () =>
            modal.confirm({
              title: t(disabling ? 'confirmDisableTerminal' : 'confirmEnableTerminal', { id: term.terminalId }),
              okText: t('confirm'),
              cancelText: t('cancel'),
              okButtonProps: { danger: disabling, 'data-testid': 'terminal-toggle-confirm' } as ButtonProps,
              onOk: () => toggle(term),
            });
          return (
            <Button size="small" danger={disabling} loading={toggling === term.terminalId} onClick={ask} data-testid="terminal-toggle">
              {disabling ? t('disableTerminal') : t('enableTerminal')}
            </Button>
          );
        },
      },
    ],
    [t, mayDisable, mayEnable, toggling, modal],
  );

  return (
    <Card size="small" title={t('terminals')} style={{ marginBottom: 16 }}>
      {holder}
      {mayRegister && (
        <Form layout="inline" onFinish={register} data-testid="terminal-register-form" style={{ marginBottom: 12 }} aria-label={t('registerTerminal')}>
          <Space orientation="vertical" size={8} style={{ width: '100%' }}>
            <Typography.Text type="secondary">{t('registerTerminalHint')}</Typography.Text>
            <SubmitError error={registerError} />
            <Button type="primary" htmlType="submit" icon={<PlusOutlined />} loading={registering} data-testid="terminal-register-submit">
              {t('registerTerminal')}
            </Button>
          </Space>
        </Form>
      )}
      <ListError error={list.error} onRetry={list.reload} />
      <Table<Terminal>
        rowKey="terminalId"
        size="small"
        columns={columns}
        dataSource={list.data ?? []}
        loading={list.loading}
        pagination={false}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: list.loading ? ' ' : <EmptyText text={t('noTerminals')} /> }}
        onRow={(term) => ({ 'data-testid': 'terminal-row', 'data-terminal-id': term.terminalId, 'data-status': term.status }) as HTMLAttributes<HTMLElement>}
      />
      <SecretModal terminal={registered} onClose={() => setRegistered(null)} />
    </Card>
  );
}

/**
 * The new terminal's secret, shown this once: the platform keeps it only encrypted and never
 * answers it again. No close icon, no Esc, no click outside: only the explicit "saved" button.
 */
function SecretModal({ terminal, onClose }: { terminal: RegisteredTerminal | null; onClose: () => void }) {
  const t = useT(dict);
  const [copied, setCopied] = useState<boolean | null>(null);

  const copy = async () => {
    if (!terminal) return;
    setCopied(await copyText(terminal.secret));
  };

  return (
    <Modal
      open={!!terminal}
      title={t('secretTitle')}
      closable={false}
      keyboard={false}
      mask={{ closable: false }}
      destroyOnHidden
      afterOpenChange={(open) => !open && setCopied(null)}
      footer={
        <Button type="primary" onClick={onClose} data-testid="terminal-secret-close">
          {t('secretSaved')}
        </Button>
      }
    >
      {terminal && (
        <div data-testid="terminal-secret-modal">
          <Alert type="warning" showIcon title={t('secretWarning')} style={{ marginBottom: 16 }} />
          <dl style={{ margin: 0 }}>
            <dt style={{ color: '#888' }}>{t('terminalId')}</dt>
            <dd style={{ margin: '0 0 12px', fontSize: 16 }}>
              <strong style={mono} data-testid="terminal-secret-id">
                {terminal.terminalId}
              </strong>
            </dd>
            <dt style={{ color: '#888' }}>{t('secret')}</dt>
            <dd style={{ margin: 0 }}>
              <code
                data-testid="terminal-secret"
                style={{ ...mono, display: 'block', whiteSpace: 'normal', wordBreak: 'break-all', padding: '8px 12px', background: '#f5f5f5', borderRadius: 6, fontSize: 15, userSelect: 'all' }}
              >
                {terminal.secret}
              </code>
            </dd>
          </dl>
          <Space style={{ marginTop: 12 }}>
            <Button icon={<CopyOutlined />} onClick={copy} data-testid="terminal-secret-copy">
              {t('copy')}
            </Button>
            {copied === true && (
              <Typography.Text type="success" role="status">
                {t('copied')}
              </Typography.Text>
            )}
            {copied === false && (
              <Typography.Text type="danger" role="status">
                {t('copyFailed')}
              </Typography.Text>
            )}
          </Space>
        </div>
      )}
    </Modal>
  );
}
