import type { Duration } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AcceptDecision,
  DisqualifyDecision,
  EngagementEvent,
  LeadProfile,
  LeadStage,
  LeadView,
  RejectDecision,
  ScoreItem,
  TimelineEntry,
} from '../src/domain/lead.js';
import type { ProfileChange } from '../src/domain/profile.js';
import type { ProgramSnapshot, Rules, Sequence } from '../src/sequences/model.js';
import type { LeadMachineState } from '../src/domain/lead/state.js';
import type { CampaignEnrolment } from '../src/domain/lead/campaign.js';
import type { Segment } from '../src/domain/segment.js';
import type { Outcome, OutcomeReport } from '../src/domain/lead.js';
import type { LeadStateV1, PendingEffectsV1, ReviewStateV1, SequencePositionV1 } from '../src/domain/lead/from-v1.js';

/**
 * The lead workflow's messages: the one place the workflow, the API and the tests take
 * signal, query and update definitions from. Never address a handler by a string literal.
 */

/** Task queue every lead worker polls. */
export const LEADS_TASK_QUEUE = 'leads';

/** The lead workflow's type: the name of its function in workflows/lead.ts (a test keeps them equal). */
export const LEAD_WORKFLOW_TYPE = 'leadWorkflow';

/** An engagement event (webinar viewed, products compared...). Repeated eventIds change nothing. */
export const engagementSignal = defineSignal<[EngagementEvent]>('engagement');
/** The lead asked for no more marketing email; the lead itself is kept. */
export const unsubscribeSignal = defineSignal<[]>('unsubscribe');
/** The profile changed (PATCH /v1/leads/{id}): the next email and the send window use the new one. */
export const updateProfileSignal = defineSignal<[ProfileChange]>('updateProfile');
export type { ProfileChange };

/**
 * Move the lead to a newer version of the sequence it runs, at its next wait (a safe point):
 * it continues at the step of the new version with the same label (or, unlabelled, the same
 * position and kind). Ignored when the lead runs another sequence or a version as new.
 */
export const migrateSequenceSignal = defineSignal<[MigrateSequence]>('migrateSequence');
export interface MigrateSequence {
  /** The new version, in full: it is pinned into the lead's history like the first one. */
  sequence: Sequence;
  /** The program's current qualification rules: the lead adopts them at once when they are newer than its own. */
  rules?: Rules;
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

export type { OutcomeReport };
export interface OutcomeResult extends DecisionResult {
  outcome: Outcome;
}
/**
 * Sales reports how an accepted lead's opportunity ended: won (the lead's story ends), lost (it
 * ends too), or lost with recycle (back to nurturing in the recycle sequence). The validator
 * refuses a lead with no accepted review waiting for an outcome (type `not_accepted`, the outcome
 * already recorded in its details); the same report again answers again and changes nothing.
 */
export const outcomeUpdate = defineUpdate<OutcomeResult, [OutcomeReport]>('outcome');

/**
 * A campaign enrols the lead in its sequence: the current one ends, the campaign's starts. The
 * validator refuses (leaving no trace in history) with an ApplicationFailure whose type is the
 * skip reason (CAMPAIGN_SKIP_REASONS): already enrolled by this campaign, closed, unsubscribed,
 * in review, already in that sequence.
 */
export const campaignEnrolmentUpdate = defineUpdate<CampaignEnrolmentResult, [CampaignEnrolment]>('campaignEnrolment');
export type { CampaignEnrolment };
export interface CampaignEnrolmentResult {
  id: string;
  /** The lead's enrolment number in the campaign's sequence. */
  enrolment: number;
}

/** Workflow type of a campaign: the name of its function in workflows/campaign.ts. */
export const CAMPAIGN_WORKFLOW_TYPE = 'campaignWorkflow';
export const campaignWorkflowId = (campaignId: string): string => `campaign-${campaignId}`;

export type CampaignStatus = 'running' | 'completed' | 'cancelled';

/** A campaign as its workflow knows it: what it sends to whom, how fast. */
export interface CampaignDefinition {
  id: string;
  /** The sequence as the campaign pinned it, with the sequences its gotos reach. */
  snapshot: Omit<CampaignEnrolment, 'campaignId'>;
  segment: Segment;
  ratePerSecond: number;
}

/** Where a campaign stands: carried across continue-as-new, written to Postgres after every page. */
export interface CampaignProgress {
  status: CampaignStatus;
  matched: number;
  enrolled: number;
  skipped: Record<string, number>;
  failed: number;
  /** The last lead id done (keyset pagination by id); null before the first page. */
  cursor: string | null;
  /** Pages done so far: the revision of the Postgres row (a late write of an older page changes nothing). */
  pages: number;
  startedAt: string;
  finishedAt: string | null;
}

/** A campaign's progress before its first page: `matched` leads in its segment, none done. */
export const startingCampaignProgress = (matched: number, startedAt: string): CampaignProgress => ({
  status: 'running',
  matched,
  enrolled: 0,
  skipped: {},
  failed: 0,
  cursor: null,
  pages: 0,
  startedAt,
  finishedAt: null,
});

export interface CampaignWorkflowInput {
  campaign: CampaignDefinition;
  progress: CampaignProgress;
  /** Leads per page (default: about a second of work at the rate, at most 200). */
  pageSize?: number;
  /** Pages per run before continuing as new (default 100). */
  pagesPerRun?: number;
}

/** Stop the campaign after the page in flight; answers once it has stopped. Leads already enrolled stay enrolled. */
export const cancelCampaignUpdate = defineUpdate<CampaignProgress, []>('cancelCampaign');
/** The campaign's progress. */
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgress');

/** Where the lead stands in its sequence: which one, which step, which enrolment. */
// The first engine's state shapes are the domain's (src/domain/lead/from-v1.ts), which converts them.
export type SequencePosition = SequencePositionV1;
/** An event that counted towards the current score (what the sales notification lists). */
export type ScoredEvent = ScoreItem;
export type ReviewState = ReviewStateV1;
/** The lead's process state (first engine); carried whole across continue-as-new. */
export type LeadState = LeadStateV1;

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
export type PendingEffects = PendingEffectsV1;

/** Task queue of webhook deliveries: their own worker and slots, so a slow receiver never holds up a lead's activities. */
export const WEBHOOKS_TASK_QUEUE = 'webhooks';
/** Workflow type of one webhook delivery: the name of its function in workflows/webhook-delivery.ts. */
export const WEBHOOK_DELIVERY_WORKFLOW_TYPE = 'webhookDeliveryWorkflow';
/** One delivery, one workflow: its id follows the outbox row (the delivery's `webhook-id`). */
export const webhookDeliveryWorkflowId = (outboxId: string): string => `webhook-${outboxId}`;

export interface WebhookDeliveryInput {
  /** The webhook_outbox row: its id is the delivery's `webhook-id`, the same on every attempt. */
  outboxId: string;
  /** Back-off of the attempts (default: from 1 second, doubling up to 1 hour, for a day). */
  retry?: { initialInterval?: Duration; maximumInterval?: Duration; giveUpAfter?: Duration };
}

/** How a delivery ended: 2xx received, given up after its retry window, or its endpoint deleted. */
export type WebhookDeliveryResult = 'delivered' | 'failed' | 'cancelled';

/** The CSV import job's workflow type: the name of its function in workflows/import.ts. */
export const IMPORT_WORKFLOW_TYPE = 'importWorkflow';

export { importWorkflowId, type ImportProgress } from '../src/domain/imports.js';

export interface ImportWorkflowInput {
  importId: string;
  /** Staged rows handled per activity call (default 500). */
  pageSize?: number;
}
