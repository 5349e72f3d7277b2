import { useMemo, useRef, useState } from 'react';
import { Alert, Button, Checkbox, Empty, Input, Popconfirm, Table, Tag, type ButtonProps } from 'antd';
import { CheckCircleFilled, WarningFilled } from '@ant-design/icons';
import { ApiError, errorText, newIdempotencyKey } from '../shared/api';
import { dateTime } from '../shared/format';
import { useLang, useT } from '../shared/i18n';
import { parseYuan, yuan } from '../shared/money';
import { useLoad } from '../shared/ui';
import { posApi, type ShiftCloseAnswer } from './forecourtApi';
import { useOffline, useShift } from './offline';
import { OfflineParamsLine } from './OfflineBanner';
import { useTerminal } from './session';
import { compareRows, declaredTotals, voidable, type Declared, type ShiftEntry, type ShiftKind } from './shiftTotals';
import { TF } from './textsForecourt';
import { maskCardNo, yuanInputText } from './saleMath';

/** 班结: this shift's sales (void one), the offline journal, and the close with declared totals against the platform's. */
export function ShiftPage() {
  const t = useT(TF);
  const { lang } = useLang();
  const { client, noteError } = useTerminal();
  const shift = useShift();
  const { journal, pending } = useOffline();
  const [closed, setClosed] = useState<ShiftCloseAnswer | null>(null);
  const current = useLoad(() => (client ? posApi.currentShift(client) : Promise.reject(new Error('not paired'))), [client, closed]);

  if (closed) return <CloseResult answer={closed} onNext={() => setClosed(null)} />;

  return (
    <div className="pos-today">
      <div className="pos-section-head">
        <h1 className="pos-h1">{t('shiftTitle')}</h1>
        {current.data ? (
          <span className="pos-muted" data-testid="pos-shift-current">
            {t('shiftNo', { n: current.data.shiftNo, at: dateTime(current.data.openedAt) })}
          </span>
        ) : current.error ? (
          <span className="pos-muted pos-small">{errorText(current.error, lang)}</span>
        ) : null}
      </div>
      <OfflineParamsLine />
      <h2 className="pos-h2">{t('shiftSales')}</h2>
      <div data-testid="pos-shift-table">
        <Table<ShiftEntry>
          rowKey="ref"
          dataSource={[...shift.entries].reverse()}
          pagination={false}
          size="middle"
          locale={{ emptyText: <Empty description={t('shiftEmpty')} /> }}
          onRow={(e) => ({ 'data-testid': 'pos-shift-row', 'data-sale-id': e.saleId ?? '', 'data-status': e.status }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            { title: t('colTime'), key: 'at', render: (_, e) => dateTime(e.at).slice(11) },
            { title: t('colKind'), key: 'flow', render: (_, e) => <Tag>{t(`flow_${e.flow}`)}</Tag> },
            { title: t('colGrade'), dataIndex: 'label' },
            { title: t('colCard'), key: 'card', render: (_, e) => <code>{maskCardNo(e.cardNo)}</code> },
            { title: t('colAmount'), key: 'amount', align: 'right', render: (_, e) => yuan(e.amount) },
            {
              title: t('colOutcome'),
              key: 'status',
              render: (_, e) => <Tag color={e.status === 'approved' ? 'success' : 'default'}>{t(`status_${e.status}`)}</Tag>,
            },
            { title: t('colActions'), key: 'actions', render: (_, e) => (voidable(e) ? <VoidButton entry={e} /> : null) },
          ]}
        />
      </div>

      {journal.sales.length > 0 ? (
        <>
          <h2 className="pos-h2 pos-gap">{t('offlineList')}</h2>
          <ul className="pos-list" data-testid="pos-offline-list">
            {[...journal.sales].reverse().slice(0, 50).map((s) => (
              <li key={s.seq} className="pos-list-row" data-testid="pos-offline-row" data-seq={s.seq} data-status={s.status}>
                <span className="pos-list-main">
                  #{s.seq} · {dateTime(s.occurredAt).slice(11)} · {s.grade} · <code>{maskCardNo(s.cardNo)}</code> · {yuan(s.amount)}
                  {s.code ? <code className="pos-code">{s.code}</code> : null}
                  {s.flags?.length ? <span className="pos-small pos-muted"> {s.flags.join(', ')}</span> : null}
                </span>
                <Tag color={s.status === 'pending' ? 'warning' : s.status === 'rejected' ? 'error' : 'success'}>{t(`off_${s.status}`)}</Tag>
              </li>
            ))}
          </ul>
        </>
      ) : null}

      <CloseForm
        entries={shift.entries}
        pending={pending}
        onClosed={(a) => {
          shift.reset();
          setClosed(a);
        }}
        onError={noteError}
        client={client}
      />
    </div>
  );
}

function VoidButton({ entry }: { entry: ShiftEntry }) {
  const t = useT(TF);
  const { lang } = useLang();
  const { client, noteError } = useTerminal();
  const shift = useShift();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async () => {
    if (!client || !entry.saleId) return;
    setBusy(true);
    setError(undefined);
    try {
      await posApi.voidSale(client, entry.saleId, { reason: 'cashier void / 收银撤销' });
      shift.mark(entry.saleId, 'voided');
    } catch (err) {
      noteError(err);
      // Already voided or reversed on the platform: the local record follows it.
      if (err instanceof ApiError && err.code === 'SALE_NOT_VOIDABLE') {
        const st = err.details?.status;
        if (st === 'voided' || st === 'reversed') shift.mark(entry.saleId, st);
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span>
      <Popconfirm title={t('voidConfirm')} onConfirm={() => void run()} okText={t('void')} cancelText={t('cancel')} okButtonProps={{ danger: true, size: 'large' }}>
        <Button danger size="small" loading={busy} data-testid="pos-void">
          {t('void')}
        </Button>
      </Popconfirm>
      {error ? (
        <span className="pos-field-error" role="alert" data-testid="pos-void-error">
          {' '}
          {errorText(error, lang)}
        </span>
      ) : null}
    </span>
  );
}

interface DeclaredText {
  kind: ShiftKind;
  count: string;
  amount: string;
}

function CloseForm({
  entries,
  pending,
  onClosed,
  onError,
  client,
}: {
  entries: ShiftEntry[];
  pending: number;
  onClosed: (a: ShiftCloseAnswer) => void;
  onError: (e: unknown) => void;
  client: ReturnType<typeof useTerminal>['client'];
}) {
  const t = useT(TF);
  const { lang } = useLang();
  const computedLocal = useMemo(() => declaredTotals(entries), [entries]);
  // What the cashier changed; everything else follows the journal as sales come in.
  const [edits, setEdits] = useState<Partial<Record<ShiftKind, { count?: string; amount?: string }>>>({});
  const [cashier, setCashier] = useState('');
  const [endOfDay, setEndOfDay] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  /** One key per declared content: a retry after a lost answer sends the same close. */
  const attempt = useRef<{ key: string; json: string } | null>(null);

  const rows: DeclaredText[] = computedLocal.map((d) => ({
    kind: d.kind,
    count: edits[d.kind]?.count ?? String(d.count),
    amount: edits[d.kind]?.amount ?? yuanInputText(d.amount),
  }));
  const parsed: Array<Declared | null> = rows.map((r) => {
    const count = /^\d{1,6}$/.test(r.count) ? Number(r.count) : null;
    const amount = parseYuan(r.amount);
    return count === null || amount === null ? null : { kind: r.kind, count, amount };
  });
  const valid = parsed.every((p) => p !== null);

  const close = async () => {
    if (!client || !valid) return;
    const body = { ...(cashier.trim() ? { cashier: cashier.trim() } : {}), ...(endOfDay ? { endOfDay: true } : {}), declared: parsed as Declared[] };
    const json = JSON.stringify(body);
    if (!attempt.current || attempt.current.json !== json) attempt.current = { key: newIdempotencyKey(), json };
    setBusy(true);
    setError(undefined);
    try {
      const a = await posApi.closeShift(client, attempt.current.key, body);
      attempt.current = null;
      setEdits({});
      onClosed(a);
    } catch (err) {
      onError(err);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="pos-card pos-gap" aria-labelledby="declare-title" data-testid="pos-shift-close">
      <h2 id="declare-title" className="pos-h2">
        {t('declareTitle')}
      </h2>
      {pending > 0 ? <Alert type="warning" showIcon title={t('pendingWarn', { n: pending })} className="pos-gap" data-testid="pos-shift-pending-warn" /> : null}
      <table className="pos-declare">
        <thead>
          <tr>
            <th>{t('colKind')}</th>
            <th>{t('colCount')}</th>
            <th>{t('amountYuan')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={r.kind} data-testid={`pos-declare-${r.kind}`}>
              <th scope="row">{t(`kind_${r.kind}`)}</th>
              <td>
                <Input
                  aria-label={`${t(`kind_${r.kind}`)} ${t('colCount')}`}
                  inputMode="numeric"
                  value={r.count}
                  status={parsed[i] === null && !/^\d{1,6}$/.test(r.count) ? 'error' : undefined}
                  onChange={(e) => setEdits((x) => ({ ...x, [r.kind]: { ...x[r.kind], count: e.target.value.replace(/\D/g, '').slice(0, 6) } }))}
                  data-testid={`pos-declare-${r.kind}-count`}
                />
              </td>
              <td>
                <Input
                  aria-label={`${t(`kind_${r.kind}`)} ${t('amountYuan')}`}
                  inputMode="decimal"
                  prefix="¥"
                  value={r.amount}
                  status={parseYuan(r.amount) === null ? 'error' : undefined}
                  onChange={(e) => setEdits((x) => ({ ...x, [r.kind]: { ...x[r.kind], amount: e.target.value } }))}
                  data-testid={`pos-declare-${r.kind}-amount`}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pos-close-row">
        <label htmlFor="close-cashier">{t('cashier')}</label>
        <Input id="close-cashier" value={cashier} maxLength={40} onChange={(e) => setCashier(e.target.value)} style={{ maxWidth: 240 }} data-testid="pos-close-cashier" />
        <Checkbox checked={endOfDay} onChange={(e) => setEndOfDay(e.target.checked)} data-testid="pos-close-eod">
          {t('endOfDay')}
        </Checkbox>
      </div>
      {!valid ? <div className="pos-field-error" role="alert">{t('countInvalid')} · {t('amountInvalid')}</div> : null}
      {error ? (
        <Alert
          type="error"
          showIcon
          className="pos-gap"
          data-testid="pos-close-error"
          title={errorText(error, lang)}
          description={error instanceof ApiError ? <code>{error.code}</code> : undefined}
        />
      ) : null}
      <div className="pos-actions">
        <Popconfirm title={t('closeConfirm')} onConfirm={() => void close()} okText={t('closeShift')} cancelText={t('cancel')} okButtonProps={{ size: 'large', 'data-testid': 'pos-close-confirm' } as ButtonProps}>
          <Button type="primary" size="large" disabled={!valid} loading={busy} data-testid="pos-close-submit">
            {t('closeShift')}
          </Button>
        </Popconfirm>
      </div>
    </section>
  );
}

function CloseResult({ answer, onNext }: { answer: ShiftCloseAnswer; onNext: () => void }) {
  const t = useT(TF);
  const rows = compareRows(answer.declared as Declared[], answer.computed as Declared[]);
  return (
    <section className="pos-card" data-testid="pos-close-result" data-balanced={answer.balanced ? 'true' : 'false'} role="status">
      <h1 className="pos-h1">
        {answer.balanced ? <CheckCircleFilled style={{ color: '#389e0d' }} aria-hidden="true" /> : <WarningFilled style={{ color: '#d48806' }} aria-hidden="true" />}{' '}
        {t('closedTitle', { n: answer.shiftNo })} ·{' '}
        <Tag color={answer.balanced ? 'success' : 'warning'} data-testid="pos-close-balanced">
          {answer.balanced ? t('balanced') : t('unbalanced')}
        </Tag>
      </h1>
      <p className="pos-muted">
        {dateTime(answer.openedAt)} — {dateTime(answer.closedAt)} · {t('businessDay')} {answer.businessDay}
        {answer.cashier ? ` · ${t('cashier')} ${answer.cashier}` : ''}
      </p>
      <table className="pos-declare" data-testid="pos-close-differences">
        <thead>
          <tr>
            <th>{t('colKind')}</th>
            <th>
              {t('colDeclared')} {t('colCount')}
            </th>
            <th>
              {t('colComputed')} {t('colCount')}
            </th>
            <th>
              {t('colDeclared')} {t('colAmount')}
            </th>
            <th>
              {t('colComputed')} {t('colAmount')}
            </th>
            <th>{t('colAgrees')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.kind} data-testid={`pos-diff-${r.kind}`} data-agrees={r.agrees ? 'true' : 'false'} className={r.agrees ? '' : 'pos-differs'}>
              <th scope="row">{t(`kind_${r.kind}`)}</th>
              <td>{r.declaredCount}</td>
              <td>{r.computedCount}</td>
              <td>{yuan(r.declaredAmount)}</td>
              <td>{yuan(r.computedAmount)}</td>
              <td>{r.agrees ? t('agrees') : t('differs')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="pos-gap">
        {t('openAuthsLeft', { n: answer.openAuthorisations })} · {t('unpaidLeft', { n: answer.unpaidPumpSales })}
      </p>
      <div className="pos-actions">
        <Button type="primary" size="large" autoFocus onClick={onNext} data-testid="pos-close-next">
          {t('newShift')}
        </Button>
      </div>
    </section>
  );
}
