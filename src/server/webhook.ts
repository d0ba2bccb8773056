import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Pool } from '../infra/db.js';
import { HttpError } from './errors.js';

/**
 * Signed webhooks for tracking tools that cannot hold an API key. The sender signs
 * `<unix seconds>.<raw body>` with HMAC-SHA256 and sends
 * `Leadflow-Signature: t=<unix seconds>,v1=<hex digest>[,v1=<hex digest>...]`.
 * Several secrets may be configured at once (rotation): a signature by any of them passes.
 */
export const SIGNATURE_HEADER = 'leadflow-signature';

const hmac = (secret: string, timestamp: number, rawBody: Buffer): Buffer =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();

/** The header value a sender puts on `rawBody` (exported for senders' tests and our own). */
export function signWebhook(secret: string, rawBody: string | Buffer, timestamp = Math.floor(Date.now() / 1000)): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return `t=${timestamp},v1=${hmac(secret, timestamp, body).toString('hex')}`;
}

export interface VerifiedDelivery {
  /** The v1 digest that matched, in hex: the key a replay is recognised by. */
  signature: string;
  /** The signed timestamp (unix seconds). */
  timestamp: number;
}

const unauthorized = (code: string, message: string) => new HttpError(401, code, message);

export class WebhookVerifier {
  constructor(
    private readonly secrets: readonly string[],
    /** How far (seconds) the signed timestamp may be from now, either way. */
    readonly toleranceSeconds: number,
  ) {}

  /**
   * Checks a delivery: 401 `invalid_signature` when the header is missing, malformed or signed
   * by no configured secret; 401 `stale_signature` when a genuine signature is outside the window.
   * Digests are compared in constant time.
   */
  verify(header: string | undefined, rawBody: Buffer, nowSeconds = Date.now() / 1000): VerifiedDelivery {
    const parsed = parseSignatureHeader(header);
    if (!parsed) {
      throw unauthorized('invalid_signature', `sign the raw body and send "Leadflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">"`);
    }
    const expected = this.secrets.map((secret) => hmac(secret, parsed.timestamp, rawBody));
    let matched: string | undefined;
    for (const candidate of parsed.signatures) {
      const presented = Buffer.from(candidate, 'hex');
      for (const digest of expected) if (presented.length === digest.length && timingSafeEqual(presented, digest)) matched = candidate;
    }
    if (!matched) throw unauthorized('invalid_signature', 'the signature does not match the body for any configured webhook secret');
    if (Math.abs(nowSeconds - parsed.timestamp) > this.toleranceSeconds) {
      throw unauthorized('stale_signature', `the signature's timestamp is more than ${this.toleranceSeconds} s from now; sign each delivery when sending it`);
    }
    return { signature: matched, timestamp: parsed.timestamp };
  }
}

function parseSignatureHeader(header: string | undefined): { timestamp: number; signatures: string[] } | undefined {
  if (!header) return undefined;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [name, value = ''] = part.trim().split('=', 2) as [string, string?];
    if (name === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (name === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  return timestamp !== undefined && signatures.length > 0 ? { timestamp, signatures } : undefined;
}

/**
 * Remembers a verified signature until its timestamp leaves the window, so the same delivery
 * cannot be played twice: false when it was already seen (401 `replayed_signature`).
 * Rows past their expiry are deleted on the way.
 */
export async function claimDelivery(pool: Pool, delivery: VerifiedDelivery, toleranceSeconds: number): Promise<boolean> {
  await pool.query('DELETE FROM webhook_deliveries WHERE expires_at < now()');
  const inserted = await pool.query(
    `INSERT INTO webhook_deliveries (signature, signed_at, expires_at)
     VALUES ($1, to_timestamp($2), to_timestamp($2) + make_interval(secs => $3)) ON CONFLICT (signature) DO NOTHING`,
    [delivery.signature, delivery.timestamp, toleranceSeconds],
  );
  return inserted.rowCount === 1;
}

/** Forgets a claimed delivery whose processing failed on our side, so the sender's retry is not a replay. */
export async function releaseDelivery(pool: Pool, delivery: VerifiedDelivery): Promise<void> {
  await pool.query('DELETE FROM webhook_deliveries WHERE signature = $1', [delivery.signature]);
}
