import { Context } from '@temporalio/activity';
import type { LeadActivities, NotifySalesInput, RecordLeadStateInput, RemindSalesInput, SendNurtureEmailInput } from '../../activities/types.js';

export interface SentEmail {
  kind: 'nurture' | 'sales' | 'sla';
  template: string;
  sendKey: string;
  /** Server time (skipped time under the test server) the send was scheduled at. */
  at: number;
  /** True when an earlier call already asked for this send key (the fake then answers `sent: false`). */
  repeat: boolean;
}

/** One call of an activity, in the order the workflow made them. */
export interface ActivityCall {
  activity: keyof LeadActivities;
  sendKey?: string;
  at: number;
}

/**
 * Recording activities for workflow tests: they keep every call the workflow made and when (in
 * the test server's skipped time), repeats included, and answer like the real ones for
 * idempotency (`sent: false` on a send key seen before). A test that says "once" counts calls:
 * a workflow that asks twice for the same email fails it, even though the real activity would
 * have sent it once.
 */
export function recordingActivities(options: { owners?: string[] } = {}) {
  /** Every email activity call, repeats included. */
  const emails: SentEmail[] = [];
  const salesNotifications: NotifySalesInput[] = [];
  const reminders: Array<RemindSalesInput & { at: number }> = [];
  const owners = new Map<string, string>();
  const records: RecordLeadStateInput[] = [];
  const calls: ActivityCall[] = [];
  const sentKeys = new Set<string>();
  const now = () => Context.current().info.currentAttemptScheduledTimestampMs;

  /** Records an email call; true when its send key was asked for before. */
  const email = (kind: SentEmail['kind'], template: string, sendKey: string): boolean => {
    const repeat = sentKeys.has(sendKey);
    sentKeys.add(sendKey);
    emails.push({ kind, template, sendKey, at: now(), repeat });
    return repeat;
  };
  const call = (activity: keyof LeadActivities, sendKey?: string) => calls.push({ activity, ...(sendKey !== undefined ? { sendKey } : {}), at: now() });

  const activities: LeadActivities = {
    async recordLeadState(input) {
      call('recordLeadState');
      records.push(input);
    },
    async sendNurtureEmail(input: SendNurtureEmailInput) {
      call('sendNurtureEmail', input.sendKey);
      if (email('nurture', input.template, input.sendKey)) return { sent: false };
      return { sent: true, messageId: input.sendKey };
    },
    async notifySales(input: NotifySalesInput) {
      call('notifySales', input.sendKey);
      salesNotifications.push(input);
      if (email('sales', 'sales-notification', input.sendKey)) return { sent: false };
      return { sent: true, messageId: input.sendKey };
    },
    async assignOwner({ leadId, reviewNo }) {
      call('assignOwner');
      const list = options.owners ?? [];
      if (list.length === 0) return { owner: null };
      const key = `${leadId}:${reviewNo}`;
      if (!owners.has(key)) owners.set(key, list[owners.size % list.length]!);
      return { owner: owners.get(key)! };
    },
    async remindSales(input: RemindSalesInput) {
      call('remindSales', input.sendKey);
      reminders.push({ ...input, at: now() });
      if (email('sla', 'sales-sla', input.sendKey)) return { sent: false };
      return { sent: true, messageId: input.sendKey };
    },
  };
  /** Send keys the workflow asked for more than once (each listed once). */
  const repeatedSendKeys = () => [...new Set(emails.filter((e) => e.repeat).map((e) => e.sendKey))];
  /** How many times each activity was called. */
  const callCounts = () => {
    const counts: Partial<Record<keyof LeadActivities, number>> = {};
    for (const c of calls) counts[c.activity] = (counts[c.activity] ?? 0) + 1;
    return counts;
  };
  return { activities, emails, salesNotifications, reminders, records, calls, repeatedSendKeys, callCounts };
}
