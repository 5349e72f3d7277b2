import { useState } from 'react';
import { Button, Empty, Modal, Table, Tag } from 'antd';
import { dateTime } from '../shared/format';
import { pickLang, useLang, useT } from '../shared/i18n';
import { yuan } from '../shared/money';
import { explainDecline } from './declines';
import { Receipt } from './Receipt';
import { useSalesLog, type SaleLogEntry } from './session';
import { litresText, maskCardNo } from './saleMath';
import { T } from './texts';

const OUTCOME_COLOR: Record<SaleLogEntry['outcome'], string> = {
  sending: 'processing',
  approved: 'success',
  declined: 'error',
  no_answer: 'warning',
  error: 'default',
};

/** This session's sales on this device, newest first, kept in memory only. */
export function TodayPage() {
  const t = useT(T);
  const { lang } = useLang();
  const { entries } = useSalesLog();
  const [receiptOf, setReceiptOf] = useState<SaleLogEntry | null>(null);
  const approved = entries.filter((e) => e.outcome === 'approved');
  const declined = entries.filter((e) => e.outcome === 'declined');
  const total = approved.reduce((s, e) => s + e.amount, 0);

  const detail = (e: SaleLogEntry): string => {
    if (e.outcome === 'approved') return `${t('receiptApproval')} ${e.approvalCode ?? '—'}`;
    if (e.outcome === 'declined') return explainDecline(e.declineCode, e.message, lang).reason;
    if (e.message) return pickLang(e.message, lang);
    return e.errorCode ?? '';
  };

  return (
    <div className="pos-today">
      <div className="pos-section-head">
        <h1 className="pos-h1">{t('todayTitle')}</h1>
        <div className="pos-today-sum" data-testid="pos-today-summary">
          <Tag color="success">{t('todayApprovedSum', { count: approved.length, amount: yuan(total) })}</Tag>
          <Tag color="error">{t('todayDeclined', { count: declined.length })}</Tag>
        </div>
      </div>
      <p className="pos-muted">{t('todayNote')}</p>
      <div data-testid="pos-today-table">
      <Table<SaleLogEntry>
        rowKey="key"
        dataSource={entries}
        pagination={false}
        size="middle"
        locale={{ emptyText: <Empty description={t('todayEmpty')} /> }}
        columns={[
          { title: t('colTime'), key: 'at', render: (_, e) => dateTime(e.answeredAt ?? e.at).slice(11) },
          { title: t('colNozzle'), dataIndex: 'nozzle', align: 'right' },
          { title: t('colGrade'), dataIndex: 'grade' },
          { title: t('colLitres'), key: 'litres', align: 'right', render: (_, e) => litresText(e.volumeMl) },
          { title: t('colAmount'), key: 'amount', align: 'right', render: (_, e) => yuan(e.amount) },
          { title: t('colCard'), key: 'card', render: (_, e) => <code>{maskCardNo(e.cardNo)}</code> },
          {
            title: t('colOutcome'),
            key: 'outcome',
            render: (_, e) => (
              <span data-testid={`pos-today-outcome-${e.outcome}`}>
                <Tag color={OUTCOME_COLOR[e.outcome]}>{t(`out_${e.outcome}`)}</Tag>
                <span className="pos-small">{detail(e)}</span>
              </span>
            ),
          },
          {
            title: t('colActions'),
            key: 'actions',
            render: (_, e) =>
              e.outcome === 'approved' ? (
                <Button size="small" onClick={() => setReceiptOf(e)}>
                  {t('viewReceipt')}
                </Button>
              ) : null,
          },
        ]}
      />
      </div>
      <Modal open={!!receiptOf} onCancel={() => setReceiptOf(null)} footer={null} title={t('receiptTitle')} destroyOnHidden width={460}>
        {receiptOf ? <Receipt entry={receiptOf} autoFocusPrint /> : null}
      </Modal>
    </div>
  );
}
