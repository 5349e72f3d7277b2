export { stationsRoutes } from './stations.routes.js';
export { terminalAuthenticator, pruneNonces, forgetTerminal, spendTerminalNonce } from './terminal-auth.js';
export {
  createStation,
  updateStation,
  getStation,
  listStations,
  listRegions,
  registerTerminal,
  listTerminals,
  STATION_SERVICES,
  type Station,
  type StationService,
  type StationProfile,
  type Terminal,
} from './stations.service.js';
export { stationsError } from './stations.errors.js';
export {
  listGrades,
  createGrade,
  updateGrade,
  getNozzles,
  getPumps,
  setPumps,
  setNozzles,
  pricesInForce,
  priceInForce,
  setPrice,
  cancelPrice,
  nextPrices,
  priceHistory,
  type PriceHistoryItem,
  type PriceScope,
  type PriceTarget,
  forecourtFor,
  MAX_NOZZLES,
  type Grade,
  type Nozzle,
  type Pump,
  type GradeKind,
  type Price,
  type Forecourt,
  type ForecourtNozzle,
} from './forecourt.service.js';
export { checkSalePrice, type PriceVerdict } from './price-check.js';
export { priceStoreItems, MAX_STORE_LINES, type StoreLine, type StorePricing } from './goods-price.js';
// ── station network, goods, regional prices, price push (issue 4) ──
export { isOpenAt, openingHoursProblem, type OpeningHours, type OpeningWindow } from './opening-hours.js';
export { goodsRoutes } from './goods.routes.js';
export { createGoodsCategory, createGoods, updateGoods, listGoods, posCatalogue, type Goods, type GoodsCategory } from './goods.service.js';
export { priceStreamRoutes } from './price-stream.routes.js';
// ── stock, finder, promotions (issue 4) ──
export { stockRoutes } from './stock.routes.js';
export { finderRoutes } from './finder.routes.js';
export { promotionRoutes } from './promotions.routes.js';
export { seedDemoStock } from './stock.demo.js';
export { stockError } from './stock.errors.js';
export { promotionsError } from './promotions.errors.js';
// ── offline whitelist (issue 4) ──
export { whitelistRoutes } from './whitelist.routes.js';
export { whitelistError } from './whitelist.errors.js';
export { recordListDownload } from './whitelist.service.js';
