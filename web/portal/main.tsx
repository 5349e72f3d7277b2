import { StrictMode, useEffect, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { App as AntApp, Button, ConfigProvider, Empty } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { LangProvider, useLang, useT } from '../shared/i18n';
import { AlertPage } from './AlertPage';
import { BillsPage } from './Bills';
import { CardDetailPage, CardsPage } from './Cards';
import { FinderPage } from './Finder';
import { T } from './i18n';
import { Page } from './layout';
import { LoginPage } from './Login';
import { LossPage } from './Loss';
import { MePage } from './Me';
import { PinPage } from './Pin';
import { ResetPage } from './Reset';
import { SessionProvider, useSession } from './session';
import { TopupOrderPage, TopupPage, TopupsPage } from './Topup';
import './portal.css';

/** The brand colour of the portal (a warm fuel orange); antd components take it from the theme. */
const BRAND = '#ee5a24';

/** Screens behind sign-in: without a session, go to sign in and come back here afterwards. */
function RequireSignIn({ children }: { children: ReactNode }) {
  const { signedIn } = useSession();
  const location = useLocation();
  if (!signedIn) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function NotFound() {
  const t = useT(T);
  const navigate = useNavigate();
  return (
    <Page title={t('notFound')} back="/cards">
      <Empty className="pt-empty" description={t('notFound')}>
        <Button type="primary" size="large" onClick={() => navigate('/cards', { replace: true })}>
          {t('goHome')}
        </Button>
      </Empty>
    </Page>
  );
}

function Themed({ children }: { children: ReactNode }) {
  const { lang } = useLang();
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  return (
    <ConfigProvider
      locale={lang === 'en' ? enUS : zhCN}
      button={{ autoInsertSpace: false }}
      theme={{
        token: {
          colorPrimary: BRAND,
          colorLink: BRAND,
          borderRadius: 10,
          fontSize: 15,
          controlHeightLG: 48,
          fontFamily: '-apple-system, BlinkMacSystemFont, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Helvetica Neue", Arial, sans-serif',
        },
        components: {
          Button: { fontWeight: 500 },
        },
      }}
    >
      <AntApp message={{ top: 64, maxCount: 2 }}>{children}</AntApp>
    </ConfigProvider>
  );
}

function PortalApp() {
  const guard = (node: ReactNode) => <RequireSignIn>{node}</RequireSignIn>;
  return (
    <Routes>
      <Route path="/" element={<Navigate to="/cards" replace />} />
      <Route path="/login" element={<LoginPage />} />
      <Route path="/reset" element={<ResetPage />} />
      <Route path="/cards" element={guard(<CardsPage />)} />
      <Route path="/cards/:cardNo" element={guard(<CardDetailPage />)} />
      <Route path="/cards/:cardNo/pin" element={guard(<PinPage />)} />
      <Route path="/cards/:cardNo/loss" element={guard(<LossPage />)} />
      <Route path="/cards/:cardNo/alert" element={guard(<AlertPage />)} />
      <Route path="/cards/:cardNo/topup" element={guard(<TopupPage />)} />
      <Route path="/topup" element={guard(<TopupPage />)} />
      <Route path="/topups" element={guard(<TopupsPage />)} />
      <Route path="/topups/:orderNo" element={guard(<TopupOrderPage />)} />
      <Route path="/bills" element={guard(<BillsPage />)} />
      {/* Public: anyone may look for a station, signed in or not. */}
      <Route path="/find" element={<FinderPage />} />
      <Route path="/me" element={guard(<MePage />)} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <LangProvider>
      <Themed>
        <SessionProvider>
          <BrowserRouter basename="/portal">
            <PortalApp />
          </BrowserRouter>
        </SessionProvider>
      </Themed>
    </LangProvider>
  </StrictMode>,
);
