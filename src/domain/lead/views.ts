import type { DeliveryView, LeadView, ReviewView } from '../lead.js';
import { leadTimeZone, sendsInCapWindow } from '../../sequences/delivery.js';
import { scoreLines } from './engagement.js';
import { gradeOf } from './rules.js';
import { currentSequence, rulesOf, type LeadContext, type LeadMachineState, type ReviewState, type SearchAttributeValues } from './state.js';

/** The lead as people see it (API, state query, read model, Temporal UI), computed from its state. */

/** A review as people see it (both engines keep reviews in this shape). */
export function reviewView(review: ReviewState | undefined): ReviewView | null {
  if (!review) return null;
  return {
    reviewNo: review.reviewNo,
    since: new Date(review.since).toISOString(),
    owner: review.owner,
    slaDueAt: review.dueAt === undefined ? null : new Date(review.dueAt).toISOString(),
    slaState: review.expiries === 0 ? 'on_time' : review.expiries === 1 ? 'reminded' : 'escalated',
  };
}

/** When the sequence acts next (ISO-8601), or null: a function of the state only, never of the clock. */
function nextActionAt(state: LeadMachineState, ctx: LeadContext): string | null {
  if (state.stage !== 'nurturing') return null;
  const step = currentSequence(state, ctx.program).steps[state.sequence.step];
  if (!step) return null;
  const at = step.kind === 'email' ? state.sequence.sendAt : step.kind === 'wait' || step.kind === 'waitFor' ? state.sequence.waitUntil : undefined;
  return at === undefined ? null : new Date(at).toISOString();
}

function deliveryView(state: LeadMachineState, ctx: LeadContext): DeliveryView | undefined {
  const { delivery, decay } = ctx.program;
  if (!delivery && !decay) return undefined;
  const decayAfter = decay?.after ?? null;
  if (!delivery) return { timezone: state.profile.timezone ?? 'UTC', sendWindow: null, frequencyCap: null, nextSendAt: null, decayAfter };
  const step = currentSequence(state, ctx.program).steps[state.sequence.step];
  return {
    timezone: leadTimeZone(state.profile.timezone, delivery.sendWindow),
    sendWindow: { days: delivery.sendWindow.days, start: delivery.sendWindow.start, end: delivery.sendWindow.end },
    frequencyCap: { max: delivery.frequencyCap.max, per: delivery.frequencyCap.per, sentInWindow: sendsInCapWindow(state.sentAt, ctx.now, delivery.frequencyCap).length },
    nextSendAt: step?.kind === 'email' && state.sequence.sendAt !== undefined ? new Date(state.sequence.sendAt).toISOString() : null,
    decayAfter,
  };
}

/** The view; without `breakdown` its scoreBreakdown is left empty (what `publish` compares needs none, and it is the costly part). */
export function leadView(state: LeadMachineState, ctx: LeadContext, { breakdown = true }: { breakdown?: boolean } = {}): LeadView {
  const delivery = deliveryView(state, ctx);
  return {
    id: state.profile.id,
    email: state.profile.email,
    stage: state.stage,
    score: state.engagement.score,
    reviewCount: state.reviewCount,
    unsubscribed: state.unsubscribed,
    sequence: { id: state.sequence.id, version: state.sequence.version, step: state.sequence.step },
    nextActionAt: nextActionAt(state, ctx),
    scoreBreakdown: breakdown ? scoreLines(state.engagement, ctx) : [],
    grade: gradeOf(state.profile, rulesOf(state, ctx)),
    rulesVersion: rulesOf(state, ctx)?.version ?? null,
    review: reviewView(state.review),
    owner: state.owner,
    slaBreaches: state.slaBreaches,
    lastRejectReason: state.lastRejectReason ?? null,
    ...(delivery ? { delivery } : {}),
  };
}

/**
 * The part of the view whose change is written at once (everything but the score and what
 * follows from it): a change of the score alone is written coalesced.
 */
export function visibleKey(view: LeadView): string {
  // The grade and rules version only when there are rules: leads without keep the key they carried before rules existed.
  return JSON.stringify([view.stage, view.reviewCount, view.unsubscribed, view.sequence, view.nextActionAt, view.review, view.owner, view.slaBreaches, view.lastRejectReason, view.email, ...(view.grade ? [view.grade] : []), ...(view.rulesVersion ? [view.rulesVersion] : [])]);
}

export function searchAttributeValues(state: LeadMachineState, ctx: LeadContext): SearchAttributeValues {
  return {
    grade: gradeOf(state.profile, rulesOf(state, ctx)),
    stage: state.stage,
    score: state.engagement.score,
    sequence: `${state.sequence.id}@v${state.sequence.version}`,
    reviewCount: state.reviewCount,
    unsubscribed: state.unsubscribed,
    owner: state.owner,
  };
}

/** The values that differ from those last published (the score only when `withScore`). */
export function changedAttributes(state: LeadMachineState, ctx: LeadContext, withScore: boolean): Partial<SearchAttributeValues> {
  const now = searchAttributeValues(state, ctx);
  const published = state.published.attributes;
  const changes: Partial<SearchAttributeValues> = {};
  for (const key of Object.keys(now) as Array<keyof SearchAttributeValues>) {
    if (key === 'score' && !withScore) continue;
    const before = Object.hasOwn(published, key) ? published[key] : undefined;
    // An owner (a grade) never set and one cleared are the same: no attribute.
    if ((key === 'owner' || key === 'grade') && (before ?? null) === now[key]) continue;
    if (before !== now[key]) (changes as Record<string, unknown>)[key] = now[key];
  }
  return changes;
}

/** One line for the Temporal UI's "current details": where the lead stands and what comes next. */
export function currentDetails(state: LeadMachineState, ctx: LeadContext): string {
  const parts = [`**${state.stage}**`, `score ${state.engagement.score}/${ctx.program.threshold}`, `${state.sequence.id}@v${state.sequence.version} step ${state.sequence.step}`];
  const review = reviewView(state.review);
  if (review) parts.push(`review #${review.reviewNo} ${review.slaState}${review.owner ? ` (owner ${review.owner})` : ''}`);
  const grade = gradeOf(state.profile, rulesOf(state, ctx));
  if (grade) parts.push(`grade ${grade}`);
  if (state.unsubscribed) parts.push('unsubscribed');
  return parts.join(' · ');
}
