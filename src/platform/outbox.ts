import { sql, type RawBuilder } from 'kysely';
import type { Executor } from './db.js';

/**
 * Record an event in the same transaction as the change it describes. Consumers
 * (risk, loyalty, notifications) read the outbox in order; nothing on the sale
 * path waits for them.
 */
export async function publish(db: Executor, topic: string, aggregateId: string, payload: unknown): Promise<void> {
  await sql`insert into outbox_events (topic, aggregate_id, payload)
    values (${topic}, ${aggregateId}, ${JSON.stringify(payload)}::jsonb)`.execute(db);
}

/**
 * The change and its event in one statement (one round trip): `change` is a data-modifying
 * statement (insert/update/delete) run as a CTE beside the outbox insert. For hot paths.
 */
export async function publishWith(db: Executor, change: RawBuilder<unknown>, topic: string, aggregateId: string, payload: unknown): Promise<void> {
  await sql`with change as (${change})
    insert into outbox_events (topic, aggregate_id, payload) values (${topic}, ${aggregateId}, ${JSON.stringify(payload)}::jsonb)`.execute(db);
}
