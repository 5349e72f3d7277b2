import { useCallback, useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, Button, Empty, Spin } from 'antd';
import { RollbackOutlined, ThunderboltOutlined, WalletOutlined } from '@ant-design/icons';
import { errorText } from '../shared/api';
import { useLang, useT, type Lang } from '../shared/i18n';
import { litres, unitPrice, yuan } from '../shared/money';
import { useSession } from './session';
import { T } from './i18n';

/** One line of GET /api/v1/portal/cards/:cardNo/statement (the cards statement's shape). */
export interface StatementLine {
  type: 'sale' | 'recharge' | 'refund' | string;
  id: string;
  at: string;
  amount: number;
  status: string;
  cardNo: string;
  stationId: number | null;
  terminalId: string | null;
  grade: string | null;
  volumeMl: number | null;
  unitPrice: number | null;
  channel: string | null;
  receiptNo: string | null;
  approvalCode: string | null;
  declineCode: string | null;
  balanceAfter: number | null;
}

const PAGE = 20;
const TZ_OFFSET = '+08:00'; // China Standard Time has no daylight saving: a day is always 24 h.
const DAY_MS = 86_400_000;
const TYPES = ['', 'sale', 'recharge', 'refund'] as const;
const PERIODS = ['all', '7', '30', '90', 'custom'] as const;
type Period = (typeof PERIODS)[number];

/** Today's date in China, "2026-11-28". */
function todayCn(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}
function dayStart(date: string): Date {
  return new Date(`${date}T00:00:00${TZ_OFFSET}`);
}

/** The from (inclusive) / to (exclusive) instants of a period, or the reason it cannot be used yet. */
function rangeOf(period: Period, from: string, to: string): { from?: string; to?: string; problem?: 'rangeIncomplete' | 'rangeInvalid' } {
  if (period === 'all') return {};
  if (period !== 'custom') {
    const start = dayStart(todayCn()).getTime() - (Number(period) - 1) * DAY_MS;
    return { from: new Date(start).toISOString() };
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) return { problem: 'rangeIncomplete' };
  if (from > to) return { problem: 'rangeInvalid' };
  return { from: dayStart(from).toISOString(), to: new Date(dayStart(to).getTime() + DAY_MS).toISOString() };
}

const monthFmt = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' });
const timeFmt = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });

function monthKey(iso: string): string {
  return monthFmt.format(new Date(iso)); // "2026-11"
}
function monthLabel(key: string, lang: Lang): string {
  const [y, m] = key.split('-');
  if (lang === 'en') return new Date(Number(y), Number(m) - 1, 1).toLocaleString('en-US', { month: 'long', year: 'numeric' });
  return `${y}年${Number(m)}月`;
}
function shortTime(iso: string): string {
  return timeFmt.format(new Date(iso)).replace(/\//g, '-');
}

interface Listing {
  items: StatementLine[];
  nextCursor: string | null;
}

/** First page on every change of card or filter, further pages on demand; a stale answer is dropped. */
function useStatementPages(cardNo: string, query: { type?: string; from?: string; to?: string } | null) {
  const { api } = useSession();
  const [list, setList] = useState<Listing | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [more, setMore] = useState<{ loading: boolean; error: unknown }>({ loading: false, error: null });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const key = JSON.stringify(query);

  useEffect(() => {
    const mine = ++seq.current;
    setList(null);
    setError(null);
    setMore({ loading: false, error: null });
    if (query === null) {
      setLoading(false);
      return;
    }
    setLoading(true);
    api
      .request<Listing>('GET', `/api/v1/portal/cards/${encodeURIComponent(cardNo)}/statement`, { query: { ...query, limit: PAGE } })
      .then(
        (r) => mine === seq.current && setList(r),
        (err) => mine === seq.current && setError(err),
      )
      .finally(() => mine === seq.current && setLoading(false));
  }, [api, cardNo, key, tick]);

  const loadMore = useCallback(() => {
    if (!list?.nextCursor || query === null) return;
    const mine = seq.current;
    setMore({ loading: true, error: null });
    api
      .request<Listing>('GET', `/api/v1/portal/cards/${encodeURIComponent(cardNo)}/statement`, {
        query: { ...query, limit: PAGE, cursor: list.nextCursor },
      })
      .then(
        (r) => {
          if (mine !== seq.current) return;
          setList((l) => ({ items: [...(l?.items ?? []), ...r.items], nextCursor: r.nextCursor }));
          setMore({ loading: false, error: null });
        },
        (err) => mine === seq.current && setMore({ loading: false, error: err }),
      );
  }, [api, cardNo, key, list]);

  const reload = useCallback(() => setTick((x) => x + 1), []);
  return { list, loading, error, more, loadMore, reload };
}

/** Lines carry the card number masked ("900001*********2666"): compare what both show. */
function sameCard(lineNo: string, cardNo: string): boolean {
  if (lineNo === cardNo) return true;
  if (lineNo.length !== cardNo.length) return false;
  for (let i = 0; i < lineNo.length; i++) if (lineNo[i] !== '*' && lineNo[i] !== cardNo[i]) return false;
  return true;
}

function Chip({ on, onClick, children, testid }: { on: boolean; onClick: () => void; children: string; testid: string }) {
  return (
    <button type="button" className={`pt-chip${on ? ' is-on' : ''}`} aria-pressed={on} onClick={onClick} data-testid={testid}>
      {children}
    </button>
  );
}

/**
 * A card's statement (账单): type and period filters kept in the address (so a filtered view is a
 * link), lines grouped by month, newest first, and "load more" paging.
 */
export function Statement({ cardNo }: { cardNo: string }) {
  const t = useT(T);
  const { lang } = useLang();
  const [params, setParams] = useSearchParams();
  const type = (TYPES as readonly string[]).includes(params.get('type') ?? '') ? (params.get('type') ?? '') : '';
  const period: Period = (PERIODS as readonly string[]).includes(params.get('period') ?? '') ? (params.get('period') as Period) : 'all';
  const fromDate = params.get('from') ?? '';
  const toDate = params.get('to') ?? '';
  const range = rangeOf(period, fromDate, toDate);
  const query = range.problem ? null : { type: type || undefined, from: range.from, to: range.to };
  const { list, loading, error, more, loadMore, reload } = useStatementPages(cardNo, query);

  const setParam = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    setParams(next, { replace: true });
  };

  const typeLabel: Record<string, string> = { '': t('typeAll'), sale: t('typeSale'), recharge: t('typeRecharge'), refund: t('typeRefund') };
  const periodLabel: Record<Period, string> = { all: t('periodAll'), '7': t('period7'), '30': t('period30'), '90': t('period90'), custom: t('periodCustom') };

  return (
    <section className="pt-statement" aria-label={t('statement')}>
      <div className="pt-filters">
        <div className="pt-chips pt-chips--grid4" role="group" aria-label={t('filterType')}>
          {TYPES.map((k) => (
            <Chip key={k || 'all'} on={type === k} onClick={() => setParam({ type: k || null })} testid={`filter-type-${k || 'all'}`}>
              {typeLabel[k] ?? k}
            </Chip>
          ))}
        </div>
        <div className="pt-chips pt-chips--grid5" role="group" aria-label={t('filterPeriod')}>
          {PERIODS.map((p) => (
            <Chip
              key={p}
              on={period === p}
              onClick={() => setParam(p === 'custom' ? { period: p, from: fromDate || todayCn(), to: toDate || todayCn() } : { period: p === 'all' ? null : p, from: null, to: null })}
              testid={`filter-period-${p}`}
            >
              {periodLabel[p]}
            </Chip>
          ))}
        </div>
        {period === 'custom' && (
          <div className="pt-daterange">
            <label>
              <span>{t('fromDate')}</span>
              <input type="date" value={fromDate} max={toDate || todayCn()} onChange={(e) => setParam({ from: e.target.value })} data-testid="filter-from" />
            </label>
            <span className="pt-daterange__dash" aria-hidden>
              —
            </span>
            <label>
              <span>{t('toDate')}</span>
              <input type="date" value={toDate} min={fromDate || undefined} max={todayCn()} onChange={(e) => setParam({ to: e.target.value })} data-testid="filter-to" />
            </label>
          </div>
        )}
        {range.problem && <div className="pt-field-error" role="alert">{t(range.problem)}</div>}
      </div>

      {loading && list === null && (
        <div className="pt-state" role="status">
          <Spin />
          <div>{t('loading')}</div>
        </div>
      )}
      {error !== null && (
        <Alert
          className="pt-alert"
          type="error"
          showIcon
          title={errorText(error, lang)}
          action={
            <Button size="small" onClick={reload}>
              {t('retry')}
            </Button>
          }
        />
      )}
      {list && list.items.length === 0 && <Empty className="pt-empty" image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('noStatement')} data-testid="statement-empty" />}
      {list && list.items.length > 0 && (
        <div className="pt-lines">
          {list.items.map((line, i) => {
            const month = monthKey(line.at);
            const newMonth = i === 0 || monthKey(list.items[i - 1]!.at) !== month;
            return (
              <div key={`${line.type}-${line.id}`}>
                {newMonth && <div className="pt-month">{monthLabel(month, lang)}</div>}
                <Line line={line} cardNo={cardNo} />
              </div>
            );
          })}
          <div className="pt-more">
            {more.error !== null && <div className="pt-field-error">{errorText(more.error, lang)}</div>}
            {list.nextCursor ? (
              <Button onClick={loadMore} loading={more.loading} data-testid="statement-more" block>
                {more.error !== null ? t('retry') : t('more')}
              </Button>
            ) : (
              <span className="pt-nomore" data-testid="statement-end">
                {t('noMore')}
              </span>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function Line({ line, cardNo }: { line: StatementLine; cardNo: string }) {
  const t = useT(T);
  let title: string;
  const sub: string[] = [shortTime(line.at)];
  let icon = <ThunderboltOutlined />;
  if (line.type === 'sale') {
    title = line.grade ? `${t('lineSale')} · ${line.grade}` : t('lineSale');
    if (line.volumeMl !== null) sub.push(litres(line.volumeMl));
    if (line.unitPrice !== null) sub.push(unitPrice(line.unitPrice));
  } else if (line.type === 'recharge') {
    icon = <WalletOutlined />;
    const channel = line.channel ? (T[`channel_${line.channel}`] ? t(`channel_${line.channel}`) : line.channel) : null;
    title = channel ? `${t('lineRecharge')} · ${channel}` : t('lineRecharge');
  } else if (line.type === 'reversal') {
    icon = <RollbackOutlined />;
    title = line.status === 'void' ? t('lineVoid') : t('lineReversal');
  } else {
    icon = <RollbackOutlined />;
    title = t('lineRefund');
  }
  // A replacement card's statement carries the lines of the card it replaced.
  const otherCard = !sameCard(line.cardNo, cardNo) ? t('fromCard', { last4: line.cardNo.slice(-4) }) : null;
  const amount = line.amount > 0 ? `+${yuan(line.amount)}` : yuan(line.amount);
  return (
    <div className={`pt-line pt-line--${line.type}`} data-testid="statement-row" data-type={line.type} data-id={line.id}>
      <span className="pt-line__icon" aria-hidden>
        {icon}
      </span>
      <div className="pt-line__main">
        <div className="pt-line__title">
          {title}
          {line.type === 'refund' && line.status !== 'paid' && line.status !== 'succeeded' && <span className="pt-minitag">{t('refundPending')}</span>}
          {otherCard && <span className="pt-minitag pt-minitag--grey">{otherCard}</span>}
        </div>
        <div className="pt-line__sub">{sub.join(' · ')}</div>
      </div>
      <div className="pt-line__right">
        <div className={`pt-line__amount${line.amount > 0 ? ' is-in' : ''}`} data-testid="statement-amount">
          {amount}
        </div>
        {line.balanceAfter !== null && line.type !== 'refund' && <div className="pt-line__after">{t('balanceAfter', { amount: yuan(line.balanceAfter) })}</div>}
      </div>
    </div>
  );
}
