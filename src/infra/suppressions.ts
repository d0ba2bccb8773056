import type pg from 'pg';
import type { SuppressionReason } from '../domain/deliverability.js';

export type { SuppressionReason };

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Puts an address on the suppression list. The send activity reads the list inside the
 * transaction that holds the outbox row, right before each SMTP attempt, so an address added
 * here gets nothing from any later attempt, retries of a send already under way included.
 */
export async function suppressAddress(db: Queryable, email: string, reason: SuppressionReason, leadId: string | null): Promise<void> {
  await db.query(`INSERT INTO suppressions (email, reason, lead_id) VALUES (lower($1), $2, $3) ON CONFLICT (email) DO NOTHING`, [email, reason, leadId]);
}

/** The reason an address is suppressed, or null when it may be mailed. */
export async function suppressionOf(db: Queryable, email: string): Promise<SuppressionReason | null> {
  const { rows } = await db.query<{ reason: SuppressionReason }>('SELECT reason FROM suppressions WHERE email = lower($1)', [email]);
  return rows[0]?.reason ?? null;
}
