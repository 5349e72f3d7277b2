/**
 * The terminal host for forecourt POS and pump terminals speaking ISO 8583 over TCP (issue 6).
 * First wave: the codec (iso8583/), message security (crypto/: MAC, PIN blocks, key store, DUKPT)
 * and the transport (transport/: framing, the TCP server). Mapping messages onto the sales use
 * cases, sign-on and key exchange, exactly-once, the simulator and operations come next.
 */
export * as iso8583 from './iso8583/index.js';
export * as posCrypto from './crypto/index.js';
export * as posTransport from './transport/index.js';
export * as posHost from './host/index.js';
export { startPosGateway, runningPosGateway, type PosGateway, type PosConnection } from './gateway.js';
export { posGatewayRoutes } from './pos.routes.js';
export { keyCeremony } from './ceremony.js';
export { isoProductCode, gradeForProductCode } from './host/product-codes.js';
export { startPosHostJobs } from './host/jobs.js';
export { terminalHostRoutes } from './terminal-host.routes.js';
export { PosMessageLog, type MessageLogEntry, type PosMessageLogOptions } from './host/message-log.js';
