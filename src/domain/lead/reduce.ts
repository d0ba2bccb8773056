import type { EngagementEvent } from '../lead.js';
import { withProfileChange, type ProfileChange } from '../profile.js';
import type { Rules, Sequence } from '../../sequences/model.js';
import { sequenceLabel } from '../../sequences/steps.js';
import type { LeadEffect } from './effects.js';
import { checkCampaignEnrolment, takeCampaign, type CampaignEnrolment } from './campaign.js';
import { applyDecay, nextDecayAt, scoreLines, takeEvent } from './engagement.js';
import { checkDecision, decide, escalateIfDue, ownerAssigned, reportOutcome, slaIfDue, type Decision } from './review.js';
import { checkOutcome, isClosed, type OutcomeReport } from './outcome.js';
import { emailAnswered, requestMigration, sequenceWakeAt, walk, type EmailOutcome } from './sequence.js';
import { gradeOf } from './rules.js';
import { SCORE_WRITE_DELAY_MS, draftOf, isTerminal, note, rulesOf, type LeadContext, type LeadMachineState } from './state.js';
import { changedAttributes, leadView, visibleKey } from './views.js';

/**
 * The lead machine: `reduce(state, input, context)` → `{ state, effects }`. Pure: the workflow,
 * the preview and the tests run this same function; the workflow carries out the effects.
 */

/** What a carried-out effect came back with. */
export type EffectResult = { kind: 'emailAnswered'; sendKey: string; outcome: EmailOutcome } | { kind: 'ownerAssigned'; reviewNo: number; owner: string | null };

export type LeadInput =
  /** The lead starts (`resumed`: a new run after continue-as-new, with escalations still to notify). */
  | { kind: 'enrolment'; resumed?: { escalations?: number[] } }
  | { kind: 'engagement'; event: EngagementEvent }
  | { kind: 'profileChange'; profile: ProfileChange }
  | { kind: 'decision'; decision: Decision }
  /** Sales reports how an accepted lead's opportunity ended (a duplicate or refused report changes nothing). */
  | { kind: 'outcome'; report: OutcomeReport }
  | { kind: 'unsubscribe' }
  /** A newer sequence version, and the program's current rules when it has some (applied at once when newer). */
  | { kind: 'migrationRequest'; sequence: Sequence; rules?: Rules }
  /** A campaign enrols the lead in its sequence (refused ones change nothing: see checkCampaignEnrolment). */
  | ({ kind: 'campaignEnrolment' } & CampaignEnrolment)
  /**
   * A timer the lead asked for (`wakeAt`) is due; any due work is done, whichever timer it was.
   * `at`: the time that timer was set for. The machine's clock reads at least that: a timer that
   * fired says its time has come, whatever the clock of the workflow task says (see reduce).
   */
  | { kind: 'timerDue'; at?: number }
  | { kind: 'effectResult'; result: EffectResult };

export interface Transition {
  state: LeadMachineState;
  effects: LeadEffect[];
}

/** Newer qualification rules apply from now on: points already given stay, new events score by them. */
function adoptRules(state: LeadMachineState, rules: Rules, ctx: LeadContext, effects: LeadEffect[]): void {
  const current = rulesOf(state, ctx);
  if (current && rules.version <= current.version) return;
  const before = gradeOf(state.profile, current);
  state.rules = rules;
  const after = gradeOf(state.profile, rules);
  note(state, ctx, 'qualification', `rules v${rules.version} apply from now on (were ${current ? `v${current.version}` : 'the flat table'})${after !== before ? `: grade ${before ?? 'none'} → ${after ?? 'none'}` : ''}`);
  escalateIfDue(state, ctx, effects);
}

function take(state: LeadMachineState, input: LeadInput, ctx: LeadContext, effects: LeadEffect[]): void {
  const open = !isTerminal(state.stage);
  switch (input.kind) {
    case 'enrolment':
      if (input.resumed) {
        delete state.rolloverNoted;
        for (const reviewNo of input.resumed.escalations ?? []) effects.push({ kind: 'assignOwner', reviewNo });
        return;
      }
      state.published.transitions = [...state.published.transitions, { from: null, to: 'nurturing', reason: 'enrolled', score: 0, at: new Date(ctx.now).toISOString() }];
      note(state, ctx, 'enrolled', `enrolled in ${sequenceLabel(ctx.program.enrolSequence)}`);
      return;
    case 'engagement':
      if (takeEvent(state, input.event, ctx, open)) escalateIfDue(state, ctx, effects);
      return;
    case 'profileChange': {
      if (!open) return;
      const { profile } = input;
      const timezoneChanged = profile.timezone !== undefined && profile.timezone !== state.profile.timezone;
      const before = gradeOf(state.profile, rulesOf(state, ctx));
      state.profile = withProfileChange(state.profile, profile);
      note(state, ctx, 'profile', `profile updated (${Object.keys(profile).join(', ')})`);
      const after = gradeOf(state.profile, rulesOf(state, ctx));
      if (after !== before) note(state, ctx, 'qualification', `grade ${before ?? 'none'} → ${after ?? 'none'}`);
      // A lead held back by its grade goes to sales review once the new profile fits.
      escalateIfDue(state, ctx, effects);
      // An email waiting for the send window waits for the window of the new time zone.
      if (timezoneChanged && !state.emailInFlight && state.sequence.sendAt !== undefined) state.sequence = { ...state.sequence, sendAt: undefined };
      return;
    }
    case 'decision':
      if (checkDecision(state, input.decision) === undefined) decide(state, input.decision, ctx);
      return;
    case 'outcome':
      if (checkOutcome(state, input.report) === undefined) reportOutcome(state, input.report, ctx);
      return;
    case 'unsubscribe':
      if (state.unsubscribed || !open) return;
      state.unsubscribed = true;
      note(state, ctx, 'unsubscribed', 'unsubscribed: no more marketing email');
      return;
    case 'migrationRequest':
      if (!open) {
        note(state, ctx, 'sequence', `migration to ${sequenceLabel(input.sequence)} ignored: the lead is ${state.stage}`);
        return;
      }
      // A request that brings only newer rules (the lead runs this version already) says nothing of the sequence.
      if (!input.rules || input.sequence.id !== state.sequence.id || input.sequence.version > state.sequence.version) requestMigration(state, input.sequence, ctx);
      if (input.rules) adoptRules(state, input.rules, ctx, effects);
      return;
    case 'campaignEnrolment': {
      const { kind: _kind, ...enrolment } = input;
      if (checkCampaignEnrolment(state, enrolment, ctx) === undefined) takeCampaign(state, enrolment, ctx);
      return;
    }
    case 'timerDue':
      return;
    case 'effectResult':
      if (input.result.kind === 'emailAnswered') emailAnswered(state, input.result.sendKey, input.result.outcome, ctx);
      else ownerAssigned(state, input.result.reviewNo, input.result.owner, ctx, effects);
      return;
  }
}

/**
 * Writes what people see when it changed: the read model at once (with a new revision) and the
 * search attributes that changed; a change of the score alone waits SCORE_WRITE_DELAY_MS, so a
 * burst of events costs one write.
 */
function publish(state: LeadMachineState, ctx: LeadContext, effects: LeadEffect[]): void {
  const view = leadView(state, ctx, { breakdown: false });
  const visible = visibleKey(view);
  const published = state.published;
  const outcomes = published.outcomes ?? [];
  const records = published.transitions.length + published.decisions.length + published.slaBreaches.length + outcomes.length > 0;
  const scoreDue = published.scoreDueAt !== undefined && ctx.now >= published.scoreDueAt;
  if (visible === published.visible && !records) {
    if (view.score === published.score) state.published = { ...published, scoreDueAt: undefined };
    else if (published.scoreDueAt === undefined) state.published = { ...published, scoreDueAt: ctx.now + SCORE_WRITE_DELAY_MS };
    if (view.score === published.score || !scoreDue) return;
  }
  const revision = published.revision + 1;
  const changes = changedAttributes(state, ctx, true);
  // First in the list: what people see is written before anything else is carried out.
  effects.unshift(
    { kind: 'recordReadModel', revision, view: { ...view, scoreBreakdown: scoreLines(state.engagement, ctx) }, transitions: published.transitions, decisions: published.decisions, slaBreaches: published.slaBreaches, ...(outcomes.length ? { outcomes } : {}) },
    ...(Object.keys(changes).length > 0 ? [{ kind: 'setSearchAttributes' as const, changes }] : []),
  );
  state.published = { revision, visible, score: view.score, attributes: { ...published.attributes, ...changes }, transitions: [], decisions: [], slaBreaches: [], ...(published.outcomes ? { outcomes: [] } : {}) };
}

export function reduce(state: LeadMachineState, input: LeadInput, given: LeadContext): Transition {
  // A worker that took over a lead after another died read, in its first workflow task, a clock
  // seconds behind (the time of the last local activity): a timer fired and the step looked not
  // due, where any later replay of that task saw it due (TMPRL1100 in a chaos run). A fired timer
  // bounds the clock from below, so both see the step due.
  const ctx = input.kind === 'timerDue' && input.at !== undefined && input.at > given.now ? { ...given, now: input.at } : given;
  const next = draftOf(state);
  const effects: LeadEffect[] = [];
  take(next, input, ctx, effects);
  if (!isTerminal(next.stage)) {
    applyDecay(next, ctx);
    slaIfDue(next, ctx, effects);
    const email = walk(next, ctx);
    if (email) effects.push(email);
  }
  publish(next, ctx, effects);
  // An accepted lead waits for its outcome: it rolls over too (its events still arrive).
  if (ctx.historyIsLong && !isClosed(next) && !next.emailInFlight) {
    // Once per run: inputs keep coming while the run waits to roll over.
    if (!next.rolloverNoted) note(next, ctx, 'continued', 'continuing as new: the history is long');
    next.rolloverNoted = true;
    effects.push({ kind: 'continueAsNew' });
  }
  return { state: next, effects };
}

/** Timers the lead needs: `lead` for its sequence, SLA and decay, `readModel` for a lagging score. */
export interface WakeTimes {
  lead?: number;
  readModel?: number;
}

export function wakeAt(state: LeadMachineState, ctx: LeadContext): WakeTimes {
  if (isTerminal(state.stage)) return {};
  const candidates = [sequenceWakeAt(state, ctx), state.stage === 'sales_review' ? state.review?.dueAt : undefined, nextDecayAt(state.engagement, ctx)].filter((t): t is number => t !== undefined);
  return {
    ...(candidates.length ? { lead: Math.min(...candidates) } : {}),
    ...(state.published.scoreDueAt !== undefined ? { readModel: state.published.scoreDueAt } : {}),
  };
}
