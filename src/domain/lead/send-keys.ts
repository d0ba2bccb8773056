import { sequenceLabel } from '../../sequences/steps.js';
import type { SequencePosition } from './state.js';

/**
 * Idempotency keys of every email a lead causes: Postgres holds each at most once, so a retried
 * activity or a replayed workflow never sends twice. The formats are those of the first engine
 * (leads in flight keep their keys).
 */

/** A marketing email: lead, sequence version, enrolment, step, and the loop round. */
export function marketingSendKey(leadId: string, at: Pick<SequencePosition, 'id' | 'version' | 'enrolment' | 'step' | 'loop'>): string {
  return `${leadId}:${sequenceLabel(at)}:e${at.enrolment}:s${at.step}${at.loop ? `:l${at.loop}` : ''}`;
}

/** The sales notification of one review. */
export const salesNotificationKey = (leadId: string, reviewNo: number): string => `${leadId}:sales-review:${reviewNo}`;

/** An SLA email of one review: the reminder, the manager's, then the manager's repeats. */
export function slaReminderKey(leadId: string, reviewNo: number, expiry: number): string {
  const base = `${leadId}:sales-review:${reviewNo}`;
  return expiry === 1 ? `${base}:sla-1` : expiry === 2 ? `${base}:sla-2` : `${base}:sla-2-r${expiry - 2}`;
}
