import { ProgramSchema, SequenceSchema, type Program, type ProgramSnapshot, type Sequence } from './model.js';

/**
 * The sequences marketing ships. Each is validated by its schema at load time, so a broken
 * definition fails start-up and tests, not a lead in flight.
 */
export const onboarding: Sequence = SequenceSchema.parse({
  id: 'onboarding',
  version: 1,
  description: 'Default nurture for new leads: welcome at once, then proof, tour and pricing days apart.',
  steps: [
    { kind: 'email', template: 'welcome' },
    { kind: 'wait', duration: '2 days' },
    { kind: 'email', template: 'customer-stories' },
    { kind: 'wait', duration: '3 days' },
    { kind: 'email', template: 'product-tour' },
    { kind: 'wait', duration: '5 days' },
    { kind: 'email', template: 'pricing-guide' },
  ],
});

export const recycle: Sequence = SequenceSchema.parse({
  id: 'recycle',
  version: 1,
  description: 'For leads sales rejected: give them room, then check in twice.',
  steps: [
    // Give the lead room, more of it when sales said it was not ready or not a fit.
    { kind: 'wait', duration: '3 days', byRejectReason: { not_ready: '30 days', no_budget: '14 days', no_fit: '60 days' } },
    { kind: 'email', template: 'recycle-checkin' },
    { kind: 'wait', duration: '14 days' },
    { kind: 'email', template: 'recycle-whats-new' },
  ],
});

export const sequences: Record<string, Sequence> = { [onboarding.id]: onboarding, [recycle.id]: recycle };

/** The sequence new leads run when the request names none. */
export const DEFAULT_SEQUENCE_ID = onboarding.id;

/** Scoring rules and threshold (DESIGN.md, Default program). */
export const defaultProgram: Program = {
  scoring: {
    'webinar.viewed': 5,
    'product.compared': 20,
    'pricing.viewed': 10,
    'form.submitted': 10,
    'email.clicked': 3,
    'email.opened': 1,
    'page.viewed': 1,
  },
  threshold: 50,
  recycleSequence: recycle,
  review: { sla: '2 business days' },
};

/** Freezes the program and the chosen enrolment sequence for one lead's workflow input. */
export function programSnapshot(sequenceId: string = DEFAULT_SEQUENCE_ID, program: Program = defaultProgram): ProgramSnapshot {
  const enrolSequence = sequences[sequenceId];
  if (!enrolSequence) throw new Error(`unknown sequence "${sequenceId}"`);
  return { ...program, enrolSequence };
}

/** The default program with deployment settings applied (SALES_REVIEW_SLA). */
export function programFor(settings: { reviewSla?: string } = {}): Program {
  return settings.reviewSla ? ProgramSchema.parse({ ...defaultProgram, review: { sla: settings.reviewSla } }) : defaultProgram;
}
