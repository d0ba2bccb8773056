import type { LeadProfile, LeadStage, RejectReason, ScoreItem, TimelineEntry } from '../lead.js';
import type { Sequence } from '../../sequences/model.js';
import { RECENT_ITEMS_KEPT, SEEN_EVENT_IDS_KEPT, type DecisionRecord, type LeadMachineState, type SlaBreachRecord, type TransitionRecord } from './state.js';
import { scoreOf } from './engagement.js';

/** Where the first engine's lead stood in its sequence. */
export interface SequencePositionV1 {
  id: string;
  version: number;
  step: number;
  /** Enrolment number (1 for the first sequence, +1 per recycle): part of every send key. */
  enrolment: number;
  /** Deadline of the wait step in progress (epoch ms), kept so continue-as-new resumes it. */
  waitUntil?: number;
  /** When the waitFor step in progress started (epoch ms): events from then on count. */
  waitStartedAt?: number;
  /** When the email step in progress may go (send window, frequency cap), epoch ms. */
  sendAt?: number;
  /** Times the sequence jumped back (branches, gotos): part of the send key of a repeated email. */
  loop?: number;
}


/** The review in progress and where it stands against its SLA. */
export interface ReviewStateV1 {
  reviewNo: number;
  /** When the lead entered review (epoch ms). */
  since: number;
  owner: string | null;
  /** When the next SLA step is due (epoch ms); undefined after the manager was told. */
  dueAt?: number;
  /** SLA expiries so far in this review: 1 = reminded, 2 = escalated to a manager. */
  expiries: number;
}

/**
 * The state a lead of the first engine (workflows/lead-v1.ts) carried across continue-as-new,
 * as that engine wrote it. A lead continuing as new from it starts its next run on this engine.
 */
export interface LeadStateV1 {
  stage: LeadStage;
  score: number;
  reviewCount: number;
  unsubscribed: boolean;
  enrolledAt: string;
  sequence: SequencePositionV1;
  /** Events that earned the current score; emptied when sales rejects the lead. */
  scoredEvents: ScoreItem[];
  /** Recent eventIds, for dedupe inside the workflow (Postgres keeps the full set). */
  seenEventIds: string[];
  lastRejectReason?: RejectReason;
  /** The review in progress (sales_review only). */
  review?: ReviewStateV1;
  /** Owner of the latest review. */
  owner?: string | null;
  /** Reviews whose SLA expired at least once. */
  slaBreaches?: number;
  /** Recent story of the lead, bounded, carried across continue-as-new. */
  timeline?: TimelineEntry[];
  /** When each event type last arrived (epoch ms): waitFor and exit steps read it. */
  lastSeen?: Record<string, number>;
  /** When the sequence last reached an email step (epoch ms): a waitFor counts events from then. */
  lastEmailAt?: number;
  /** When recent marketing emails went (epoch ms), for the frequency cap. */
  sentAt?: number[];
  /** Whether the lead got its first marketing email (the one that may ignore the send window). */
  firstEmailDone?: boolean;
  /** Sequence versions the lead was migrated to (pinned like the snapshot's). */
  pinned?: Sequence[];
  /** A migration waiting for the next wait. */
  pendingMigration?: Sequence;
}

/** What handlers decided and the main loop has not yet done (records, notifications). */
export interface PendingEffectsV1 {
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
  /** Review numbers whose sales notification is still to go. */
  escalations: number[];
  slaBreaches: SlaBreachRecord[];
}

/** Converts a first-engine state; events of unknown enrolment count as the current one's (as they did). */
export function fromV1(profile: LeadProfile, v1: LeadStateV1, pending: PendingEffectsV1 | undefined): LeadMachineState {
  const items = v1.scoredEvents.slice(-RECENT_ITEMS_KEPT);
  const earlier = v1.scoredEvents.slice(0, -RECENT_ITEMS_KEPT).map((i) => ({ type: i.type, points: i.points, count: 1, occurredAt: i.occurredAt, ...(i.scoredAt !== undefined ? { scoredAt: i.scoredAt } : {}) }));
  const engagement = { score: 0, recent: items, earlier, seen: v1.seenEventIds.slice(-SEEN_EVENT_IDS_KEPT), lastSeen: { ...(v1.lastSeen ?? {}) } };
  engagement.score = v1.scoredEvents.length ? scoreOf(engagement) : v1.score;
  // A wait or waitFor in progress keeps its deadline; an email waiting for its window keeps its time.
  const { id, version, step, enrolment, waitUntil, waitStartedAt, sendAt, loop } = v1.sequence;
  return {
    engine: 2,
    profile,
    stage: v1.stage,
    reviewCount: v1.reviewCount,
    unsubscribed: v1.unsubscribed,
    enrolledAt: Date.parse(v1.enrolledAt),
    engagement,
    sequence: { id, version, step, enrolment, enrolledAt: 0, ...(loop ? { loop } : {}), ...(waitUntil !== undefined ? { waitUntil } : {}), ...(waitStartedAt !== undefined ? { waitStartedAt } : {}), ...(sendAt !== undefined ? { sendAt } : {}) },
    ...(v1.review ? { review: { ...v1.review } } : {}),
    owner: v1.owner ?? null,
    slaBreaches: v1.slaBreaches ?? 0,
    ...(v1.lastRejectReason ? { lastRejectReason: v1.lastRejectReason } : {}),
    stepsWithoutWait: 0,
    ...(v1.lastEmailAt !== undefined ? { lastEmailAt: v1.lastEmailAt } : {}),
    sentAt: v1.sentAt ?? [],
    firstEmailDone: v1.firstEmailDone ?? false,
    pinned: v1.pinned ?? [],
    ...(v1.pendingMigration ? { pendingMigration: v1.pendingMigration } : {}),
    timeline: v1.timeline ?? [],
    published: { revision: 0, visible: '', score: -1, attributes: {}, transitions: pending?.transitions ?? [], decisions: pending?.decisions ?? [], slaBreaches: pending?.slaBreaches ?? [] },
  };
}
