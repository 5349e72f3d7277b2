import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

/** zh-CN first, English second: every text has both. */
export type Lang = 'zh-CN' | 'en';
export type Dict = Record<string, { zh: string; en: string }>;

const STORAGE_KEY = 'fuelcard.lang';

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    // Storage may be blocked (private mode): default language.
  }
  return 'zh-CN';
}

interface LangState {
  lang: Lang;
  setLang: (lang: Lang) => void;
}
const LangContext = createContext<LangState>({ lang: 'zh-CN', setLang: () => {} });

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Not remembered; still switched for this page.
    }
    document.documentElement.lang = next;
  }, []);
  const value = useMemo(() => ({ lang, setLang }), [lang, setLang]);
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>;
}

export function useLang(): LangState {
  return useContext(LangContext);
}

/**
 * Returns t(key, vars?) for a dictionary. A missing key shows the key itself, so a gap is
 * visible rather than blank. Variables: "{name}" in the text.
 */
export function useT(dict: Dict): (key: string, vars?: Record<string, string | number>) => string {
  const { lang } = useLang();
  return useCallback(
    (key: string, vars?: Record<string, string | number>) => {
      const entry = dict[key] ?? COMMON[key];
      let text = entry ? (lang === 'en' ? entry.en : entry.zh) : key;
      if (vars) for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
      return text;
    },
    [dict, lang],
  );
}

/** Server messages are "中文 / English": show the half for the chosen language. */
export function pickLang(message: string, lang: Lang): string {
  const i = message.indexOf(' / ');
  if (i < 0) return message;
  return lang === 'en' ? message.slice(i + 3) : message.slice(0, i);
}

/** Words every app uses. */
export const COMMON: Dict = {
  loading: { zh: '加载中…', en: 'Loading…' },
  empty: { zh: '暂无数据', en: 'No data' },
  retry: { zh: '重试', en: 'Retry' },
  cancel: { zh: '取消', en: 'Cancel' },
  confirm: { zh: '确认', en: 'Confirm' },
  submit: { zh: '提交', en: 'Submit' },
  save: { zh: '保存', en: 'Save' },
  search: { zh: '查询', en: 'Search' },
  reset: { zh: '重置', en: 'Reset' },
  close: { zh: '关闭', en: 'Close' },
  print: { zh: '打印', en: 'Print' },
  export: { zh: '导出 Excel', en: 'Export to Excel' },
  more: { zh: '加载更多', en: 'Load more' },
  logout: { zh: '退出登录', en: 'Sign out' },
  language: { zh: 'English', en: '中文' },
  networkError: { zh: '网络异常，请检查连接后重试', en: 'Network error: check the connection and try again' },
  required: { zh: '必填', en: 'Required' },
  invalidAmount: { zh: '请输入正确的金额（元，最多两位小数）', en: 'Enter an amount in yuan with at most two decimals' },
};
