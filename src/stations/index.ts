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
