import { useEffect, useMemo, useState, type MouseEvent } from 'react';
import { Link, Navigate, Route, Routes, matchPath, useLocation, useNavigate } from 'react-router-dom';
import { Button, Empty, Layout, Menu, Space, Tag, Typography, theme } from 'antd';
import { GlobalOutlined, LogoutOutlined, MenuFoldOutlined, MenuUnfoldOutlined, UserOutlined } from '@ant-design/icons';
import { useLang, useT } from '../shared/i18n';
import { useSession } from './session';
import type { AdminPage } from './pages';
import { pagesA } from './pages-a';
import { pagesB } from './pages-b';
import { pagesForecourt } from './pages-forecourt';
import { pagesPayments } from './pages-payments';
import { pagesRecon } from './pages-recon';
import { pagesRisk } from './pages-risk';
import { pagesSecurity } from './pages-security';
import { pagesTerminalHost } from './pages-terminal-host';
import { ROLE_NAMES, SHELL, label } from './i18n';
import { markSigningOut } from './shell-state';
import { LocalResult, MAIN_ID } from './ui';

/** The console's brand colour (a fuel-station green), also used by the login page. */
export const BRAND_COLOR = '#0f6e5f';

const ALL_PAGES: AdminPage[] = [...pagesA, ...pagesB, ...pagesPayments, ...pagesForecourt, ...pagesRecon, ...pagesTerminalHost, ...pagesRisk, ...pagesSecurity];

/** The language switch: shows the other language's name, as people look for their own. */
export function LangSwitch() {
  const { lang, setLang } = useLang();
  const t = useT(SHELL);
  return (
    <Button icon={<GlobalOutlined />} onClick={() => setLang(lang === 'en' ? 'zh-CN' : 'en')} aria-label={t('switchLanguage')} data-testid="lang-switch">
      {t('language')}
    </Button>
  );
}

/** Which menu entry a path belongs to: its own page, or the entry of the first path segment. */
function menuKeyFor(pathname: string, pages: AdminPage[]): string | undefined {
  const rel = pathname.replace(/^\/+/, '');
  for (const p of pages) if (p.menu && matchPath({ path: `/${p.path}`, end: true }, `/${rel}`)) return p.menu.key;
  const first = rel.split('/')[0];
  return pages.find((p) => p.menu && p.path.split('/')[0] === first)?.menu?.key;
}

export function Shell() {
  const { user, can, signOut } = useSession();
  const { lang } = useLang();
  const t = useT(SHELL);
  const location = useLocation();
  const { token } = theme.useToken();
  const [collapsed, setCollapsed] = useState(false);

  const allowed = useMemo(() => ALL_PAGES.filter((p) => can(p.requires.method, p.requires.url)), [can]);
  const menuPages = useMemo(() => allowed.filter((p) => p.menu).sort((a, b) => (a.menu?.order ?? 0) - (b.menu?.order ?? 0)), [allowed]);
  const selected = menuKeyFor(location.pathname, menuPages);
  const selectedPage = menuPages.find((p) => p.menu?.key === selected);

  useEffect(() => {
    const name = selectedPage?.menu ? (lang === 'en' ? selectedPage.menu.en : selectedPage.menu.zh) : null;
    document.title = name ? `${name} · ${t('appName')}` : t('appName');
  }, [selectedPage, lang, t]);

  const items = menuPages.map((p) => {
    const m = p.menu!;
    return {
      key: m.key,
      icon: m.icon,
      label: (
        <Link to={`/${p.path}`} data-testid={`menu-${m.key}`}>
          {lang === 'en' ? m.en : m.zh}{m.badge}
        </Link>
      ),
    };
  });

  const onSignOut = () => {
    markSigningOut();
    void signOut();
  };

  return (
    <Layout style={{ minHeight: '100vh' }}>
      <a href={`#${MAIN_ID}`} className="fc-skip fc-no-print" onClick={skipToMain}>
        {t('skipToContent')}
      </a>
      <Layout.Sider collapsible collapsed={collapsed} onCollapse={setCollapsed} breakpoint="lg" trigger={null} width={208} theme="dark" className="fc-no-print">
        <div style={{ height: 56, display: 'flex', alignItems: 'center', justifyContent: 'center', color: '#fff', fontWeight: 600, fontSize: collapsed ? 14 : 16, whiteSpace: 'nowrap', overflow: 'hidden', borderBottom: '1px solid rgba(255,255,255,0.12)' }}>
          <span aria-hidden style={{ display: 'inline-block', width: 10, height: 10, borderRadius: 5, background: BRAND_COLOR, marginRight: 8, boxShadow: '0 0 0 3px rgba(255,255,255,0.25)' }} />
          {collapsed ? '' : t('appShort')}
        </div>
        <nav aria-label={t('menu')}>
          <Menu theme="dark" mode="inline" selectedKeys={selected ? [selected] : []} items={items} />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header className="fc-no-print" style={{ background: token.colorBgContainer, padding: '0 16px', display: 'flex', alignItems: 'center', gap: 12, borderBottom: `1px solid ${token.colorBorderSecondary}`, height: 56, lineHeight: '56px' }}>
          <Button type="text" icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />} onClick={() => setCollapsed(!collapsed)} aria-label={collapsed ? t('openMenu') : t('closeMenu')} />
          <Typography.Text strong style={{ flex: 1, whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>
            {t('appName')}
          </Typography.Text>
          <Space size="middle" wrap={false}>
            <span data-testid="user-name" style={{ whiteSpace: 'nowrap' }}>
              <UserOutlined aria-hidden /> {user?.username}
            </span>
            <Tag color={BRAND_COLOR} data-testid="user-role" aria-label={`${t('roleLabel')}: ${label(ROLE_NAMES, user?.role, lang)}`}>
              {label(ROLE_NAMES, user?.role, lang)}
            </Tag>
            <LangSwitch />
            <Button icon={<LogoutOutlined />} onClick={onSignOut} data-testid="logout">
              {t('logout')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content style={{ padding: 24, minWidth: 0 }}>
          <main id={MAIN_ID} tabIndex={-1} style={{ outline: 'none' }}>
            <Routes>
              <Route index element={<Home pages={menuPages} />} />
              {ALL_PAGES.map((p) => (
                <Route key={p.path} path={p.path} element={<Guarded page={p} />} />
              ))}
              <Route path="*" element={<NotFound />} />
            </Routes>
          </main>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

/** The skip link moves focus past the menu to the screen itself (the address keeps the route). */
function skipToMain(e: MouseEvent) {
  e.preventDefault();
  document.getElementById(MAIN_ID)?.focus();
}

/** A deep link to a page the role may not use is refused on screen too, not only hidden from the menu. */
function Guarded({ page }: { page: AdminPage }) {
  const { can } = useSession();
  const t = useT(SHELL);
  if (!can(page.requires.method, page.requires.url)) {
    return (
      <div data-testid="page-403">
        <LocalResult status="403" title={t('forbiddenTitle')} subTitle={t('forbiddenText')} extra={<BackHome />} />
      </div>
    );
  }
  return <>{page.element}</>;
}

function NotFound() {
  const t = useT(SHELL);
  return (
    <div data-testid="page-404">
      <LocalResult status="404" title={t('notFoundTitle')} subTitle={t('notFoundText')} extra={<BackHome />} />
    </div>
  );
}

function BackHome() {
  const t = useT(SHELL);
  const navigate = useNavigate();
  return (
    <Button type="primary" onClick={() => navigate('/')}>
      {t('backHome')}
    </Button>
  );
}

/** The start page is the first menu entry the role may use (the dashboard for most). */
function Home({ pages }: { pages: AdminPage[] }) {
  const t = useT(SHELL);
  const first = pages[0];
  if (!first) return <Empty description={t('noPages')} style={{ marginTop: 96 }} />;
  return <Navigate to={`/${first.path}`} replace />;
}
