import { useCallback, useMemo, useState, type CSSProperties, type HTMLAttributes, type Key, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Modal, Select, Space, Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ArrowLeftOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { EmptyText, ListError, MoreFooter, type Station, type useCursorList } from '../pages-b/common';
import { fc, SERVICES, WEEKDAYS } from './i18n';

export type OpeningHours = { always: true } | { always: false; weekly: { day: number; open: string; close: string }[] };

/** A station as the network API answers it (issue 4 adds the region, phone, hours and services). */
export interface NetStation extends Station {
  province: string;
  city: string;
  district: string;
  phone: string | null;
  openingHours: OpeningHours;
  services: string[];
}

const TZ = 'Asia/Shanghai';

/** Today's business day in the operator's zone, whatever the browser's zone: "2026-11-28". */
export function cstToday(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

/**
 * Pickers show wall-clock fields; the console means them in China time (the operator's zone),
 * so a date-time picked is sent with +08:00 whatever the browser's own zone is.
 */
export function cstWallToIso(d: Dayjs): string {
  return new Date(`${d.format('YYYY-MM-DDTHH:mm')}:00+08:00`).toISOString();
}

/** Now, as China wall-clock fields (for the pickers' default and "not in the past" checks). */
export function cstNowWall(): Dayjs {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date());
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return dayjs(`${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}`);
}

/** 调价 takes effect at 24:00 as a rule: the next midnight in China. */
export function nextMidnightWall(): Dayjs {
  return cstNowWall().add(1, 'day').startOf('day');
}

/** Stations for pickers (one page of 200, the console's station registry is short). */
export function useNetStations() {
  const { api, can } = useSession();
  const allowed = can('GET', '/api/v1/stations');
  return useLoad(
    () => (allowed ? api.request<{ items: NetStation[] }>('GET', '/api/v1/stations', { query: { limit: 200 } }).then((r) => r.items) : Promise.resolve([] as NetStation[])),
    [api, allowed],
  );
}

export function StationSelect({ value, onChange, testId, allowClear = true, style }: { value?: number; onChange?: (v: number | undefined) => void; testId: string; allowClear?: boolean; style?: CSSProperties }) {
  const t = useT(fc);
  const stations = useNetStations();
  return (
    <Select
      value={value}
      onChange={(v) => onChange?.(v ?? undefined)}
      allowClear={allowClear}
      showSearch={{ optionFilterProp: 'label' }}
      placeholder={allowClear ? t('anyStation') : t('chooseStation')}
      loading={stations.loading}
      options={(stations.data ?? []).map((s) => ({ value: s.id, label: `${s.code} ${s.name}` }))}
      style={{ minWidth: 220, ...style }}
      data-testid={testId}
      aria-label={t('station')}
    />
  );
}

export function stationLabel(stations: NetStation[] | undefined, id: number | null | undefined): string {
  if (id === null || id === undefined) return '—';
  const s = stations?.find((x) => x.id === id);
  return s ? `${s.code} ${s.name}` : `#${id}`;
}

/** A tab kept in the address (?tab=…), so a tab is a link and Back returns to it. */
export function useTab(keys: readonly string[], fallback: string): [string, (k: string) => void] {
  const [params, setParams] = useSearchParams();
  const raw = params.get('tab');
  const tab = raw && keys.includes(raw) ? raw : fallback;
  const set = useCallback(
    (k: string) =>
      setParams(
        (prev) => {
          const n = new URLSearchParams();
          if (k !== fallback) n.set('tab', k);
          // Other tabs' filters do not carry over.
          void prev;
          return n;
        },
        { replace: false },
      ),
    [setParams, fallback],
  );
  return [tab, set];
}

export function ServiceTags({ services }: { services: string[] }) {
  const { lang } = useLang();
  if (!services.length) return <>—</>;
  return (
    <span>
      {services.map((s) => (
        <Tag key={s} style={{ marginBottom: 2 }}>
          {SERVICES[s] ? (lang === 'en' ? SERVICES[s].en : SERVICES[s].zh) : s}
        </Tag>
      ))}
    </span>
  );
}

/** "24 小时" or "周一 07:00–22:00；…" */
export function HoursText({ hours }: { hours: OpeningHours | null | undefined }) {
  const t = useT(fc);
  const w = useT(WEEKDAYS);
  const text = useMemo(() => {
    if (!hours || hours.always) return t('always');
    return [...hours.weekly]
      .sort((a, b) => a.day - b.day || a.open.localeCompare(b.open))
      .map((x) => `${w(String(x.day))} ${x.open}–${x.close}${x.close <= x.open && x.close !== '24:00' ? t('overnight') : ''}`)
      .join('；');
  }, [hours, t, w]);
  return <span>{text}</span>;
}

export function FlagTags({ flags, liability }: { flags?: string[] | null; liability?: string | null }) {
  const t = useT(fc);
  return (
    <span>
      {(flags ?? []).map((f) => (
        <Tag key={f} color="orange" data-testid="flag" data-flag={f}>
          {t(`flag_${f}`)}
        </Tag>
      ))}
      {liability === 'station' && <Tag color="red">{t('liability_station')}</Tag>}
    </span>
  );
}

/** The region as people write it: 上海市 浦东新区. */
export function regionText(s: Pick<NetStation, 'province' | 'city' | 'district'>): string {
  const parts = [s.province, s.city, s.district].filter((x) => x && x.trim());
  // A municipality is its own province and city: 上海市 上海市 → 上海市.
  return parts.filter((p, i) => parts.indexOf(p) === i).join(' ') || '—';
}

/** The bar of filters above a list. */
export function FilterBar({ children, style }: { children: ReactNode; style?: CSSProperties }) {
  return (
    <Space wrap style={{ marginBottom: 12, ...style }}>
      {children}
    </Space>
  );
}

/** "← back to the list" above a detail page. */
export function BackLink({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return (
    <div style={{ marginBottom: 8 }} className={className}>
      <Link to={to}>
        <ArrowLeftOutlined /> {children}
      </Link>
    </div>
  );
}

type RowAttrs<T> = (row: T) => Record<string, unknown>;

/** The console's compact, unpaged table; each row carries its test attributes. */
export function ListTable<T extends object>({
  rowKey,
  columns,
  items,
  loading,
  emptyText,
  row,
}: {
  rowKey: (keyof T & string) | ((row: T) => string);
  columns: ColumnsType<T>;
  items: readonly T[];
  loading: boolean;
  emptyText?: string;
  row: RowAttrs<T>;
}) {
  return (
    <Table<T>
      rowKey={rowKey as string | ((row: T) => Key)}
      size="small"
      pagination={false}
      loading={loading}
      dataSource={items as T[]}
      scroll={{ x: 'max-content' }}
      columns={columns}
      locale={{ emptyText: loading ? ' ' : <EmptyText text={emptyText} /> }}
      onRow={(r) => row(r) as HTMLAttributes<HTMLElement>}
    />
  );
}

/** A cursor-paged list: its error, its table and its "more" footer. */
export function CursorTable<T extends object>({
  list,
  testId,
  ...table
}: {
  list: ReturnType<typeof useCursorList<T>>;
  testId: string;
  rowKey: (keyof T & string) | ((row: T) => string);
  columns: ColumnsType<T>;
  emptyText?: string;
  row: RowAttrs<T>;
}) {
  return (
    <>
      <ListError error={list.error} onRetry={list.reload} />
      <ListTable<T> {...table} items={list.items} loading={list.loading} />
      <MoreFooter list={list} testId={testId} />
    </>
  );
}

/** A form's send: busy while it runs, and the error it ended with (handed on to onError too). */
export function useSending() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (fn: () => Promise<void>, onError?: (err: unknown) => void) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(err);
      onError?.(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** The console's form dialog: submits its form on OK, spins while busy, and forgets its fields when closed. */
/** A form in a dialog. A click beside it does not close it: a half-filled form is not thrown away by a stray click. */
export function FormModal({ title, onCancel, onOk, busy, submitTestId, okText, width, children }: { title: ReactNode; onCancel: () => void; onOk: () => void; busy: boolean; submitTestId: string; okText?: string; width?: number; children: ReactNode }) {
  const t = useT(fc);
  return (
    <Modal open {...(width ? { width } : {})} title={title} onCancel={onCancel} onOk={onOk} okText={okText ?? t('save')} cancelText={t('cancel')} confirmLoading={busy} destroyOnHidden maskClosable={false} okButtonProps={{ 'data-testid': submitTestId } as any}>
      {children}
    </Modal>
  );
}
