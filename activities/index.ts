import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorCodes } from '../src/domain/errors.js';
import type { LeadProfile } from '../src/domain/lead.js';
import { inTransaction, type Pool } from '../src/infra/db.js';
import { isPermanentRecipientError, type Mailer } from '../src/infra/mailer.js';
import type { Metrics } from '../src/infra/metrics.js';
import { renderTemplate } from '../src/sequences/templates.js';
import type { LeadActivities, RecordLeadStateInput, SendResult } from './types.js';

export type * from './types.js';

export interface ActivityDeps {
  pool: Pool;
  mailer: Mailer;
  config: { mailFrom: string; salesInbox: string };
  metrics?: Pick<Metrics, 'emailsSent' | 'emailsSuppressed' | 'escalations'>;
}

interface OutgoingEmail {
  sendKey: string;
  lead: LeadProfile;
  to: string;
  template: string;
  data?: Record<string, unknown>;
}

/** A stable Message-ID per send key: a resend after a crash carries the same id. */
const messageIdFor = (sendKey: string): string => `<${createHash('sha256').update(sendKey).digest('hex').slice(0, 40)}@leadflow>`;

const attempt = (): number => {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // called outside an activity (unit tests)
  }
};

/** Builds the activities over their dependencies, so tests pass fakes without module mocking. */
export function createActivities({ pool, mailer, config, metrics }: ActivityDeps): LeadActivities {
  /**
   * Sends at most once per send key. The outbox row is locked for the whole send, so two
   * attempts of one activity never race; a row already `sent` makes a retry a no-op.
   */
  async function sendOnce(email: OutgoingEmail): Promise<SendResult> {
    const content = renderTemplate(email.template, { lead: email.lead, data: email.data });
    return inTransaction(pool, async (db) => {
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
      if (row.status === 'sent') return { sent: false, messageId: row.message_id ?? undefined };
      if (content.kind === 'marketing') {
        const suppressed = await db.query('SELECT 1 FROM suppressions WHERE email = lower($1)', [email.to]);
        if (suppressed.rowCount) {
          await db.query(`UPDATE email_outbox SET status = 'suppressed' WHERE send_key = $1`, [email.sendKey]);
          metrics?.emailsSuppressed.inc({ kind: content.kind });
          return { sent: false, suppressed: true };
        }
      }
      const messageId = messageIdFor(email.sendKey);
      try {
        await mailer.send({
          from: config.mailFrom,
          to: email.to,
          subject: content.subject,
          text: content.text,
          html: content.html,
          messageId,
          headers: { 'X-Leadflow-Send-Key': email.sendKey, 'X-Leadflow-Lead': email.lead.id },
        });
      } catch (error) {
        if (isPermanentRecipientError(error)) {
          throw ApplicationFailure.nonRetryable(`recipient ${email.to} refused: ${(error as Error).message}`, ErrorCodes.invalidRecipient);
        }
        throw error;
      }
      await db.query(`UPDATE email_outbox SET status = 'sent', message_id = $2, attempts = $3, sent_at = now() WHERE send_key = $1`, [
        email.sendKey,
        messageId,
        attempt(),
      ]);
      metrics?.emailsSent.inc({ kind: content.kind });
      return { sent: true, messageId };
    });
  }

  return {
    async recordLeadState({ view, transitions, decisions }: RecordLeadStateInput): Promise<void> {
      const stageChangedAt = transitions.at(-1)?.at ?? null;
      await inTransaction(pool, async (db) => {
        await db.query(
          `INSERT INTO leads (id, email, enrol_sequence, stage, score, review_count, unsubscribed,
                              sequence_id, sequence_version, sequence_step, next_action_at, stage_changed_at)
           VALUES ($1, $2, $6, $3, $4, $5, $7, $6, $8, $9, $10, coalesce($11, now()))
           ON CONFLICT (id) DO UPDATE SET
             stage = $3, score = $4, review_count = $5, unsubscribed = $7,
             sequence_id = $6, sequence_version = $8, sequence_step = $9, next_action_at = $10,
             stage_changed_at = coalesce($11, leads.stage_changed_at), updated_at = now()`,
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
      });
    },

    async sendNurtureEmail({ lead, template, sendKey }) {
      return sendOnce({ sendKey, lead, to: lead.email, template });
    },

    async notifySales({ lead, sendKey, score, reviewCount, events }) {
      const result = await sendOnce({ sendKey, lead, to: config.salesInbox, template: 'sales-notification', data: { score, reviewCount, events } });
      if (result.sent) metrics?.escalations.inc();
      return result;
    },
  };
}
