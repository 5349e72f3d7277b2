import { useEffect, type ReactNode } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';
import { CreditCardOutlined, EnvironmentOutlined, FileTextOutlined, LeftOutlined, UserOutlined, WalletOutlined } from '@ant-design/icons';
import { useLang, useT } from '../shared/i18n';
import { T } from './i18n';
import { TOPUP } from './topupTexts';

export type Tab = 'cards' | 'topup' | 'bills' | 'find' | 'me';

/** The "EN / 中" pill in the top bar's right corner, where a mini-program keeps its capsule. */
export function LangToggle() {
  const { lang, setLang } = useLang();
  const t = useT(T);
  return (
    <button
      type="button"
      className="pt-lang"
      data-testid="lang-toggle"
      aria-label={t('switchLangLabel')}
      onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')}
    >
      {t('switchLang')}
    </button>
  );
}

/**
 * Back as a mini-program does it: to the previous screen when there is one in this app, else
 * (the screen was opened by a deep link) to `fallback`, replacing this entry.
 */
export function useGoBack(fallback: string): () => void {
  const navigate = useNavigate();
  return () => {
    // react-router numbers the entries it pushed; 0 means this page was the first one opened.
    const idx = (window.history.state as { idx?: number } | null)?.idx ?? 0;
    if (idx > 0) navigate(-1);
    else navigate(fallback, { replace: true });
  };
}

/**
 * One screen of the portal: a top bar (title, back when the screen is not a tab, language),
 * the content column and, on the three tab screens, the bottom tab bar.
 * `back` is where Back goes when there is no in-app history (the screen was opened by a deep link).
 */
export function Page({ title, back, tab, children, bare }: { title: string; back?: string; tab?: Tab; children: ReactNode; bare?: boolean }) {
  const t = useT(T);
  const goBack = useGoBack(back ?? '/cards');
  useEffect(() => {
    document.title = `${title} · ${t('appName')}`;
  }, [title, t]);
  return (
    <div className={`pt-page${tab ? ' pt-page--tabs' : ''}`}>
      <header className="pt-topbar">
        {back !== undefined && (
          <button type="button" className="pt-topbar__back" onClick={goBack} aria-label={t('back')} data-testid="topbar-back">
            <LeftOutlined />
          </button>
        )}
        <h1 className="pt-topbar__title">{title}</h1>
        <div className="pt-topbar__right">
          <LangToggle />
        </div>
      </header>
      <main className={bare ? 'pt-main pt-main--bare' : 'pt-main'}>{children}</main>
      {tab && <TabBar active={tab} />}
    </div>
  );
}

function TabBar({ active }: { active: Tab }) {
  const t = useT(T);
  const tt = useT(TOPUP);
  const tabs: { key: Tab; to: string; label: string; icon: ReactNode }[] = [
    { key: 'cards', to: '/cards', label: t('tabCards'), icon: <CreditCardOutlined /> },
    { key: 'topup', to: '/topup', label: tt('tabTopup'), icon: <WalletOutlined /> },
    { key: 'bills', to: '/bills', label: t('tabBills'), icon: <FileTextOutlined /> },
    { key: 'find', to: '/find', label: t('tabFind'), icon: <EnvironmentOutlined /> },
    { key: 'me', to: '/me', label: t('tabMe'), icon: <UserOutlined /> },
  ];
  return (
    <nav className="pt-tabbar" aria-label={t('appName')}>
      {tabs.map((tab) => (
        <NavLink
          key={tab.key}
          to={tab.to}
          replace
          className={`pt-tab${tab.key === active ? ' is-active' : ''}`}
          aria-current={tab.key === active ? 'page' : undefined}
          data-testid={`tab-${tab.key}`}
        >
          <span className="pt-tab__icon" aria-hidden>
            {tab.icon}
          </span>
          <span className="pt-tab__label">{tab.label}</span>
        </NavLink>
      ))}
    </nav>
  );
}
