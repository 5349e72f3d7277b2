import { sql } from 'kysely';
import type { Actor, Db, Executor, Trx } from '../platform/index.js';
import { audit, defineErrors, maskCardNo, pgConstraint, pgErrorCode, PgCode } from '../platform/index.js';
import { customerExists, customersError } from '../customers/index.js';
import { cardsError } from './cards.errors.js';
import { lockCardByNo, recordCardEvent } from './cards.repository.js';

/**
 * Fleet vehicles (车辆) and the card bound to each (车辆卡). The risk rules tank_capacity and
 * grade_mismatch read the bound vehicle's tank and fuels; see docs/vehicles.md.
 */

export const vehiclesError = defineErrors('vehicles', {
  VEHICLE_NOT_FOUND: { status: 404, iso: '902', zh: '车辆不存在', en: 'Vehicle not found' },
  VEHICLE_PLATE_INVALID: { status: 400, iso: '904', zh: '车牌号格式不正确', en: 'Licence plate is not a valid Chinese plate' },
  VEHICLE_TANK_INVALID: { status: 400, iso: '904', zh: '油箱容量必须为 1 至 2000000 毫升的整数', en: 'Tank capacity must be a whole number of millilitres from 1 to 2,000,000' },
  VEHICLE_GRADE_UNKNOWN: { status: 400, iso: '904', zh: '油品编码不存在或已停用', en: 'Unknown or inactive fuel grade' },
  VEHICLE_PLATE_TAKEN: { status: 409, iso: '902', zh: '该客户已登记此车牌的在用车辆', en: 'The customer already has a vehicle in service with this plate' },
  VEHICLE_RETIRED: { status: 409, iso: '119', zh: '车辆已停用', en: 'The vehicle is retired' },
  VEHICLE_HAS_CARDS: { status: 409, iso: '119', zh: '车辆仍绑定未销户的卡，请先解绑或改绑', en: 'Cards that are not closed are still bound to the vehicle: unbind or rebind them first' },
  VEHICLE_CARD_OTHER_CUSTOMER: { status: 409, iso: '119', zh: '只能绑定同一客户名下的卡', en: 'Only a card of the vehicle’s own customer can be bound to it' },
  VEHICLE_CARD_KIND: { status: 409, iso: '119', zh: '主卡不能加油，不能绑定车辆', en: 'A master card cannot buy fuel and cannot be bound to a vehicle' },
});

/** A tanker truck's own fuel tanks, not its cargo: anything larger is a typing error. */
export const MAX_TANK_CAPACITY_ML = 2_000_000;
export const MAX_VEHICLE_GRADES = 8;
/** A fleet's register is read in one page; beyond this the console needs paging. */
export const MAX_VEHICLES_LISTED = 1000;

// GA 36: province (省份简称), issuing-office letter, then the serial. Serials never use I or O.
const PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼';
const L = 'A-HJ-NP-Z';
const PLATE = new RegExp(
  `^[${PROVINCES}][${L}](?:` +
    `[${L}0-9]{5}` + // ordinary (蓝牌/黄牌): 沪A12345, 沪AB123C
    `|[${L}0-9]{4}[挂学警港澳]` + // trailer, learner, police, Hong Kong / Macau: 粤Z1234港
    `|[DF][${L}0-9][0-9]{4}` + // new energy, small (绿牌): 沪AD12345
    `|[0-9]{5}[DF]` + // new energy, large: 沪A12345D
    `)$`,
  'u',
);

/**
 * The plate as stored: full-width letters and digits folded (NFKC), separators people type
 * (沪A·12345, 沪A-12345, spaces) dropped, upper case. Null when it is not a plate.
 */
export function normalisePlate(input: string): string | null {
  const plate = input
    .normalize('NFKC')
    .replace(/[\s·•.-]/gu, '')
    .toUpperCase();
  return PLATE.test(plate) ? plate : null;
}

/** Moved to platform masking (the privacy register applies it too); re-exported for this module's callers. */
export { maskPlate } from '../platform/index.js';

export type VehicleStatus = 'active' | 'retired';

export interface Vehicle {
  id: number;
  customerId: number;
  plate: string;
  tankCapacityMl: number;
  grades: string[];
  status: VehicleStatus;
  /** Cards bound to the vehicle that are not closed or replaced. */
  cardCount: number;
  retiredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the risk engine reads about a card's vehicle (RiskContext.vehicle). */
export interface CardVehicleForRisk {
  plate: string;
  tankCapacityMl: number;
  grades: string[];
}

export interface VehicleInput {
  customerId: number;
  plate: string;
  tankCapacityMl: number;
  grades: string[];
}

export type VehiclePatch = Partial<Omit<VehicleInput, 'customerId'>>;

interface VehicleRow {
  id: number;
  customer_id: number;
  plate: string;
  tank_capacity_ml: number;
  grades: string[];
  status: VehicleStatus;
  retired_at: Date | null;
  created_at: Date;
  updated_at: Date;
  card_count: number;
}

const OPEN_CARD = sql`c.status not in ('closed', 'replaced')`;

const VEHICLE_SELECT = sql`v.id, v.customer_id, v.plate, v.tank_capacity_ml, v.grades, v.status, v.retired_at, v.created_at, v.updated_at,
  (select count(*)::int from cards c where c.vehicle_id = v.id and ${OPEN_CARD}) as card_count`;

function present(r: VehicleRow): Vehicle {
  return {
    id: r.id,
    customerId: r.customer_id,
    plate: r.plate,
    tankCapacityMl: r.tank_capacity_ml,
    grades: r.grades,
    status: r.status,
    cardCount: r.card_count,
    retiredAt: r.retired_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function checkPlate(plate: string): string {
  const p = normalisePlate(plate);
  if (p === null) throw vehiclesError('VEHICLE_PLATE_INVALID', { field: 'plate' });
  return p;
}

function checkTank(ml: number): number {
  if (!Number.isSafeInteger(ml) || ml < 1 || ml > MAX_TANK_CAPACITY_ML) throw vehiclesError('VEHICLE_TANK_INVALID', { field: 'tankCapacityMl', max: MAX_TANK_CAPACITY_ML });
  return ml;
}

/** Each code must be an active fuel grade; order kept, duplicates dropped. */
async function checkGrades(db: Executor, grades: string[]): Promise<string[]> {
  const unique = [...new Set(grades)];
  if (unique.length < 1 || unique.length > MAX_VEHICLE_GRADES) throw vehiclesError('VEHICLE_GRADE_UNKNOWN', { field: 'grades', max: MAX_VEHICLE_GRADES });
  const known = await sql<{ code: string }>`select code from fuel_grades where code = any(${unique}::text[]) and active`.execute(db);
  const have = new Set(known.rows.map((r) => r.code));
  const unknown = unique.filter((g) => !have.has(g));
  if (unknown.length > 0) throw vehiclesError('VEHICLE_GRADE_UNKNOWN', { field: 'grades', grades: unknown });
  return unique;
}

function plateTaken(err: unknown): boolean {
  return pgErrorCode(err) === PgCode.uniqueViolation && pgConstraint(err) === 'vehicles_active_plate';
}

async function findVehicle(db: Executor, id: number): Promise<VehicleRow | undefined> {
  const r = await sql<VehicleRow>`select ${VEHICLE_SELECT} from vehicles v where v.id = ${id}`.execute(db);
  return r.rows[0];
}

/**
 * `update`: exclusive, for changes to the vehicle itself (and retiring, which must see every
 * binding). `share`: a binding, which must not slip past a concurrent retire.
 */
async function lockVehicle(trx: Trx, id: number, mode: 'update' | 'share'): Promise<VehicleRow> {
  const locked = await sql<{ id: number }>`select id from vehicles where id = ${id} ${mode === 'update' ? sql`for update` : sql`for share`}`.execute(trx);
  if (locked.rows.length === 0) throw vehiclesError('VEHICLE_NOT_FOUND', { vehicleId: id });
  // A fresh statement after the wait, so the card count sees bindings committed meanwhile.
  return (await findVehicle(trx, id))!;
}

export async function getVehicle(db: Executor, id: number): Promise<Vehicle> {
  const v = await findVehicle(db, id);
  if (!v) throw vehiclesError('VEHICLE_NOT_FOUND', { vehicleId: id });
  return present(v);
}

export async function listVehicles(db: Executor, customerId: number, opts: { status?: VehicleStatus } = {}): Promise<Vehicle[]> {
  const r = await sql<VehicleRow>`select ${VEHICLE_SELECT} from vehicles v
    where v.customer_id = ${customerId} ${opts.status ? sql`and v.status = ${opts.status}` : sql``}
    order by v.status, v.plate, v.id limit ${MAX_VEHICLES_LISTED}`.execute(db);
  return r.rows.map(present);
}

export async function createVehicle(db: Db, actor: Actor, input: VehicleInput): Promise<Vehicle> {
  const plate = checkPlate(input.plate);
  const tank = checkTank(input.tankCapacityMl);
  return db.transaction().execute(async (trx) => {
    if (!(await customerExists(trx, input.customerId))) throw customersError('CUSTOMER_NOT_FOUND', { customerId: input.customerId });
    const grades = await checkGrades(trx, input.grades);
    let id: number;
    try {
      const r = await sql<{ id: number }>`insert into vehicles (customer_id, plate, tank_capacity_ml, grades)
        values (${input.customerId}, ${plate}, ${tank}, ${grades}::text[]) returning id`.execute(trx);
      id = r.rows[0]!.id;
    } catch (err) {
      if (plateTaken(err)) throw vehiclesError('VEHICLE_PLATE_TAKEN', { field: 'plate', plate });
      throw err;
    }
    await audit(trx, actor, { action: 'vehicle.create', targetType: 'vehicle', targetId: id, details: { customerId: input.customerId, plate, tankCapacityMl: tank, grades } });
    return present((await findVehicle(trx, id))!);
  });
}

export async function updateVehicle(db: Db, actor: Actor, id: number, patch: VehiclePatch): Promise<Vehicle> {
  const plate = patch.plate === undefined ? undefined : checkPlate(patch.plate);
  const tank = patch.tankCapacityMl === undefined ? undefined : checkTank(patch.tankCapacityMl);
  return db.transaction().execute(async (trx) => {
    const before = await lockVehicle(trx, id, 'update');
    if (before.status === 'retired') throw vehiclesError('VEHICLE_RETIRED', { vehicleId: id });
    const grades = patch.grades === undefined ? undefined : await checkGrades(trx, patch.grades);
    try {
      await sql`update vehicles set plate = ${plate ?? before.plate}, tank_capacity_ml = ${tank ?? before.tank_capacity_ml},
        grades = ${grades ?? before.grades}::text[], updated_at = now() where id = ${id}`.execute(trx);
    } catch (err) {
      if (plateTaken(err)) throw vehiclesError('VEHICLE_PLATE_TAKEN', { field: 'plate', plate });
      throw err;
    }
    const after = (await findVehicle(trx, id))!;
    await audit(trx, actor, {
      action: 'vehicle.update',
      targetType: 'vehicle',
      targetId: id,
      details: {
        before: { plate: before.plate, tankCapacityMl: before.tank_capacity_ml, grades: before.grades },
        after: { plate: after.plate, tankCapacityMl: after.tank_capacity_ml, grades: after.grades },
      },
    });
    return present(after);
  });
}

/**
 * Take a vehicle out of service (sold, scrapped). Refused while a card that can still buy fuel is
 * bound to it: silently unbinding would switch the tank and grade checks off for that card, so
 * staff rebind it to the new vehicle or unbind it on purpose. Bindings of closed and replaced
 * cards stay as history.
 */
export async function retireVehicle(db: Db, actor: Actor, id: number): Promise<Vehicle> {
  return db.transaction().execute(async (trx) => {
    const v = await lockVehicle(trx, id, 'update');
    if (v.status === 'retired') throw vehiclesError('VEHICLE_RETIRED', { vehicleId: id });
    if (v.card_count > 0) throw vehiclesError('VEHICLE_HAS_CARDS', { vehicleId: id, cards: v.card_count });
    await sql`update vehicles set status = 'retired', retired_at = now(), updated_at = now() where id = ${id}`.execute(trx);
    await audit(trx, actor, { action: 'vehicle.retire', targetType: 'vehicle', targetId: id, details: { customerId: v.customer_id, plate: v.plate } });
    return present((await findVehicle(trx, id))!);
  });
}

async function boundVehicleId(db: Executor, cardId: number): Promise<number | null> {
  const r = await sql<{ vehicle_id: number | null }>`select vehicle_id from cards where id = ${cardId}`.execute(db);
  return r.rows[0]?.vehicle_id ?? null;
}

/**
 * Bind the card to the vehicle, or move it from the vehicle it was bound to. Only a card that
 * can buy fuel (personal or sub, not closed or replaced) of the vehicle's own customer.
 */
export async function bindCardToVehicle(db: Db, actor: Actor, cardNo: string, vehicleId: number): Promise<Vehicle> {
  return db.transaction().execute(async (trx) => {
    const card = await lockCardByNo(trx, cardNo);
    if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
    if (card.status === 'closed' || card.status === 'replaced') throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'bind-vehicle' });
    if (card.kind === 'master') throw vehiclesError('VEHICLE_CARD_KIND', { kind: card.kind });
    const v = await lockVehicle(trx, vehicleId, 'share');
    if (v.status === 'retired') throw vehiclesError('VEHICLE_RETIRED', { vehicleId });
    if (card.customer_id !== v.customer_id) throw vehiclesError('VEHICLE_CARD_OTHER_CUSTOMER', { vehicleId });
    const previous = await boundVehicleId(trx, card.id);
    if (previous !== vehicleId) {
      await sql`update cards set vehicle_id = ${vehicleId}, updated_at = now() where id = ${card.id}`.execute(trx);
      const details = { vehicleId, plate: v.plate, previousVehicleId: previous };
      await recordCardEvent(trx, card.id, 'bind-vehicle', card.status, card.status, details);
      await audit(trx, actor, { action: 'card.bind_vehicle', targetType: 'card', targetId: maskCardNo(card.card_no), details });
    }
    return present((await findVehicle(trx, vehicleId))!);
  });
}

/** Unbind the card from its vehicle. Unbinding a card that has none changes nothing (a safe retry). */
export async function unbindCardFromVehicle(db: Db, actor: Actor, cardNo: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const card = await lockCardByNo(trx, cardNo);
    if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
    const previous = await boundVehicleId(trx, card.id);
    if (previous === null) return;
    // A closed or replaced card keeps its binding as history; unbinding it is refused like any change.
    if (card.status === 'closed' || card.status === 'replaced') throw cardsError('CARD_OPERATION_NOT_ALLOWED', { status: card.status, operation: 'unbind-vehicle' });
    await sql`update cards set vehicle_id = null, updated_at = now() where id = ${card.id}`.execute(trx);
    const details = { previousVehicleId: previous };
    await recordCardEvent(trx, card.id, 'unbind-vehicle', card.status, card.status, details);
    await audit(trx, actor, { action: 'card.unbind_vehicle', targetType: 'card', targetId: maskCardNo(card.card_no), details });
  });
}

/** The vehicle a card is bound to, retired or not (the console shows both); null when none. */
export async function vehicleOfCardNo(db: Executor, cardNo: string): Promise<Vehicle | null> {
  const r = await sql<{ id: number; vehicle_id: number | null }>`select id, vehicle_id from cards where card_no = ${cardNo}`.execute(db);
  const card = r.rows[0];
  if (!card) throw cardsError('CARD_NOT_FOUND', { cardNo: maskCardNo(cardNo) });
  return card.vehicle_id === null ? null : present((await findVehicle(db, card.vehicle_id))!);
}

/**
 * The bound vehicle as the risk engine reads it (RiskContext.vehicle), or null: no card, no
 * binding, or a retired vehicle. The sale path folds the same left join into its card query
 * instead of calling this (docs/vehicles.md).
 */
export async function vehicleOfCard(db: Executor, cardId: number): Promise<CardVehicleForRisk | null> {
  const r = await sql<{ plate: string; tank_capacity_ml: number; grades: string[] }>`
    select v.plate, v.tank_capacity_ml, v.grades from cards c
    join vehicles v on v.id = c.vehicle_id and v.status = 'active'
    where c.id = ${cardId}`.execute(db);
  const v = r.rows[0];
  return v ? { plate: v.plate, tankCapacityMl: v.tank_capacity_ml, grades: v.grades } : null;
}
