import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { Alert, Button, Empty, Spin } from 'antd';
import { errorText } from './api';
import { useLang, useT, COMMON } from './i18n';

export interface Loadable<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs an async load when deps change and keeps loading / error / data, so every screen has
 * the three states. A load superseded by a newer one is ignored.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loadable<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load().then(
      (data) => mine === seq.current && setState({ data, error: undefined, loading: false }),
      (error) => mine === seq.current && setState({ data: undefined, error, loading: false }),
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Loading, error (with retry) and empty states around content. */
export function LoadState<T>({ value, isEmpty, children }: { value: Loadable<T>; isEmpty?: (data: T) => boolean; children: (data: T) => ReactNode }) {
  const { lang } = useLang();
  const t = useT(COMMON);
  if (value.loading && value.data === undefined) {
    return (
      <div role="status" style={{ padding: 48, textAlign: 'center' }}>
        <Spin />
        <div style={{ marginTop: 8, color: '#888' }}>{t('loading')}</div>
      </div>
    );
  }
  if (value.error !== undefined) {
    return (
      <Alert
        type="error"
        showIcon
        title={errorText(value.error, lang)}
        action={
          <Button size="small" onClick={value.reload}>
            {t('retry')}
          </Button>
        }
      />
    );
  }
  if (value.data === undefined) return null;
  if (isEmpty?.(value.data)) return <Empty description={t('empty')} />;
  return <>{children(value.data)}</>;
}
