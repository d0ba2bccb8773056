import {
  ActivityFailure,
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
import type { LeadActivities } from '../activities/types.js';
import type { DecisionRecord, SlaBreachRecord, TransitionRecord } from '../src/domain/lead/state.js';
import { reviewView } from '../src/domain/lead/views.js';
import { addDuration } from '../src/domain/duration.js';
import { ErrorCodes } from '../src/domain/errors.js';
import { SMTP_ACTIVITY_OPTIONS } from './activity-options.js';
import { hasOwnName, ownEntry } from '../src/domain/own-key.js';
import { REJECT_REASONS, TERMINAL_STAGES, type DeliveryView, type LeadStage, type LeadView, type TimelineEntry } from '../src/domain/lead.js';
import { leadTimeZone, liveScoreItems, nextSendTime, sendsInCapWindow } from '../src/sequences/delivery.js';
import type { Sequence, SequenceStep } from '../src/sequences/model.js';
import { durationMs, eventList, labelIndex, sequenceLabel } from '../src/sequences/steps.js';
import {
  acceptUpdate,
  disqualifyUpdate,
  engagementSignal,
  leadStateQuery,
  migrateSequenceSignal,
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

const { sendNurtureEmail, notifySales, remindSales } = proxyActivities<LeadActivities>(SMTP_ACTIVITY_OPTIONS);

/** Whether an activity failed with an ApplicationFailure of `type` (its cause). */
const isFailureOfType = (error: unknown, type: string): boolean => error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === type;

/** How many eventIds the workflow remembers itself; Postgres holds the full set. */
const SEEN_EVENT_IDS_KEPT = 2000;
/** Continue-as-new well before Temporal's history limits, even if the server suggests nothing. */
const DEFAULT_HISTORY_BUDGET = 10_000;
/** How many lines of its story the lead keeps for the state query. */
const TIMELINE_KEPT = 100;
/** Owners and SLA timers on sales review (added after the first release; older histories replay without them). */
const SALES_REVIEW_SLA_PATCH = 'sales-review-sla';
/** Send window and frequency cap (programs snapshotted before them have none and skip this). */
const DELIVERY_RULES_PATCH = 'delivery-rules';
/** Score decay (likewise only for programs that define it). */
const SCORE_DECAY_PATCH = 'score-decay';
/** Steps a sequence may take without a wait before the lead stops it (the check refuses such loops). */
const STEPS_WITHOUT_WAIT_MAX = 20;
/** The review SLA of programs snapshotted before it existed. */
const DEFAULT_REVIEW_SLA = '2 business days';

/**
 * The first lead engine, kept so that runs recorded under it replay unchanged (workflows/lead.ts
 * runs it for a history without the `lead-engine-v2` marker). Such a run moves to the new engine
 * at its next continue-as-new: the next run starts on v2 with this state converted.
 */
export async function leadWorkflowV1(input: LeadWorkflowInput): Promise<LeadView> {
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
  // Both are read from the pinned snapshot, and patched: a lead enrolled with the new program but
  // first run by an older worker replays without them.
  const delivery = program.delivery && patched(DELIVERY_RULES_PATCH) ? program.delivery : undefined;
  const decay = program.decay && patched(SCORE_DECAY_PATCH) ? program.decay : undefined;
  const timeZone = delivery ? leadTimeZone(lead.timezone, delivery.sendWindow) : undefined;

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
  const knownSequences = (): Sequence[] => [program.enrolSequence, program.recycleSequence, ...(program.sequences ?? []), ...(state.pinned ?? [])];
  const currentSequence = (): Sequence =>
    knownSequences().find((s) => s.id === state.sequence.id && s.version === state.sequence.version) ?? program.enrolSequence;
  /** Items still counting towards the score (all of them without decay). */
  const liveItems = () => liveScoreItems(state.scoredEvents, Date.now(), decay);
  const liveScore = (): number => (decay ? liveItems().reduce((sum, item) => sum + item.points, 0) : state.score);

  const view = (): LeadView => ({
    id: lead.id,
    email: lead.email,
    stage: state.stage,
    score: liveScore(),
    reviewCount: state.reviewCount,
    unsubscribed: state.unsubscribed,
    sequence: { id: state.sequence.id, version: state.sequence.version, step: state.sequence.step },
    nextActionAt: nextActionAt(),
    scoreBreakdown: decay ? liveItems() : state.scoredEvents,
    review: reviewView(state.review),
    owner: state.owner ?? null,
    slaBreaches: state.slaBreaches ?? 0,
    lastRejectReason: state.lastRejectReason ?? null,
    ...(delivery || decay ? { delivery: deliveryView() } : {}),
  });

  function deliveryView(): DeliveryView | null {
    if (!delivery) return { timezone: lead.timezone ?? 'UTC', sendWindow: null, frequencyCap: null, nextSendAt: null, decayAfter: decay?.after ?? null };
    const step = currentSequence().steps[state.sequence.step];
    return {
      timezone: timeZone!,
      sendWindow: { days: delivery.sendWindow.days, start: delivery.sendWindow.start, end: delivery.sendWindow.end },
      frequencyCap: { max: delivery.frequencyCap.max, per: delivery.frequencyCap.per, sentInWindow: sendsInCapWindow(state.sentAt ?? [], Date.now(), delivery.frequencyCap).length },
      nextSendAt: step?.kind === 'email' && state.sequence.sendAt !== undefined ? new Date(state.sequence.sendAt).toISOString() : null,
      decayAfter: decay?.after ?? null,
    };
  }

  function nextActionAt(): string | null {
    if (state.stage !== 'nurturing') return null;
    const step = currentSequence().steps[state.sequence.step];
    if (!step) return null;
    if ((step.kind === 'wait' || step.kind === 'waitFor') && state.sequence.waitUntil !== undefined) return new Date(state.sequence.waitUntil).toISOString();
    if (step.kind === 'email' && state.sequence.sendAt !== undefined) return new Date(Math.max(state.sequence.sendAt, Date.now())).toISOString();
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
    if (state.pendingMigration && state.pendingMigration.id !== sequence.id) state.pendingMigration = undefined;
  }

  /**
   * How long a wait may last before points start to expire (so the score, and the read model,
   * drop on time); `ms` itself without decay.
   */
  function untilDecay(ms: number | undefined): number | undefined {
    if (!decay || state.scoredEvents.length === 0) return ms;
    const after = durationMs(decay.after);
    const due = Math.min(...state.scoredEvents.map((item) => (item.scoredAt ?? Infinity) + after));
    if (!Number.isFinite(due)) return ms;
    const wait = Math.max(1000, due - Date.now());
    return ms === undefined ? wait : Math.min(ms, wait);
  }

  /** Drops the points that aged past the decay limit from the score. */
  function applyDecay(): void {
    const live = liveItems();
    if (live.length === state.scoredEvents.length) return;
    const lost = state.scoredEvents.length - live.length;
    state.scoredEvents = live;
    state.score = live.reduce((sum, item) => sum + item.points, 0);
    note('event', `${lost} event(s) older than ${decay!.after} stopped counting → score ${state.score}`);
    dirty = true;
  }

  /** Moves to the step with `label` (the next step without one); a jump back counts a loop. */
  function jump(label: string | undefined): void {
    const target = label === undefined ? state.sequence.step + 1 : labelIndex(currentSequence(), label);
    const back = target <= state.sequence.step;
    state.sequence = { id: state.sequence.id, version: state.sequence.version, step: target < 0 ? currentSequence().steps.length : target, enrolment: state.sequence.enrolment, ...(state.sequence.loop || back ? { loop: (state.sequence.loop ?? 0) + (back ? 1 : 0) } : {}) };
    dirty = true;
  }

  /** A pending migration, applied at a safe point (a wait): same label, else same place and kind. */
  function applyMigration(): void {
    const next = state.pendingMigration;
    if (!next) return;
    state.pendingMigration = undefined;
    const from = currentSequence();
    const step = from.steps[state.sequence.step];
    let at = step?.label ? labelIndex(next, step.label) : -1;
    if (at < 0 && step && next.steps[state.sequence.step]?.kind === step.kind && !step.label) at = state.sequence.step;
    if (!step) at = next.steps.length > from.steps.length ? from.steps.length : -1;
    if (at < 0) {
      note('sequence', `migration to ${sequenceLabel(next)} not applied: step ${state.sequence.step} has no counterpart in it; the lead finishes ${sequenceLabel(from)}`);
      return;
    }
    state.pinned = [...(state.pinned ?? []).filter((s) => s.id !== next.id), next];
    state.sequence = { ...state.sequence, version: next.version, step: at };
    note('sequence', `migrated from ${sequenceLabel(from)} to ${sequenceLabel(next)} at step ${at}`);
    dirty = true;
  }

  function assertInReview(): void {
    if (state.stage !== 'sales_review') {
      throw ApplicationFailure.nonRetryable(`lead ${lead.id} is ${state.stage}, not in sales review`, ErrorCodes.notInReview);
    }
  }

  function assertDecidedBy(by: string): void {
    if (!by.trim()) throw ApplicationFailure.nonRetryable('a decision names who made it (by)', ErrorCodes.invalidDecision);
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
    // Own keys only: an inherited name (`constructor`, `__proto__`) is no event type and scores nothing.
    if (!hasOwnName(program.scoring, event.type)) return;
    (state.lastSeen ??= {})[event.type] = Date.now();
    const points = ownEntry(program.scoring, event.type) ?? 0;
    if (points === 0) return;
    if (decay) applyDecay();
    state.score += points;
    state.scoredEvents.push({ eventId: event.eventId, type: event.type, points, occurredAt: event.occurredAt, ...(decay ? { scoredAt: Date.now() } : {}) });
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

  setHandler(migrateSequenceSignal, ({ sequence }) => {
    if (isTerminal() || sequence.id !== state.sequence.id || sequence.version <= state.sequence.version) {
      note('sequence', `migration to ${sequenceLabel(sequence)} ignored: the lead runs ${sequenceLabel(state.sequence)}`);
      return;
    }
    state.pendingMigration = sequence;
    note('sequence', `migration to ${sequenceLabel(sequence)} requested: applies at the next wait`);
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
          throw ApplicationFailure.nonRetryable(`unknown reject reason "${decision.reason}"`, ErrorCodes.invalidDecision);
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
    return (reason && ownEntry(step.byRejectReason, reason)) || step.duration;
  }

  async function rollOverIfLong(): Promise<void> {
    if (!historyIsLong() || isTerminal()) return;
    await condition(allHandlersFinished);
    note('continued', `continuing as new after ${workflowInfo().historyLength} history events`);
    await continueAsNew<typeof leadWorkflowV1>({ lead, program, state, historyBudget, pending: { transitions, decisions, escalations, slaBreaches } });
  }

  function historyIsLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > historyBudget;
  }

  let stepsWithoutWait = 0;
  for (;;) {
    await flush();
    if (isTerminal()) break;
    // Again after the flush: its activities grew the history, and the lead may now sit idle.
    await rollOverIfLong();
    if (decay) applyDecay();

    const sequence = currentSequence();
    const position = state.sequence;
    const step = sequence.steps[position.step];
    if (step && step.kind !== 'wait' && step.kind !== 'waitFor' && ++stepsWithoutWait > STEPS_WITHOUT_WAIT_MAX) {
      // `npm run sequences -- check` refuses loops without a wait; this guards a lead anyway.
      note('sequence', `${sequenceLabel(sequence)} stopped at step ${position.step}: ${STEPS_WITHOUT_WAIT_MAX} steps without a wait`);
      state.sequence = { ...position, step: sequence.steps.length };
      dirty = true;
      continue;
    }

    // When the email the lead is at may go: the send window and the frequency cap (programs with
    // delivery rules). The first email of a lead's first enrolment goes at once (DESIGN.md).
    if (step?.kind === 'email' && delivery && !state.unsubscribed && position.sendAt === undefined) {
      const atOnce = delivery.firstEmailAtOnce && !state.firstEmailDone && position.enrolment === 1;
      position.sendAt = nextSendTime(Date.now(), delivery, timeZone!, state.sentAt ?? [], { ignoreWindow: atOnce });
    }
    const emailDue = step?.kind === 'email' && (position.sendAt === undefined || position.sendAt <= Date.now());

    // In sales review the sequence pauses at its next wait; an email already due still goes
    // (a lead that escalates before its welcome email still gets it).
    if (state.stage === 'sales_review' && !emailDue) {
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
      if (state.pendingMigration) {
        applyMigration();
        continue;
      }
      const wake = untilDecay(undefined);
      if (wake === undefined) await condition(() => dirty || state.pendingMigration !== undefined);
      else await condition(() => dirty || state.pendingMigration !== undefined, wake, { summary: 'sequence finished: until points expire' });
      continue;
    }

    if (step.kind === 'email') {
      if (position.sendAt !== undefined && position.sendAt > Date.now()) {
        stepsWithoutWait = 0;
        await condition(() => dirty || state.stage !== 'nurturing' || state.sequence !== position, position.sendAt - Date.now(), {
          summary: `${sequenceLabel(sequence)} step ${position.step}: email "${step.template}" waits for the send window or the frequency cap`,
        });
        continue;
      }
      state.lastEmailAt = Date.now();
      if (!state.unsubscribed) {
        const loop = position.loop ? `:l${position.loop}` : '';
        const result = await sendNurtureEmail
          .executeWithOptions({ summary: `email "${step.template}" (${sequenceLabel(sequence)} step ${position.step})` }, [
            {
              lead,
              template: step.template,
              sendKey: `${lead.id}:${sequenceLabel(sequence)}:e${position.enrolment}:s${position.step}${loop}`,
              sequence: sequenceLabel(sequence),
              step: position.step,
            },
          ])
          .catch((error: unknown) => {
            // A template that does not exist cannot be retried into existence: the lead skips the step.
            if (isFailureOfType(error, ErrorCodes.unknownTemplate)) return undefined;
            throw error;
          });
        if (!result) {
          note('email', `${step.template} skipped: the template does not exist (${sequenceLabel(sequence)} step ${position.step})`);
          if (state.sequence === position) advanceStep();
          continue;
        }
        note('email', result.suppressed ? `${step.template} not sent: address suppressed` : `sent ${step.template} (${sequenceLabel(sequence)} step ${position.step})`);
        if (delivery) {
          const sent = Date.now();
          state.sentAt = [...sendsInCapWindow(state.sentAt ?? [], sent, delivery.frequencyCap), sent];
          state.firstEmailDone = true;
        }
      } else {
        note('email', `${step.template} skipped: unsubscribed`);
      }
      // A decision or recycle during the send moved the lead elsewhere: do not advance that.
      if (state.sequence === position) advanceStep();
      continue;
    }

    if (step.kind === 'exit') {
      const when = step.when;
      const holds = !when || (when.scoreAtLeast !== undefined && liveScore() >= when.scoreAtLeast) || eventList(when.eventSeen).some((type) => ownEntry(state.lastSeen, type) !== undefined);
      if (holds) {
        note('sequence', `${sequenceLabel(sequence)} exits at step ${position.step}${when ? ` (${when.scoreAtLeast !== undefined ? `score ${liveScore()} ≥ ${when.scoreAtLeast}` : 'event seen'})` : ''}`);
        state.sequence = { ...position, step: sequence.steps.length, sendAt: undefined };
        dirty = true;
      } else advanceStep();
      continue;
    }

    if (step.kind === 'goto') {
      if (step.sequence !== undefined) {
        const target = knownSequences().find((s) => s.id === step.sequence);
        if (target) {
          note('sequence', `${sequenceLabel(sequence)} step ${position.step}: goes to ${sequenceLabel(target)}`);
          enrol(target);
          dirty = true;
        } else {
          note('sequence', `${sequenceLabel(sequence)} step ${position.step}: sequence "${step.sequence}" is not in the lead's program; the sequence ends`);
          state.sequence = { ...position, step: sequence.steps.length };
          dirty = true;
        }
      } else jump(step.to);
      continue;
    }

    // A wait is a safe point: a requested migration to a newer version applies here.
    if (state.pendingMigration) {
      applyMigration();
      if (state.sequence !== position) continue;
    }
    stepsWithoutWait = 0;

    if (step.kind === 'waitFor') {
      const types = eventList(step.event);
      // Engagement since the last email counts (a click on it may come before the wait starts).
      position.waitStartedAt ??= Math.min(Date.now(), state.lastEmailAt ?? Date.now());
      position.waitUntil ??= Date.now() + durationMs(step.timeout);
      const since = position.waitStartedAt;
      const came = () => types.some((type) => (ownEntry(state.lastSeen, type) ?? -1) >= since);
      const remaining = position.waitUntil - Date.now();
      if (!came() && remaining > 0) {
        await condition(() => dirty || came() || state.stage !== 'nurturing' || state.sequence !== position || state.pendingMigration !== undefined, untilDecay(remaining)!, {
          summary: `${sequenceLabel(sequence)} step ${position.step}: wait up to ${step.timeout} for ${types.join(' or ')}`,
        });
      }
      if (state.sequence === position && state.stage === 'nurturing') {
        if (came()) {
          note('sequence', `${sequenceLabel(sequence)} step ${position.step}: ${types.join(' or ')} came${step.then ? ` → ${step.then}` : ''}`);
          jump(step.then);
        } else if (Date.now() >= position.waitUntil) {
          note('sequence', `${sequenceLabel(sequence)} step ${position.step}: no ${types.join(' or ')} in ${step.timeout}${step.else ? ` → ${step.else}` : ''}`);
          jump(step.else);
        }
      }
      continue;
    }

    const duration = waitDuration(step);
    position.waitUntil ??= Date.now() + durationMs(duration);
    const remaining = position.waitUntil - Date.now();
    if (remaining > 0) {
      await condition(() => dirty || state.stage !== 'nurturing' || state.sequence !== position || state.pendingMigration !== undefined, untilDecay(remaining)!, {
        summary: `${sequenceLabel(sequence)} step ${position.step}: wait ${duration}${duration !== step.duration ? ` (rejected: ${state.lastRejectReason})` : ''}`,
      });
    }
    if (state.sequence === position && state.stage === 'nurturing' && Date.now() >= position.waitUntil) advanceStep();
  }

  function advanceStep(): void {
    state.sequence = { ...state.sequence, step: state.sequence.step + 1, waitUntil: undefined, waitStartedAt: undefined, sendAt: undefined };
    dirty = true;
  }

  await condition(allHandlersFinished);
  return view();
}
