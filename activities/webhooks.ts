import { ApplicationFailure, Context } from '@temporalio/activity';
import { Webhook } from 'standardwebhooks';
import type { Pool } from '../src/infra/db.js';
import type { PayloadKey } from '../src/infra/payload-codec.js';
import { openSecret } from '../src/infra/secret-box.js';
import type { WebhookActivities } from './types.js';

export interface WebhookActivityDeps {
  pool: Pool;
  /** Keys the endpoints' signing secrets are sealed with (PAYLOAD_KEYS). */
  payloadKeys: readonly PayloadKey[];
  /** How long one request may take before the attempt counts as failed (default 15 s). */
  requestTimeoutMs?: number;
}

/** The longest error text an attempt keeps. */
const ERROR_KEPT = 500;

const attemptNo = (): number => {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (unit tests)
  }
};

/** The deliverer's activities over their dependencies (Standard Webhooks signing by the `standardwebhooks` package). */
export function createWebhookActivities({ pool, payloadKeys, requestTimeoutMs = 15_000 }: WebhookActivityDeps): WebhookActivities {
  async function record(outboxId: string, attempt: number, started: number, statusCode: number | null, error: string | null): Promise<void> {
    await pool.query(
      `INSERT INTO webhook_attempts (outbox_id, attempt, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (outbox_id, attempt) DO UPDATE SET at = now(), status_code = EXCLUDED.status_code, error = EXCLUDED.error, duration_ms = EXCLUDED.duration_ms`,
      [outboxId, attempt, statusCode, error?.slice(0, ERROR_KEPT) ?? null, Date.now() - started],
    );
    await pool.query(
      `UPDATE webhook_outbox SET attempts = greatest(attempts, $2), status = CASE WHEN $3 THEN 'delivered' ELSE status END,
              delivered_at = CASE WHEN $3 THEN now() ELSE delivered_at END WHERE id = $1`,
      [outboxId, attempt, statusCode !== null && statusCode >= 200 && statusCode < 300],
    );
  }

  return {
    async deliverWebhook({ outboxId }) {
      const { rows } = await pool.query<{ status: string; payload: unknown; url: string; secret_encrypted: string; deleted_at: Date | null }>(
        `SELECT o.status, o.payload, e.url, e.secret_encrypted, e.deleted_at
           FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id WHERE o.id = $1`,
        [outboxId],
      );
      const row = rows[0];
      if (!row) throw ApplicationFailure.nonRetryable(`webhook delivery ${outboxId} does not exist`, 'unknown_delivery');
      if (row.status === 'delivered') return 'delivered';
      if (row.deleted_at || row.status === 'cancelled') {
        await pool.query(`UPDATE webhook_outbox SET status = 'cancelled' WHERE id = $1 AND status = 'pending'`, [outboxId]);
        return 'cancelled';
      }
      const attempt = attemptNo();
      const body = JSON.stringify(row.payload);
      // Signed anew on each attempt (its own timestamp), always with the same webhook-id.
      const timestamp = new Date();
      const signature = new Webhook(openSecret(payloadKeys, row.secret_encrypted)).sign(outboxId, timestamp, body);
      const started = Date.now();
      let status: number;
      try {
        const response = await fetch(row.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Leadflow-Webhooks/1',
            'webhook-id': outboxId,
            'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
            'webhook-signature': signature,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        status = response.status;
        await response.body?.cancel().catch(() => undefined);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        const message = `${(error as Error).name === 'TimeoutError' ? `no answer within ${requestTimeoutMs / 1000} s` : (error as Error).message}${cause ? ` (${cause})` : ''}`;
        await record(outboxId, attempt, started, null, message);
        throw ApplicationFailure.retryable(`webhook ${outboxId}: ${message}`, 'webhook_unreachable');
      }
      if (status >= 200 && status < 300) {
        await record(outboxId, attempt, started, status, null);
        return 'delivered';
      }
      await record(outboxId, attempt, started, status, `the receiver answered ${status}`);
      throw ApplicationFailure.retryable(`webhook ${outboxId}: the receiver answered ${status}`, 'webhook_refused');
    },

    async giveUpWebhook({ outboxId }) {
      await pool.query(`UPDATE webhook_outbox SET status = 'failed' WHERE id = $1 AND status = 'pending'`, [outboxId]);
    },
  };
}
