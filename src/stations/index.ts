export { stationsRoutes } from './stations.routes.js';
export { terminalAuthenticator, pruneNonces, forgetTerminal, spendTerminalNonce } from './terminal-auth.js';
export { createStation, getStation, listStations, registerTerminal, listTerminals, type Station, type Terminal } from './stations.service.js';
export { stationsError } from './stations.errors.js';
export {
  listGrades,
  getNozzles,
  setNozzles,
  pricesInForce,
  priceInForce,
  setPrice,
  cancelPrice,
  nextPrices,
  priceHistory,
  type PriceHistoryItem,
  forecourtFor,
  MAX_NOZZLES,
  type Grade,
  type Nozzle,
  type Price,
  type Forecourt,
  type ForecourtNozzle,
} from './forecourt.service.js';
export { checkSalePrice, type PriceVerdict } from './price-check.js';
export { priceStoreItems, MAX_STORE_LINES, type StoreLine, type StorePricing } from './goods-price.js';
// ── station network, goods, regional prices, price push (issue 4) ──
export { goodsRoutes } from './goods.routes.js';
export { priceStreamRoutes } from './price-stream.routes.js';
// ── stock, finder, promotions (issue 4) ──
export { stockRoutes } from './stock.routes.js';
export { finderRoutes } from './finder.routes.js';
export { promotionRoutes } from './promotions.routes.js';
// ── offline whitelist (issue 4) ──
export { whitelistRoutes } from './whitelist.routes.js';
