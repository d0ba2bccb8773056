import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AcceptDecision,
  DisqualifyDecision,
  EngagementEvent,
  LeadProfile,
  LeadStage,
  LeadView,
  RejectDecision,
  RejectReason,
} from '../src/domain/lead.js';
import type { ProgramSnapshot } from '../src/sequences/model.js';

/**
 * The lead workflow's messages: the one place the workflow, the API and the tests take
 * signal, query and update definitions from. Never address a handler by a string literal.
 */

/** Task queue every lead worker polls. */
export const LEADS_TASK_QUEUE = 'leads';

/** An engagement event (webinar viewed, products compared...). Repeated eventIds change nothing. */
export const engagementSignal = defineSignal<[EngagementEvent]>('engagement');
/** The lead asked for no more marketing email; the lead itself is kept. */
export const unsubscribeSignal = defineSignal<[]>('unsubscribe');

/** The lead's current state as people see it. */
export const leadStateQuery = defineQuery<LeadView>('leadState');

export interface DecisionResult {
  id: string;
  stage: LeadStage;
}
/** Sales accepts a lead under review: terminal. */
export const acceptUpdate = defineUpdate<DecisionResult, [AcceptDecision]>('accept');
/** Sales rejects a lead under review: score reset, recycle sequence, may escalate again. */
export const rejectUpdate = defineUpdate<DecisionResult, [RejectDecision]>('reject');
/** Sales or an admin takes a lead out for good (spam, competitor, duplicate). */
export const disqualifyUpdate = defineUpdate<DecisionResult, [DisqualifyDecision]>('disqualify');

/** Where the lead stands in its sequence: which one, which step, which enrolment. */
export interface SequencePosition {
  id: string;
  version: number;
  step: number;
  /** Enrolment number (1 for the first sequence, +1 per recycle): part of every send key. */
  enrolment: number;
  /** Deadline of the wait step in progress (epoch ms), kept so continue-as-new resumes it. */
  waitUntil?: number;
}

/** An event that counted towards the current score (what the sales notification lists). */
export interface ScoredEvent {
  eventId: string;
  type: string;
  points: number;
  occurredAt: string;
}

/** The lead's process state; carried whole across continue-as-new. */
export interface LeadState {
  stage: LeadStage;
  score: number;
  reviewCount: number;
  unsubscribed: boolean;
  enrolledAt: string;
  sequence: SequencePosition;
  /** Events that earned the current score; emptied when sales rejects the lead. */
  scoredEvents: ScoredEvent[];
  /** Recent eventIds, for dedupe inside the workflow (Postgres keeps the full set). */
  seenEventIds: string[];
  lastRejectReason?: RejectReason;
}

/** Input of the lead workflow: the profile, the frozen program, and state after continue-as-new. */
export interface LeadWorkflowInput {
  lead: LeadProfile;
  program: ProgramSnapshot;
  state?: LeadState;
  /** History events after which the lead continues as new (default 10,000). */
  historyBudget?: number;
}
