import { Context } from '@temporalio/activity';
import type { LeadActivities, NotifySalesInput, RecordLeadStateInput, SendNurtureEmailInput } from '../../activities/types.js';

export interface SentEmail {
  kind: 'nurture' | 'sales';
  template: string;
  sendKey: string;
  /** Server time (skipped time under the test server) the send was scheduled at. */
  at: number;
}

/**
 * Recording activities for workflow tests: they keep what the workflow asked for and when
 * (in the test server's skipped time), and behave like the real ones for idempotency.
 */
export function recordingActivities() {
  const emails: SentEmail[] = [];
  const salesNotifications: NotifySalesInput[] = [];
  const records: RecordLeadStateInput[] = [];
  const sentKeys = new Set<string>();
  const now = () => Context.current().info.currentAttemptScheduledTimestampMs;

  const activities: LeadActivities = {
    async recordLeadState(input) {
      records.push(input);
    },
    async sendNurtureEmail(input: SendNurtureEmailInput) {
      if (sentKeys.has(input.sendKey)) return { sent: false };
      sentKeys.add(input.sendKey);
      emails.push({ kind: 'nurture', template: input.template, sendKey: input.sendKey, at: now() });
      return { sent: true, messageId: input.sendKey };
    },
    async notifySales(input: NotifySalesInput) {
      if (sentKeys.has(input.sendKey)) return { sent: false };
      sentKeys.add(input.sendKey);
      salesNotifications.push(input);
      emails.push({ kind: 'sales', template: 'sales-notification', sendKey: input.sendKey, at: now() });
      return { sent: true, messageId: input.sendKey };
    },
  };
  return { activities, emails, salesNotifications, records };
}
