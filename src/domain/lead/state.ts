import type { Grade, LeadProfile, LeadStage, OutcomeRecord, RejectReason, ScoreItem, TimelineEntry } from '../lead.js';
import type { PinnedEmail, ProgramSnapshot, Rules, Sequence } from '../../sequences/model.js';
import type { CapPeriod } from './rules.js';
import type { ClickBurst } from './honest.js';

/**
 * The lead as a state machine: everything its workflow carries, as plain data (it crosses
 * continue-as-new whole, so every part of it is bounded: see the *_KEPT limits).
 */

/** How many eventIds a lead remembers to drop a redelivered event (Postgres keeps them all). */
export const SEEN_EVENT_IDS_KEPT = 1000;
/** How many scored events a lead keeps one by one (the breakdown); older ones are summed per type and day. */
export const RECENT_ITEMS_KEPT = 50;
/** How many lines of its story the lead keeps for the state query. */
export const TIMELINE_KEPT = 100;
/** Steps a sequence may take without a wait before the lead stops it (the check refuses such loops). */
export const STEPS_WITHOUT_WAIT_MAX = 20;
/** How long a change of the score alone may wait before the read model and `LeadScore` show it. */
export const SCORE_WRITE_DELAY_MS = 2000;
/** The review SLA of programs snapshotted before it existed. */
export const DEFAULT_REVIEW_SLA = '2 business days';

/** Older scored events of one type (and, with decay, one day), summed. */
export interface ScoreBucket {
  type: string;
  points: number;
  count: number;
  /** The earliest scoredAt in the bucket (epoch ms): the bucket expires with it. */
  scoredAt?: number;
  /** The earliest occurredAt in the bucket. */
  occurredAt: string;
  /** The conditional rule that gave the points; absent: the flat table. */
  rule?: string;
}

export interface Engagement {
  /** The sum of the points of `recent` and `earlier` still counting. */
  score: number;
  /** The latest scored events, one by one, oldest first (at most RECENT_ITEMS_KEPT). */
  recent: ScoreItem[];
  /** Older scored events, summed (bounded by event types × days of the decay age). */
  earlier: ScoreBucket[];
  /** The latest eventIds seen, oldest first (at most SEEN_EVENT_IDS_KEPT). */
  seen: string[];
  /** When each known event type last arrived (epoch ms). */
  lastSeen: Record<string, number>;
  /** Per capped rule, the points it gave in its current period (one entry per capped rule). */
  caps?: Record<string, CapPeriod>;
  /** Recent clicks per email, to see a scanner click every link at once (at most BURSTS_KEPT; absent until a tracked click). */
  clickBursts?: ClickBurst[];
}

/** Where the lead stands in its sequence. */
export interface SequencePosition {
  id: string;
  version: number;
  step: number;
  /** Enrolment number (1 for the first sequence, +1 per recycle or goto): part of every send key. */
  enrolment: number;
  /** When this enrolment began (epoch ms): `exit when eventSeen` counts events from then. */
  enrolledAt: number;
  /** Times the sequence jumped back (branches, gotos): part of the send key of a repeated email. */
  loop?: number;
  /** Deadline of the wait step in progress (epoch ms). */
  waitUntil?: number;
  /** When the waitFor step in progress started (epoch ms): events from then on count. */
  waitStartedAt?: number;
  /** When the email step in progress may go (send window, frequency cap), epoch ms. */
  sendAt?: number;
  /** Whether the step at this position was counted by the loop guard. */
  entered?: boolean;
}

export interface ReviewState {
  reviewNo: number;
  /** When the lead entered review (epoch ms). */
  since: number;
  owner: string | null;
  /** When the next SLA step is due (epoch ms): a reminder, then the manager, then the manager again every SLA period. */
  dueAt?: number;
  /** SLA expiries so far in this review. */
  expiries: number;
}

/** A marketing email handed to the email lane, not yet answered. */
export interface EmailInFlight {
  sendKey: string;
  template: string;
  /** The position that sent it: the step advances on the answer only if the lead is still there. */
  at: Pick<SequencePosition, 'id' | 'version' | 'step' | 'enrolment' | 'loop'>;
}

export interface TransitionRecord {
  from: LeadStage | null;
  to: LeadStage;
  reason: string;
  score: number;
  at: string;
}
export interface DecisionRecord {
  reviewNo: number;
  decision: 'accepted' | 'rejected' | 'disqualified';
  reason?: RejectReason | string;
  by: string;
  notes?: string;
  at: string;
}
export interface SlaBreachRecord {
  reviewNo: number;
  level: 1 | 2;
  at: string;
}

/** The values of the lead's search attributes (Temporal UI filters). */
export interface SearchAttributeValues {
  stage: LeadStage;
  score: number;
  sequence: string;
  reviewCount: number;
  unsubscribed: boolean;
  owner: string | null;
  /** Fit grade, null without fit rules. */
  grade: Grade | null;
}

/** What the lead has told the world: the read model's revision and content, the search attributes. */
export interface Published {
  /** Revision of the last read-model write; every write carries a higher one. */
  revision: number;
  /** The visible part of the view last written (views.ts `visibleKey`), to write only when it changed. */
  visible: string;
  /** The score last written. */
  score: number;
  /** When the score written lags: when it is written (epoch ms). */
  scoreDueAt?: number;
  /** Search attribute values as last upserted (or given in the start options). */
  attributes: Partial<SearchAttributeValues>;
  /** Rows still to write with the next read-model write. */
  transitions: TransitionRecord[];
  decisions: DecisionRecord[];
  slaBreaches: SlaBreachRecord[];
  /** Outcomes still to write (absent in states from before outcomes). */
  outcomes?: OutcomeRecord[];
}

export interface LeadMachineState {
  engine: 2;
  profile: LeadProfile;
  stage: LeadStage;
  reviewCount: number;
  unsubscribed: boolean;
  enrolledAt: number;
  engagement: Engagement;
  sequence: SequencePosition;
  review?: ReviewState;
  owner: string | null;
  slaBreaches: number;
  lastRejectReason?: RejectReason;
  /** Steps taken since the last wait or waitFor step (the loop guard). */
  stepsWithoutWait: number;
  /** When the sequence last reached an email step (epoch ms): a waitFor counts events from then. */
  lastEmailAt?: number;
  /** When recent marketing emails went (epoch ms), for the frequency cap (bounded by the cap). */
  sentAt: number[];
  firstEmailDone: boolean;
  emailInFlight?: EmailInFlight;
  /** Sequence versions the lead was migrated to, or a campaign enrolled it in. */
  pinned: Sequence[];
  /** Templates campaigns pinned (over the program's of the same id). */
  templates?: Record<string, PinnedEmail>;
  /** Campaigns that enrolled the lead, oldest first (at most CAMPAIGNS_KEPT; absent in states from before campaigns). */
  campaigns?: string[];
  pendingMigration?: Sequence;
  timeline: TimelineEntry[];
  published: Published;
  /** This run has its "continuing as new" line in the timeline (the next run starts without it). */
  rolloverNoted?: boolean;
  /** Rules a migration brought in, newer than the snapshot's (absent: the snapshot's rules). */
  rules?: Rules;
  /** The grade that kept the lead from sales review at its score, once noted (cleared when it escalates or its score drops below). */
  heldBackBy?: Grade | 'none';
  /** The latest outcome sales reported (absent before the first). */
  outcome?: OutcomeRecord;
}

/** What `reduce` reads besides the state: the clock, the pinned program, the history's length. */
export interface LeadContext {
  /** Now, epoch ms (the workflow clock). */
  now: number;
  program: ProgramSnapshot;
  /** The workflow's history is long enough to continue as new. */
  historyIsLong?: boolean;
}

/** A brand-new lead, before its enrolment input. */
export function newLeadState(profile: LeadProfile, ctx: LeadContext, attributes: Partial<SearchAttributeValues> = {}): LeadMachineState {
  const sequence = ctx.program.enrolSequence;
  return {
    engine: 2,
    profile,
    stage: 'nurturing',
    reviewCount: 0,
    unsubscribed: false,
    enrolledAt: ctx.now,
    engagement: { score: 0, recent: [], earlier: [], seen: [], lastSeen: {} },
    sequence: { id: sequence.id, version: sequence.version, step: 0, enrolment: 1, enrolledAt: ctx.now },
    owner: null,
    slaBreaches: 0,
    stepsWithoutWait: 0,
    sentAt: [],
    firstEmailDone: false,
    pinned: [],
    timeline: [],
    published: { revision: 0, visible: '', score: 0, attributes, transitions: [], decisions: [], slaBreaches: [] },
  };
}

/** A copy whose parts `reduce` may change without touching the caller's state. */
export function draftOf(state: LeadMachineState): LeadMachineState {
  return {
    ...state,
    engagement: { ...state.engagement },
    sequence: { ...state.sequence },
    ...(state.review ? { review: { ...state.review } } : {}),
    published: { ...state.published },
  };
}

/** The qualification rules the lead runs under: a migration's, else its snapshot's. */
export const rulesOf = (state: Pick<LeadMachineState, 'rules'>, ctx: LeadContext): Rules | undefined => state.rules ?? ctx.program.rules;

export const isTerminal = (stage: LeadStage): boolean => stage === 'accepted' || stage === 'disqualified';

/** Adds a line to the lead's story (bounded). */
export function note(state: LeadMachineState, ctx: LeadContext, kind: TimelineEntry['kind'], text: string): void {
  const timeline = [...state.timeline, { at: new Date(ctx.now).toISOString(), kind, text }];
  state.timeline = timeline.length > TIMELINE_KEPT ? timeline.slice(timeline.length - TIMELINE_KEPT) : timeline;
}

/** Every sequence the lead can run: the snapshot's and those it was migrated to. */
export function knownSequences(state: LeadMachineState, program: ProgramSnapshot): Sequence[] {
  return [program.enrolSequence, program.recycleSequence, ...(program.sequences ?? []), ...state.pinned];
}

/** The template pinned for `template`: a campaign's first, then the lead's program's; undefined: rendered by id when it goes. */
export function pinnedTemplate(state: LeadMachineState, program: ProgramSnapshot, template: string): PinnedEmail | undefined {
  if (state.templates && Object.hasOwn(state.templates, template)) return state.templates[template];
  return program.templates && Object.hasOwn(program.templates, template) ? program.templates[template] : undefined;
}

export function currentSequence(state: LeadMachineState, program: ProgramSnapshot): Sequence {
  return knownSequences(state, program).find((s) => s.id === state.sequence.id && s.version === state.sequence.version) ?? program.enrolSequence;
}
