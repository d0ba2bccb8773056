import type { Grade, LeadStage, OutcomeRecord } from './lead.js';
import type { DecisionRecord, TransitionRecord } from './lead/state.js';

/**
 * Outbound webhooks (Standard Webhooks): which lead events an endpoint may subscribe to, what
 * each delivery carries, and the events a recorded write of the lead machine stands for. Pure:
 * the activity that records a lead's stage change derives its events here and writes one outbox
 * row per subscribed endpoint in the same transaction.
 */

export const LEAD_EVENT_TYPES = ['lead.escalated', 'lead.accepted', 'lead.rejected', 'lead.disqualified', 'lead.outcome', 'lead.unsubscribed', 'lead.erased'] as const;
export type LeadEventType = (typeof LEAD_EVENT_TYPES)[number];

/** The lead as a delivery describes it: no profile field (no PII), a link to its console page instead. */
export interface LeadEventSubject {
  leadId: string;
  stage: LeadStage | null;
  score: number | null;
  grade: Grade | null;
}

/** One thing that happened to a lead, as the outbox stores it. */
export interface LeadEvent {
  type: LeadEventType;
  /** Once per lead and occurrence: a retried write enqueues no second delivery. */
  key: string;
  /** When it happened (ISO-8601). */
  at: string;
  subject: LeadEventSubject;
  /** What the event adds (who decided, why, the outcome...). */
  details?: Record<string, unknown>;
}

/** The body of a delivery: Standard Webhooks' `{ type, timestamp, data }`. */
export interface LeadEventPayload {
  type: LeadEventType;
  timestamp: string;
  data: LeadEventSubject & { url: string } & Record<string, unknown>;
}

/** Where links point when no PUBLIC_URL is given (the API's default address). */
export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:3000';

/** The lead's page in the web console (the console routes by the URL hash). */
export function leadConsoleUrl(publicUrl: string, leadId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/console/#/leads/${encodeURIComponent(leadId)}`;
}

export function leadEventPayload(event: LeadEvent, publicUrl: string): LeadEventPayload {
  return { type: event.type, timestamp: event.at, data: { ...event.subject, ...event.details, url: leadConsoleUrl(publicUrl, event.subject.leadId) } };
}

const DECISION_EVENTS: Record<DecisionRecord['decision'], LeadEventType> = { accepted: 'lead.accepted', rejected: 'lead.rejected', disqualified: 'lead.disqualified' };
const STAGE_AFTER: Record<DecisionRecord['decision'], LeadStage> = { accepted: 'accepted', rejected: 'nurturing', disqualified: 'disqualified' };

/**
 * The events one write of the lead's state stands for: an escalation per transition into sales
 * review, one event per decision and per outcome. Each carries the stage it left the lead in.
 */
export function leadEventsOf(
  lead: { id: string; score: number; grade: Grade | null },
  written: { transitions: readonly TransitionRecord[]; decisions: readonly DecisionRecord[]; outcomes?: readonly OutcomeRecord[] },
): LeadEvent[] {
  const subject = (stage: LeadStage, score = lead.score): LeadEventSubject => ({ leadId: lead.id, stage, score, grade: lead.grade });
  const escalations = written.transitions
    .filter((t) => t.to === 'sales_review')
    .map((t): LeadEvent => ({ type: 'lead.escalated', key: `lead.escalated:${lead.id}:${t.at}`, at: t.at, subject: subject('sales_review', t.score) }));
  const decisions = written.decisions.map(
    (d): LeadEvent => ({
      type: DECISION_EVENTS[d.decision],
      key: `${DECISION_EVENTS[d.decision]}:${lead.id}:${d.reviewNo}`,
      at: d.at,
      subject: subject(STAGE_AFTER[d.decision], d.decision === 'rejected' ? 0 : lead.score),
      details: { reviewNo: d.reviewNo, by: d.by, ...(d.reason !== undefined ? { reason: d.reason } : {}) },
    }),
  );
  const outcomes = (written.outcomes ?? []).map(
    (o): LeadEvent => ({
      type: 'lead.outcome',
      key: `lead.outcome:${lead.id}:${o.reviewNo}`,
      at: o.at,
      subject: subject(o.recycle ? 'nurturing' : 'accepted', o.recycle ? 0 : lead.score),
      details: {
        reviewNo: o.reviewNo,
        outcome: o.outcome,
        by: o.by,
        ...(o.amount !== undefined ? { amount: o.amount } : {}),
        ...(o.currency !== undefined ? { currency: o.currency } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
        recycle: Boolean(o.recycle),
      },
    }),
  );
  return [...escalations, ...decisions, ...outcomes].sort((a, b) => a.at.localeCompare(b.at));
}
