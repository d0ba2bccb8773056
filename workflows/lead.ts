import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { LeadActivities, DecisionRecord, SlaBreachRecord, TransitionRecord } from '../activities/types.js';
import { addDuration } from '../src/domain/duration.js';
import { ErrorCodes } from '../src/domain/errors.js';
import { REJECT_REASONS, TERMINAL_STAGES, type LeadStage, type LeadView, type ReviewView, type TimelineEntry } from '../src/domain/lead.js';
import { durationMs, sequenceLabel, type Sequence, type SequenceStep } from '../src/sequences/model.js';
import {
  acceptUpdate,
  disqualifyUpdate,
  engagementSignal,
  leadStateQuery,
  rejectUpdate,
  unsubscribeSignal,
  type LeadState,
  type LeadStateView,
  type LeadWorkflowInput,
  type ReviewState,
} from './messages.js';
import { LeadOwnerKey, LeadReviewCountKey, LeadScoreKey, LeadSequenceKey, LeadStageKey, LeadUnsubscribedKey } from './search-attributes.js';

// Postgres writes are quick and idempotent: retry often, forever.
const { recordLeadState, assignOwner } = proxyActivities<LeadActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// SMTP may be down for a while: back off patiently; a bad or suppressed address is permanent.
const { sendNurtureEmail, notifySales, remindSales } = proxyActivities<LeadActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: [ErrorCodes.invalidRecipient, ErrorCodes.suppressedRecipient],
  },
});

/** How many eventIds the workflow remembers itself; Postgres holds the full set. */
const SEEN_EVENT_IDS_KEPT = 2000;
/** Continue-as-new well before Temporal's history limits, even if the server suggests nothing. */
const DEFAULT_HISTORY_BUDGET = 10_000;
/** How many lines of its story the lead keeps for the state query. */
export const TIMELINE_KEPT = 100;
/** Owners and SLA timers on sales review (added after the first release; older histories replay without them). */
const SALES_REVIEW_SLA_PATCH = 'sales-review-sla';
/** The review SLA of programs snapshotted before it existed. */
const DEFAULT_REVIEW_SLA = '2 business days';

/**
 * One lead, from enrolment to a sales decision: collects engagement, scores it, runs the
 * pinned nurture sequence, escalates to sales review at the threshold, and recycles rejected
 * leads into nurturing. Long-lived: bounds its history with continue-as-new.
 */
export async function leadWorkflow(input: LeadWorkflowInput): Promise<LeadView> {
  const { lead, program } = input;
  const historyBudget = input.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  const now = () => new Date(Date.now()).toISOString();
  const state: LeadState = input.state ?? {
    stage: 'nurturing',
    score: 0,
    reviewCount: 0,
    unsubscribed: false,
    enrolledAt: now(),
    sequence: { id: program.enrolSequence.id, version: program.enrolSequence.version, step: 0, enrolment: 1 },
    scoredEvents: [],
    seenEventIds: [],
  };
  state.timeline ??= [];
  state.slaBreaches ??= 0;
  const reviewSla = program.review?.sla ?? DEFAULT_REVIEW_SLA;

  // Effects decided by handlers, carried out (in order) by the main loop's flush.
  // A run that continued as new carries what its predecessor had decided but not yet done.
  let transitions: TransitionRecord[] = input.pending?.transitions ?? (input.state ? [] : [{ from: null, to: 'nurturing', reason: 'enrolled', score: 0, at: now() }]);
  let decisions: DecisionRecord[] = input.pending?.decisions ?? [];
  let escalations: number[] = input.pending?.escalations ?? [];
  let slaBreaches: SlaBreachRecord[] = input.pending?.slaBreaches ?? [];
  let dirty = true;

  /** Adds a line to the lead's story (the state query's timeline, bounded). */
  function note(kind: TimelineEntry['kind'], text: string): void {
    const timeline = state.timeline!;
    timeline.push({ at: now(), kind, text });
    if (timeline.length > TIMELINE_KEPT) timeline.splice(0, timeline.length - TIMELINE_KEPT);
  }
  if (!input.state) note('enrolled', `enrolled in ${sequenceLabel(program.enrolSequence)}`);

  const isTerminal = () => TERMINAL_STAGES.includes(state.stage);
  const currentSequence = (): Sequence =>
    state.sequence.id === program.recycleSequence.id && state.sequence.version === program.recycleSequence.version
      ? program.recycleSequence
      : program.enrolSequence;

  const view = (): LeadView => ({
    id: lead.id,
    email: lead.email,
    stage: state.stage,
    score: state.score,
    reviewCount: state.reviewCount,
    unsubscribed: state.unsubscribed,
    sequence: { id: state.sequence.id, version: state.sequence.version, step: state.sequence.step },
    nextActionAt: nextActionAt(),
    scoreBreakdown: state.scoredEvents,
    review: reviewView(state.review),
    owner: state.owner ?? null,
    slaBreaches: state.slaBreaches ?? 0,
    lastRejectReason: state.lastRejectReason ?? null,
  });

  function reviewView(review: ReviewState | undefined): ReviewView | null {
    if (!review) return null;
    return {
      reviewNo: review.reviewNo,
      since: new Date(review.since).toISOString(),
      owner: review.owner,
      slaDueAt: review.dueAt === undefined ? null : new Date(review.dueAt).toISOString(),
      slaState: review.expiries === 0 ? 'on_time' : review.expiries === 1 ? 'reminded' : 'escalated',
    };
  }

  function nextActionAt(): string | null {
    if (state.stage !== 'nurturing') return null;
    const step = currentSequence().steps[state.sequence.step];
    if (!step) return null;
    if (step.kind === 'wait' && state.sequence.waitUntil !== undefined) return new Date(state.sequence.waitUntil).toISOString();
    return now();
  }

  function moveTo(to: LeadStage, reason: string): void {
    transitions.push({ from: state.stage, to, reason, score: state.score, at: now() });
    note('stage', `${state.stage} → ${to} (${reason})`);
    state.stage = to;
    if (to !== 'sales_review') state.review = undefined;
    dirty = true;
  }

  function enrol(sequence: Sequence): void {
    state.sequence = { id: sequence.id, version: sequence.version, step: 0, enrolment: state.sequence.enrolment + 1 };
  }

  function assertInReview(): void {
    if (state.stage !== 'sales_review') {
      throw ApplicationFailure.nonRetryable(`lead ${lead.id} is ${state.stage}, not in sales review`, ErrorCodes.notInReview);
    }
  }

  function assertDecidedBy(by: string): void {
    if (!by.trim()) throw ApplicationFailure.nonRetryable('a decision names who made it (by)', 'invalid_decision');
  }

  function assertOpen(): void {
    if (isTerminal()) {
      throw ApplicationFailure.nonRetryable(`lead ${lead.id} is already ${state.stage}`, ErrorCodes.leadClosed);
    }
  }

  setHandler(leadStateQuery, (): LeadStateView => ({ ...view(), timeline: state.timeline! }));

  setHandler(engagementSignal, (event) => {
    if (state.seenEventIds.includes(event.eventId)) return;
    state.seenEventIds.push(event.eventId);
    if (state.seenEventIds.length > SEEN_EVENT_IDS_KEPT) state.seenEventIds.splice(0, state.seenEventIds.length - SEEN_EVENT_IDS_KEPT);
    if (isTerminal()) return;
    const points = program.scoring[event.type] ?? 0;
    if (points === 0) return;
    state.score += points;
    state.scoredEvents.push({ eventId: event.eventId, type: event.type, points, occurredAt: event.occurredAt });
    note('event', `${event.type} +${points} → score ${state.score}`);
    dirty = true;
    if (state.stage === 'nurturing' && state.score >= program.threshold) {
      state.reviewCount += 1;
      escalations.push(state.reviewCount);
      moveTo('sales_review', 'threshold_reached');
      if (slaEnabled()) {
        state.review = { reviewNo: state.reviewCount, since: Date.now(), owner: null, dueAt: addDuration(Date.now(), reviewSla), expiries: 0 };
      }
    }
  });

  setHandler(unsubscribeSignal, () => {
    if (state.unsubscribed) return;
    state.unsubscribed = true;
    note('unsubscribed', 'unsubscribed: no more marketing email');
    dirty = true;
  });

  // Two salespeople may both pass the validator in one workflow task; the handler checks again,
  // so exactly one decision wins and the other fails with not_in_review.
  setHandler(
    acceptUpdate,
    (decision) => {
      assertInReview();
      decisions.push({ reviewNo: state.reviewCount, decision: 'accepted', by: decision.by, notes: decision.notes, at: now() });
      note('decision', `accepted by ${decision.by}`);
      moveTo('accepted', 'accepted');
      return { id: lead.id, stage: state.stage };
    },
    {
      validator: (decision) => {
        assertInReview();
        assertDecidedBy(decision.by);
      },
    },
  );

  setHandler(
    rejectUpdate,
    (decision) => {
      assertInReview();
      decisions.push({
        reviewNo: state.reviewCount,
        decision: 'rejected',
        reason: decision.reason,
        by: decision.by,
        notes: decision.notes,
        at: now(),
      });
      note('decision', `rejected by ${decision.by}: ${decision.reason}`);
      state.lastRejectReason = decision.reason;
      state.score = 0;
      state.scoredEvents = [];
      enrol(program.recycleSequence);
      moveTo('nurturing', `rejected:${decision.reason}`);
      return { id: lead.id, stage: state.stage };
    },
    {
      validator: (decision) => {
        assertInReview();
        assertDecidedBy(decision.by);
        if (!REJECT_REASONS.includes(decision.reason)) {
          throw ApplicationFailure.nonRetryable(`unknown reject reason "${decision.reason}"`, 'invalid_decision');
        }
      },
    },
  );

  setHandler(
    disqualifyUpdate,
    (decision) => {
      assertOpen();
      decisions.push({ reviewNo: state.reviewCount, decision: 'disqualified', reason: decision.reason, by: decision.by, at: now() });
      note('decision', `disqualified by ${decision.by}: ${decision.reason}`);
      moveTo('disqualified', 'disqualified');
      return { id: lead.id, stage: state.stage };
    },
    {
      validator: (decision) => {
        assertOpen();
        assertDecidedBy(decision.by);
      },
    },
  );

  /** Whether this run assigns owners and keeps the review SLA (see SALES_REVIEW_SLA_PATCH). */
  function slaEnabled(): boolean {
    return patched(SALES_REVIEW_SLA_PATCH);
  }

  /** Carries out what handlers decided: owners first, then the read model, then the sales notifications. */
  async function flush(): Promise<void> {
    while (dirty) {
      // Roll over before each round of work, in the same workflow task that saw the history
      // grow: waiting for one more activity first would leave a window in which any arriving
      // signal makes the server refuse the continue-as-new, so a lead under a steady stream of
      // events could keep postponing it. What is not done yet travels in the input.
      await rollOverIfLong();
      dirty = false;
      const due = escalations;
      escalations = [];
      for (const reviewNo of due) {
        if (!slaEnabled()) continue;
        const { owner } = await assignOwner.executeWithOptions({ summary: `assign an owner to sales review #${reviewNo}` }, [{ leadId: lead.id, reviewNo }]);
        state.owner = owner;
        if (state.review?.reviewNo === reviewNo) state.review.owner = owner;
        if (owner) note('stage', `review #${reviewNo} assigned to ${owner}`);
      }
      const batch = { transitions, decisions, slaBreaches };
      transitions = [];
      decisions = [];
      slaBreaches = [];
      const attributes: SearchAttributeUpdatePair[] = [
        { key: LeadStageKey, value: state.stage },
        { key: LeadScoreKey, value: state.score },
        { key: LeadSequenceKey, value: `${state.sequence.id}@v${state.sequence.version}` },
        { key: LeadReviewCountKey, value: state.reviewCount },
        { key: LeadUnsubscribedKey, value: state.unsubscribed },
      ];
      if (state.owner) attributes.push({ key: LeadOwnerKey, value: state.owner });
      upsertSearchAttributes(attributes);
      await recordLeadState.executeWithOptions({ summary: `record ${state.stage}, score ${state.score}` }, [
        { view: view(), transitions: batch.transitions, decisions: batch.decisions, slaBreaches: batch.slaBreaches },
      ]);
      for (const reviewNo of due) {
        await notifySales.executeWithOptions({ summary: `notify sales: review #${reviewNo} at score ${state.score}` }, [
          {
            lead,
            sendKey: `${lead.id}:sales-review:${reviewNo}`,
            score: state.score,
            reviewCount: reviewNo,
            events: state.scoredEvents.map(({ type, points, occurredAt }) => ({ type, points, occurredAt })),
            owner: state.owner ?? null,
          },
        ]);
      }
    }
    setCurrentDetails(currentDetails());
  }

  /** One line for the Temporal UI's "current details": where the lead stands and what comes next. */
  function currentDetails(): string {
    const parts = [`**${state.stage}**`, `score ${state.score}/${program.threshold}`, `${state.sequence.id}@v${state.sequence.version} step ${state.sequence.step}`];
    if (state.review) parts.push(`review #${state.review.reviewNo} ${reviewView(state.review)!.slaState}${state.review.owner ? ` (owner ${state.review.owner})` : ''}`);
    if (state.unsubscribed) parts.push('unsubscribed');
    return parts.join(' · ');
  }

  /** A review's SLA expired: remind sales the first time, tell the manager the second. */
  async function slaExpired(review: ReviewState): Promise<void> {
    review.expiries += 1;
    const level = review.expiries === 1 ? 1 : 2;
    if (level === 1) state.slaBreaches = (state.slaBreaches ?? 0) + 1;
    review.dueAt = level === 1 ? addDuration(review.dueAt!, reviewSla) : undefined;
    slaBreaches.push({ reviewNo: review.reviewNo, level, at: now() });
    note('sla', level === 1 ? `review #${review.reviewNo} past its SLA (${reviewSla}): sales reminded` : `review #${review.reviewNo} past its SLA twice: manager told`);
    dirty = true;
    await remindSales.executeWithOptions({ summary: level === 1 ? `SLA reminder for review #${review.reviewNo}` : `SLA escalation to the manager for review #${review.reviewNo}` }, [
      {
        lead,
        sendKey: `${lead.id}:sales-review:${review.reviewNo}:sla-${level}`,
        reviewNo: review.reviewNo,
        level,
        owner: review.owner,
        score: state.score,
        waitingSince: new Date(review.since).toISOString(),
      },
    ]);
  }

  /** How long a wait step waits for this lead: recycle waits depend on why sales said no. */
  function waitDuration(step: Extract<SequenceStep, { kind: 'wait' }>): string {
    const reason = state.lastRejectReason;
    return (reason && step.byRejectReason?.[reason]) || step.duration;
  }

  async function rollOverIfLong(): Promise<void> {
    if (!historyIsLong() || isTerminal()) return;
    await condition(allHandlersFinished);
    note('continued', `continuing as new after ${workflowInfo().historyLength} history events`);
    await continueAsNew<typeof leadWorkflow>({ lead, program, state, historyBudget, pending: { transitions, decisions, escalations, slaBreaches } });
  }

  function historyIsLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > historyBudget;
  }

  for (;;) {
    await flush();
    if (isTerminal()) break;
    // Again after the flush: its activities grew the history, and the lead may now sit idle.
    await rollOverIfLong();

    const sequence = currentSequence();
    const position = state.sequence;
    const step = sequence.steps[position.step];

    // In sales review the sequence pauses at its next wait; an email already due still goes
    // (a lead that escalates before its welcome email still gets it).
    if (state.stage === 'sales_review' && step?.kind !== 'email') {
      const review = state.review;
      if (review?.dueAt !== undefined && slaEnabled()) {
        const remaining = review.dueAt - Date.now();
        if (remaining > 0) {
          await condition(() => dirty || state.review !== review, remaining, {
            summary: `sales review #${review.reviewNo}: ${review.expiries === 0 ? 'reminder' : 'manager escalation'} if undecided in ${reviewSla}`,
          });
        }
        if (state.review === review && Date.now() >= review.dueAt) await slaExpired(review);
        continue;
      }
      await condition(() => dirty || state.stage !== 'sales_review');
      continue;
    }

    if (!step) {
      // Sequence finished: the lead stays in nurturing and keeps listening for engagement.
      await condition(() => dirty);
      continue;
    }

    if (step.kind === 'email') {
      if (!state.unsubscribed) {
        const result = await sendNurtureEmail.executeWithOptions({ summary: `email "${step.template}" (${sequenceLabel(sequence)} step ${position.step})` }, [
          {
            lead,
            template: step.template,
            sendKey: `${lead.id}:${sequenceLabel(sequence)}:e${position.enrolment}:s${position.step}`,
            sequence: sequenceLabel(sequence),
            step: position.step,
          },
        ]);
        note('email', result.suppressed ? `${step.template} not sent: address suppressed` : `sent ${step.template} (${sequenceLabel(sequence)} step ${position.step})`);
      } else {
        note('email', `${step.template} skipped: unsubscribed`);
      }
      // A decision or recycle during the send moved the lead elsewhere: do not advance that.
      if (state.sequence === position) advanceStep();
      continue;
    }

    const duration = waitDuration(step);
    position.waitUntil ??= Date.now() + durationMs(duration);
    const remaining = position.waitUntil - Date.now();
    if (remaining > 0) {
      await condition(() => dirty || state.stage !== 'nurturing' || state.sequence !== position, remaining, {
        summary: `${sequenceLabel(sequence)} step ${position.step}: wait ${duration}${duration !== step.duration ? ` (rejected: ${state.lastRejectReason})` : ''}`,
      });
    }
    if (state.sequence === position && state.stage === 'nurturing' && Date.now() >= position.waitUntil) advanceStep();
  }

  function advanceStep(): void {
    state.sequence = { ...state.sequence, step: state.sequence.step + 1, waitUntil: undefined };
    dirty = true;
  }

  await condition(allHandlersFinished);
  return view();
}
