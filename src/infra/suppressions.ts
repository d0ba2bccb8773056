import { createHmac } from 'node:crypto';
import type pg from 'pg';
import type { SuppressionReason } from '../domain/deliverability.js';

export type { SuppressionReason };

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** How an erased lead's address is kept on the list: a keyed hash, never the address. */
const HASH_PREFIX = 'hmac-sha256:';

/**
 * The keyed hash of an address (HMAC-SHA256 with SUPPRESSION_HASH_KEY, of the lower-cased address):
 * the same address always gives the same hash, and without the key no one can test a guess.
 */
export const addressHash = (key: Buffer, email: string): string => `${HASH_PREFIX}${createHmac('sha256', key).update(email.trim().toLowerCase()).digest('hex')}`;

/**
 * Puts an address on the suppression list. The send activity reads the list inside the
 * transaction that holds the outbox row, right before each SMTP attempt, so an address added
 * here gets nothing from any later attempt, retries of a send already under way included.
 */
export async function suppressAddress(db: Queryable, email: string, reason: SuppressionReason, leadId: string | null): Promise<void> {
  await db.query(`INSERT INTO suppressions (email, reason, lead_id) VALUES (lower($1), $2, $3) ON CONFLICT (email) DO NOTHING`, [email, reason, leadId]);
}

/**
 * Erasure: the address leaves the list in plain text and stays on it as its keyed hash (no lead
 * id: the hash is not linked to the tombstone), so a new lead with that address is not mailed.
 */
export async function suppressAddressHashOnly(db: Queryable, email: string, hashKey: Buffer): Promise<void> {
  await db.query('DELETE FROM suppressions WHERE email = lower($1)', [email]);
  await db.query(`INSERT INTO suppressions (email, reason, lead_id) VALUES ($1, 'erased', NULL) ON CONFLICT (email) DO NOTHING`, [addressHash(hashKey, email)]);
}

/** The reason an address is suppressed, or null when it may be mailed; with `hashKey`, erased addresses (kept as hashes) count too. */
export async function suppressionOf(db: Queryable, email: string, hashKey?: Buffer): Promise<SuppressionReason | null> {
  const { rows } = await db.query<{ reason: SuppressionReason }>('SELECT reason FROM suppressions WHERE email = lower($1) OR email = $2 LIMIT 1', [email, hashKey ? addressHash(hashKey, email) : null]);
  return rows[0]?.reason ?? null;
}
