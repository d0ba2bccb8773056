import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { LeadActivities } from '../activities/types.js';
import { ErrorCodes } from '../src/domain/errors.js';
import { SMTP_ACTIVITY_OPTIONS } from './activity-options.js';
import type { LeadView } from '../src/domain/lead.js';
import type { LeadEffect, NotifySales, RecordReadModel, RemindSales, SendMarketingEmail } from '../src/domain/lead/effects.js';
import { fromV1 } from '../src/domain/lead/from-v1.js';
import { reduce, wakeAt, type LeadInput, type WakeTimes } from '../src/domain/lead/reduce.js';
import { checkDecision, type Decision } from '../src/domain/lead/review.js';
import { checkOutcome, isClosed, type OutcomeReport } from '../src/domain/lead/outcome.js';
import { checkCampaignEnrolment, type CampaignEnrolment } from '../src/domain/lead/campaign.js';
import type { EmailOutcome } from '../src/domain/lead/sequence.js';
import { isTerminal, newLeadState, pinnedTemplate, type LeadContext } from '../src/domain/lead/state.js';
import { currentDetails, leadView } from '../src/domain/lead/views.js';
import { leadWorkflowV1 } from './lead-v1.js';
import { acceptUpdate, campaignEnrolmentUpdate, disqualifyUpdate, engagementSignal, leadStateQuery, migrateSequenceSignal, outcomeUpdate, rejectUpdate, unsubscribeSignal, updateProfileSignal, type LeadStateView, type LeadWorkflowInput } from './messages.js';
import { attributePairs, attributesAtStart } from './search-attributes.js';

/** Runs started before it replay the first engine (workflows/lead-v1.ts) until their next continue-as-new. */
const LEAD_ENGINE_V2 = 'lead-engine-v2';
/**
 * Engine v2 whose rollover waits for a fresh input (see the end of leadWorkflow). New runs record
 * only this marker; runs with the lead-engine-v2 marker alone roll over as soon as they are idle.
 */
const LEAD_ENGINE_V2_FRESH_ROLLOVER = 'lead-engine-v2-fresh-rollover';
/**
 * Engine v2 with fresh rollover whose accepted lead waits for its outcome (won, lost, lost and
 * recycled) instead of ending at the accept. New runs record only this marker.
 */
const LEAD_OUTCOMES = 'lead-engine-v2-outcomes';
/** Continue-as-new well before Temporal's history limits, even if the server suggests nothing. */
const DEFAULT_HISTORY_BUDGET = 10_000;

// The read model and the owner: quick, idempotent Postgres writes, run inside the workflow task
// that decided them (a marker in history, no activity task). One call lives at most 4 s from its
// scheduling, queue and attempt included; a failed call waits on a workflow timer and is asked
// again, forever (bookkeepingCall). A local activity still running when the SDK heartbeats its
// workflow task (at 8 s) has its result replayed in another order than it ran against the inputs
// that came meanwhile: an email's answer, a timer. When the SDK retried locally (for
// up to 9 s), a chaos run with a Postgres restart failed tasks with TMPRL1100 on replay;
// test/integration/local-activity-replay.test.ts replays such a history.
const { recordLeadState, assignOwner } = proxyLocalActivities<LeadActivities>({
  scheduleToCloseTimeout: '4 seconds',
  startToCloseTimeout: '2 seconds',
  retry: { maximumAttempts: 1 },
});
/** Waits before the next call of a failed bookkeeping write: 1 s, doubling, at most a minute. */
const bookkeepingBackoffMs = (failures: number): number => Math.min(60_000, 1_000 * 2 ** Math.min(failures - 1, 6));

/** Calls a bookkeeping local activity until it succeeds; between calls, a workflow timer. */
async function bookkeepingCall<T>(call: () => Promise<T>, summary: string): Promise<T> {
  for (let failures = 1; ; failures++) {
    try {
      return await call();
    } catch (error) {
      // A failed attempt comes as the activity's own failure, a timeout as an ActivityFailure.
      if (!(error instanceof TemporalFailure)) throw error;
      await sleep(bookkeepingBackoffMs(failures), { summary: `${summary}: retry ${failures}` });
    }
  }
}

const { sendNurtureEmail, notifySales, remindSales } = proxyActivities<LeadActivities>(SMTP_ACTIVITY_OPTIONS);

/**
 * One lead, from enrolment to a sales decision. The rules are the lead machine's
 * (src/domain/lead/); this workflow turns messages into its inputs and carries out its effects
 * in lanes that never wait for each other: bookkeeping (read model, search attributes, owner,
 * sales email) and marketing email. Long-lived: bounds its history with continue-as-new.
 */
export async function leadWorkflow(input: LeadWorkflowInput): Promise<LeadView> {
  // All asked in the run's first workflow task, the newest first: one marker per new run. (Asked
  // later, right after a local activity, a patch can answer differently on replay, where the SDK
  // hands that result over in an earlier workflow task.)
  const outcomes = patched(LEAD_OUTCOMES);
  const freshRollover = outcomes || patched(LEAD_ENGINE_V2_FRESH_ROLLOVER);
  if (!freshRollover && !patched(LEAD_ENGINE_V2)) return leadWorkflowV1(input);
  /** The run is over: runs from before outcomes end at the accept, the others once the outcome closes the lead. */
  const finished = () => (outcomes ? isClosed(state) : isTerminal(state.stage));
  const { program } = input;
  const historyBudget = input.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > historyBudget;
  /** The latest time a fired timer was set for: the clock reads no earlier (see reduce on timerDue). */
  let clockFloor = 0;
  const ctx = (): LeadContext => ({ now: Math.max(Date.now(), clockFloor), program, historyIsLong: historyIsLong() });
  let state = input.machine ?? (input.state ? fromV1(input.lead, input.state, input.pending) : newLeadState(input.lead, ctx(), attributesAtStart(workflowInfo().typedSearchAttributes)));

  const bookkeeping: Array<RecordReadModel | Extract<LeadEffect, { kind: 'assignOwner' }>> = [];
  let bookkeepingBusy = false;
  let salesEmailsInFlight = 0;
  let continueRequested = false;
  /** True from a local activity's result until the next input from outside (a message, a timer, an email's outcome). */
  let afterLocalActivity = false;
  const timers = new Map<keyof WakeTimes, { at: number; token: object }>();
  const idle = () => bookkeeping.length === 0 && !bookkeepingBusy && salesEmailsInFlight === 0 && !state.emailInFlight;

  /** Feeds one input to the machine and carries out what it decided, all in this workflow task. */
  function apply(leadInput: LeadInput): void {
    afterLocalActivity = false;
    const next = reduce(state, leadInput, ctx());
    state = next.state;
    for (const effect of next.effects) carryOut(effect);
    rearmTimers();
    setCurrentDetails(currentDetails(state, ctx()));
  }

  function carryOut(effect: LeadEffect): void {
    if (effect.kind === 'setSearchAttributes') upsertSearchAttributes(attributePairs(effect.changes));
    else if (effect.kind === 'sendMarketingEmail') void sendMarketing(effect);
    else if (effect.kind === 'notifySales' || effect.kind === 'remindSales') void sendToSales(effect);
    else if (effect.kind === 'continueAsNew') continueRequested = true;
    else {
      bookkeeping.push(effect);
      if (!bookkeepingBusy) void runBookkeeping();
    }
  }

  /** The bookkeeping lane: read-model writes (queued ones merged: the newest view, every row) and owners, in order. */
  async function runBookkeeping(): Promise<void> {
    bookkeepingBusy = true;
    try {
      for (let effect = bookkeeping.shift(); effect; effect = bookkeeping.shift()) {
        if (effect.kind === 'assignOwner') {
          const { owner } = await bookkeepingCall(() => assignOwner({ leadId: state.profile.id, reviewNo: effect.reviewNo }), 'owner');
          apply({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: effect.reviewNo, owner } });
          afterLocalActivity = true;
          continue;
        }
        let write = effect;
        while (bookkeeping[0]?.kind === 'recordReadModel') {
          const later = bookkeeping.shift() as RecordReadModel;
          write = { ...later, transitions: [...write.transitions, ...later.transitions], decisions: [...write.decisions, ...later.decisions], slaBreaches: [...write.slaBreaches, ...later.slaBreaches], outcomes: [...(write.outcomes ?? []), ...(later.outcomes ?? [])] };
        }
        const { view, revision, transitions, decisions, slaBreaches, outcomes: reported } = write;
        await bookkeepingCall(() => recordLeadState({ view, revision, transitions, decisions, slaBreaches, ...(reported?.length ? { outcomes: reported } : {}) }), 'read model');
        afterLocalActivity = true;
      }
    } finally {
      bookkeepingBusy = false;
    }
  }

  /** Sales email goes on its own: an SMTP outage never holds up the read model. */
  async function sendToSales(effect: NotifySales | RemindSales): Promise<void> {
    salesEmailsInFlight += 1;
    try {
      const lead = state.profile;
      if (effect.kind === 'notifySales') {
        const { sendKey, score, reviewNo, events, owner, grade } = effect;
        await notifySales.executeWithOptions({ summary: `notify sales: review #${reviewNo} at score ${score}` }, [{ lead, sendKey, score, reviewCount: reviewNo, events, owner, ...(grade ? { grade } : {}) }]);
      } else {
        const { sendKey, reviewNo, level, owner, score, waitingSince } = effect;
        await remindSales.executeWithOptions({ summary: `SLA ${level === 1 ? 'reminder' : 'escalation to the manager'} for review #${reviewNo}` }, [{ lead, sendKey, reviewNo, level, owner, score, waitingSince }]);
      }
    } finally {
      salesEmailsInFlight -= 1;
    }
  }

  /** The marketing lane: one email at a time; the machine hears how it went. */
  async function sendMarketing({ sendKey, template, sequence, step }: SendMarketingEmail): Promise<void> {
    let outcome: EmailOutcome;
    try {
      const content = pinnedTemplate(state, program, template);
      const pinned = content ? { content } : {};
      const result = await sendNurtureEmail.executeWithOptions({ summary: `email "${template}" (${sequence} step ${step})` }, [{ lead: state.profile, template, sendKey, sequence, step, ...pinned }]);
      outcome = result.softBounced ? 'softBounced' : result.suppressed ? 'suppressed' : result.bounced ? 'bounced' : result.sent ? 'sent' : 'alreadySent';
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      outcome = error.cause instanceof ApplicationFailure && error.cause.type === ErrorCodes.unknownTemplate ? 'templateMissing' : 'failed';
    }
    apply({ kind: 'effectResult', result: { kind: 'emailAnswered', sendKey, outcome } });
  }

  /** One timer per purpose; a timer is replaced only when the machine wants another time (a score change never moves the lead's). */
  function rearmTimers(): void {
    const wanted = wakeAt(state, ctx());
    for (const name of ['lead', 'readModel'] as const) {
      const at = wanted[name];
      if (timers.get(name)?.at === at) continue;
      timers.delete(name);
      if (at === undefined) continue;
      const token = {};
      timers.set(name, { at, token });
      const summary = name === 'lead' ? `lead: next step, SLA or decay at ${new Date(at).toISOString()}` : 'read model: write the score';
      void condition(() => timers.get(name)?.token !== token, Math.max(1, at - Date.now()), { summary }).then((replaced) => {
        if (replaced) return;
        timers.delete(name);
        clockFloor = Math.max(clockFloor, at);
        apply({ kind: 'timerDue', at });
      });
    }
  }

  /** The Update validator and the handler run the same pure check: exactly one of two racing decisions wins. */
  function refuseUnlessAllowed(decision: Decision): void {
    const refusal = checkDecision(state, decision);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
  }
  function decide(decision: Decision) {
    refuseUnlessAllowed(decision);
    apply({ kind: 'decision', decision });
    return { id: state.profile.id, stage: state.stage };
  }

  /** The outcome validator and handler run the same pure check; a duplicate report passes and changes nothing. */
  function refuseOutcomeUnlessAllowed(report: OutcomeReport): void {
    const refusal = checkOutcome(state, report);
    if (refusal && refusal !== 'duplicate') throw ApplicationFailure.nonRetryable(refusal.message, refusal.code, ...(refusal.recorded ? [refusal.recorded] : []));
  }
  function takeOutcome(report: OutcomeReport) {
    refuseOutcomeUnlessAllowed(report);
    if (checkOutcome(state, report) !== 'duplicate') apply({ kind: 'outcome', report });
    return { id: state.profile.id, stage: state.stage, outcome: report.outcome };
  }

  /** A campaign's ask: the validator refuses a lead that skips it (no trace in history), with the skip reason as the failure type. */
  function refuseCampaignUnlessAllowed(enrolment: CampaignEnrolment): void {
    const refusal = checkCampaignEnrolment(state, enrolment, ctx());
    if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
  }
  function takeCampaign(enrolment: CampaignEnrolment) {
    refuseCampaignUnlessAllowed(enrolment);
    apply({ kind: 'campaignEnrolment', ...enrolment });
    return { id: state.profile.id, enrolment: state.sequence.enrolment };
  }

  // Enrolment first: the first email is decided before any buffered signal is delivered.
  apply(input.machine || input.state ? { kind: 'enrolment', resumed: { escalations: input.pending?.escalations ?? [] } } : { kind: 'enrolment' });
  setHandler(leadStateQuery, (): LeadStateView => ({ ...leadView(state, ctx()), timeline: state.timeline }));
  setHandler(engagementSignal, (event) => apply({ kind: 'engagement', event }));
  setHandler(unsubscribeSignal, () => apply({ kind: 'unsubscribe' }));
  setHandler(migrateSequenceSignal, ({ sequence, rules }) => apply({ kind: 'migrationRequest', sequence, ...(rules ? { rules } : {}) }));
  setHandler(updateProfileSignal, (profile) => apply({ kind: 'profileChange', profile }));
  setHandler(acceptUpdate, (d) => decide({ kind: 'accept', ...d }), { validator: (d) => refuseUnlessAllowed({ kind: 'accept', ...d }) });
  setHandler(rejectUpdate, (d) => decide({ kind: 'reject', ...d }), { validator: (d) => refuseUnlessAllowed({ kind: 'reject', ...d }) });
  setHandler(disqualifyUpdate, (d) => decide({ kind: 'disqualify', ...d }), { validator: (d) => refuseUnlessAllowed({ kind: 'disqualify', ...d }) });
  // A new handler issues no command: histories recorded before it replay unchanged (no patch).
  setHandler(campaignEnrolmentUpdate, takeCampaign, { validator: refuseCampaignUnlessAllowed });
  setHandler(outcomeUpdate, takeOutcome, { validator: refuseOutcomeUnlessAllowed });

  for (;;) {
    await condition(() => finished() || (continueRequested && idle()));
    // Whatever the last inputs decided is carried out before the run ends.
    await condition(() => idle() && allHandlersFinished());
    if (finished() || !afterLocalActivity || !freshRollover) break;
    // Not right after a local activity. The server refuses a rollover while signals arrive; in the
    // retried task the SDK replays the local activity's result in an activation of its own, before
    // those signals, so a rollover decided there carried a state without them into the next run
    // (seen under CPU load: a burst of 20 events lost). An activation with a fresh input holds
    // every event of its workflow task; the next signal brings one, or a 1 ms timer if none comes.
    void sleep(1).then(() => (afterLocalActivity = false));
    await condition(() => !afterLocalActivity);
    if (idle() && allHandlersFinished()) break;
  }
  if (!finished()) await continueAsNew<typeof leadWorkflow>({ lead: state.profile, program, machine: state, historyBudget });
  return leadView(state, ctx());
}
