import { addDuration } from '../duration.js';
import { ErrorCodes } from '../errors.js';
import { REJECT_REASONS, type AcceptDecision, type DisqualifyDecision, type LeadStage, type OutcomeReport, type RejectDecision } from '../lead.js';
import type { LeadEffect } from './effects.js';
import { resetScore, scoreBreakdown } from './engagement.js';
import { enrol } from './sequence.js';
import { salesNotificationKey, slaReminderKey } from './send-keys.js';
import { gradeAtLeast, gradeOf } from './rules.js';
import { DEFAULT_REVIEW_SLA, isTerminal, note, rulesOf, type LeadContext, type LeadMachineState } from './state.js';

/**
 * Sales review and its SLA: the threshold hands a nurturing lead to sales; sales accepts or
 * rejects (a rejected lead recycles, its score and owner cleared); a review sales leaves
 * undecided reminds the owner after one SLA period and tells the manager after the second, then
 * again every SLA period until someone decides.
 */

export type Decision = ({ kind: 'accept' } & AcceptDecision) | ({ kind: 'reject' } & RejectDecision) | ({ kind: 'disqualify' } & DisqualifyDecision);

/** Why a decision is refused: the code the API maps to a status, and a sentence. */
export interface DecisionRefusal {
  code: string;
  message: string;
}

/** The check both the Update validator and the handler run: undefined when the decision may be taken. */
export function checkDecision(state: Pick<LeadMachineState, 'stage' | 'profile'>, decision: Decision): DecisionRefusal | undefined {
  if (decision.kind === 'disqualify') {
    if (isTerminal(state.stage)) return { code: ErrorCodes.leadClosed, message: `lead ${state.profile.id} is already ${state.stage}` };
  } else if (state.stage !== 'sales_review') {
    return { code: ErrorCodes.notInReview, message: `lead ${state.profile.id} is ${state.stage}, not in sales review` };
  }
  if (typeof decision.by !== 'string' || !decision.by.trim()) return { code: ErrorCodes.invalidDecision, message: 'a decision names who made it (by)' };
  if (decision.kind === 'reject' && !(REJECT_REASONS as readonly string[]).includes(decision.reason)) {
    return { code: ErrorCodes.invalidDecision, message: `unknown reject reason "${String(decision.reason)}"` };
  }
  return undefined;
}

const reviewSla = (ctx: LeadContext): string => ctx.program.review?.sla ?? DEFAULT_REVIEW_SLA;

function changeStage(state: LeadMachineState, ctx: LeadContext, to: LeadStage, reason: string): void {
  state.published.transitions = [...state.published.transitions, { from: state.stage, to, reason, score: state.engagement.score, at: new Date(ctx.now).toISOString() }];
  note(state, ctx, 'stage', `${state.stage} → ${to} (${reason})`);
  state.stage = to;
  if (to !== 'sales_review') state.review = undefined;
}

/** A nurturing lead at the threshold goes to sales review; the owner is assigned, then sales notified. */
export function escalateIfDue(state: LeadMachineState, ctx: LeadContext, effects: LeadEffect[]): void {
  if (state.stage !== 'nurturing' || state.engagement.score < ctx.program.threshold) {
    state.heldBackBy = undefined;
    return;
  }
  const rules = rulesOf(state, ctx);
  const grade = gradeOf(state.profile, rules);
  if (!gradeAtLeast(grade, rules?.minGrade)) {
    // Said once per grade that holds it back, not on every event.
    if (state.heldBackBy !== (grade ?? 'none')) {
      note(state, ctx, 'qualification', `score ${state.engagement.score} reached the threshold (${ctx.program.threshold}), but grade ${grade ?? 'none'} is below the ${rules!.minGrade} sales review needs: stays in nurturing`);
    }
    state.heldBackBy = grade ?? 'none';
    return;
  }
  state.heldBackBy = undefined;
  state.reviewCount += 1;
  changeStage(state, ctx, 'sales_review', 'threshold_reached');
  state.review = { reviewNo: state.reviewCount, since: ctx.now, owner: null, dueAt: addDuration(ctx.now, reviewSla(ctx)), expiries: 0 };
  effects.push({ kind: 'assignOwner', reviewNo: state.reviewCount });
}

/** The owner came back: the review is theirs, and the sales notification goes (to them). */
export function ownerAssigned(state: LeadMachineState, reviewNo: number, owner: string | null, ctx: LeadContext, effects: LeadEffect[]): void {
  if (reviewNo < 1 || reviewNo > state.reviewCount) return;
  const grade = gradeOf(state.profile, rulesOf(state, ctx));
  if (state.review?.reviewNo === reviewNo) {
    state.review = { ...state.review, owner };
    state.owner = owner;
    if (owner) note(state, ctx, 'stage', `review #${reviewNo} assigned to ${owner}`);
  }
  effects.push({
    kind: 'notifySales',
    sendKey: salesNotificationKey(state.profile.id, reviewNo),
    reviewNo,
    score: state.engagement.score,
    events: scoreBreakdown(state.engagement).map(({ type, points, occurredAt, rule }) => ({ type, points, occurredAt, ...(rule !== undefined ? { rule } : {}) })),
    owner: state.review?.reviewNo === reviewNo ? owner : null,
    ...(grade ? { grade } : {}),
  });
}

/** Takes a decision `checkDecision` allowed. */
export function decide(state: LeadMachineState, decision: Decision, ctx: LeadContext): void {
  const at = new Date(ctx.now).toISOString();
  const reviewNo = state.reviewCount;
  if (decision.kind === 'accept') {
    state.published.decisions = [...state.published.decisions, { reviewNo, decision: 'accepted', by: decision.by, ...(decision.notes !== undefined ? { notes: decision.notes } : {}), at }];
    note(state, ctx, 'decision', `accepted by ${decision.by}`);
    changeStage(state, ctx, 'accepted', 'accepted');
  } else if (decision.kind === 'reject') {
    state.published.decisions = [...state.published.decisions, { reviewNo, decision: 'rejected', reason: decision.reason, by: decision.by, ...(decision.notes !== undefined ? { notes: decision.notes } : {}), at }];
    note(state, ctx, 'decision', `rejected by ${decision.by}: ${decision.reason}`);
    state.lastRejectReason = decision.reason;
    state.owner = null;
    resetScore(state);
    enrol(state, ctx.program.recycleSequence, ctx);
    changeStage(state, ctx, 'nurturing', `rejected:${decision.reason}`);
  } else {
    state.published.decisions = [...state.published.decisions, { reviewNo, decision: 'disqualified', reason: decision.reason, by: decision.by, at }];
    note(state, ctx, 'decision', `disqualified by ${decision.by}: ${decision.reason}`);
    changeStage(state, ctx, 'disqualified', 'disqualified');
  }
}

/** The review's SLA expired (once per period while undecided): reminds sales, then the manager. */
export function slaIfDue(state: LeadMachineState, ctx: LeadContext, effects: LeadEffect[]): void {
  const review = state.review;
  if (state.stage !== 'sales_review' || !review || review.dueAt === undefined || ctx.now < review.dueAt) return;
  const expiries = review.expiries + 1;
  const level = expiries === 1 ? 1 : 2;
  if (expiries === 1) state.slaBreaches += 1;
  state.review = { ...review, expiries, dueAt: addDuration(review.dueAt, reviewSla(ctx)) };
  if (expiries <= 2) state.published.slaBreaches = [...state.published.slaBreaches, { reviewNo: review.reviewNo, level, at: new Date(ctx.now).toISOString() }];
  note(
    state,
    ctx,
    'sla',
    expiries === 1
      ? `review #${review.reviewNo} past its SLA (${reviewSla(ctx)}): sales reminded`
      : expiries === 2
        ? `review #${review.reviewNo} past its SLA twice: manager told`
        : `review #${review.reviewNo} still undecided after ${expiries} SLA periods: manager told again`,
  );
  effects.push({
    kind: 'remindSales',
    sendKey: slaReminderKey(state.profile.id, review.reviewNo, expiries),
    reviewNo: review.reviewNo,
    level,
    owner: review.owner,
    score: state.engagement.score,
    waitingSince: new Date(review.since).toISOString(),
  });
}

/**
 * Takes an outcome `checkOutcome` allowed on an accepted lead: recorded for its latest review;
 * lost with `recycle` sends it back to nurturing in the recycle sequence (score and owner
 * cleared, as after a reject), to escalate again on new engagement.
 */
export function reportOutcome(state: LeadMachineState, report: OutcomeReport, ctx: LeadContext): void {
  const record = { ...report, reviewNo: state.reviewCount, at: new Date(ctx.now).toISOString() };
  state.outcome = record;
  state.published.outcomes = [...(state.published.outcomes ?? []), record];
  note(state, ctx, 'decision', report.outcome === 'won' ? `won (${report.amount}${report.currency ? ` ${report.currency}` : ''}), reported by ${report.by}` : `lost (${report.reason}), reported by ${report.by}`);
  if (report.outcome === 'lost' && report.recycle) {
    state.owner = null;
    resetScore(state);
    enrol(state, ctx.program.recycleSequence, ctx);
    changeStage(state, ctx, 'nurturing', 'recycled:lost');
  }
}
