import { Type } from 'typebox';
import type { App, Db } from '../platform/index.js';
import { access, actorOf, FreeText, Id, StaffGroups } from '../platform/index.js';
import { createGrade, getPumps, listGrades, MAX_PUMPS, setPumps, updateGrade } from './forecourt.service.js';

const bearer = [{ bearer: [] }];
const GradeKindSchema = Type.Union([Type.Literal('petrol'), Type.Literal('diesel'), Type.Literal('gas'), Type.Literal('other')]);
const GradeSchema = Type.Object({
  code: Type.String(),
  nameZh: Type.String(),
  nameEn: Type.String(),
  kind: GradeKindSchema,
  active: Type.Boolean(),
});
const GradeName = { nameZh: FreeText({ minLength: 1, maxLength: 40 }), nameEn: FreeText({ minLength: 1, maxLength: 60 }) };
const PumpList = Type.Object({
  items: Type.Array(
    Type.Object({ pump: Type.Integer(), name: Type.String(), nozzles: Type.Array(Type.Object({ nozzle: Type.Integer(), grade: Type.String() })) }),
  ),
  unassigned: Type.Array(Type.Object({ nozzle: Type.Integer(), grade: Type.String() }), { description: 'nozzles on no recorded pump' }),
});

/** Fuel grades: the list, and the operator's own additions, renames and deactivations (audited). */
export function gradeRoutes(app: App, deps: { db: Db }): void {
  app.get(
    '/api/v1/grades',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['forecourt'],
        summary: 'Fuel grades / 油品',
        security: bearer,
        querystring: Type.Object({ active: Type.Optional(Type.Boolean({ description: 'true: only grades that can be sold and priced' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(GradeSchema) }) },
      },
    },
    async (req) => ({ items: await listGrades(deps.db, { activeOnly: req.query.active === true }) }),
  );

  app.post(
    '/api/v1/grades',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: 'Add a fuel grade / 新增油品',
        description: 'Codes are what sales, nozzles, prices and card restrictions name: letters, digits and # + _ - (e.g. E92, LNG). 409 GRADE_CODE_TAKEN when it exists.',
        security: bearer,
        body: Type.Object(
          { code: Type.String({ pattern: '^[A-Za-z0-9#+_-]{1,16}$' }), ...GradeName, kind: GradeKindSchema },
          { additionalProperties: false },
        ),
        response: { 201: GradeSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createGrade(deps.db, actorOf(req), req.body)),
  );

  app.patch(
    '/api/v1/grades/:code',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: 'Rename or (de)activate a fuel grade / 修改或停用油品',
        description: 'A deactivated grade takes no new prices or nozzles; deactivating one a nozzle still sells is 409 GRADE_IN_USE. The code never changes.',
        security: bearer,
        params: Type.Object({ code: Type.String({ pattern: '^[A-Za-z0-9#+_-]{1,16}$' }) }),
        body: Type.Object(
          { nameZh: Type.Optional(GradeName.nameZh), nameEn: Type.Optional(GradeName.nameEn), active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: GradeSchema },
      },
    },
    async (req) => updateGrade(deps.db, actorOf(req), req.params.code, req.body),
  );
}

/** A station's pumps (加油机) and the nozzles on each. */
export function pumpRoutes(app: App, deps: { db: Db }): void {
  const IdParams = Type.Object({ id: Id() });
  app.get(
    '/api/v1/stations/:id/pumps',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: { tags: ['forecourt'], summary: "A station's pumps and their nozzles / 油站加油机", security: bearer, params: IdParams, response: { 200: PumpList } },
    },
    async (req) => getPumps(deps.db, req.params.id),
  );

  app.put(
    '/api/v1/stations/:id/pumps',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['forecourt'],
        summary: "Replace a station's pump list / 设置油站加油机",
        description:
          'Replaces the whole list. Nozzles are put on pumps by PUT /api/v1/stations/{id}/nozzles (each item’s pump). ' +
          'Removing a pump that nozzles still hang on is 409 PUMP_IN_USE. Audited as station.pumps_set.',
        security: bearer,
        params: IdParams,
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object({ pump: Type.Integer({ minimum: 1, maximum: 99 }), name: Type.Optional(FreeText({ maxLength: 40, description: 'e.g. 1号机 (岛 A)' })) }, { additionalProperties: false }),
              { maxItems: MAX_PUMPS },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PumpList },
      },
    },
    async (req) => setPumps(deps.db, actorOf(req), req.params.id, req.body.items),
  );
}
