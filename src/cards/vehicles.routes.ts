import { Type } from 'typebox';
import type { App, Db } from '../platform/index.js';
import { access, actorOf, GradeCode, Id, maySeePersonalData, Nullable, StaffGroups, type Role } from '../platform/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { CardNoParams } from './cards.schemas.js';
import {
  bindCardToVehicle,
  createVehicle,
  getVehicle,
  listVehicles,
  maskPlate,
  MAX_TANK_CAPACITY_ML,
  MAX_VEHICLE_GRADES,
  retireVehicle,
  unbindCardFromVehicle,
  updateVehicle,
  vehicleOfCardNo,
  type Vehicle,
} from './vehicles.js';

const bearer = [{ bearer: [] }];
const tags = ['vehicles'];
/** Fleet records are kept at the service desk; the forecourt only reads them. */
const EDITORS: Role[] = StaffGroups.serviceDesk;
/**
 * A customer's whole fleet links plates to a person in bulk: only roles that may see personal data
 * list it. The cashier checking one card's vehicle at the pump gets the plate masked.
 */
const FLEET_READERS: Role[] = StaffGroups.readers.filter((r) => maySeePersonalData(r));
const PLATE_FIELD = 'vehicles.plate';

/** The vehicle as the caller may see it: the plate in clear for personal-data roles, masked for the other readers. */
function shownTo(role: Role | undefined, v: Vehicle): Vehicle {
  return maySeePersonalData(role) ? v : { ...v, plate: maskPlate(v.plate) };
}

// Bounds here only keep garbage out of the schema; the service gives the domain's own codes
// (VEHICLE_PLATE_INVALID, VEHICLE_TANK_INVALID, VEHICLE_GRADE_UNKNOWN) for values in range.
const Plate = Type.String({ minLength: 1, maxLength: 20, description: 'Chinese plate, e.g. 沪A12345 or 沪AD12345 (new energy); stored upper case without separators' });
const TankMl = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: `Tank capacity in millilitres (1 to ${MAX_TANK_CAPACITY_ML})` });
const Grades = Type.Array(GradeCode(), { minItems: 1, maxItems: MAX_VEHICLE_GRADES, description: 'fuel_grades codes the vehicle takes, e.g. ["0#"]' });

export const VehicleSchema = Type.Object({
  id: Type.Integer(),
  customerId: Type.Integer(),
  plate: Type.String(),
  tankCapacityMl: Type.Integer(),
  grades: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('retired')]),
  cardCount: Type.Integer({ description: 'Cards bound to it that are not closed or replaced' }),
  retiredAt: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const VehicleParams = Type.Object({ id: Id() });

export function vehiclesRoutes(app: App, deps: { db: Db }): void {
  app.post(
    '/api/v1/vehicles',
    {
      config: { access: access.roles(...EDITORS) },
      schema: {
        tags,
        summary: 'Register a vehicle of a customer / 登记车辆',
        description: 'Plate unique among the customer’s vehicles in service (409 VEHICLE_PLATE_TAKEN). Audited as vehicle.create.',
        security: bearer,
        body: Type.Object({ customerId: Id(), plate: Plate, tankCapacityMl: TankMl, grades: Grades }, { additionalProperties: false }),
        response: { 201: VehicleSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await createVehicle(deps.db, actorOf(req), req.body)),
  );

  app.get(
    '/api/v1/vehicles',
    {
      config: { access: access.roles(...FLEET_READERS) },
      schema: {
        tags,
        summary: "A customer's vehicles / 客户车辆列表",
        description: 'Plates in clear, so only admin, operator and risk (others 403). Audited as privacy.view_unmasked with the vehicle ids as targets.',
        security: bearer,
        querystring: Type.Object({ customerId: Id(), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('retired')])) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(VehicleSchema) }) },
      },
    },
    async (req) => {
      const items = await listVehicles(deps.db, req.query.customerId, { status: req.query.status });
      if (items.length > 0) {
        await auditUnmaskedView(deps.db, actorOf(req), {
          targetType: 'vehicle',
          targetId: items.length === 1 ? items[0]!.id : null,
          fields: [PLATE_FIELD],
          route: 'GET /api/v1/vehicles',
          targets: items.map((v) => v.id),
        });
      }
      return { items };
    },
  );

  app.get(
    '/api/v1/vehicles/:id',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags,
        summary: 'A vehicle / 车辆详情',
        description: 'The plate in clear for admin, operator and risk (audited as privacy.view_unmasked), masked for the other readers (沪A***45).',
        security: bearer,
        params: VehicleParams,
        response: { 200: VehicleSchema },
      },
    },
    async (req) => {
      const vehicle = await getVehicle(deps.db, req.params.id);
      if (maySeePersonalData(req.staff?.role)) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'vehicle', targetId: vehicle.id, fields: [PLATE_FIELD], route: 'GET /api/v1/vehicles/:id' });
      }
      return shownTo(req.staff?.role, vehicle);
    },
  );

  app.patch(
    '/api/v1/vehicles/:id',
    {
      config: { access: access.roles(...EDITORS) },
      schema: {
        tags,
        summary: 'Correct a vehicle: plate, tank, grades / 修改车辆信息',
        description: 'A retired vehicle cannot change (409 VEHICLE_RETIRED). Audited as vehicle.update with before and after.',
        security: bearer,
        params: VehicleParams,
        body: Type.Object({ plate: Type.Optional(Plate), tankCapacityMl: Type.Optional(TankMl), grades: Type.Optional(Grades) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: VehicleSchema },
      },
    },
    async (req) => updateVehicle(deps.db, actorOf(req), req.params.id, req.body),
  );

  app.post(
    '/api/v1/vehicles/:id/retire',
    {
      config: { access: access.roles(...EDITORS) },
      schema: {
        tags,
        summary: 'Retire a vehicle (sold, scrapped) / 车辆停用',
        description: 'Refused while a card that is not closed or replaced is bound to it (409 VEHICLE_HAS_CARDS): rebind or unbind those cards first. Frees the plate.',
        security: bearer,
        params: VehicleParams,
        response: { 200: VehicleSchema },
      },
    },
    async (req) => retireVehicle(deps.db, actorOf(req), req.params.id),
  );

  app.get(
    '/api/v1/cards/:cardNo/vehicle',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags,
        summary: 'The vehicle a card is bound to / 卡绑定的车辆',
        description: 'The plate in clear for admin, operator and risk (audited as privacy.view_unmasked), masked for the other readers (沪A***45).',
        security: bearer,
        params: CardNoParams,
        response: { 200: Type.Object({ vehicle: Nullable(VehicleSchema) }) },
      },
    },
    async (req) => {
      const vehicle = await vehicleOfCardNo(deps.db, req.params.cardNo);
      if (vehicle === null) return { vehicle };
      if (maySeePersonalData(req.staff?.role)) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'vehicle', targetId: vehicle.id, fields: [PLATE_FIELD], route: 'GET /api/v1/cards/:cardNo/vehicle' });
      }
      return { vehicle: shownTo(req.staff?.role, vehicle) };
    },
  );

  app.put(
    '/api/v1/cards/:cardNo/vehicle',
    {
      config: { access: access.roles(...EDITORS) },
      schema: {
        tags,
        summary: 'Bind a card to a vehicle, or move it to another / 绑定车辆',
        description:
          'A personal or sub card of the vehicle’s own customer (409 VEHICLE_CARD_OTHER_CUSTOMER), not a master card (409 VEHICLE_CARD_KIND), ' +
          'to a vehicle in service (409 VEHICLE_RETIRED). Audited as card.bind_vehicle. Binding to the same vehicle again changes nothing.',
        security: bearer,
        params: CardNoParams,
        body: Type.Object({ vehicleId: Id() }, { additionalProperties: false }),
        response: { 200: Type.Object({ vehicle: VehicleSchema }) },
      },
    },
    async (req) => ({ vehicle: await bindCardToVehicle(deps.db, actorOf(req), req.params.cardNo, req.body.vehicleId) }),
  );

  app.delete(
    '/api/v1/cards/:cardNo/vehicle',
    {
      config: { access: access.roles(...EDITORS) },
      schema: {
        tags,
        summary: 'Unbind a card from its vehicle / 解绑车辆',
        description: 'The tank and grade risk rules stop applying to the card. Audited as card.unbind_vehicle; a card with no vehicle is left as it is.',
        security: bearer,
        params: CardNoParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await unbindCardFromVehicle(deps.db, actorOf(req), req.params.cardNo);
      return reply.status(204).send(null);
    },
  );
}
