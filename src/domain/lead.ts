/** Where a lead is in its life (DESIGN.md, Lifecycle). */
export const LEAD_STAGES = ['nurturing', 'sales_review', 'accepted', 'disqualified'] as const;
export type LeadStage = (typeof LEAD_STAGES)[number];
export const TERMINAL_STAGES: readonly LeadStage[] = ['accepted', 'disqualified'];

/** Why sales sent a lead back to marketing. */
export const REJECT_REASONS = ['not_ready', 'no_budget', 'no_authority', 'wrong_contact', 'no_fit', 'other'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Fit grades from the program's fit rules, best first. */
export const GRADES = ['A', 'B', 'C', 'D'] as const;
export type Grade = (typeof GRADES)[number];

/** Temporal workflow id of a lead: one workflow per lead, ever. */
export function leadWorkflowId(leadId: string): string {
  return `lead-${leadId}`;
}

/** What we know about the person, as given at enrolment. */
export interface LeadProfile {
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  /** IANA time zone, e.g. `Europe/Paris`. */
  timezone?: string;
  attributes?: Record<string, unknown>;
}

/** One engagement event as the lead workflow receives it. */
export interface EngagementEvent {
  eventId: string;
  type: string;
  /** ISO-8601 instant. */
  occurredAt: string;
  properties?: Record<string, unknown>;
}

/** A sales decision on a lead under review. */
export interface AcceptDecision {
  by: string;
  notes?: string;
}
export interface RejectDecision {
  by: string;
  reason: RejectReason;
  notes?: string;
}
export interface DisqualifyDecision {
  by: string;
  reason: string;
}

/** How an accepted lead's opportunity ended (src/domain/lead/outcome.ts has the rules). */
export const OUTCOMES = ['won', 'lost'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What sales reports after accepting a lead. */
export interface OutcomeReport {
  by: string;
  outcome: Outcome;
  /** The deal's amount (won only), in `currency`. */
  amount?: number;
  /** ISO 4217 code of `amount`. */
  currency?: string;
  /** Why it was lost (lost only). */
  reason?: string;
  /** Lost only: back to nurturing in the recycle sequence, to escalate again later. */
  recycle?: boolean;
}

/** An outcome as the lead keeps it and Postgres records it (lead_outcomes): one per review. */
export interface OutcomeRecord extends OutcomeReport {
  reviewNo: number;
  at: string;
}

/** Where a lead under review stands against its SLA: reminded after one expiry, escalated to a manager after two. */
export const SLA_STATES = ['on_time', 'reminded', 'escalated'] as const;
export type SlaState = (typeof SLA_STATES)[number];

/** The review in progress: since when, who owns it, and its SLA. */
export interface ReviewView {
  reviewNo: number;
  since: string;
  owner: string | null;
  /** When the next SLA step (reminder, then manager escalation) is due; null after both. */
  slaDueAt: string | null;
  slaState: SlaState;
}

/** One event that counts towards the current score. */
export interface ScoreItem {
  eventId: string;
  type: string;
  points: number;
  occurredAt: string;
  /** When the lead's workflow scored it (epoch ms): score decay counts from here. */
  scoredAt?: number;
  /** The conditional rule that gave (or took) the points; absent: the flat table's entry for `type`. */
  rule?: string;
}

/** One line of the score as people see it: which rule, which event, until when it counts (views of engine v2 fill every field). */
export interface ScoreLine extends ScoreItem {
  /** Events summed in this line (older events are summed per type, rule and day). */
  count?: number;
  /** When these points stop counting (ISO-8601), or null when points never expire. */
  countsUntil?: string | null;
}

/** One line of the lead's story as its workflow tells it (newest last, bounded). */
export interface TimelineEntry {
  at: string;
  kind: 'enrolled' | 'event' | 'email' | 'stage' | 'decision' | 'sla' | 'unsubscribed' | 'continued' | 'sequence' | 'profile' | 'qualification' | 'filtered';
  text: string;
}

/** The part of a lead's state shown to people (API, query, Temporal UI). */
export interface LeadView {
  id: string;
  email: string;
  stage: LeadStage;
  score: number;
  reviewCount: number;
  unsubscribed: boolean;
  sequence: { id: string; version: number; step: number };
  /** When the sequence acts next (ISO-8601), or null when it waits for nothing. */
  nextActionAt: string | null;
  /** Which rule gave each of the points still counting, for which event, and until when. */
  scoreBreakdown: ScoreLine[];
  /** Fit grade from the program's fit rules (A best), or null when the program has none. */
  grade?: Grade | null;
  /** Version of the qualification rules the lead runs under (pinned at enrolment, newer by migration); null without rules. */
  rulesVersion?: number | null;
  /** The review in progress, or null outside sales review. */
  review: ReviewView | null;
  /** Owner of the latest review (round-robin over SALES_OWNERS), or null. */
  owner: string | null;
  /** Reviews whose SLA expired at least once. */
  slaBreaches: number;
  lastRejectReason: RejectReason | null;
  /** Delivery rules the lead runs under and where it stands against them; null for leads enrolled before they existed. */
  delivery?: DeliveryView | null;
}

/** The lead's delivery rules as people see them (GET /v1/leads/{id}, the state query). */
export interface DeliveryView {
  /** Time zone the send window is applied in (the lead's, or the program's default). */
  timezone: string;
  /** When marketing email may go, local to `timezone`; null: any time. */
  sendWindow: { days: string[]; start: string; end: string } | null;
  /** At most `max` marketing emails in any rolling `per`, and how many went in the current one; null: no cap. */
  frequencyCap: { max: number; per: string; sentInWindow: number } | null;
  /** When the email the sequence is at may go (send window, cap), or null when none is waiting. */
  nextSendAt: string | null;
  /** Points older than this stop counting; null: they never expire. */
  decayAfter: string | null;
}
