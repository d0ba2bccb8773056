import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTerminal, newLeadState, reduce, scoreOf, wakeAt, type LeadContext, type LeadInput, type LeadMachineState } from '../../src/domain/lead/index.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';

/**
 * Properties of the lead machine over random input sequences (the default program: send window,
 * frequency cap, 90-day decay; a clock that jumps up to 40 days at a time).
 */

const program = programSnapshot('onboarding', defaultProgram);
const T0 = Date.UTC(2026, 0, 5, 10);
const TYPES = [...Object.keys(defaultProgram.scoring), 'unknown.type', 'constructor', '__proto__', 'toString'];

type Step =
  | { kind: 'event'; eventId: string; type: string }
  | { kind: 'wait'; ms: number }
  | { kind: 'answer' }
  | { kind: 'owner' }
  | { kind: 'accept' }
  | { kind: 'reject' }
  | { kind: 'disqualify' }
  | { kind: 'unsubscribe' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('event' as const), eventId: fc.integer({ min: 0, max: 60 }).map((n) => `e${n}`), type: fc.constantFrom(...TYPES) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1000, max: 40 * 86_400_000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'answer' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'owner' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'accept' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reject' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'disqualify' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'unsubscribe' as const }) },
);

function inputFor(s: Step, state: LeadMachineState, now: number): LeadInput | undefined {
  switch (s.kind) {
    case 'event':
      return { kind: 'engagement', event: { eventId: s.eventId, type: s.type, occurredAt: new Date(now).toISOString() } };
    case 'wait':
      return { kind: 'timerDue' };
    case 'answer':
      return state.emailInFlight ? { kind: 'effectResult', result: { kind: 'emailAnswered', sendKey: state.emailInFlight.sendKey, outcome: 'sent' } } : undefined;
    case 'owner':
      return { kind: 'effectResult', result: { kind: 'ownerAssigned', reviewNo: state.reviewCount, owner: 'olga' } };
    case 'accept':
      return { kind: 'decision', decision: { kind: 'accept', by: 'sam' } };
    case 'reject':
      return { kind: 'decision', decision: { kind: 'reject', by: 'sam', reason: 'not_ready' } };
    case 'disqualify':
      return { kind: 'decision', decision: { kind: 'disqualify', by: 'sam', reason: 'spam' } };
    case 'unsubscribe':
      return { kind: 'unsubscribe' };
  }
}

/** Runs the steps, checking every invariant after each input. */
function check(steps: Step[]): void {
  let now = T0;
  const ctx = (): LeadContext => ({ now, program });
  let state = newLeadState({ id: 'P', email: 'p@example.com' }, ctx());
  state = reduce(state, { kind: 'enrolment' }, ctx()).state;
  const scored = new Set<string>();
  let lastRevision = state.published.revision;
  for (const s of steps) {
    if (s.kind === 'wait') {
      // The workflow delivers the due timers on the way.
      const until = now + s.ms;
      for (let due = wakeAt(state, ctx()); Math.min(due.lead ?? Infinity, due.readModel ?? Infinity) <= until; due = wakeAt(state, ctx())) {
        now = Math.max(now, Math.min(due.lead ?? Infinity, due.readModel ?? Infinity));
        state = apply(state, { kind: 'timerDue' });
      }
      now = until;
    }
    const input = inputFor(s, state, now);
    if (!input) continue;
    const before = state;
    state = apply(state, input);
    if (input.kind === 'engagement') {
      const gained = state.engagement.recent.some((item) => item.eventId === input.event.eventId) && !before.engagement.recent.some((item) => item.eventId === input.event.eventId);
      // An eventId scores at most once.
      if (gained) {
        expect(scored.has(input.event.eventId)).toBe(false);
        scored.add(input.event.eventId);
      }
    }
  }

  function apply(from: LeadMachineState, input: LeadInput): LeadMachineState {
    const { state: next, effects } = reduce(from, input, ctx());
    // The score is the sum of the items still counting.
    expect(next.engagement.score).toBe(scoreOf(next.engagement));
    // No marketing email while in review or unsubscribed.
    if (effects.some((e) => e.kind === 'sendMarketingEmail')) {
      expect(next.stage).toBe('nurturing');
      expect(next.unsubscribed).toBe(false);
    }
    // Terminal stays terminal.
    if (isTerminal(from.stage)) expect(next.stage).toBe(from.stage);
    // Read-model revisions only grow.
    for (const e of effects) {
      if (e.kind === 'recordReadModel') {
        expect(e.revision).toBeGreaterThan(lastRevision);
        lastRevision = e.revision;
      }
    }
    // State size bounded.
    expect(JSON.stringify(next).length).toBeLessThan(128 * 1024);
    return next;
  }
}

describe('lead machine properties', () => {
  it('score = sum of live items; an eventId scores once; no marketing email in review or unsubscribed; terminal stays terminal; revisions grow; state bounded', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => check(steps)),
      { numRuns: 300 },
    );
  });
});
