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
  ScoreItem,
  TimelineEntry,
} from '../src/domain/lead.js';
import type { ProgramSnapshot, Sequence } from '../src/sequences/model.js';
import type { DecisionRecord, SlaBreachRecord, TransitionRecord } from '../activities/types.js';
import type { LeadMachineState } from '../src/domain/lead/state.js';

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
/** The profile changed (PATCH /v1/leads/{id}): the next email and the send window use the new one. */
export const updateProfileSignal = defineSignal<[ProfileChange]>('updateProfile');
export type ProfileChange = Partial<Omit<LeadProfile, 'id'>>;

/**
 * Move the lead to a newer version of the sequence it runs, at its next wait (a safe point):
 * it continues at the step of the new version with the same label (or, unlabelled, the same
 * position and kind). Ignored when the lead runs another sequence or a version as new.
 */
export const migrateSequenceSignal = defineSignal<[MigrateSequence]>('migrateSequence');
export interface MigrateSequence {
  /** The new version, in full: it is pinned into the lead's history like the first one. */
  sequence: Sequence;
}

/** What the state query answers: the lead as people see it, plus its recent story. */
export interface LeadStateView extends LeadView {
  /** The last TIMELINE_KEPT things that happened to the lead, oldest first. */
  timeline: TimelineEntry[];
}

/** The lead's current state as people see it. */
export const leadStateQuery = defineQuery<LeadStateView>('leadState');

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
  /** When the waitFor step in progress started (epoch ms): events from then on count. */
  waitStartedAt?: number;
  /** When the email step in progress may go (send window, frequency cap), epoch ms. */
  sendAt?: number;
  /** Times the sequence jumped back (branches, gotos): part of the send key of a repeated email. */
  loop?: number;
}

/** An event that counted towards the current score (what the sales notification lists). */
export type ScoredEvent = ScoreItem;

/** The review in progress and where it stands against its SLA. */
export interface ReviewState {
  reviewNo: number;
  /** When the lead entered review (epoch ms). */
  since: number;
  owner: string | null;
  /** When the next SLA step is due (epoch ms); undefined after the manager was told. */
  dueAt?: number;
  /** SLA expiries so far in this review: 1 = reminded, 2 = escalated to a manager. */
  expiries: number;
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
  /** The review in progress (sales_review only). */
  review?: ReviewState;
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

/** Input of the lead workflow: the profile, the frozen program, and state after continue-as-new. */
export interface LeadWorkflowInput {
  lead: LeadProfile;
  program: ProgramSnapshot;
  /** The lead machine's state (engine v2) carried across continue-as-new. */
  machine?: LeadMachineState;
  /** The first engine's state (workflows/lead-v1.ts), converted when a v2 run starts from it. */
  state?: LeadState;
  /** History events after which the lead continues as new (default 10,000). */
  historyBudget?: number;
  /** Effects the previous run decided but had not carried out when it continued as new. */
  pending?: PendingEffects;
}

/** What handlers decided and the main loop has not yet done (records, notifications). */
export interface PendingEffects {
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
  /** Review numbers whose sales notification is still to go. */
  escalations: number[];
  slaBreaches: SlaBreachRecord[];
}
