import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { DomainError, ErrorCodes } from '../domain/errors.js';
import type { LeadEventType } from '../domain/webhooks.js';
import type { Pool } from '../infra/db.js';
import type { PayloadKey } from '../infra/payload-codec.js';
import { sealSecret } from '../infra/secret-box.js';
import { WEBHOOK_DELIVERY_WORKFLOW_TYPE, WEBHOOKS_TASK_QUEUE, webhookDeliveryWorkflowId, type WebhookDeliveryInput } from '../../workflows/messages.js';

export { publishLeadEvent } from '../infra/webhook-outbox.js';

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: LeadEventType[];
  description: string | null;
  createdAt: string;
}

export interface WebhookAttempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  /** The delivery's `webhook-id`: the same on every attempt. */
  id: string;
  eventType: LeadEventType;
  leadId: string | null;
  status: 'pending' | 'delivered' | 'failed' | 'cancelled';
  attempts: WebhookAttempt[];
  createdAt: string;
  deliveredAt: string | null;
  payload: unknown;
}

/** How many deliveries `GET .../deliveries` lists, newest first. */
const DELIVERIES_LISTED = 100;

interface EndpointRow {
  id: string;
  url: string;
  events: LeadEventType[];
  description: string | null;
  created_at: Date;
}
const endpointOf = (r: EndpointRow): WebhookEndpoint => ({ id: r.id, url: r.url, events: r.events, description: r.description, createdAt: r.created_at.toISOString() });

/** A fresh Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** Admins' webhook endpoints: create (the secret shown once, stored sealed), list, delete, and the deliveries of one. */
export class WebhookEndpoints {
  constructor(private readonly deps: { pool: Pool; payloadKeys: readonly PayloadKey[] }) {}

  async create(input: { url: string; events: LeadEventType[]; description?: string }): Promise<WebhookEndpoint & { secret: string }> {
    const id = `ep_${randomBytes(9).toString('base64url')}`;
    const secret = newWebhookSecret();
    const { rows } = await this.deps.pool.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (id, url, events, description, secret_encrypted) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, url, events, description, created_at`,
      [id, input.url, [...new Set(input.events)], input.description ?? null, sealSecret(this.deps.payloadKeys, secret)],
    );
    return { ...endpointOf(rows[0]!), secret };
  }

  async list(): Promise<WebhookEndpoint[]> {
    const { rows } = await this.deps.pool.query<EndpointRow>('SELECT id, url, events, description, created_at FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY created_at, id');
    return rows.map(endpointOf);
  }

  /** Deletes an endpoint: it gets no new event, and its pending deliveries stop at their next attempt (its past deliveries stay listed). */
  async delete(id: string): Promise<void> {
    const { rowCount } = await this.deps.pool.query('UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL', [id]);
    if (!rowCount) throw new DomainError(ErrorCodes.webhookEndpointNotFound, `webhook endpoint ${id} does not exist`);
  }

  async deliveries(id: string): Promise<WebhookDelivery[]> {
    const { rowCount } = await this.deps.pool.query('SELECT 1 FROM webhook_endpoints WHERE id = $1', [id]);
    if (!rowCount) throw new DomainError(ErrorCodes.webhookEndpointNotFound, `webhook endpoint ${id} does not exist`);
    const { rows } = await this.deps.pool.query<{ id: string; event_type: LeadEventType; lead_id: string | null; status: WebhookDelivery['status']; created_at: Date; delivered_at: Date | null; payload: unknown; attempts: WebhookAttempt[] }>(
      `SELECT o.id, o.event_type, o.lead_id, o.status, o.created_at, o.delivered_at, o.payload,
              coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'statusCode', a.status_code, 'error', a.error, 'durationMs', a.duration_ms) ORDER BY a.attempt)
                          FROM webhook_attempts a WHERE a.outbox_id = o.id), '[]'::json) AS attempts
         FROM webhook_outbox o WHERE o.endpoint_id = $1 ORDER BY o.created_at DESC, o.id DESC LIMIT ${DELIVERIES_LISTED}`,
      [id],
    );
    return rows.map((r) => ({
      id: r.id,
      eventType: r.event_type,
      leadId: r.lead_id,
      status: r.status,
      attempts: r.attempts.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
      createdAt: r.created_at.toISOString(),
      deliveredAt: r.delivered_at?.toISOString() ?? null,
      payload: r.payload,
    }));
  }
}

export interface WebhookDispatcher {
  /** Starts the workflows of the rows waiting now (tests); resolves with how many it started. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The dispatcher in the worker: every `intervalMs` it starts one delivery workflow (task queue
 * `webhooks`) per outbox row not dispatched yet, oldest first. Starts are idempotent (the
 * workflow id is the row's), so two workers or a crash between start and mark deliver nothing twice.
 */
export function startWebhookDispatcher(
  deps: { pool: Pool; client: Client },
  options: { intervalMs?: number; retry?: WebhookDeliveryInput['retry']; logger?: { warn(fields: Record<string, unknown>, message: string): void } } = {},
): WebhookDispatcher {
  const intervalMs = options.intervalMs ?? 500;
  let stopped = false;
  let current: Promise<number> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const round = async (): Promise<number> => {
    const { rows } = await deps.pool.query<{ id: string }>('SELECT id FROM webhook_outbox WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT 200');
    let started = 0;
    for (const { id } of rows) {
      if (stopped) break;
      try {
        await deps.client.workflow.start(WEBHOOK_DELIVERY_WORKFLOW_TYPE, {
          workflowId: webhookDeliveryWorkflowId(id),
          taskQueue: WEBHOOKS_TASK_QUEUE,
          args: [{ outboxId: id, ...(options.retry ? { retry: options.retry } : {}) } satisfies WebhookDeliveryInput],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        started += 1;
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      await deps.pool.query('UPDATE webhook_outbox SET dispatched_at = now() WHERE id = $1', [id]);
    }
    return started;
  };

  const runOnce = () => {
    current ??= round().finally(() => (current = undefined));
    return current;
  };
  const tick = () => {
    if (stopped) return;
    runOnce()
      .catch((error: Error) => options.logger?.warn({ err: error.message }, 'webhook dispatcher round failed; retrying'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current?.catch(() => undefined);
    },
  };
}
