import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, Button, Empty, Space, Typography } from 'antd';
import type { FormInstance } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { ApiError, errorText, newIdempotencyKey } from '../../shared/api';
import { useLang, useT } from '../../shared/i18n';
import { useLoad } from '../../shared/ui';
import { useSession } from '../session';
import { dict } from './i18n';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Station {
  id: number;
  code: string;
  name: string;
  address: string;
  lat: number;
  lng: number;
  status: string;
  settlementAccountId: number;
  createdAt: string;
}

export interface Grade {
  code: string;
  nameZh: string;
  nameEn: string;
  kind: 'petrol' | 'diesel';
}

// The operator's business days are China Standard Time (UTC+8, no daylight saving), whatever the
// browser's own zone: a day picked in a filter means that day in Shanghai, as the server counts it.
const CST_OFFSET = '+08:00';

/** "2026-11-28" → the instant that day starts in Shanghai, ISO UTC (inclusive `from`). */
export function dayStartIso(ymd: string): string {
  return new Date(`${ymd}T00:00:00${CST_OFFSET}`).toISOString();
}

/** "2026-11-28" → the instant the next day starts in Shanghai (exclusive `to`), so the whole day is included. */
export function dayEndIso(ymd: string): string {
  return new Date(Date.parse(`${ymd}T00:00:00${CST_OFFSET}`) + 86_400_000).toISOString();
}

const YMD = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar day "YYYY-MM-DD" (a hand-edited URL may hold "2026-02-30" or anything else). */
export function isDay(v: string | undefined): v is string {
  return !!v && YMD.test(v) && dayjs(v).format('YYYY-MM-DD') === v;
}

export function toDay(v: string | undefined): Dayjs | undefined {
  return isDay(v) ? dayjs(v) : undefined;
}

export function fromDay(v: Dayjs | null | undefined): string | undefined {
  return v && v.isValid() ? v.format('YYYY-MM-DD') : undefined;
}

/** The `from`/`to` query of a list from the days kept in the URL; a day that is not one is left out. */
export function rangeQuery(f: Record<string, string>): { from?: string; to?: string } {
  return {
    from: isDay(f.from) ? dayStartIso(f.from) : undefined,
    to: isDay(f.to) ? dayEndIso(f.to) : undefined,
  };
}

/**
 * A list's filters live in the URL (?from=2026-11-01&cardNo=…), so a filtered list is a link
 * that can be bookmarked or sent to a colleague, and Back returns to the previous search.
 */
export function useUrlFilters(keys: readonly string[]) {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => {
    const o: Record<string, string> = {};
    for (const k of keys) {
      const v = params.get(k);
      if (v) o[k] = v;
    }
    return o;
    // keys is a constant per screen.
  }, [params]);
  const key = JSON.stringify(filters);
  const apply = useCallback(
    (next: Record<string, string | undefined>) =>
      setParams((prev) => {
        const p = new URLSearchParams(prev);
        for (const k of keys) {
          const v = next[k];
          if (v) p.set(k, v);
          else p.delete(k);
        }
        return p;
      }),
    [setParams],
  );
  return { filters, key, apply, params, setParams };
}

interface ListState<T> {
  items: T[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
  error: unknown;
  loadingMore: boolean;
  moreError: unknown;
}

/**
 * A cursor-paged list (newest first): the first page whenever `key` (the filters) changes,
 * further pages appended by `more()`. Answers to a superseded search are dropped.
 */
export function useCursorList<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>, key: string) {
  const [state, setState] = useState<ListState<T>>({ items: [], nextCursor: null, loading: true, loaded: false, error: undefined, loadingMore: false, moreError: undefined });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: undefined, moreError: undefined }));
    fetchRef.current(undefined).then(
      (page) => mine === seq.current && setState({ items: page.items, nextCursor: page.nextCursor, loading: false, loaded: true, error: undefined, loadingMore: false, moreError: undefined }),
      (error) => mine === seq.current && setState({ items: [], nextCursor: null, loading: false, loaded: true, error, loadingMore: false, moreError: undefined }),
    );
  }, [key, tick]);

  const more = useCallback(() => {
    const cursor = state.nextCursor;
    if (!cursor || state.loadingMore) return;
    const mine = seq.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: undefined }));
    fetchRef.current(cursor).then(
      (page) => mine === seq.current && setState((s) => ({ ...s, items: [...s.items, ...page.items], nextCursor: page.nextCursor, loadingMore: false })),
      (moreError) => mine === seq.current && setState((s) => ({ ...s, loadingMore: false, moreError })),
    );
  }, [state.nextCursor, state.loadingMore]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, more, reload };
}

/** The list's error (with retry), and below the table the "load more" button with its count. */
export function ListError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const { lang } = useLang();
  const t = useT(dict);
  if (error === undefined) return null;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      title={errorText(error, lang)}
      style={{ marginBottom: 12 }}
      action={
        <Button size="small" onClick={onRetry}>
          {t('retry')}
        </Button>
      }
    />
  );
}

export function MoreFooter({ list, testId }: { list: ReturnType<typeof useCursorList<any>>; testId: string }) {
  const { lang } = useLang();
  const t = useT(dict);
  if (!list.loaded || list.error !== undefined || list.items.length === 0) return null;
  return (
    <div style={{ marginTop: 12, display: 'flex', alignItems: 'center', gap: 12, flexWrap: 'wrap' }}>
      <Typography.Text type="secondary" data-testid={`${testId}-count`}>
        {list.nextCursor ? t('shown', { n: list.items.length }) : t('allShown', { n: list.items.length })}
      </Typography.Text>
      {list.nextCursor && (
        <Button onClick={list.more} loading={list.loadingMore} data-testid={`${testId}-more`}>
          {t('more')}
        </Button>
      )}
      {list.moreError !== undefined && (
        <Alert type="error" showIcon title={t('loadMoreFailed', { msg: errorText(list.moreError, lang) })} action={<Button size="small" onClick={list.more}>{t('retry')}</Button>} />
      )}
    </div>
  );
}

export function EmptyText({ text }: { text?: string }) {
  const t = useT(dict);
  return <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={text ?? t('empty')} />;
}

/** A screen's heading with its actions on the right. */
export function PageHeader({ title, extra }: { title: ReactNode; extra?: ReactNode }) {
  return (
    <div style={{ display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: 12, flexWrap: 'wrap', marginBottom: 16 }}>
      <Typography.Title level={3} style={{ margin: 0 }}>
        {title}
      </Typography.Title>
      {extra && <Space wrap>{extra}</Space>}
    </div>
  );
}

/** Stations for filters and pickers (the registry is short: one page of 200). */
export function useStations() {
  const { api, can } = useSession();
  const allowed = can('GET', '/api/v1/stations');
  return useLoad(
    () => (allowed ? api.request<{ items: Station[]; total: number }>('GET', '/api/v1/stations', { query: { limit: 200 } }).then((r) => r.items) : Promise.resolve([] as Station[])),
    [api, allowed],
  );
}

export function useGrades() {
  const { api, can } = useSession();
  const allowed = can('GET', '/api/v1/grades');
  return useLoad(
    () => (allowed ? api.request<{ items: Grade[] }>('GET', '/api/v1/grades').then((r) => r.items) : Promise.resolve([] as Grade[])),
    [api, allowed],
  );
}

export function gradeName(grades: Grade[] | undefined, code: string, lang: string): string {
  const g = grades?.find((x) => x.code === code);
  if (!g) return code;
  return `${code} ${lang === 'en' ? g.nameEn : g.nameZh}`;
}

/**
 * One Idempotency-Key per submit: kept while the same values are retried, renewed when the form
 * changes (a different request) or after success (the next operation).
 */
export function useIdempotencyKey() {
  const ref = useRef<string>(newIdempotencyKey());
  return useMemo(
    () => ({
      get: () => ref.current,
      renew: () => {
        ref.current = newIdempotencyKey();
      },
    }),
    [],
  );
}

/**
 * Puts the server's message on the form field it names (details.field "body.username" or
 * "username"), so the person sees it where they typed. The caller shows it in an alert as well.
 */
export function markFieldError(form: FormInstance, err: unknown, lang: 'zh-CN' | 'en', fields: readonly string[]): void {
  if (!(err instanceof ApiError)) return;
  const raw = err.details?.field;
  if (typeof raw !== 'string') return;
  const name = raw.replace(/^body\./, '').replace(/^\//, '');
  if (fields.includes(name)) form.setFields([{ name, errors: [err.text(lang)] }]);
}

/** Copies text, falling back to a hidden textarea where the Clipboard API is unavailable (plain http). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through to the old way.
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok: boolean;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** The server's error as a form-level alert. */
export function SubmitError({ error }: { error: unknown }) {
  const { lang } = useLang();
  if (error === undefined || error === null) return null;
  return <Alert type="error" showIcon role="alert" title={errorText(error, lang)} style={{ marginBottom: 12 }} />;
}

export const mono = { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', whiteSpace: 'nowrap' } as const;
