import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, actorOf, customerScopeOf, FreeText, Id, inCustomerScope, StaffGroups } from '../platform/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { customersError } from './customers.errors.js';
import { createCustomer, findCustomers, getCustomer, ID_TYPES, setRealNameStatus, type CustomerDeps } from './customers.service.js';

export const CustomerSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  name: Type.String(),
  phone: Type.String(),
  idType: Type.String(),
  idNumber: Type.String(),
  realNameStatus: Type.String(),
  masked: Type.Boolean(),
  createdAt: Type.String(),
});
const bearer = [{ bearer: [] }];
/** Register entries (src/privacy/register.ts) a role that may see personal data is shown in clear. */
const UNMASKED_CUSTOMER_FIELDS = ['customers.name_enc', 'customers.phone_enc', 'customers.id_number_enc'];

export function customersRoutes(app: App, deps: CustomerDeps): void {
  app.post(
    '/api/v1/customers',
    {
      config: { access: access.roles(...StaffGroups.counter) },
      schema: {
        tags: ['customers'],
        summary: 'Register a customer (individual) / 新增个人客户',
        security: bearer,
        body: Type.Object(
          {
            name: FreeText({ minLength: 1, maxLength: 50 }),
            // Length and format are checked by the service, so every bad number is CUSTOMER_PHONE_INVALID.
            phone: Type.String({ minLength: 1, maxLength: 20 }),
            idType: Type.Optional(Type.Union(ID_TYPES.map((t) => Type.Literal(t)))),
            idNumber: Type.String({ minLength: 5, maxLength: 30 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: CustomerSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createCustomer(deps, actorOf(req), req.body)),
  );

  app.get(
    '/api/v1/customers',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['customers'],
        summary: 'Find customers by exact full name, phone, ID number or card number; no filter lists the newest / 按姓名、手机号、证件号或卡号查询客户',
        description:
          'Filters combine. `name` is the exact full name (matched through a keyed index, never in clear); `cardNo` finds the holder of that card ' +
          '(a sub card: the fleet customer of its master card; an anonymous card has none). Newest customers first; `total` counts every match.',
        security: bearer,
        querystring: Type.Object({
          name: Type.Optional(FreeText({ minLength: 1, maxLength: 50 })),
          phone: Type.Optional(Type.String({ maxLength: 20 })),
          idNumber: Type.Optional(Type.String({ maxLength: 30 })),
          idType: Type.Optional(Type.Union(ID_TYPES.map((t) => Type.Literal(t)))),
          cardNo: Type.Optional(Type.String({ pattern: '^[0-9]{19}$' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(CustomerSchema), total: Type.Integer() }) },
      },
    },
    async (req) => {
      const found = await findCustomers(deps, { ...req.query, limit: req.query.limit ?? 20, offset: req.query.offset ?? 0 }, req.staff?.role);
      const clear = found.items.filter((c) => !c.masked);
      if (clear.length > 0) {
        await auditUnmaskedView(deps.db, actorOf(req), {
          targetType: 'customer',
          targetId: clear.length === 1 ? clear[0]!.id : null,
          targets: clear.map((c) => c.id),
          fields: UNMASKED_CUSTOMER_FIELDS,
          route: 'GET /api/v1/customers',
        });
      }
      return found;
    },
  );

  app.get(
    '/api/v1/customers/:id',
    {
      // An enterprise administrator sees its own customer only; any other id is the same 404 as a missing one.
      config: { access: access.roles(...StaffGroups.readers, 'enterprise_admin') },
      schema: {
        tags: ['customers'],
        summary: 'One customer (masked unless your role may see personal data) / 客户详情',
        security: bearer,
        params: Type.Object({ id: Id() }),
        response: { 200: CustomerSchema },
      },
    },
    async (req) => {
      if (!inCustomerScope(customerScopeOf(req.staff), req.params.id)) throw customersError('CUSTOMER_NOT_FOUND', { customerId: req.params.id });
      const customer = await getCustomer(deps, deps.db, req.params.id, req.staff?.role);
      if (!customer.masked) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'customer', targetId: customer.id, fields: UNMASKED_CUSTOMER_FIELDS, route: 'GET /api/v1/customers/:id' });
      }
      return customer;
    },
  );

  app.post(
    '/api/v1/customers/:id/real-name',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['customers'],
        summary: 'Record the real-name check result / 实名认证结果',
        security: bearer,
        params: Type.Object({ id: Id() }),
        body: Type.Object({ status: Type.Union([Type.Literal('verified'), Type.Literal('rejected')]) }, { additionalProperties: false }),
        response: { 200: CustomerSchema },
      },
    },
    async (req) => {
      const customer = await setRealNameStatus(deps, actorOf(req), req.params.id, req.body.status);
      // The answer is the customer in clear for these roles: a view like GET /customers/:id.
      if (!customer.masked) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'customer', targetId: customer.id, fields: UNMASKED_CUSTOMER_FIELDS, route: 'POST /api/v1/customers/:id/real-name' });
      }
      return customer;
    },
  );
}
