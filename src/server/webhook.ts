import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Pool } from '../infra/db.js';
import { HttpError } from './errors.js';

/**
 * Signed webhooks for tracking tools that cannot hold an API key, by the Standard Webhooks
 * specification (the scheme of our outbound webhooks too): the sender sends
 * `webhook-id`, `webhook-timestamp` (unix seconds) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">` (several,
 * space-separated, during a rotation). A secret is `whsec_<base64 key>`; any other configured
 * secret is used as its UTF-8 bytes. A signature by any configured secret passes.
 */
export const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;

/** The signer of one secret: `whsec_...` base64-decoded, anything else as raw bytes. */
const signerOf = (secret: string): Webhook => (secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' }));

/** The three headers a sender puts on `rawBody` (exported for senders' tests and our own). */
export function signWebhook(secret: string, rawBody: string | Buffer, timestamp = Math.floor(Date.now() / 1000), id = `msg_${timestamp}_${Math.random().toString(36).slice(2, 10)}`): Record<string, string> {
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signerOf(secret).sign(id, new Date(timestamp * 1000), body),
  };
}

export interface VerifiedDelivery {
  /** The delivery's webhook-id: the key a replay is recognised by. */
  id: string;
  /** The signed timestamp (unix seconds). */
  timestamp: number;
}

const unauthorized = (code: string, message: string) => new HttpError(401, code, message);

type Headers = Record<string, string | string[] | undefined>;
const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export class WebhookVerifier {
  private readonly signers: Webhook[];

  constructor(
    secrets: readonly string[],
    /** How far (seconds) the signed timestamp may be from now, either way. */
    readonly toleranceSeconds: number,
  ) {
    this.signers = secrets.map(signerOf);
  }

  /**
   * Checks a delivery: 401 `invalid_signature` when a header is missing or malformed or no
   * configured secret signed it; 401 `stale_signature` when a genuine signature is outside the
   * window. Signatures are compared in constant time.
   */
  verify(headers: Headers, rawBody: Buffer, nowSeconds = Date.now() / 1000): VerifiedDelivery {
    const id = header(headers, WEBHOOK_HEADERS.id);
    const timestampText = header(headers, WEBHOOK_HEADERS.timestamp);
    const presented = (header(headers, WEBHOOK_HEADERS.signature) ?? '')
      .split(' ')
      .filter((s) => s.startsWith('v1,'))
      .map((s) => Buffer.from(s.slice(3), 'base64'));
    if (!id || id.length > 256 || !/^[\x21-\x7e]+$/.test(id) || !timestampText || !/^\d{1,12}$/.test(timestampText) || presented.length === 0) {
      throw unauthorized(
        'invalid_signature',
        'sign by the Standard Webhooks scheme: headers webhook-id, webhook-timestamp (unix seconds) and webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">',
      );
    }
    const timestamp = Number(timestampText);
    const body = rawBody.toString('utf8');
    const expected = this.signers.map((signer) => Buffer.from(signer.sign(id, new Date(timestamp * 1000), body).slice(3), 'base64'));
    const matched = presented.some((p) => expected.some((e) => p.length === e.length && timingSafeEqual(p, e)));
    if (!matched) throw unauthorized('invalid_signature', 'the signature does not match the id, timestamp and body for any configured webhook secret');
    if (Math.abs(nowSeconds - timestamp) > this.toleranceSeconds) {
      throw unauthorized('stale_signature', `the signature's timestamp is more than ${this.toleranceSeconds} s from now; sign each delivery when sending it`);
    }
    return { id, timestamp };
  }
}

/**
 * Remembers a verified delivery's webhook-id until its timestamp leaves the window, so the same
 * delivery cannot be played twice: false when it was already seen (401 `replayed_signature`).
 * Rows past their expiry are deleted on the way.
 */
export async function claimDelivery(pool: Pool, delivery: VerifiedDelivery, toleranceSeconds: number): Promise<boolean> {
  await pool.query('DELETE FROM webhook_deliveries WHERE expires_at < now()');
  const inserted = await pool.query(
    `INSERT INTO webhook_deliveries (delivery_id, signed_at, expires_at)
     VALUES ($1, to_timestamp($2), to_timestamp($2) + make_interval(secs => $3)) ON CONFLICT (delivery_id) DO NOTHING`,
    [delivery.id, delivery.timestamp, toleranceSeconds],
  );
  return inserted.rowCount === 1;
}

/** Forgets a claimed delivery whose processing failed on our side, so the sender's retry is not a replay. */
export async function releaseDelivery(pool: Pool, delivery: VerifiedDelivery): Promise<void> {
  await pool.query('DELETE FROM webhook_deliveries WHERE delivery_id = $1', [delivery.id]);
}
