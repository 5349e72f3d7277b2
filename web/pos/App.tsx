import { useEffect, useState, type ReactNode } from 'react';
import { BrowserRouter, Navigate, NavLink, Route, Routes, useNavigate } from 'react-router-dom';
import { Alert, App as AntApp, Button, ConfigProvider } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { LangProvider, useLang, useT } from '../shared/i18n';
import { SaleFlowProvider, SalesLogProvider, TerminalProvider, useSalesLog, useTerminal } from './session';
import { signingAvailable } from './sign';
import { TF as T } from './textsForecourt';
import { OfflineBanner } from './OfflineBanner';
import { OfflineProvider, ShiftProvider } from './offline';
import { PairPage } from './PairPage';
import { PostpayPage } from './PostpayPage';
import { PumpPage } from './PumpPage';
import { SalePage } from './SalePage';
import { ShiftPage } from './ShiftPage';
import { TodayPage } from './TodayPage';

export function App() {
  return (
    <LangProvider>
      <Themed>
        <TerminalProvider>
          <SalesLogProvider>
            <ShiftProvider>
              <OfflineProvider>
                <SaleFlowProvider>
                  <BrowserRouter basename="/pos">
                    <Layout>
                      <PosRoutes />
                    </Layout>
                  </BrowserRouter>
                </SaleFlowProvider>
              </OfflineProvider>
            </ShiftProvider>
          </SalesLogProvider>
        </TerminalProvider>
      </Themed>
    </LangProvider>
  );
}

function Themed({ children }: { children: ReactNode }) {
  const { lang } = useLang();
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  return (
    <ConfigProvider locale={lang === 'en' ? enUS : zhCN} theme={{ token: { colorPrimary: '#c8102e', borderRadius: 6, fontSize: 16 } }} button={{ autoInsertSpace: false }}>
      <AntApp>{children}</AntApp>
    </ConfigProvider>
  );
}

function PosRoutes() {
  const { creds } = useTerminal();
  return (
    <Routes>
      <Route path="/pair" element={<PairPage />} />
      <Route path="/today" element={<TodayPage />} />
      <Route path="/pump" element={creds ? <PumpPage /> : <Navigate to="/pair" replace />} />
      <Route path="/postpay" element={creds ? <PostpayPage /> : <Navigate to="/pair" replace />} />
      <Route path="/shift" element={creds ? <ShiftPage /> : <Navigate to="/pair" replace />} />
      <Route path="/" element={creds ? <SalePage /> : <Navigate to="/pair" replace />} />
      <Route path="*" element={<Navigate to="/" replace />} />
    </Routes>
  );
}

function Clock() {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(id);
  }, []);
  return (
    <span className="pos-clock" aria-hidden="true">
      {now.toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })}
    </span>
  );
}

function Layout({ children }: { children: ReactNode }) {
  const t = useT(T);
  const { lang, setLang } = useLang();
  const { creds, station, needsRepair } = useTerminal();
  const { entries } = useSalesLog();
  const crypto = signingAvailable();
  return (
    <div className="pos-app">
      <header className="pos-header">
        <div className="pos-brand">
          <span className="pos-brand-name">{t('appName')}</span>
          <span className="pos-brand-where" data-testid="pos-header-terminal">
            {creds ? (
              <>
                {station ? <strong>{station.name}</strong> : null}
                <span>
                  {t('terminal')} {creds.terminalId}
                </span>
              </>
            ) : (
              t('notPaired')
            )}
          </span>
        </div>
        <nav className="pos-nav" aria-label={t('appName')}>
          <NavLink to="/" end>
            {t('navSale')}
          </NavLink>
          <NavLink to="/pump" data-testid="nav-pump">
            {t('navPump')}
          </NavLink>
          <NavLink to="/postpay" data-testid="nav-postpay">
            {t('navPostpay')}
          </NavLink>
          <NavLink to="/shift" data-testid="nav-shift">
            {t('navShift')}
          </NavLink>
          <NavLink to="/today">
            {t('navToday')}
            {entries.length > 0 ? <span className="pos-badge">{entries.length}</span> : null}
          </NavLink>
          <NavLink to="/pair">{t('navPair')}</NavLink>
        </nav>
        <div className="pos-header-right">
          <Clock />
          <Button onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')} data-testid="pos-lang" lang={lang === 'en' ? 'zh-CN' : 'en'}>
            {t('language')}
          </Button>
        </div>
      </header>
      <main className="pos-main">
        {!crypto ? <Alert type="error" showIcon title={t('noCrypto')} className="pos-banner" /> : null}
        {needsRepair ? (
          <Alert
            type="error"
            showIcon
            className="pos-banner"
            data-testid="pos-repair-banner"
            title={t('repairBanner')}
            action={<RepairButton label={t('repairNow')} />}
          />
        ) : null}
        {creds ? <OfflineBanner /> : null}
        {children}
      </main>
    </div>
  );
}

function RepairButton({ label }: { label: string }) {
  const navigate = useNavigate();
  return (
    <Button type="primary" onClick={() => navigate('/pair')}>
      {label}
    </Button>
  );
}
