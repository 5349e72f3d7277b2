import { useEffect, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { App as AntApp, ConfigProvider, Spin } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { LangProvider, useLang, useT } from '../shared/i18n';
import { SessionProvider, useSession } from './session';
import { SHELL } from './i18n';
import { Login } from './Login';
import { Shell, BRAND_COLOR } from './Shell';
import { isSigningOut, type LoginState } from './shell-state';

export function App() {
  return (
    <LangProvider>
      <Themed>
        <SessionProvider>
          <BrowserRouter basename="/admin">
            <AppRoutes />
          </BrowserRouter>
        </SessionProvider>
      </Themed>
    </LangProvider>
  );
}

function Themed({ children }: { children: ReactNode }) {
  const { lang } = useLang();
  useEffect(() => {
    dayjs.locale(lang === 'en' ? 'en' : 'zh-cn');
    document.documentElement.lang = lang;
  }, [lang]);
  return (
    <ConfigProvider button={{ autoInsertSpace: false }} locale={lang === 'en' ? enUS : zhCN} theme={{ token: { colorPrimary: BRAND_COLOR, colorLink: BRAND_COLOR, borderRadius: 6 } }}>
      <AntApp>{children}</AntApp>
    </ConfigProvider>
  );
}

function AppRoutes() {
  const { user, ready } = useSession();
  const location = useLocation();
  const t = useT(SHELL);

  if (user) {
    return (
      <Routes>
        <Route path="/login" element={<AfterLogin />} />
        <Route path="*" element={<Shell />} />
      </Routes>
    );
  }
  // The login page stays mounted while a fresh sign-in loads the session, so it can report a failure.
  if (!ready && location.pathname !== '/login') {
    return (
      <div role="status" style={{ padding: 96, textAlign: 'center' }}>
        <Spin size="large" />
        <div style={{ marginTop: 12, color: '#888' }}>{t('checkingSession')}</div>
      </div>
    );
  }
  return (
    <Routes>
      <Route path="/login" element={<Login />} />
      <Route path="*" element={<ToLogin />} />
    </Routes>
  );
}

function ToLogin() {
  const location = useLocation();
  const state: LoginState = !isSigningOut() ? { from: { pathname: location.pathname, search: location.search, hash: location.hash } } : {};
  return <Navigate to="/login" replace state={state} />;
}

function AfterLogin() {
  const location = useLocation();
  const from = (location.state as LoginState | null)?.from;
  const target = from && from.pathname !== '/login' ? from : { pathname: '/' };
  return <Navigate to={target} replace />;
}
