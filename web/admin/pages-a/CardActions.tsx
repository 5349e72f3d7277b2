import { useRef, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, App, Button, Card as AntCard, Checkbox, Form, Input, Modal, Radio, Space, Tooltip } from 'antd';
import {
  CheckCircleOutlined,
  CloseCircleOutlined,
  KeyOutlined,
  LockOutlined,
  SwapOutlined,
  UnlockOutlined,
  WarningOutlined,
  RollbackOutlined,
} from '@ant-design/icons';
import { ApiError } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { yuan } from '../../shared/money';
import { dateTime, groupCardNo } from '../../shared/format';
import { useSession } from '../session';
import { CARD_STATUS_NAMES, label } from '../i18n';
import { CARD_OPERATIONS, capable, operationAllowed, type CardOperation } from './cardRules';
import { ErrorAlert, pinRules, useA, useIdempotencyKey } from './common';
import { enterSubmits, useReturnFocus } from '../ui';
import type { Card, CardOperationResult } from './types';

const ICONS: Record<CardOperation, React.ReactNode> = {
  activate: <CheckCircleOutlined />,
  'report-loss': <WarningOutlined />,
  'cancel-loss': <RollbackOutlined />,
  freeze: <LockOutlined />,
  unfreeze: <UnlockOutlined />,
  replace: <SwapOutlined />,
  close: <CloseCircleOutlined />,
};
const DANGEROUS: ReadonlySet<CardOperation> = new Set(['report-loss', 'freeze', 'close']);

/**
 * The card's lifecycle buttons (启用 挂失 解挂 冻结 解冻 补卡 销户) and its PIN services. A button
 * appears only when the role may call its route, and is disabled, saying why, when the card's
 * state does not allow it. Each operation asks for a reason and confirmation first.
 */
export function CardActions({ card, onChanged }: { card: Card; onChanged: () => void }) {
  const { can } = useSession();
  const t = useA();
  const { lang } = useLang();
  const [op, setOp] = useState<CardOperation | null>(null);
  const [pin, setPin] = useState<'reset' | 'change' | null>(null);
  const focus = useReturnFocus();
  const servicesRef = useRef<HTMLDivElement>(null);
  const openOp = (o: CardOperation) => {
    focus.remember();
    setOp(o);
  };
  const openPin = (mode: 'reset' | 'change') => {
    focus.remember();
    setPin(mode);
  };
  const statusName = label(CARD_STATUS_NAMES, card.status, lang);

  const buttons = CARD_OPERATIONS.filter((o) => can('POST', `/api/v1/cards/:cardNo/${o}`)).map((o) => {
    const allowed = operationAllowed(o, card.status);
    return (
      <Tooltip key={o} title={allowed ? undefined : t('opNotAllowedInState', { status: statusName })}>
        <Button icon={ICONS[o]} danger={DANGEROUS.has(o)} disabled={!allowed} onClick={() => openOp(o)} data-testid={`card-action-${o}`}>
          {t(`op_${o}`)}
        </Button>
      </Tooltip>
    );
  });
  const pinAllowed = capable('pin', card.status);
  const pinWhy = pinAllowed ? undefined : t('pinNotAllowedInState', { status: statusName });
  if (can('POST', '/api/v1/cards/:cardNo/pin/reset')) {
    buttons.push(
      <Tooltip key="pin-reset" title={pinWhy}>
        <Button icon={<KeyOutlined />} disabled={!pinAllowed} onClick={() => openPin('reset')} data-testid="card-action-pin-reset">
          {t('pinReset')}
        </Button>
      </Tooltip>,
    );
  }
  if (can('POST', '/api/v1/cards/:cardNo/pin/change')) {
    buttons.push(
      <Tooltip key="pin-change" title={pinWhy}>
        <Button icon={<KeyOutlined />} disabled={!pinAllowed} onClick={() => openPin('change')} data-testid="card-action-pin-change">
          {t('pinChange')}
        </Button>
      </Tooltip>,
    );
  }
  if (buttons.length === 0) return null;

  return (
    <>
      <AntCard title={t('cardServices')} style={{ marginTop: 16 }}>
        <div ref={servicesRef} tabIndex={-1} role="group" aria-label={t('cardServices')} className="fc-focus-region">
          <Space wrap data-testid="card-actions">
            {buttons}
          </Space>
        </div>
      </AntCard>
      {op && (
        <OperationDialog
          card={card}
          op={op}
          onClose={(changed) => {
            setOp(null);
            if (changed) onChanged();
            focus.restore(changed ? servicesRef.current : undefined);
          }}
        />
      )}
      {pin && (
        <PinDialog
          card={card}
          mode={pin}
          onClose={(changed) => {
            setPin(null);
            if (changed) onChanged();
            focus.restore(changed ? servicesRef.current : undefined);
          }}
        />
      )}
    </>
  );
}

interface OpForm {
  reason: string;
  refundMethod?: 'cash' | 'original_channel';
}

function OperationDialog({ card, op, onClose }: { card: Card; op: CardOperation; onClose: (changed: boolean) => void }) {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const { modal, message } = App.useApp();
  const [form] = Form.useForm<OpForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idem = useIdempotencyKey();

  const submit = async () => {
    let v: OpForm;
    try {
      v = await form.validateFields();
    } catch {
      return;
    }
    const body: Record<string, unknown> = { reason: v.reason.trim() };
    if (op === 'close') body.refundMethod = v.refundMethod ?? 'cash';
    const key = idem.keyFor({ op, cardNo: card.cardNo, body });
    setBusy(true);
    setError(null);
    try {
      const res = await api.request<CardOperationResult>('POST', `/api/v1/cards/${card.cardNo}/${op}`, { body, idempotencyKey: key });
      idem.settle();
      onClose(true);
      if (op === 'replace') {
        const newNo = res.newCard?.cardNo ?? res.cardNo;
        modal.success({
          title: t('replacedTitle'),
          content: (
            <div data-testid="replace-result">
              <p>
                {t('replacedNewCard')} <strong className="fc-num" data-testid="replace-new-card">{groupCardNo(newNo)}</strong>
              </p>
              {res.newCard?.usableFrom && <p>{t('replacedUsableFrom', { at: dateTime(res.newCard.usableFrom) })}</p>}
            </div>
          ),
          okText: t('openNewCard'),
          onOk: () => navigate(`/cards/${newNo}`),
        });
      } else if (op === 'close' && res.refund) {
        modal.success({
          title: t('closedTitle'),
          content: (
            <p data-testid="close-result">
              {t('closedRefund', { amount: yuan(res.refund.amount), method: t(`refund_${res.refund.method}`) })}
            </p>
          ),
          okText: t('close'),
        });
      } else {
        message.success(t('opDone', { op: t(`op_${op}`) }));
      }
    } catch (err) {
      idem.settle(err);
      setError(err);
      if (err instanceof ApiError && err.code === 'VALIDATION_FAILED' && String(err.details?.field ?? '').endsWith('reason')) {
        form.setFields([{ name: 'reason', errors: [err.text(lang)] }]);
      }
    } finally {
      setBusy(false);
    }
  };

  const loseMoney = op === 'close' && card.balance > 0;
  return (
    <Modal
      open
      title={t('opConfirmTitle', { op: t(`op_${op}`) })}
      onCancel={() => !busy && onClose(false)}
      onOk={submit}
      okText={t(`op_${op}`)}
      cancelText={t('cancel')}
      okButtonProps={{ danger: DANGEROUS.has(op), loading: busy, 'data-testid': 'confirm-ok' }}
      cancelButtonProps={{ disabled: busy, 'data-testid': 'confirm-cancel' }}
      mask={{ closable: false }}
      destroyOnHidden
    >
      <p>
        {t('opCardLine', { cardNo: groupCardNo(card.cardNo), status: label(CARD_STATUS_NAMES, card.status, lang) })}
      </p>
      <Alert type={DANGEROUS.has(op) ? 'warning' : 'info'} showIcon title={t(`opEffect_${op}`)} style={{ marginBottom: 16 }} />
      <ErrorAlert error={error} testId="confirm-error" />
      <Form<OpForm> form={form} layout="vertical" initialValues={{ refundMethod: 'cash' }} disabled={busy} onFinish={submit}>
        {op === 'close' && (
          <Form.Item label={t('refundMethod')} name="refundMethod" extra={loseMoney ? t('refundAmountHint', { amount: yuan(card.balance) }) : t('refundNothing')}>
            <Radio.Group
              data-testid="confirm-refund-method"
              options={[
                { value: 'cash', label: t('refund_cash') },
                { value: 'original_channel', label: t('refund_original_channel') },
              ]}
            />
          </Form.Item>
        )}
        <Form.Item
          label={t('reason')}
          name="reason"
          extra={t('reasonEnterHint')}
          rules={[
            { required: true, whitespace: true, message: t('reasonRequired') },
            { max: 200, message: t('reasonTooLong') },
          ]}
        >
          <Input.TextArea rows={3} maxLength={200} showCount autoFocus onKeyDown={enterSubmits(() => void submit())} data-testid="confirm-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

interface PinForm {
  oldPin?: string;
  newPin: string;
  newPin2: string;
  idChecked?: boolean;
}

/** PIN reset (staff, after checking the holder's ID; also clears a lock) and PIN change (needs the old PIN). */
function PinDialog({ card, mode, onClose }: { card: Card; mode: 'reset' | 'change'; onClose: (changed: boolean) => void }) {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const { message } = App.useApp();
  const [form] = Form.useForm<PinForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async () => {
    let v: PinForm;
    try {
      v = await form.validateFields();
    } catch {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (mode === 'reset') await api.request('POST', `/api/v1/cards/${card.cardNo}/pin/reset`, { body: { newPin: v.newPin } });
      else await api.request('POST', `/api/v1/cards/${card.cardNo}/pin/change`, { body: { oldPin: v.oldPin, newPin: v.newPin } });
      message.success(mode === 'reset' ? t('pinResetDone') : t('pinChangeDone'));
      onClose(true);
    } catch (err) {
      setError(err);
      form.setFieldsValue({ oldPin: '', newPin: '', newPin2: '' });
      if (err instanceof ApiError && err.code === 'CARD_PIN_WRONG') form.setFields([{ name: 'oldPin', errors: [err.text(lang)] }]);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open
      title={mode === 'reset' ? t('pinReset') : t('pinChange')}
      onCancel={() => !busy && onClose(false)}
      onOk={submit}
      okText={t('confirm')}
      cancelText={t('cancel')}
      okButtonProps={{ loading: busy, 'data-testid': 'pin-ok' }}
      mask={{ closable: false }}
      destroyOnHidden
    >
      <p>{t('opCardLine', { cardNo: groupCardNo(card.cardNo), status: label(CARD_STATUS_NAMES, card.status, lang) })}</p>
      {card.pinLocked && mode === 'reset' && <Alert type="info" showIcon title={t('pinLockedResetHint')} style={{ marginBottom: 16 }} />}
      <ErrorAlert error={error} testId="pin-error" />
      <Form<PinForm> form={form} layout="vertical" disabled={busy} onFinish={submit}>
        {mode === 'change' && (
          <Form.Item label={t('oldPin')} name="oldPin" rules={pinRules(t)}>
            <Input.Password inputMode="numeric" maxLength={6} autoComplete="off" autoFocus data-testid="pin-old" />
          </Form.Item>
        )}
        <Form.Item label={t('newPin')} name="newPin" rules={pinRules(t)}>
          <Input.Password inputMode="numeric" maxLength={6} autoComplete="new-password" autoFocus={mode === 'reset'} data-testid="pin-new" />
        </Form.Item>
        <Form.Item label={t('pinAgain')} name="newPin2" dependencies={['newPin']} rules={pinRules(t, 'newPin')}>
          <Input.Password inputMode="numeric" maxLength={6} autoComplete="new-password" data-testid="pin-new2" />
        </Form.Item>
        {mode === 'reset' && (
          <Form.Item
            name="idChecked"
            valuePropName="checked"
            rules={[{ validator: async (_r, v: boolean | undefined) => { if (!v) throw new Error(t('idCheckRequired')); } }]}
          >
            <Checkbox data-testid="pin-id-checked">{t('idChecked')}</Checkbox>
          </Form.Item>
        )}
        {/* Enter in a field submits the dialog. */}
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}
