export { customersRoutes } from './customers.routes.js';
export { createCustomer, getCustomer, findCustomers, customerExists, type Customer, type IdType } from './customers.service.js';
export { customersError } from './customers.errors.js';
