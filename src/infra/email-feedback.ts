import { createHash } from 'node:crypto';
import type pg from 'pg';
import { suppressionFor, type EmailFeedback, type SuppressionReason } from '../domain/deliverability.js';
import { suppressAddress } from './suppressions.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** What recording a batch of feedback did. */
export interface FeedbackOutcome {
  /** New feedback stored. */
  recorded: number;
  /** Feedback already stored (a notification delivered again): nothing changed. */
  duplicates: number;
  /** Addresses this batch put on the suppression list (or that were on it already for this reason). */
  suppressed: number;
}

/** Soft bounces in a row after the last delivery default (SOFT_BOUNCE_LIMIT). */
export const DEFAULT_SOFT_BOUNCE_LIMIT = 3;

// The dedupe key names the address: stored as a digest, so no column but `email` holds it.
const digest = (key: string): string => createHash('sha256').update(key).digest('hex');

/** Our Message-ID with or without its angle brackets. */
const bracketed = (messageId: string): string => (messageId.startsWith('<') ? messageId : `<${messageId}>`);

/**
 * Stores feedback (a repeat of a stored one changes nothing), ties each to the email it is about
 * (our Message-ID) or else to the newest lead with that address, and suppresses the address when
 * the rule says so (suppressionFor: hard bounce, complaint, `softBounceLimit` soft bounces in a
 * row since the last delivery). Runs on `db`, so a caller can make it part of its transaction.
 */
export async function recordFeedback(db: Queryable, items: readonly EmailFeedback[], options: { softBounceLimit: number; sendKey?: string; leadId?: string }): Promise<FeedbackOutcome> {
  const outcome: FeedbackOutcome = { recorded: 0, duplicates: 0, suppressed: 0 };
  for (const item of items) {
    const about = options.sendKey
      ? { send_key: options.sendKey, lead_id: options.leadId ?? null }
      : ((item.messageId
          ? (await db.query<{ send_key: string; lead_id: string }>('SELECT send_key, lead_id FROM email_outbox WHERE message_id = $1 LIMIT 1', [bracketed(item.messageId)])).rows[0]
          : undefined) ?? { send_key: null, lead_id: (await db.query<{ id: string }>('SELECT id FROM leads WHERE lower(email) = lower($1) ORDER BY created_at DESC LIMIT 1', [item.email])).rows[0]?.id ?? null });
    const inserted = await db.query(
      `INSERT INTO email_feedback (dedupe_key, email, kind, source, send_key, lead_id, detail, at)
       VALUES ($1, lower($2), $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING`,
      [digest(item.dedupeKey), item.email, item.kind, item.source, about.send_key, about.lead_id, item.detail?.slice(0, 200) ?? null, item.at],
    );
    if (inserted.rowCount === 0) {
      outcome.duplicates += 1;
      continue;
    }
    outcome.recorded += 1;
    const reason = suppressionFor(item.kind, item.kind === 'soft_bounce' ? await softBouncesInRow(db, item.email) : 0, options.softBounceLimit);
    if (reason) {
      await suppressAddress(db, item.email, reason, about.lead_id);
      outcome.suppressed += 1;
    }
  }
  return outcome;
}

/** Soft bounces of the address after its last delivery (all of them when none was delivered). */
export async function softBouncesInRow(db: Queryable, email: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM email_feedback
      WHERE email = lower($1) AND kind = 'soft_bounce'
        AND at > coalesce((SELECT max(at) FROM email_feedback WHERE email = lower($1) AND kind = 'delivery'), '-infinity'::timestamptz)`,
    [email],
  );
  return rows[0]?.n ?? 0;
}

/** The deliverability of a lead's address as its detail shows it. */
export interface Deliverability {
  /** Why the address gets no marketing email, or null. */
  suppressed: SuppressionReason | null;
  hardBounces: number;
  softBounces: number;
  /** Soft bounces since the last delivery: at SOFT_BOUNCE_LIMIT the address is suppressed. */
  softBouncesInRow: number;
  complaints: number;
  deliveries: number;
}

export async function deliverabilityOf(db: Queryable, email: string): Promise<Deliverability> {
  const { rows } = await db.query<Omit<Deliverability, 'softBouncesInRow'>>(
    `SELECT (SELECT reason FROM suppressions WHERE email = lower($1)) AS suppressed,
            count(*) FILTER (WHERE kind = 'hard_bounce')::int AS "hardBounces",
            count(*) FILTER (WHERE kind = 'soft_bounce')::int AS "softBounces",
            count(*) FILTER (WHERE kind = 'complaint')::int AS complaints,
            count(*) FILTER (WHERE kind = 'delivery')::int AS deliveries
       FROM email_feedback WHERE email = lower($1)`,
    [email],
  );
  return { ...rows[0]!, softBouncesInRow: await softBouncesInRow(db, email) };
}
