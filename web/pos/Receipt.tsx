import { useEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { Button, Segmented } from 'antd';
import { PrinterOutlined } from '@ant-design/icons';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { unitPrice, yuan } from '../shared/money';
import type { SaleLogEntry } from './session';
import { gradeLabel, litresText, maskCardNo } from './saleMath';
import { T } from './texts';

type Paper = '58' | '80';
const PAPER_KEY = 'fuelcard.pos.paper';

function savedPaper(): Paper {
  try {
    return localStorage.getItem(PAPER_KEY) === '58' ? '58' : '80';
  } catch {
    return '80';
  }
}

/** The receipt's lines, shared by the on-screen view and the copy that is printed. */
function ReceiptBody({ entry, paper }: { entry: SaleLogEntry; paper: Paper }) {
  const t = useT(T);
  const { lang } = useLang();
  const rows: Array<[string, string, string?]> = [
    [t('receiptStation'), entry.stationName],
    [t('receiptTerminal'), entry.terminalId],
    [t('receiptTime'), dateTime(entry.answeredAt ?? entry.at)],
    [t('receiptCard'), maskCardNo(entry.cardNo), 'card'],
    [t('receiptNozzle'), String(entry.nozzle)],
    [t('receiptGrade'), `${entry.grade} ${gradeLabel(entry, lang)}`.trim()],
    [t('receiptLitres'), `${litresText(entry.volumeMl)} L`],
    [t('receiptPrice'), unitPrice(entry.unitPrice)],
    [t('receiptAmount'), yuan(entry.amount), 'amount'],
    [t('receiptApproval'), entry.approvalCode ?? '—', 'approval'],
    [t('receiptBalance'), yuan(entry.balance ?? null), 'balance'],
  ];
  return (
    <div className={`pos-receipt-body paper-${paper}`}>
      <div className="pos-receipt-head">{t('receiptTitle')}</div>
      <div className="pos-receipt-rule" />
      <dl>
        {rows.map(([k, v, id]) => (
          <div key={k} className={id === 'amount' ? 'pos-receipt-row strong' : 'pos-receipt-row'}>
            <dt>{k}</dt>
            <dd data-field={id}>{v}</dd>
          </div>
        ))}
      </dl>
      <div className="pos-receipt-rule" />
      <div className="pos-receipt-small">
        {t('receiptSaleId')}: <span data-field="saleId">{entry.saleId ?? (entry.offlineSeq ? `offline:${entry.offlineSeq}` : '')}</span>
      </div>
      <div className="pos-receipt-foot">{t('receiptThanks')}</div>
    </div>
  );
}

/**
 * An approved sale's receipt with a Print button. The printed copy is a separate element at the
 * end of <body>; the print stylesheet hides everything else, so the page prints only the receipt,
 * at the chosen paper width (58 or 80 mm till rolls).
 */
export function Receipt({ entry, autoFocusPrint, afterPrint }: { entry: SaleLogEntry; autoFocusPrint?: boolean; afterPrint?: () => void }) {
  const t = useT(T);
  const [paper, setPaper] = useState<Paper>(savedPaper);
  const printRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (autoFocusPrint) printRef.current?.focus();
  }, [autoFocusPrint]);
  const choosePaper = (p: Paper) => {
    setPaper(p);
    try {
      localStorage.setItem(PAPER_KEY, p);
    } catch {
      // Not remembered.
    }
  };
  const print = () => {
    window.print();
    afterPrint?.();
  };
  return (
    <section className="pos-receipt-wrap" aria-label={t('receiptTitle')}>
      <div className="pos-receipt" data-testid="pos-receipt">
        <ReceiptBody entry={entry} paper={paper} />
      </div>
      <div className="pos-receipt-tools">
        <span id="paper-label">{t('paper')}</span>
        <Segmented
          aria-labelledby="paper-label"
          value={paper}
          onChange={(v) => choosePaper(v as Paper)}
          options={[
            { label: '58 mm', value: '58' },
            { label: '80 mm', value: '80' },
          ]}
        />
        <Button ref={printRef} size="large" icon={<PrinterOutlined />} onClick={print} data-testid="pos-print">
          {t('printReceipt')}
        </Button>
      </div>
      {createPortal(
        <div className={`pos-print-root paper-${paper}`} data-testid="pos-receipt-print" aria-hidden="true">
          <ReceiptBody entry={entry} paper={paper} />
        </div>,
        document.body,
      )}
    </section>
  );
}
