import type pg from 'pg';
import { leadEventPayload, type LeadEvent } from '../domain/webhooks.js';
import type { Pool } from './db.js';

type Db = Pick<pg.PoolClient | Pool, 'query'>;

/**
 * Puts lead events into the webhook outbox: one row per endpoint subscribed to the event's type,
 * in the caller's transaction (the write that recorded what happened). The row's id is the
 * delivery's `webhook-id`; a second enqueue of the same event (a retried write) adds nothing.
 * A separate deliverer (src/leads/webhooks.ts) sends the rows: nobody here waits for a receiver.
 */
export async function enqueueLeadEvents(db: Db, events: readonly LeadEvent[], publicUrl: string): Promise<number> {
  let rows = 0;
  for (const event of events) {
    const { rowCount } = await db.query(
      `INSERT INTO webhook_outbox (id, endpoint_id, event_key, event_type, lead_id, payload)
       SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.id, $1, $2, $3, $4::jsonb
         FROM webhook_endpoints e
        WHERE e.deleted_at IS NULL AND $2 = ANY (e.events)
       ON CONFLICT (endpoint_id, event_key) DO NOTHING`,
      [event.key, event.type, event.subject.leadId, JSON.stringify(leadEventPayload(event, publicUrl))],
    );
    rows += rowCount ?? 0;
  }
  return rows;
}

/**
 * Publishes one lead event to every subscribed endpoint (durably: the deliverer picks it up).
 * For events recorded outside the lead's workflow: an unsubscribe at the edge, an erasure.
 * Pass the transaction's client to enqueue it with the change it reports.
 */
export function publishLeadEvent(db: Db, event: LeadEvent, publicUrl: string): Promise<number> {
  return enqueueLeadEvents(db, [event], publicUrl);
}
