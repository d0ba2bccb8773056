import { Context } from '@temporalio/activity';
import type { LeadActivities, NotifySalesInput, RecordLeadStateInput, RemindSalesInput, SendNurtureEmailInput } from '../../activities/types.js';

export interface SentEmail {
  kind: 'nurture' | 'sales' | 'sla';
  template: string;
  sendKey: string;
  /** Server time (skipped time under the test server) the send was scheduled at. */
  at: number;
}

/**
 * Recording activities for workflow tests: they keep what the workflow asked for and when
 * (in the test server's skipped time), and behave like the real ones for idempotency.
 */
export function recordingActivities(options: { owners?: string[] } = {}) {
  const emails: SentEmail[] = [];
  const salesNotifications: NotifySalesInput[] = [];
  const reminders: Array<RemindSalesInput & { at: number }> = [];
  const owners = new Map<string, string>();
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
    async assignOwner({ leadId, reviewNo }) {
      const list = options.owners ?? [];
      if (list.length === 0) return { owner: null };
      const key = `${leadId}:${reviewNo}`;
      if (!owners.has(key)) owners.set(key, list[owners.size % list.length]!);
      return { owner: owners.get(key)! };
    },
    async remindSales(input: RemindSalesInput) {
      if (sentKeys.has(input.sendKey)) return { sent: false };
      sentKeys.add(input.sendKey);
      reminders.push({ ...input, at: now() });
      emails.push({ kind: 'sla', template: 'sales-sla', sendKey: input.sendKey, at: now() });
      return { sent: true, messageId: input.sendKey };
    },
  };
  return { activities, emails, salesNotifications, reminders, records };
}
