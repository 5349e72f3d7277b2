import { AuditOutlined, ExperimentOutlined, SafetyCertificateOutlined, SoundOutlined, SolutionOutlined } from '@ant-design/icons';
import type { AdminPage } from './pages';
import { BacktestPage } from './pages-risk/backtest';
import { CasePage, CasesMenuBadge, CasesPage } from './pages-risk/cases';
import { DecisionPage, DecisionsPage } from './pages-risk/decisions';
import { DraftPage, RulesPage, VersionPage } from './pages-risk/rules';
import { SilencesPage } from './pages-risk/silences';

/**
 * 风控 (issue 7 §3, §4): the rules and their versioned parameters with second-person approval, the
 * backtest, silences and flagged stations, the engine's decisions with replay, and the review
 * cases. Readers (operator, finance) see the screens; the actions show only to roles that may post
 * them (risk, admin), and the server refuses them anyway.
 */
export const pagesRisk: AdminPage[] = [
  {
    path: 'risk-cases',
    menu: { key: 'risk-cases', zh: '人工审核', en: 'Review cases', icon: <SolutionOutlined />, order: 81, badge: <CasesMenuBadge /> },
    requires: { method: 'GET', url: '/api/v1/cases' },
    element: <CasesPage />,
  },
  { path: 'risk-cases/:id', requires: { method: 'GET', url: '/api/v1/cases/:id' }, element: <CasePage /> },
  {
    path: 'risk-rules',
    menu: { key: 'risk-rules', zh: '风控规则', en: 'Risk rules', icon: <SafetyCertificateOutlined />, order: 82 },
    requires: { method: 'GET', url: '/api/v1/risk/rules' },
    element: <RulesPage />,
  },
  { path: 'risk-rules/new', requires: { method: 'POST', url: '/api/v1/risk/parameter-versions' }, element: <DraftPage /> },
  { path: 'risk-rules/versions/:id', requires: { method: 'GET', url: '/api/v1/risk/parameter-versions/:id' }, element: <VersionPage /> },
  {
    path: 'risk-backtest',
    menu: { key: 'risk-backtest', zh: '回测', en: 'Backtest', icon: <ExperimentOutlined />, order: 83 },
    requires: { method: 'POST', url: '/api/v1/risk/backtests' },
    element: <BacktestPage />,
  },
  {
    path: 'risk-silences',
    menu: { key: 'risk-silences', zh: '静默与可疑站点', en: 'Silences and flagged stations', icon: <SoundOutlined />, order: 84 },
    requires: { method: 'GET', url: '/api/v1/risk/silences' },
    element: <SilencesPage />,
  },
  {
    path: 'risk-decisions',
    menu: { key: 'risk-decisions', zh: '风控决策', en: 'Risk decisions', icon: <AuditOutlined />, order: 85 },
    requires: { method: 'GET', url: '/api/v1/risk/decisions' },
    element: <DecisionsPage />,
  },
  { path: 'risk-decisions/:id', requires: { method: 'GET', url: '/api/v1/risk/decisions/:id' }, element: <DecisionPage /> },
];
