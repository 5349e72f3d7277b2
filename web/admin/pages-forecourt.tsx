import {
  AppstoreOutlined,
  CloudUploadOutlined,
  DatabaseOutlined,
  EnvironmentOutlined,
  ExperimentOutlined,
  FileDoneOutlined,
  LockOutlined,
  ScheduleOutlined,
  TagsOutlined,
} from '@ant-design/icons';
import type { AdminPage } from './pages';
import { AuthorisationsPage } from './pages-forecourt/authorisations';
import { BatchDetailPage, BatchesPage } from './pages-forecourt/batches';
import { GoodsPage } from './pages-forecourt/goods';
import { GradesPage } from './pages-forecourt/grades';
import { ForecourtPricesPage } from './pages-forecourt/prices';
import { SettlementsPage, StatementPage } from './pages-forecourt/settlements';
import { ShiftDetailPage, ShiftsPage } from './pages-forecourt/shifts';
import { NetworkStationPage } from './pages-forecourt/station-detail';
import { NetworkStationsPage } from './pages-forecourt/stations';
import { StationStockPage } from './pages-forecourt/stock-station';
import { StockPage } from './pages-forecourt/stock';

/**
 * The forecourt screens (issue 4): the station network, grades, prices with scheduled changes,
 * store goods, stock and alerts, authorisations and flagged sales, offline batches, shifts and
 * settlement statements. They take over the paths of issue 3's stations and prices screens.
 */
export const pagesForecourt: AdminPage[] = [
  {
    path: 'stations',
    menu: { key: 'stations', zh: '油站网络', en: 'Stations', icon: <EnvironmentOutlined />, order: 70 },
    requires: { method: 'GET', url: '/api/v1/stations' },
    element: <NetworkStationsPage />,
  },
  { path: 'stations/:id', requires: { method: 'GET', url: '/api/v1/stations/:id' }, element: <NetworkStationPage /> },
  {
    path: 'grades',
    menu: { key: 'grades', zh: '油品管理', en: 'Fuel grades', icon: <ExperimentOutlined />, order: 71 },
    requires: { method: 'GET', url: '/api/v1/grades' },
    element: <GradesPage />,
  },
  {
    path: 'prices',
    menu: { key: 'prices', zh: '油价与调价', en: 'Prices', icon: <TagsOutlined />, order: 72 },
    requires: { method: 'GET', url: '/api/v1/prices' },
    element: <ForecourtPricesPage />,
  },
  {
    path: 'goods',
    menu: { key: 'goods', zh: '便利店商品', en: 'Store goods', icon: <AppstoreOutlined />, order: 73 },
    requires: { method: 'GET', url: '/api/v1/goods' },
    element: <GoodsPage />,
  },
  {
    path: 'stock',
    menu: { key: 'stock', zh: '库存与告警', en: 'Stock & alerts', icon: <DatabaseOutlined />, order: 74 },
    requires: { method: 'GET', url: '/api/v1/stock' },
    element: <StockPage />,
  },
  { path: 'stock/:id', requires: { method: 'GET', url: '/api/v1/stations/:id/stock' }, element: <StationStockPage /> },
  {
    path: 'authorisations',
    menu: { key: 'authorisations', zh: '授权与异常', en: 'Holds & exceptions', icon: <LockOutlined />, order: 75 },
    requires: { method: 'GET', url: '/api/v1/sales' },
    element: <AuthorisationsPage />,
  },
  {
    path: 'offline-batches',
    menu: { key: 'offline-batches', zh: '脱机批次', en: 'Offline batches', icon: <CloudUploadOutlined />, order: 76 },
    requires: { method: 'GET', url: '/api/v1/offline-batches' },
    element: <BatchesPage />,
  },
  { path: 'offline-batches/:id', requires: { method: 'GET', url: '/api/v1/offline-batches/:batchId' }, element: <BatchDetailPage /> },
  {
    path: 'shifts',
    menu: { key: 'shifts', zh: '班次日结', en: 'Shifts', icon: <ScheduleOutlined />, order: 77 },
    requires: { method: 'GET', url: '/api/v1/shifts' },
    element: <ShiftsPage />,
  },
  { path: 'shifts/:id', requires: { method: 'GET', url: '/api/v1/shifts/:shiftId' }, element: <ShiftDetailPage /> },
  {
    path: 'settlements',
    menu: { key: 'settlements', zh: '结算单', en: 'Settlements', icon: <FileDoneOutlined />, order: 78 },
    requires: { method: 'GET', url: '/api/v1/stations/:id/settlements/:day' },
    element: <SettlementsPage />,
  },
  { path: 'settlements/:id/:day', requires: { method: 'GET', url: '/api/v1/stations/:id/settlements/:day' }, element: <StatementPage /> },
];
