import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { Alert, Button, Card, Descriptions, Form, Input, Modal, Radio, Typography, type ButtonProps } from 'antd';
import { ApiError } from '../../shared/api';
import { useLang } from '../../shared/i18n';
import { digitsOnly, groupCardNo } from '../../shared/format';
import { parseYuan, yuan } from '../../shared/money';
import { useSession } from '../session';
import { CARD_KIND_NAMES, CARD_STATUS_NAMES, CHANNEL_NAMES, label } from '../i18n';
import { capable } from './cardRules';
import { ErrorAlert, PageTitle, StatusTag, cardNoRules, maskName, maskPhone, useA, useIdempotencyKey, yuanRules } from './common';
import type { Card as CardT, Customer, Recharge as RechargeT } from './types';

/** The API's ceiling for one recharge: ¥1,000,000.00. */
const MAX_RECHARGE_FEN = 100_000_000;

interface RechargeForm {
  cardNo: string;
  amount: string;
  channel: 'cash' | 'bank_transfer';
  reference?: string;
}

interface Pending {
  /** The number as typed; the card's own cardNo is masked for roles that may not see it. */
  cardNo: string;
  card: CardT;
  holder: Customer | null;
  body: { amount: number; channel: string; reference?: string };
}

/** What the receipt page is handed after a recharge (a reload finds the recharge again by its receipt number). */
export interface ReceiptState {
  recharge: RechargeT;
  holderName: string | null;
}

/** 柜台充值: card number, amount and channel; confirmation with the (masked) holder; then the receipt. */
export function Recharge() {
  const { api } = useSession();
  const t = useA();
  const { lang } = useLang();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [form] = Form.useForm<RechargeForm>();
  const channel = Form.useWatch('channel', form);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<unknown>(null);
  const idem = useIdempotencyKey();

  // Step 1: check the card exists and may take money, and show who holds it before any money moves.
  const review = async (v: RechargeForm) => {
    const cardNo = digitsOnly(v.cardNo);
    const amount = parseYuan(v.amount);
    if (amount === null) return;
    setChecking(true);
    setError(null);
    try {
      const card = await api.request<CardT>('GET', `/api/v1/cards/${cardNo}`);
      if (!capable('recharge', card.status)) {
        form.setFields([{ name: 'cardNo', errors: [t('rechargeNotAllowedInState', { status: label(CARD_STATUS_NAMES, card.status, lang) })] }]);
        return;
      }
      let holder: Customer | null = null;
      if (card.customerId) {
        try {
          holder = await api.request<Customer>('GET', `/api/v1/customers/${card.customerId}`);
        } catch {
          // The holder's name is a courtesy on the confirmation; the card number is what counts.
        }
      }
      const body: Pending['body'] = { amount, channel: v.channel };
      if (v.channel === 'bank_transfer') body.reference = v.reference?.trim();
      setSendError(null);
      setPending({ cardNo, card, holder, body });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CARD_NOT_FOUND') form.setFields([{ name: 'cardNo', errors: [err.text(lang)] }]);
      else setError(err);
    } finally {
      setChecking(false);
    }
  };

  // Step 2: the recharge itself, under one Idempotency-Key for this card, amount and channel.
  const confirm = async () => {
    if (!pending) return;
    const key = idem.keyFor({ cardNo: pending.cardNo, body: pending.body });
    setSending(true);
    setSendError(null);
    try {
      const r = await api.request<RechargeT>('POST', `/api/v1/cards/${pending.cardNo}/recharges`, { body: pending.body, idempotencyKey: key });
      idem.settle();
      const state: ReceiptState = { recharge: r, holderName: pending.holder ? maskName(pending.holder.name) : null };
      navigate(`/recharge/receipt/${pending.cardNo}/${encodeURIComponent(r.receiptNo)}`, { state });
    } catch (err) {
      idem.settle(err);
      setSendError(err);
    } finally {
      setSending(false);
    }
  };

  return (
    <div data-testid="recharge">
      <PageTitle title={t('rechargeTitle')} sub={t('rechargeSub')} />
      <Card style={{ maxWidth: 640 }}>
        <ErrorAlert error={error} testId="recharge-error" />
        <Form<RechargeForm>
          form={form}
          layout="vertical"
          onFinish={review}
          disabled={checking}
          initialValues={{ cardNo: params.get('cardNo') ?? '', channel: 'cash' }}
          data-testid="recharge-form"
        >
          <Form.Item label={t('cardNo')} name="cardNo" rules={cardNoRules(t)}>
            <Input inputMode="numeric" maxLength={30} autoComplete="off" autoFocus={!params.get('cardNo')} placeholder={t('cardNoPlaceholder')} data-testid="recharge-card" />
          </Form.Item>
          <Form.Item label={t('amountYuan')} name="amount" rules={yuanRules(t, { maxFen: MAX_RECHARGE_FEN })}>
            <Input prefix="¥" inputMode="decimal" autoComplete="off" autoFocus={Boolean(params.get('cardNo'))} placeholder="0.00" style={{ maxWidth: 240 }} data-testid="recharge-amount" />
          </Form.Item>
          <Form.Item label={t('channel')} name="channel">
            <Radio.Group
              optionType="button"
              buttonStyle="solid"
              options={[
                { value: 'cash', label: label(CHANNEL_NAMES, 'cash', lang) },
                { value: 'bank_transfer', label: label(CHANNEL_NAMES, 'bank_transfer', lang) },
              ]}
              data-testid="recharge-channel"
            />
          </Form.Item>
          {channel === 'bank_transfer' && (
            <Form.Item
              label={t('bankReference')}
              name="reference"
              extra={t('bankReferenceHint')}
              rules={[
                { required: true, whitespace: true, message: t('bankReferenceRequired') },
                { max: 64, message: t('bankReferenceTooLong') },
              ]}
            >
              <Input autoComplete="off" maxLength={64} data-testid="recharge-reference" />
            </Form.Item>
          )}
          <Button type="primary" htmlType="submit" loading={checking} data-testid="recharge-submit">
            {t('next')}
          </Button>
        </Form>
      </Card>
      {pending && (
        <Modal
          open
          title={t('rechargeConfirmTitle')}
          onCancel={() => {
            if (sending) return;
            setPending(null);
            setTimeout(() => form.getFieldInstance('amount')?.focus(), 0);
          }}
          onOk={confirm}
          okText={t('rechargeConfirm')}
          cancelText={t('back')}
          okButtonProps={{ loading: sending, autoFocus: true, 'data-testid': 'recharge-confirm' } as ButtonProps}
          cancelButtonProps={{ disabled: sending }}
          mask={{ closable: false }}
          destroyOnHidden
        >
          <div data-testid="recharge-confirmation">
            <Typography.Paragraph>{t('rechargeConfirmText')}</Typography.Paragraph>
            <ErrorAlert error={sendError} testId="recharge-confirm-error" />
            <Descriptions
              column={1}
              bordered
              size="small"
              items={[
                { key: 'card', label: t('cardNo'), children: <span className="fc-num">{groupCardNo(pending.cardNo)}</span> },
                { key: 'kind', label: t('kind'), children: label(CARD_KIND_NAMES, pending.card.kind, lang) },
                { key: 'status', label: t('status'), children: <StatusTag status={pending.card.status} /> },
                {
                  key: 'holder',
                  label: t('holder'),
                  children: (
                    <span data-testid="recharge-holder">
                      {pending.holder ? t('nameAndPhone', { name: maskName(pending.holder.name), phone: maskPhone(pending.holder.phone) }) : pending.card.customerId ? `#${pending.card.customerId}` : t('noHolder')}
                    </span>
                  ),
                },
                { key: 'balance', label: t('balanceNow'), children: <span className="fc-num">{yuan(pending.card.balance)}</span> },
                {
                  key: 'amount',
                  label: t('amount'),
                  children: (
                    <strong className="fc-num" style={{ fontSize: 20 }} data-testid="recharge-confirm-amount">
                      {yuan(pending.body.amount)}
                    </strong>
                  ),
                },
                { key: 'channel', label: t('channel'), children: label(CHANNEL_NAMES, pending.body.channel, lang) },
                ...(pending.body.reference ? [{ key: 'ref', label: t('bankReference'), children: pending.body.reference }] : []),
              ]}
            />
            {pending.card.kind === 'master' && <Alert type="info" showIcon title={t('rechargeMasterNote')} style={{ marginTop: 12 }} />}
          </div>
        </Modal>
      )}
    </div>
  );
}
