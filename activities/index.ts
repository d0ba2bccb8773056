import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { LeadProfile } from '../src/domain/lead.js';
import { inTransaction, type Pool } from '../src/infra/db.js';
import { isPermanentSmtpError, isTransientSmtpReply, type Mailer } from '../src/infra/mailer.js';
import { suppressionOf } from '../src/infra/suppressions.js';
import { DEFAULT_SOFT_BOUNCE_LIMIT, recordFeedback } from '../src/infra/email-feedback.js';
import type { Metrics } from '../src/infra/metrics.js';
import { trackEmail, type TrackingOptions } from '../src/infra/tracking.js';
import { ErrorCodes } from '../src/domain/errors.js';
import { renderTemplate } from '../src/sequences/catalog.js';
import { renderPinned } from '../src/sequences/templates.js';
import { UnknownTemplateError } from '../src/sequences/templates.js';
import type { PinnedEmail } from '../src/sequences/model.js';
import type { LeadActivities, RecordLeadStateInput, SendResult } from './types.js';
import { DEFAULT_PUBLIC_URL, leadConsoleUrl, leadEventsOf } from '../src/domain/webhooks.js';
import { enqueueLeadEvents } from '../src/infra/webhook-outbox.js';

export type * from './types.js';

/** Where activities write their structured log lines (pino in production). */
export interface ActivityLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ActivityDeps {
  pool: Pool;
  logger?: ActivityLogger;
  mailer: Mailer;
  config: {
    mailFrom: string;
    salesInbox: string;
    /** Gets the second SLA expiry of a review (default: the sales inbox). */
    salesManagerInbox?: string;
    /** Review owners, assigned round-robin; none means reviews go to the sales inbox unassigned. */
    salesOwners?: string[];
    /** Tracked links, open pixel and unsubscribe link in marketing email; absent: sent as rendered. */
    tracking?: TrackingOptions;
    /** Attempts a marketing email gets while the relay answers 4xx; then it counts as a soft bounce (SMTP_TRANSIENT_ATTEMPTS). Absent: retried as long as Temporal retries. */
    smtpTransientAttempts?: number;
    /** Soft bounces in a row that suppress the address (SOFT_BOUNCE_LIMIT, default 3). */
    softBounceLimit?: number;
    /** Base URL of the API and console (PUBLIC_URL): the sales notification and webhook payloads link to the lead's console page. */
    publicUrl?: string;
    /** Key of the hashes erased addresses stay suppressed as (SUPPRESSION_HASH_KEY); absent: only plain-text entries count. */
    suppressionHashKey?: Buffer;
  };
  metrics?: Pick<Metrics, 'emailsSent' | 'emailsSuppressed' | 'escalations'> & Partial<Pick<Metrics, 'slaBreaches' | 'emailsTemplateMissing'>>;
}

interface OutgoingEmail {
  sendKey: string;
  lead: LeadProfile;
  to: string;
  cc?: string;
  template: string;
  data?: Record<string, unknown>;
  /** The template pinned in the lead's snapshot: used whatever the template files say now. */
  pinned?: PinnedEmail;
}

/** The message with every mention of the recipient's address replaced: failure messages end up in Temporal's history. */
const withoutAddress = (message: string, address: string): string => message.split(new RegExp(address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi')).join('<recipient>');

/** A stable Message-ID per send key: a resend after a crash carries the same id. */
const messageIdFor = (sendKey: string): string => `<${createHash('sha256').update(sendKey).digest('hex').slice(0, 40)}@leadflow>`;

/** Which lead and workflow a log line is about (the activity's own context when there is one). */
const logContext = (leadId: string): Record<string, unknown> => {
  try {
    const { workflowExecution, activityType, attempt } = Context.current().info;
    return { leadId, workflowId: workflowExecution?.workflowId ?? `lead-${leadId}`, runId: workflowExecution?.runId, activity: activityType, attempt };
  } catch {
    return { leadId, workflowId: `lead-${leadId}` }; // called outside an activity (unit tests)
  }
};

/** How often a send tells Temporal it is alive: well inside the 10 s heartbeat timeout of the SMTP activities. */
const HEARTBEAT_EVERY_MS = 2000;

/**
 * Runs `work` heartbeating every 2 s, so a send cut off by a crash is noticed when its heartbeat
 * stops (10 s), not when its whole timeout runs out. Outside an activity (unit tests) it just runs.
 */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return work();
  }
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

const attempt = (): number => {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (unit tests)
  }
};

/** Builds the activities over their dependencies, so tests pass fakes without module mocking. */
export function createActivities({ pool, mailer, config, metrics, logger }: ActivityDeps): LeadActivities {
  const publicUrl = config.publicUrl ?? DEFAULT_PUBLIC_URL;
  /**
   * Sends at most once per send key. The outbox row is locked for the whole send, so two
   * attempts of one activity never race; a row already `sent` makes a retry a no-op.
   */
  function sendOnce(email: OutgoingEmail): Promise<SendResult> {
    return heartbeating(() => sendOnceNow(email));
  }

  /** Renders the email's template; a template that does not exist is a permanent failure (no retry can bring it back). */
  function render(email: OutgoingEmail): ReturnType<typeof renderTemplate> {
    // Content pinned in the lead's snapshot goes as it was published, whatever the files say now,
    // for the lead's profile as it is now.
    if (email.pinned) return renderPinned(email.pinned, email.lead);
    try {
      return renderTemplate(email.template, { lead: email.lead, data: email.data });
    } catch (error) {
      if (!(error instanceof UnknownTemplateError)) throw error;
      metrics?.emailsTemplateMissing?.inc({ template: email.template.slice(0, 100) });
      logger?.warn({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template }, 'email not sent: its template does not exist (npm run sequences -- check); the step is skipped');
      throw ApplicationFailure.nonRetryable(error.message, ErrorCodes.unknownTemplate, { template: email.template });
    }
  }

  async function sendOnceNow(email: OutgoingEmail): Promise<SendResult> {
    const rendered = render(email);
    // Marketing email carries tracked links, an open pixel and a one-click unsubscribe.
    const content =
      rendered.kind === 'marketing' && config.tracking
        ? { ...trackEmail(rendered, { leadId: email.lead.id, sendKey: email.sendKey, template: email.template }, config.tracking), kind: rendered.kind }
        : { ...rendered, headers: {} };
    // Set once the relay has accepted the message: from then on the send must be recorded, even
    // if the transaction holding the outbox row is lost (Postgres restarted mid-send).
    let handedOff: string | undefined;
    const send = inTransaction(pool, async (db) => {
      // An erased lead gets nothing more, not even a send its workflow asked for just before it
      // ended. The lead's row is locked first (erasure takes FOR UPDATE on it first too, then the
      // outbox): an erasure waits for a send under way, then scrubs it. KEY SHARE does not hold up
      // the read-model writes (plain UPDATEs) while SMTP answers.
      const { rows: lead } = await db.query<{ erased: boolean }>('SELECT erased_at IS NOT NULL AS erased FROM leads WHERE id = $1 FOR KEY SHARE', [email.lead.id]);
      if (lead[0]?.erased) return { sent: false, suppressed: true };
      await db.query(
        `INSERT INTO email_outbox (send_key, lead_id, kind, template, to_address, subject)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (send_key) DO NOTHING`,
        [email.sendKey, email.lead.id, content.kind, email.template, email.to, content.subject],
      );
      const { rows } = await db.query<{ status: string; message_id: string | null }>(
        'SELECT status, message_id FROM email_outbox WHERE send_key = $1 FOR UPDATE',
        [email.sendKey],
      );
      const row = rows[0]!;
      if (row.status === 'sent') {
        logger?.info({ ...logContext(email.lead.id), sendKey: email.sendKey }, 'email already sent: nothing to do');
        return { sent: false, messageId: row.message_id ?? undefined };
      }
      if (row.status === 'bounced') return { sent: false, bounced: true, ...(content.kind === 'marketing' ? { suppressed: true } : {}) };
      // The attempt that counted the soft bounce committed it; a rerun (a crash before its answer reached Temporal) sends nothing.
      if (row.status === 'soft_bounced') return { sent: false, softBounced: true };
      // Checked on every attempt, right before SMTP: an address unsubscribed or bounced while
      // this send was retrying gets nothing.
      if (content.kind === 'marketing') {
        if (await suppressionOf(db, email.to, config.suppressionHashKey)) {
          await db.query(`UPDATE email_outbox SET status = 'suppressed' WHERE send_key = $1`, [email.sendKey]);
          metrics?.emailsSuppressed.inc({ kind: content.kind });
          logger?.info({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template }, 'email not sent: recipient suppressed');
          return { sent: false, suppressed: true };
        }
      }
      const messageId = messageIdFor(email.sendKey);
      try {
        await mailer.send({
          from: config.mailFrom,
          to: email.to,
          ...(email.cc && email.cc !== email.to ? { cc: email.cc } : {}),
          subject: content.subject,
          text: content.text,
          html: content.html,
          messageId,
          headers: { ...content.headers, 'X-Leadflow-Send-Key': email.sendKey, 'X-Leadflow-Lead': email.lead.id },
        });
        handedOff = messageId;
      } catch (error) {
        const reason = (error as Error).message;
        const softBounce = content.kind === 'marketing' && isTransientSmtpReply(error) && config.smtpTransientAttempts !== undefined && attempt() >= config.smtpTransientAttempts;
        if (softBounce) {
          // The relay said "try again later" on every attempt we give it: a soft bounce. The send
          // ends here, recorded (the sequence moves on); enough of them in a row suppress the address.
          const detail = withoutAddress(reason, email.to).slice(0, 500);
          await db.query(`UPDATE email_outbox SET status = 'soft_bounced', attempts = $2, last_error = $3 WHERE send_key = $1`, [email.sendKey, attempt(), detail]);
          const { suppressed } = await recordFeedback(
            db,
            [{ dedupeKey: `smtp|${email.sendKey}`, email: email.to, kind: 'soft_bounce', source: 'smtp', at: new Date().toISOString(), detail: detail.slice(0, 200) }],
            { softBounceLimit: config.softBounceLimit ?? DEFAULT_SOFT_BOUNCE_LIMIT, sendKey: email.sendKey, leadId: email.lead.id },
          );
          metrics?.emailsSuppressed.inc({ kind: content.kind });
          logger?.warn({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template, err: detail, attempts: attempt() }, `email soft-bounced: the relay answered 4xx on every attempt${suppressed ? '; address suppressed' : ''}`);
          return { sent: false, softBounced: true, ...(suppressed ? { suppressed: true } : {}) };
        }
        if (!isPermanentSmtpError(error)) {
          logger?.warn({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template, err: withoutAddress(reason, email.to) }, 'email send failed: will retry');
          // Temporal keeps the last failure's message in plain text: relays often quote the address.
          throw Object.assign(new Error(withoutAddress(reason, email.to)), { responseCode: (error as { responseCode?: number }).responseCode });
        }
        // A 5xx is permanent: retrying cannot help. The address is suppressed (a hard bounce) so
        // no later marketing email tries it again, and the send ends here, recorded, not retried.
        await db.query(`UPDATE email_outbox SET status = 'bounced', attempts = $2, last_error = $3 WHERE send_key = $1`, [email.sendKey, attempt(), withoutAddress(reason, email.to).slice(0, 500)]);
        if (content.kind === 'marketing') {
          await recordFeedback(db, [{ dedupeKey: `smtp|${email.sendKey}`, email: email.to, kind: 'hard_bounce', source: 'smtp', at: new Date().toISOString(), detail: withoutAddress(reason, email.to).slice(0, 200) }], {
            softBounceLimit: config.softBounceLimit ?? DEFAULT_SOFT_BOUNCE_LIMIT,
            sendKey: email.sendKey,
            leadId: email.lead.id,
          });
        }
        metrics?.emailsSuppressed.inc({ kind: content.kind });
        logger?.warn({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template, err: withoutAddress(reason, email.to) }, 'email bounced permanently: address suppressed, not retried');
        return { sent: false, bounced: true, ...(content.kind === 'marketing' ? { suppressed: true } : {}) };
      }
      await db.query(`UPDATE email_outbox SET status = 'sent', message_id = $2, attempts = $3, sent_at = now() WHERE send_key = $1`, [
        email.sendKey,
        messageId,
        attempt(),
      ]);
      metrics?.emailsSent.inc({ kind: content.kind });
      logger?.info({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template, kind: content.kind, messageId }, 'email sent');
      return { sent: true, messageId };
    });
    try {
      return await send;
    } catch (error) {
      if (handedOff === undefined) throw error;
      // The relay accepted the message, but its `sent` row went with the lost transaction. Write
      // it again on a fresh connection while this attempt still runs (no retry can start before
      // it ends), so the retry Temporal would make finds it sent instead of sending again.
      await recordSentAfterLoss({ ...email, kind: content.kind, subject: content.subject }, handedOff, error);
      metrics?.emailsSent.inc({ kind: content.kind });
      logger?.warn({ ...logContext(email.lead.id), sendKey: email.sendKey, template: email.template, kind: content.kind, messageId: handedOff }, 'email sent; its record was written again after the database connection was lost');
      return { sent: true, messageId: handedOff };
    }
  }

  /** Records a send the relay accepted, on any connection; retried while Postgres comes back (up to a minute). */
  async function recordSentAfterLoss(email: OutgoingEmail & { kind: string; subject: string }, messageId: string, lost: unknown): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await pool.query(
          `INSERT INTO email_outbox (send_key, lead_id, kind, template, to_address, subject, status, message_id, attempts, sent_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'sent', $7, $8, now())
           ON CONFLICT (send_key) DO UPDATE SET status = 'sent', message_id = EXCLUDED.message_id, attempts = EXCLUDED.attempts, sent_at = now()`,
          [email.sendKey, email.lead.id, email.kind, email.template, email.to, email.subject, messageId, attempt()],
        );
        return;
      } catch {
        if (Date.now() >= deadline) throw lost;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  return {
    async recordLeadState({ view, revision, transitions, decisions, slaBreaches = [], outcomes = [] }: RecordLeadStateInput): Promise<void> {
      const stageChangedAt = transitions.at(-1)?.at ?? null;
      // Views from workflows that predate the sales-review fields lack them.
      const review = view.review ?? null;
      await inTransaction(pool, async (db) => {
        // A write carrying a revision lands only over an older one (a late retry changes nothing);
        // writes of the first engine carry none and land as before.
        await db.query(
          `INSERT INTO leads (id, email, enrol_sequence, stage, score, review_count, unsubscribed,
                              sequence_id, sequence_version, sequence_step, next_action_at, stage_changed_at,
                              owner, review_started_at, sla_due_at, sla_state, sla_breaches, score_breakdown, last_reject_reason, revision, grade, rules_version)
           VALUES ($1, $2, $6, $3, $4, $5, $7, $6, $8, $9, $10, coalesce($11, now()), $12, $13, $14, $15, $16, $17, $18, coalesce($19, 0), $20, $21)
           ON CONFLICT (id) DO UPDATE SET
             stage = $3, score = $4, review_count = $5, unsubscribed = $7,
             sequence_id = $6, sequence_version = $8, sequence_step = $9, next_action_at = $10,
             stage_changed_at = coalesce($11, leads.stage_changed_at),
             owner = $12, review_started_at = $13, sla_due_at = $14, sla_state = $15, sla_breaches = $16,
             score_breakdown = $17, last_reject_reason = $18, revision = coalesce($19, leads.revision), grade = $20, rules_version = $21, updated_at = now()
           WHERE $19::bigint IS NULL OR leads.revision < $19::bigint`,
          [
            view.id,
            view.email,
            view.stage,
            view.score,
            view.reviewCount,
            view.sequence.id,
            view.unsubscribed,
            view.sequence.version,
            view.sequence.step,
            view.nextActionAt,
            stageChangedAt,
            view.owner ?? null,
            review?.since ?? null,
            review?.slaDueAt ?? null,
            review?.slaState ?? null,
            view.slaBreaches ?? 0,
            JSON.stringify(view.scoreBreakdown ?? []),
            view.lastRejectReason ?? null,
            revision ?? null,
            // Views from before fit grades carry none: no grade.
            view.grade ?? null,
            view.rulesVersion ?? null,
          ],
        );
        for (const t of transitions) {
          await db.query(
            `INSERT INTO lead_transitions (lead_id, from_stage, to_stage, reason, score, at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
            [view.id, t.from, t.to, t.reason, t.score, t.at],
          );
        }
        for (const d of decisions) {
          await db.query(
            `INSERT INTO sales_decisions (lead_id, review_no, decision, reason, decided_by, notes, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            [view.id, d.reviewNo, d.decision, d.reason ?? null, d.by, d.notes ?? null, d.at],
          );
        }
        for (const b of slaBreaches) {
          await db.query(
            `INSERT INTO review_sla_breaches (lead_id, review_no, level, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
            [view.id, b.reviewNo, b.level, b.at],
          );
        }
        for (const o of outcomes) {
          await db.query(
            `INSERT INTO lead_outcomes (lead_id, review_no, outcome, amount, currency, reason, recycle, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (lead_id, review_no) DO NOTHING`,
            [view.id, o.reviewNo, o.outcome, o.amount ?? null, o.currency ?? null, o.reason ?? null, Boolean(o.recycle), o.by, o.at],
          );
        }
        // Stage changes, decisions and outcomes reach subscribed webhook endpoints: their outbox
        // rows commit with the change itself, and their delivery is someone else's work.
        const events = leadEventsOf({ id: view.id, score: view.score, grade: view.grade ?? null }, { transitions, decisions, outcomes });
        if (events.length) await enqueueLeadEvents(db, events, publicUrl);
      });
    },

    async sendNurtureEmail({ lead, template, sendKey, content }) {
      return sendOnce({ sendKey, lead, to: lead.email, template, ...(content ? { pinned: content } : {}) });
    },

    async notifySales({ lead, sendKey, score, reviewCount, events, owner, grade }) {
      const to = owner ?? config.salesInbox;
      const result = await sendOnce({ sendKey, lead, to, cc: config.salesInbox, template: 'sales-notification', data: { score, reviewCount, events, owner, grade, leadUrl: leadConsoleUrl(publicUrl, lead.id) } });
      if (result.sent) metrics?.escalations.inc();
      return result;
    },

    async assignOwner({ leadId, reviewNo }) {
      const owners = config.salesOwners ?? [];
      if (owners.length === 0) return { owner: null };
      // The sequence is shared by every worker, so the rotation holds across replicas; the row
      // pins the answer, so a retry (or a second worker) gets the same owner.
      const { rows } = await pool.query<{ owner: string }>(
        `WITH picked AS (
           INSERT INTO review_owners (lead_id, review_no, owner)
           SELECT $1, $2, ($3::text[])[1 + (nextval('owner_round_robin') - 1) % cardinality($3::text[])]
           ON CONFLICT (lead_id, review_no) DO NOTHING
           RETURNING owner)
         SELECT owner FROM picked
         UNION ALL SELECT owner FROM review_owners WHERE lead_id = $1 AND review_no = $2
         LIMIT 1`,
        [leadId, reviewNo, owners],
      );
      return { owner: rows[0]?.owner ?? null };
    },

    async remindSales({ lead, sendKey, reviewNo, level, owner, score, waitingSince }) {
      const salesSide = owner ?? config.salesInbox;
      const to = level === 1 ? salesSide : (config.salesManagerInbox ?? config.salesInbox);
      const result = await sendOnce({ sendKey, lead, to, cc: level === 2 ? salesSide : undefined, template: 'sales-sla', data: { level, reviewNo, owner, score, waitingSince } });
      if (result.sent) metrics?.slaBreaches?.inc({ level: String(level) });
      return result;
    },
  };
}
