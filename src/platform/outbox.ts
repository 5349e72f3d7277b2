import { sql } from 'kysely';
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
