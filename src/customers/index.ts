export { customersRoutes } from './customers.routes.js';
export {
  createCustomer,
  getCustomer,
  findCustomers,
  customerExists,
  backfillCustomerNameIndex,
  normaliseName,
  normalisePhone,
  type Customer,
  type CustomerDeps,
  type CustomerQuery,
  type IdType,
} from './customers.service.js';
export { customersError } from './customers.errors.js';
