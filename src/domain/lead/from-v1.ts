import type { LeadProfile, LeadStage, RejectReason, ScoreItem, TimelineEntry } from '../lead.js';
import type { Sequence } from '../../sequences/model.js';
import { RECENT_ITEMS_KEPT, SEEN_EVENT_IDS_KEPT, type DecisionRecord, type LeadMachineState, type SlaBreachRecord, type TransitionRecord } from './state.js';
import { scoreOf } from './engagement.js';

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
  sequence: { id: string; version: number; step: number; enrolment: number; waitUntil?: number; waitStartedAt?: number; sendAt?: number; loop?: number };
  scoredEvents: ScoreItem[];
  seenEventIds: string[];
  lastRejectReason?: RejectReason;
  review?: { reviewNo: number; since: number; owner: string | null; dueAt?: number; expiries: number };
  owner?: string | null;
  slaBreaches?: number;
  timeline?: TimelineEntry[];
  lastSeen?: Record<string, number>;
  lastEmailAt?: number;
  sentAt?: number[];
  firstEmailDone?: boolean;
  pinned?: Sequence[];
  pendingMigration?: Sequence;
}

export interface PendingEffectsV1 {
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
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
