import { hasOwnName, ownEntry } from '../domain/own-key.js';
import { library } from './library/index.js';
import { ProgramSchema, SequenceSchema, type Program, type ProgramSnapshot, type Sequence } from './model.js';
import { DEFAULT_RULES, DEFAULT_SCORING } from './scoring.js';
import { DEFAULT_ENGAGEMENT_FILTER } from './engagement-filter.js';
import { hasTemplate, registerTemplate, renderTemplate, templateSource } from './templates.js';
import type { LeadProfile } from '../domain/lead.js';
import type { PinnedEmail } from './model.js';

/** Renders a template by id; importing it from here guarantees the library's own templates are registered. */
export { hasTemplate, renderTemplate };

/**
 * The sequences marketing ships: one file each under src/sequences/library/ (listed by the
 * generated library/index.ts). Each is validated by its schema at load time, so a broken
 * definition fails start-up and tests, naming its file, not a lead in flight.
 * `npm run sequences -- check` goes further (targets, reachability, loops, templates).
 */
function loadLibrary(): Record<string, Sequence> {
  const loaded: Record<string, Sequence> = {};
  for (const { file, module } of library) {
    for (const template of module.templates ?? []) registerTemplate(template);
    const result = SequenceSchema.safeParse(module.default);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new Error(`src/sequences/library/${file}: ${issue.path.join('.')}: ${issue.message} (run npm run sequences -- check)`);
    }
    if (hasOwnName(loaded, result.data.id)) throw new Error(`src/sequences/library/${file}: sequence id "${result.data.id}" is defined twice`);
    loaded[result.data.id] = result.data;
  }
  return loaded;
}

export const sequences: Record<string, Sequence> = loadLibrary();

function required(id: string): Sequence {
  const sequence = ownEntry(sequences, id);
  if (!sequence) throw new Error(`the library has no "${id}" sequence (src/sequences/library/${id}.ts)`);
  return sequence;
}

export const onboarding: Sequence = required('onboarding');
export const recycle: Sequence = required('recycle');

/** The sequence new leads run when the request names none. */
export const DEFAULT_SEQUENCE_ID = onboarding.id;

/**
 * Scoring rules and threshold (DESIGN.md, Default program), delivery rules and decay
 * (docs/decisions.md: why these defaults).
 */
export const defaultProgram: Program = ProgramSchema.parse({
  scoring: DEFAULT_SCORING,
  threshold: 50,
  recycleSequence: recycle,
  review: { sla: '2 business days' },
  delivery: {
    sendWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '20:00', defaultTimezone: 'UTC' },
    firstEmailAtOnce: true,
    frequencyCap: { max: 3, per: '7 days' },
  },
  decay: { after: '90 days' },
  rules: DEFAULT_RULES,
  engagementFilter: DEFAULT_ENGAGEMENT_FILTER,
});

/** Sequences a lead on `start` can reach through gotos (itself and the recycle sequence included). */
function reachableSequences(start: Sequence[]): Sequence[] {
  const found = new Map<string, Sequence>();
  const queue = [...start];
  while (queue.length) {
    const sequence = queue.shift()!;
    if (found.has(sequence.id)) continue;
    found.set(sequence.id, sequence);
    for (const step of sequence.steps) {
      if (step.kind === 'goto' && step.sequence !== undefined && hasOwnName(sequences, step.sequence)) queue.push(sequences[step.sequence]!);
    }
  }
  return [...found.values()];
}

/** Freezes the program, the chosen enrolment sequence and every sequence it can jump to, for one lead's workflow input. */
export function programSnapshot(sequenceId: string = DEFAULT_SEQUENCE_ID, program: Program = defaultProgram): ProgramSnapshot {
  const enrolSequence = ownEntry(sequences, sequenceId);
  if (!enrolSequence) throw new Error(`unknown sequence "${sequenceId}"`);
  const snapshot: ProgramSnapshot = { ...program, enrolSequence };
  // Only sequences with gotos need the extra map; keeps snapshots of plain sequences as they were.
  const reachable = reachableSequences([enrolSequence, program.recycleSequence]).filter((s) => s.id !== enrolSequence.id && s.id !== program.recycleSequence.id);
  if (reachable.length) snapshot.sequences = reachable;
  return snapshot;
}

/**
 * What a campaign pins for its leads: the catalog's current version of `sequenceId`, every
 * sequence its gotos reach, and the sources of their templates (rendered when each email goes).
 */
export function campaignSnapshot(sequenceId: string): { sequence: Sequence; sequences?: Sequence[]; templates?: Record<string, PinnedEmail> } {
  const sequence = ownEntry(sequences, sequenceId);
  if (!sequence) throw new Error(`unknown sequence "${sequenceId}"`);
  const reachable = reachableSequences([sequence]).filter((s) => s.id !== sequence.id);
  // Sources only (rendered for each lead as its email goes); a template written as code renders by id then.
  const ids = new Set([sequence, ...reachable].flatMap((s) => s.steps.flatMap((step) => (step.kind === 'email' && templateSource(step.template) ? [step.template] : []))));
  const templates = Object.fromEntries([...ids].map((id): [string, PinnedEmail] => [id, { kind: 'marketing', source: templateSource(id)! }]));
  return { sequence, ...(reachable.length ? { sequences: reachable } : {}), ...(ids.size ? { templates } : {}) };
}

/** The default program with deployment settings applied (SALES_REVIEW_SLA). */
export function programFor(settings: { reviewSla?: string } = {}): Program {
  return settings.reviewSla ? ProgramSchema.parse({ ...defaultProgram, review: { sla: settings.reviewSla } }) : defaultProgram;
}

/**
 * Pins into a lead's snapshot every template its sequences name, as the templates are now: their
 * source, rendered when each email is sent (so with the profile of that moment), or, for a
 * template written as code without one, its content rendered for the lead now. The lead's emails
 * no longer depend on the template files: a template edited or deleted later changes nothing for
 * it; a new enrolment picks up the new content.
 */
export function pinTemplates(snapshot: ProgramSnapshot, lead: LeadProfile): ProgramSnapshot {
  const ids = new Set<string>();
  for (const sequence of [snapshot.enrolSequence, snapshot.recycleSequence, ...(snapshot.sequences ?? [])]) {
    for (const step of sequence.steps) if (step.kind === 'email' && hasTemplate(step.template)) ids.add(step.template);
  }
  // fromEntries defines own properties: a template named like an Object member stays data.
  const templates = Object.fromEntries([...ids].map((id): [string, PinnedEmail] => {
    const source = templateSource(id);
    if (source) return [id, { kind: 'marketing', source }];
    const { kind, subject, text, html } = renderTemplate(id, { lead });
    return [id, { kind, subject, text, html }];
  }));
  return { ...snapshot, templates };
}
