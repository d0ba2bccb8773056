import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LeadActivities, DecisionRecord, TransitionRecord } from '../activities/types.js';
import { ErrorCodes } from '../src/domain/errors.js';
import { REJECT_REASONS, TERMINAL_STAGES, type LeadStage, type LeadView } from '../src/domain/lead.js';
import { durationMs, sequenceLabel, type Sequence } from '../src/sequences/model.js';
import {
  acceptUpdate,
  disqualifyUpdate,
  engagementSignal,
  leadStateQuery,
  rejectUpdate,
  unsubscribeSignal,
  type LeadState,
  type LeadWorkflowInput,
} from './messages.js';
import { LeadReviewCountKey, LeadScoreKey, LeadSequenceKey, LeadStageKey, LeadUnsubscribedKey } from './search-attributes.js';

// Postgres writes are quick and idempotent: retry often, forever.
const { recordLeadState } = proxyActivities<LeadActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// SMTP may be down for a while: back off patiently; a bad or suppressed address is permanent.
const { sendNurtureEmail, notifySales } = proxyActivities<LeadActivities>({
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

  // Effects decided by handlers, carried out (in order) by the main loop's flush.
  let transitions: TransitionRecord[] = input.state ? [] : [{ from: null, to: 'nurturing', reason: 'enrolled', score: 0, at: now() }];
  let decisions: DecisionRecord[] = [];
  let escalations: number[] = [];
  let dirty = true;

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
  });

  function nextActionAt(): string | null {
    if (state.stage !== 'nurturing') return null;
    const step = currentSequence().steps[state.sequence.step];
    if (!step) return null;
    if (step.kind === 'wait' && state.sequence.waitUntil !== undefined) return new Date(state.sequence.waitUntil).toISOString();
    return now();
  }

  function moveTo(to: LeadStage, reason: string): void {
    transitions.push({ from: state.stage, to, reason, score: state.score, at: now() });
    state.stage = to;
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

  setHandler(leadStateQuery, view);

  setHandler(engagementSignal, (event) => {
    if (state.seenEventIds.includes(event.eventId)) return;
    state.seenEventIds.push(event.eventId);
    if (state.seenEventIds.length > SEEN_EVENT_IDS_KEPT) state.seenEventIds.splice(0, state.seenEventIds.length - SEEN_EVENT_IDS_KEPT);
    if (isTerminal()) return;
    const points = program.scoring[event.type] ?? 0;
    if (points === 0) return;
    state.score += points;
    state.scoredEvents.push({ eventId: event.eventId, type: event.type, points, occurredAt: event.occurredAt });
    dirty = true;
    if (state.stage === 'nurturing' && state.score >= program.threshold) {
      state.reviewCount += 1;
      escalations.push(state.reviewCount);
      moveTo('sales_review', 'threshold_reached');
    }
  });

  setHandler(unsubscribeSignal, () => {
    if (state.unsubscribed) return;
    state.unsubscribed = true;
    dirty = true;
  });

  // Two salespeople may both pass the validator in one workflow task; the handler checks again,
  // so exactly one decision wins and the other fails with not_in_review.
  setHandler(
    acceptUpdate,
    (decision) => {
      assertInReview();
      decisions.push({ reviewNo: state.reviewCount, decision: 'accepted', by: decision.by, notes: decision.notes, at: now() });
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

  /** Carries out what handlers decided: the read model first, then the sales notifications. */
  async function flush(): Promise<void> {
    while (dirty) {
      dirty = false;
      const batch = { transitions, decisions, due: escalations };
      transitions = [];
      decisions = [];
      escalations = [];
      upsertSearchAttributes([
        { key: LeadStageKey, value: state.stage },
        { key: LeadScoreKey, value: state.score },
        { key: LeadSequenceKey, value: `${state.sequence.id}@v${state.sequence.version}` },
        { key: LeadReviewCountKey, value: state.reviewCount },
        { key: LeadUnsubscribedKey, value: state.unsubscribed },
      ]);
      await recordLeadState({ view: view(), transitions: batch.transitions, decisions: batch.decisions });
      for (const reviewNo of batch.due) {
        await notifySales({
          lead,
          sendKey: `${lead.id}:sales-review:${reviewNo}`,
          score: state.score,
          reviewCount: reviewNo,
          events: state.scoredEvents.map(({ type, points, occurredAt }) => ({ type, points, occurredAt })),
        });
      }
    }
  }

  function historyIsLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > historyBudget;
  }

  for (;;) {
    await flush();
    if (isTerminal()) break;

    if (historyIsLong()) {
      await condition(allHandlersFinished);
      await flush();
      if (!isTerminal()) await continueAsNew<typeof leadWorkflow>({ lead, program, state, historyBudget });
    }

    const sequence = currentSequence();
    const position = state.sequence;
    const step = sequence.steps[position.step];

    // In sales review the sequence pauses at its next wait; an email already due still goes
    // (a lead that escalates before its welcome email still gets it).
    if (state.stage === 'sales_review' && step?.kind !== 'email') {
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
        await sendNurtureEmail({
          lead,
          template: step.template,
          sendKey: `${lead.id}:${sequenceLabel(sequence)}:e${position.enrolment}:s${position.step}`,
          sequence: sequenceLabel(sequence),
          step: position.step,
        });
      }
      // A decision or recycle during the send moved the lead elsewhere: do not advance that.
      if (state.sequence === position) advanceStep();
      continue;
    }

    position.waitUntil ??= Date.now() + durationMs(step.duration);
    const remaining = position.waitUntil - Date.now();
    if (remaining > 0) {
      await condition(() => dirty || state.stage !== 'nurturing' || state.sequence !== position, remaining, {
        summary: `${sequenceLabel(sequence)} step ${position.step}: wait ${step.duration}`,
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
