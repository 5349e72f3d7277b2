import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, App, Button, Form, Input, Modal, Space, Table, Tooltip } from 'antd';
import { ArrowDownOutlined, ArrowUpOutlined, PlusOutlined } from '@ant-design/icons';
import { useLang } from '../../shared/i18n';
import { LoadState, useLoad } from '../../shared/ui';
import { parseYuan, yuan } from '../../shared/money';
import { groupCardNo } from '../../shared/format';
import { useSession } from '../session';
import { CARD_STATUS_NAMES, label } from '../i18n';
import { capable, recallAllowed } from './cardRules';
import { CardLink, ErrorAlert, Money, StatusTag, useA, useIdempotencyKey, yuanRules } from './common';
import type { Card, TransferResult } from './types';
import { useReturnFocus } from '../ui';

/** Allocations are capped by the API at 10^12 fen; the reserve's available is the real ceiling. */
const MAX_TRANSFER_FEN = 1_000_000_000_000;

/** 副卡: a master card's sub cards, with allocation (分配) from the reserve and recall (回收) to it. */
export function SubCardsPanel({ master, onChanged }: { master: Card; onChanged: () => void }) {
  const { api, can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const subs = useLoad(() => api.request<{ items: Card[] }>('GET', `/api/v1/cards/${master.cardNo}/sub-cards`), [api, master.cardNo, master.balance]);
  const [dialog, setDialogState] = useState<{ mode: 'allocate' | 'recall'; sub: Card } | null>(null);
  const focus = useReturnFocus();
  const setDialog = (d: { mode: 'allocate' | 'recall'; sub: Card }) => {
    focus.remember();
    setDialogState(d);
  };
  const canAllocate = can('POST', '/api/v1/cards/:cardNo/allocations');
  const canRecall = can('POST', '/api/v1/cards/:cardNo/recalls');
  const masterAllocates = capable('allocate', master.status);

  return (
    <div data-testid="sub-cards">
      <div style={{ display: 'flex', justifyContent: 'space-between', flexWrap: 'wrap', gap: 8, marginBottom: 12 }}>
        <span>
          {t('reserveAvailable')} <Money fen={master.available} strong />
        </span>
        {can('POST', '/api/v1/cards') && (
          <Button icon={<PlusOutlined />} onClick={() => navigate(`/cards/new?kind=sub&masterCardNo=${master.cardNo}`)} data-testid="sub-card-issue">
            {t('issueSubCard')}
          </Button>
        )}
      </div>
      <LoadState value={subs}>
        {(d) => (
          <Table<Card>
            rowKey="cardNo"
            size="small"
            dataSource={d.items}
            pagination={false}
            scroll={{ x: 800 }}
            locale={{ emptyText: t('noSubCards') }}
            columns={[
              {
                title: t('cardNo'),
                dataIndex: 'cardNo',
                render: (no: string) => <CardLink cardNo={no} />,
              },
              { title: t('status'), dataIndex: 'status', render: (s: string) => <StatusTag status={s} /> },
              { title: t('sharedBalance'), dataIndex: 'sharedBalance', render: (v: boolean) => (v ? t('yes') : t('no')) },
              { title: t('ownBalance'), key: 'own', align: 'right', render: (_: unknown, c) => <Money fen={c.accounts.find((a) => a.own)?.balance ?? 0} /> },
              { title: t('available'), dataIndex: 'available', align: 'right', render: (v: number) => <Money fen={v} /> },
              {
                title: t('actions'),
                key: 'actions',
                render: (_: unknown, c) => {
                  const allocOk = masterAllocates && capable('allocate', c.status);
                  const recallOk = recallAllowed(c.status);
                  return (
                    <Space>
                      {canAllocate && (
                        <Tooltip title={allocOk ? undefined : t('allocateNotAllowed', { status: label(CARD_STATUS_NAMES, masterAllocates ? c.status : master.status, lang) })}>
                          <Button size="small" icon={<ArrowDownOutlined />} disabled={!allocOk} onClick={() => setDialog({ mode: 'allocate', sub: c })} data-testid={`card-action-allocate-${c.cardNo}`}>
                            {t('allocate')}
                          </Button>
                        </Tooltip>
                      )}
                      {canRecall && (
                        <Tooltip title={recallOk ? undefined : t('recallNotAllowed', { status: label(CARD_STATUS_NAMES, c.status, lang) })}>
                          <Button size="small" icon={<ArrowUpOutlined />} disabled={!recallOk} onClick={() => setDialog({ mode: 'recall', sub: c })} data-testid={`card-action-recall-${c.cardNo}`}>
                            {t('recall')}
                          </Button>
                        </Tooltip>
                      )}
                    </Space>
                  );
                },
              },
            ]}
          />
        )}
      </LoadState>
      {dialog && (
        <TransferDialog
          master={master}
          sub={dialog.sub}
          mode={dialog.mode}
          onClose={(changed) => {
            setDialogState(null);
            if (changed) {
              onChanged();
              subs.reload();
            }
            focus.restore();
          }}
        />
      )}
    </div>
  );
}

function TransferDialog({ master, sub, mode, onClose }: { master: Card; sub: Card; mode: 'allocate' | 'recall'; onClose: (changed: boolean) => void }) {
  const { api } = useSession();
  const t = useA();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ amount?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();
  const subOwn = sub.accounts.find((a) => a.own);
  const ceiling = mode === 'allocate' ? master.available : (subOwn?.available ?? sub.available);

  const submit = async () => {
    let v: { amount?: string };
    try {
      v = await form.validateFields();
    } catch {
      return;
    }
    const amount = v.amount && v.amount.trim() ? parseYuan(v.amount) : null;
    const body: Record<string, unknown> = { subCardNo: sub.cardNo };
    if (amount !== null) body.amount = amount;
    const path = `/api/v1/cards/${master.cardNo}/${mode === 'allocate' ? 'allocations' : 'recalls'}`;
    const key = idem.keyFor({ path, body });
    setBusy(true);
    setError(null);
    try {
      const r = await api.request<TransferResult>('POST', path, { body, idempotencyKey: key });
      idem.settle();
      message.success(t(mode === 'allocate' ? 'allocated' : 'recalled', { amount: yuan(r.amount), master: yuan(r.masterBalance), sub: yuan(r.subBalance) }));
      onClose(true);
    } catch (err) {
      idem.settle(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open
      title={t(mode === 'allocate' ? 'allocateTitle' : 'recallTitle')}
      onCancel={() => !busy && onClose(false)}
      onOk={submit}
      okText={t(mode === 'allocate' ? 'allocate' : 'recall')}
      cancelText={t('cancel')}
      okButtonProps={{ loading: busy, 'data-testid': 'transfer-ok' }}
      mask={{ closable: false }}
      destroyOnHidden
    >
      <p>
        {mode === 'allocate' ? t('allocateLine', { from: groupCardNo(master.cardNo), to: groupCardNo(sub.cardNo) }) : t('recallLine', { from: groupCardNo(sub.cardNo), to: groupCardNo(master.cardNo) })}
      </p>
      <Alert type="info" showIcon style={{ marginBottom: 16 }} title={t(mode === 'allocate' ? 'reserveAvailableIs' : 'subAvailableIs', { amount: yuan(ceiling) })} />
      <ErrorAlert error={error} testId="transfer-error" />
      <Form form={form} layout="vertical" disabled={busy} onFinish={submit}>
        <Form.Item
          label={t('amountYuan')}
          name="amount"
          extra={mode === 'recall' ? t('recallAllHint') : undefined}
          rules={yuanRules(t, { required: mode === 'allocate', maxFen: Math.min(MAX_TRANSFER_FEN, Math.max(0, ceiling)) })}
        >
          <Input prefix="¥" inputMode="decimal" autoFocus autoComplete="off" data-testid="transfer-amount" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}
