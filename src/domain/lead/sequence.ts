import type { Sequence, SequenceStep } from '../../sequences/model.js';
import { leadTimeZone, nextSendTime, sendsInCapWindow } from '../../sequences/delivery.js';
import { durationMs, eventList, labelIndex, sequenceLabel } from '../../sequences/steps.js';
import type { SendMarketingEmail } from './effects.js';
import { lastSeenAt } from './engagement.js';
import { marketingSendKey } from './send-keys.js';
import { STEPS_WITHOUT_WAIT_MAX, currentSequence, knownSequences, note, type LeadContext, type LeadMachineState, type SequencePosition } from './state.js';

/**
 * Sequence stepping: the lead walks its pinned sequence as far as it can at `ctx.now` and stops
 * at a wait, at an email that may not go yet (send window, frequency cap), at an email in flight,
 * or at the end. Only a nurturing lead walks: in sales review the sequence pauses, so no
 * marketing email is decided while sales looks at the lead.
 */

/** What a marketing email's send came back with. */
export type EmailOutcome = 'sent' | 'alreadySent' | 'suppressed' | 'bounced' | 'softBounced' | 'templateMissing' | 'failed';

const isWait = (step: SequenceStep | undefined): boolean => step?.kind === 'wait' || step?.kind === 'waitFor';

/** Starts `sequence` from its first step as a new enrolment. */
export function enrol(state: LeadMachineState, sequence: Sequence, ctx: LeadContext): void {
  state.sequence = { id: sequence.id, version: sequence.version, step: 0, enrolment: state.sequence.enrolment + 1, enrolledAt: ctx.now };
  if (state.pendingMigration && state.pendingMigration.id !== sequence.id) state.pendingMigration = undefined;
}

function moveTo(state: LeadMachineState, step: number, loop?: number): void {
  const { id, version, enrolment, enrolledAt } = state.sequence;
  state.sequence = { id, version, step, enrolment, enrolledAt, ...(loop ? { loop } : {}) };
}

const advance = (state: LeadMachineState): void => moveTo(state, state.sequence.step + 1, state.sequence.loop);

/** Moves to the step with `label` (the next step without one); a jump back counts a loop. */
function jump(state: LeadMachineState, sequence: Sequence, label: string | undefined): void {
  const from = state.sequence.step;
  const target = label === undefined ? from + 1 : labelIndex(sequence, label);
  const back = target >= 0 && target <= from;
  moveTo(state, target < 0 ? sequence.steps.length : target, (state.sequence.loop ?? 0) + (back ? 1 : 0));
}

/** A pending migration, applied at a safe point (a wait or the end): same label, else same place and kind. */
function applyMigration(state: LeadMachineState, ctx: LeadContext): void {
  const next = state.pendingMigration!;
  state.pendingMigration = undefined;
  const from = currentSequence(state, ctx.program);
  const step = from.steps[state.sequence.step];
  let at = step?.label ? labelIndex(next, step.label) : -1;
  if (at < 0 && step && next.steps[state.sequence.step]?.kind === step.kind && !step.label) at = state.sequence.step;
  if (!step) at = next.steps.length > from.steps.length ? from.steps.length : -1;
  if (at < 0) {
    note(state, ctx, 'sequence', `migration to ${sequenceLabel(next)} not applied: step ${state.sequence.step} has no counterpart in it; the lead finishes ${sequenceLabel(from)}`);
    return;
  }
  state.pinned = [...state.pinned.filter((s) => s.id !== next.id), next];
  state.sequence = { ...state.sequence, version: next.version, step: at };
  note(state, ctx, 'sequence', `migrated from ${sequenceLabel(from)} to ${sequenceLabel(next)} at step ${at}`);
}

/** A migration request: kept for the next safe point when it is a newer version of the running sequence. */
export function requestMigration(state: LeadMachineState, sequence: Sequence, ctx: LeadContext): void {
  if (sequence.id !== state.sequence.id || sequence.version <= state.sequence.version) {
    note(state, ctx, 'sequence', `migration to ${sequenceLabel(sequence)} ignored: the lead runs ${sequenceLabel(state.sequence)}`);
    return;
  }
  state.pendingMigration = sequence;
  note(state, ctx, 'sequence', `migration to ${sequenceLabel(sequence)} requested: applies at the next wait`);
}

/** How long a wait step waits for this lead: recycle waits depend on why sales said no. */
function waitDuration(state: LeadMachineState, step: Extract<SequenceStep, { kind: 'wait' }>): string {
  const reason = state.lastRejectReason;
  const byReason = step.byRejectReason;
  return (reason && byReason && Object.hasOwn(byReason, reason) && byReason[reason]) || step.duration;
}

/** When the email at the lead's position may go: at once, or by the send window and frequency cap. */
function sendTime(state: LeadMachineState, ctx: LeadContext): number {
  const delivery = ctx.program.delivery;
  if (!delivery) return ctx.now;
  const atOnce = delivery.firstEmailAtOnce && !state.firstEmailDone && state.sequence.enrolment === 1;
  return nextSendTime(ctx.now, delivery, leadTimeZone(state.profile.timezone, delivery.sendWindow), state.sentAt, { ignoreWindow: atOnce });
}

/** Walks the sequence as far as it goes now; returns the marketing email to send, if one is due. */
export function walk(state: LeadMachineState, ctx: LeadContext): SendMarketingEmail | undefined {
  // Each round moves the position or returns; the loop guard bounds the rounds.
  for (let round = 0; round <= 4 * STEPS_WITHOUT_WAIT_MAX + 8; round++) {
    if (state.stage !== 'nurturing' || state.emailInFlight) return undefined;
    const sequence = currentSequence(state, ctx.program);
    const position = state.sequence;
    const step = sequence.steps[position.step];
    if (!step) {
      if (!state.pendingMigration) return undefined;
      applyMigration(state, ctx);
      continue;
    }
    if (!isWait(step) && !position.entered) {
      state.sequence = { ...position, entered: true };
      if (++state.stepsWithoutWait > STEPS_WITHOUT_WAIT_MAX) {
        // `npm run sequences -- check` refuses loops without a wait; this guards a lead anyway.
        note(state, ctx, 'sequence', `${sequenceLabel(sequence)} stopped at step ${position.step}: ${STEPS_WITHOUT_WAIT_MAX} steps without a wait`);
        moveTo(state, sequence.steps.length, position.loop);
        continue;
      }
    }
    switch (step.kind) {
      case 'email': {
        if (state.unsubscribed) {
          state.lastEmailAt = ctx.now;
          note(state, ctx, 'email', `${step.template} skipped: unsubscribed`);
          advance(state);
          continue;
        }
        const sendAt = state.sequence.sendAt ?? sendTime(state, ctx);
        if (sendAt > ctx.now) {
          state.sequence = { ...state.sequence, sendAt };
          return undefined;
        }
        state.lastEmailAt = ctx.now;
        const at = state.sequence;
        const sendKey = marketingSendKey(state.profile.id, at);
        state.emailInFlight = { sendKey, template: step.template, at: { id: at.id, version: at.version, step: at.step, enrolment: at.enrolment, ...(at.loop ? { loop: at.loop } : {}) } };
        if (state.sequence.sendAt === undefined) state.sequence = { ...state.sequence, sendAt };
        return { kind: 'sendMarketingEmail', sendKey, template: step.template, sequence: sequenceLabel(sequence), step: at.step };
      }
      case 'exit': {
        const when = step.when;
        const score = state.engagement.score;
        const seen = eventList(when?.eventSeen).some((type) => (lastSeenAt(state.engagement, type) ?? -1) >= position.enrolledAt);
        const holds = !when || (when.scoreAtLeast !== undefined && score >= when.scoreAtLeast) || seen;
        if (holds) {
          note(state, ctx, 'sequence', `${sequenceLabel(sequence)} exits at step ${position.step}${when ? ` (${when.scoreAtLeast !== undefined && score >= when.scoreAtLeast ? `score ${score} ≥ ${when.scoreAtLeast}` : 'event seen'})` : ''}`);
          moveTo(state, sequence.steps.length, position.loop);
        } else advance(state);
        continue;
      }
      case 'goto': {
        if (step.sequence === undefined) {
          jump(state, sequence, step.to);
          continue;
        }
        const target = knownSequences(state, ctx.program).find((s) => s.id === step.sequence);
        if (target) {
          note(state, ctx, 'sequence', `${sequenceLabel(sequence)} step ${position.step}: goes to ${sequenceLabel(target)}`);
          enrol(state, target, ctx);
        } else {
          note(state, ctx, 'sequence', `${sequenceLabel(sequence)} step ${position.step}: sequence "${step.sequence}" is not in the lead's program; the sequence ends`);
          moveTo(state, sequence.steps.length, position.loop);
        }
        continue;
      }
      case 'wait':
      case 'waitFor': {
        // A wait is a safe point: a requested migration to a newer version applies here.
        if (state.pendingMigration) {
          const before = state.sequence;
          applyMigration(state, ctx);
          if (state.sequence.version !== before.version) continue;
        }
        state.stepsWithoutWait = 0;
        if (step.kind === 'wait') {
          const waitUntil = state.sequence.waitUntil ?? ctx.now + durationMs(waitDuration(state, step));
          if (ctx.now < waitUntil) {
            state.sequence = { ...state.sequence, waitUntil };
            return undefined;
          }
          advance(state);
          continue;
        }
        const types = eventList(step.event);
        // Engagement since the last email counts (a click on it may come before the wait starts).
        const since = state.sequence.waitStartedAt ?? Math.min(ctx.now, state.lastEmailAt ?? ctx.now);
        const waitUntil = state.sequence.waitUntil ?? ctx.now + durationMs(step.timeout);
        if (types.some((type) => (lastSeenAt(state.engagement, type) ?? -1) >= since)) {
          note(state, ctx, 'sequence', `${sequenceLabel(sequence)} step ${position.step}: ${types.join(' or ')} came${step.then ? ` → ${step.then}` : ''}`);
          jump(state, sequence, step.then);
          continue;
        }
        if (ctx.now >= waitUntil) {
          note(state, ctx, 'sequence', `${sequenceLabel(sequence)} step ${position.step}: no ${types.join(' or ')} in ${step.timeout}${step.else ? ` → ${step.else}` : ''}`);
          jump(state, sequence, step.else);
          continue;
        }
        state.sequence = { ...state.sequence, waitStartedAt: since, waitUntil };
        return undefined;
      }
    }
  }
  return undefined;
}

/** The email lane answered: the lead notes it, counts it against the cap, and moves on if it is still at that step. */
export function emailAnswered(state: LeadMachineState, sendKey: string, outcome: EmailOutcome, ctx: LeadContext): void {
  const inFlight = state.emailInFlight;
  if (!inFlight || inFlight.sendKey !== sendKey) return;
  state.emailInFlight = undefined;
  const { template, at } = inFlight;
  const where = `${sequenceLabel(at)} step ${at.step}`;
  const text: Record<EmailOutcome, string> = {
    sent: `sent ${template} (${where})`,
    alreadySent: `sent ${template} (${where})`,
    suppressed: `${template} not sent: address suppressed`,
    bounced: `${template} not sent: the address bounced`,
    softBounced: `${template} not sent: the relay answered "try again later" on every attempt (a soft bounce)`,
    templateMissing: `${template} skipped: the template does not exist (${where})`,
    failed: `${template} not sent: the send failed for good (${where})`,
  };
  note(state, ctx, 'email', text[outcome]);
  if ((outcome === 'sent' || outcome === 'alreadySent') && ctx.program.delivery) {
    state.sentAt = [...sendsInCapWindow(state.sentAt, ctx.now, ctx.program.delivery.frequencyCap), ctx.now];
    state.firstEmailDone = true;
  }
  const here: SequencePosition = state.sequence;
  if (here.id === at.id && here.version === at.version && here.step === at.step && here.enrolment === at.enrolment && (here.loop ?? 0) === (at.loop ?? 0)) advance(state);
}

/** When the sequence acts next on its own (epoch ms), or undefined. */
export function sequenceWakeAt(state: LeadMachineState, ctx: LeadContext): number | undefined {
  if (state.stage !== 'nurturing' || state.emailInFlight) return undefined;
  const step = currentSequence(state, ctx.program).steps[state.sequence.step];
  if (!step) return undefined;
  if (step.kind === 'email') return state.unsubscribed ? undefined : state.sequence.sendAt;
  return isWait(step) ? state.sequence.waitUntil : undefined;
}
