import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/domain/errors.js';
import { checkOutcome, isClosed, newLeadState, reduce, type LeadContext, type LeadEffect, type LeadInput, type LeadMachineState, type OutcomeReport, type RecordReadModel } from '../../src/domain/lead/index.js';
import { leadConsoleUrl, leadEventPayload, leadEventsOf } from '../../src/domain/webhooks.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';

/** Outcomes in the pure lead machine: who may report what, what it records, what recycling does; and the webhook events a write stands for. */

const T0 = Date.UTC(2026, 0, 5, 10);
const program = programSnapshot('onboarding', defaultProgram);
const ctx = (now: number): LeadContext => ({ now, program });

/** A lead driven to `accepted` (threshold reached, owner assigned, accepted by sam). */
function acceptedLead(): { state: LeadMachineState; now: number; send(input: LeadInput): LeadEffect[] } {
  let now = T0;
  let state = newLeadState({ id: 'L1', email: 'l1@example.com' }, ctx(now));
  const send = (input: LeadInput) => {
    now += 1000;
    const next = reduce(state, input, ctx(now));
    state = next.state;
    return next.effects;
  };
  send({ kind: 'enrolment' });
  for (const [i, type] of ['product.compared', 'product.compared', 'pricing.viewed'].entries()) send({ kind: 'engagement', event: { eventId: `e${i}`, type, occurredAt: new Date(now).toISOString() } });
  send({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 1, owner: null } });
  send({ kind: 'decision', decision: { kind: 'accept', by: 'sam' } });
  return {
    get state() {
      return state;
    },
    get now() {
      return now;
    },
    send,
  };
}

const won: OutcomeReport = { by: 'sam', outcome: 'won', amount: 12_500, currency: 'EUR' };
const lostRecycled: OutcomeReport = { by: 'sam', outcome: 'lost', reason: 'went with a competitor', recycle: true };
const writeOf = (effects: LeadEffect[]) => effects.find((e): e is RecordReadModel => e.kind === 'recordReadModel');

describe('outcomes in the lead machine', () => {
  it('an accepted lead takes won: recorded for its review, written with the read model, and the lead is closed', () => {
    const lead = acceptedLead();
    expect([lead.state.stage, isClosed(lead.state), checkOutcome(lead.state, won)]).toEqual(['accepted', false, undefined]);
    const effects = lead.send({ kind: 'outcome', report: won });
    expect(lead.state.outcome).toMatchObject({ ...won, reviewNo: 1 });
    expect(writeOf(effects)?.outcomes).toEqual([expect.objectContaining({ outcome: 'won', amount: 12_500, reviewNo: 1 })]);
    expect(isClosed(lead.state)).toBe(true);
    // Nothing is written twice: the next write carries no outcome.
    expect(lead.state.published.outcomes).toEqual([]);
  });

  it('the same report again is a duplicate (no change); another report, or one before the accept, is not_accepted', () => {
    const lead = acceptedLead();
    lead.send({ kind: 'outcome', report: won });
    expect(checkOutcome(lead.state, won)).toBe('duplicate');
    const before = lead.state;
    expect(writeOf(lead.send({ kind: 'outcome', report: won }))).toBeUndefined();
    expect(lead.state.outcome).toEqual(before.outcome);
    const other = checkOutcome(lead.state, { ...won, amount: 1 });
    expect(other).toMatchObject({ code: ErrorCodes.notAccepted, recorded: { outcome: 'won', amount: 12_500 } });

    const fresh = newLeadState({ id: 'L2', email: 'l2@example.com' }, ctx(T0));
    expect(checkOutcome(fresh, won)).toMatchObject({ code: ErrorCodes.notAccepted, message: expect.stringContaining('nurturing') });
  });

  it.each<[string, OutcomeReport]>([
    ['won without amount', { by: 'sam', outcome: 'won' }],
    ['won with recycle', { by: 'sam', outcome: 'won', amount: 1, recycle: true }],
    ['lost without reason', { by: 'sam', outcome: 'lost' }],
    ['lost with an amount', { by: 'sam', outcome: 'lost', reason: 'x', amount: 3 }],
    ['no one reported it', { by: ' ', outcome: 'won', amount: 1 }],
  ])('refuses a malformed report (%s) as invalid_decision', (_name, report) => {
    expect(checkOutcome(acceptedLead().state, report)).toMatchObject({ code: ErrorCodes.invalidDecision });
  });

  it('lost with recycle sends the lead back to nurturing in the recycle sequence, score 0; it escalates again as review #2 and takes a new outcome', () => {
    const lead = acceptedLead();
    const effects = lead.send({ kind: 'outcome', report: lostRecycled });
    expect(lead.state).toMatchObject({ stage: 'nurturing', sequence: { id: program.recycleSequence.id }, engagement: { score: 0 }, reviewCount: 1 });
    expect(writeOf(effects)?.transitions).toEqual([expect.objectContaining({ from: 'accepted', to: 'nurturing', reason: 'recycled:lost' })]);
    expect(isClosed(lead.state)).toBe(false);
    // The retried report still answers as a duplicate while no new review started.
    expect(checkOutcome(lead.state, lostRecycled)).toBe('duplicate');
    for (const [i, type] of ['product.compared', 'product.compared', 'pricing.viewed'].entries()) lead.send({ kind: 'engagement', event: { eventId: `r${i}`, type, occurredAt: new Date(lead.now).toISOString() } });
    expect([lead.state.stage, lead.state.reviewCount]).toEqual(['sales_review', 2]);
    expect(checkOutcome(lead.state, lostRecycled)).toMatchObject({ code: ErrorCodes.notAccepted });
    lead.send({ kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: 2, owner: null } });
    lead.send({ kind: 'decision', decision: { kind: 'accept', by: 'sam' } });
    expect(checkOutcome(lead.state, won)).toBeUndefined();
    expect(writeOf(lead.send({ kind: 'outcome', report: won }))?.outcomes).toEqual([expect.objectContaining({ reviewNo: 2, outcome: 'won' })]);
  });
});

describe('lead events for webhooks', () => {
  it('derives one event per escalation, decision and outcome, each with the stage it left the lead in and a stable key', () => {
    const at = (s: number) => new Date(T0 + s * 1000).toISOString();
    const events = leadEventsOf(
      { id: 'L1', score: 51, grade: 'B' },
      {
        transitions: [
          { from: 'nurturing', to: 'sales_review', reason: 'threshold_reached', score: 50, at: at(1) },
          { from: 'sales_review', to: 'accepted', reason: 'accepted', score: 51, at: at(2) },
        ],
        decisions: [{ reviewNo: 1, decision: 'accepted', by: 'sam', at: at(2) }],
        outcomes: [{ reviewNo: 1, by: 'sam', outcome: 'won', amount: 10, currency: 'EUR', at: at(3) }],
      },
    );
    expect(events.map((e) => [e.type, e.key, e.subject.stage, e.subject.score])).toEqual([
      ['lead.escalated', `lead.escalated:L1:${at(1)}`, 'sales_review', 50],
      ['lead.accepted', 'lead.accepted:L1:1', 'accepted', 51],
      ['lead.outcome', 'lead.outcome:L1:1', 'accepted', 51],
    ]);
    const payload = leadEventPayload(events[2]!, 'https://leads.example.com/');
    expect(payload).toEqual({
      type: 'lead.outcome',
      timestamp: at(3),
      data: { leadId: 'L1', stage: 'accepted', score: 51, grade: 'B', reviewNo: 1, outcome: 'won', by: 'sam', amount: 10, currency: 'EUR', recycle: false, url: 'https://leads.example.com/console/#/leads/L1' },
    });
    expect(leadConsoleUrl('http://127.0.0.1:3000', 'a b/c')).toBe('http://127.0.0.1:3000/console/#/leads/a%20b%2Fc');
  });
});
