export { salesRoutes } from './sales.routes.js';
export { authoriseSale, decideSale, getSale, toSaleRecord, type SaleRequest, type SaleAnswer, type SaleRecord, type SaleRow } from './sales.service.js';
export { salesError, SALE_DECLINES } from './sales.errors.js';
