import type { z } from 'zod';
import type { LeadProfile } from '../domain/lead.js';
import { ownEntry } from '../domain/own-key.js';
import { SequenceSchema, type Sequence, type SequenceStep } from './model.js';
import { eventList, labelIndex } from './steps.js';
import { placeholdersOf, type EmailTemplate, type TemplateSource } from './templates.js';

/**
 * Static checks of the sequence library (`npm run sequences -- check`): every problem names the
 * file, the sequence and the step, so a marketer knows where to look. Pure: the CLI loads the
 * files, this judges them.
 */

export const PROBLEM_KINDS = [
  'invalid',
  'duplicate-id',
  'duplicate-label',
  'unknown-label',
  'unknown-sequence',
  'unknown-template',
  'unknown-event',
  'unreachable-step',
  'zero-length-loop',
  'missing-field',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface Problem {
  kind: ProblemKind;
  file: string;
  sequence: string;
  /** Step index (0-based) the problem is at, when it is at one. */
  step?: number;
  message: string;
}

/** One file of the library as loaded: its name and its default export, not yet validated. */
export interface LibraryFile {
  file: string;
  definition: unknown;
}

/** `file: sequence id, step 3 (label nudge): message`. */
export function formatProblem(p: Problem): string {
  return `${p.file}: sequence "${p.sequence}"${p.step === undefined ? '' : `, step ${p.step}`}: ${p.message} [${p.kind}]`;
}

/** Fields a lead has (LeadProfile). A template reading anything else prints nothing useful. */
export const LEAD_FIELDS = ['id', 'email', 'firstName', 'lastName', 'company', 'timezone', 'attributes'] as const satisfies ReadonlyArray<keyof LeadProfile>;

const stepName = (step: SequenceStep): string => `${step.kind}${step.label ? ` "${step.label}"` : ''}`;

/** Successor steps of step i (-1: the sequence ends; {sequence}: the start of another one). */
function successors(sequence: Sequence, i: number): Array<number | { sequence: string }> {
  const step = sequence.steps[i]!;
  const next = i + 1 < sequence.steps.length ? i + 1 : -1;
  const at = (label: string | undefined) => (label === undefined ? next : labelIndex(sequence, label));
  switch (step.kind) {
    case 'email':
    case 'wait':
      return [next];
    case 'waitFor':
      return [at(step.then), at(step.else)];
    case 'exit':
      return step.when ? [-1, next] : [-1];
    case 'goto':
      return step.sequence !== undefined ? [{ sequence: step.sequence }] : [at(step.to)];
  }
}

/** Steps that let time pass (and so break a loop): waits and waits for an event. */
const takesTime = (step: SequenceStep): boolean => step.kind === 'wait' || step.kind === 'waitFor';

function zodProblems(file: string, definition: unknown, error: z.ZodError): Problem[] {
  const id = typeof (definition as { id?: unknown })?.id === 'string' ? (definition as { id: string }).id : '?';
  return error.issues.map((issue) => {
    const step = issue.path[0] === 'steps' && typeof issue.path[1] === 'number' ? issue.path[1] : undefined;
    const field = issue.path.slice(step === undefined ? 0 : 2).join('.');
    return { kind: 'invalid' as const, file, sequence: id, ...(step === undefined ? {} : { step }), message: `${field ? `${field}: ` : ''}${issue.message}` };
  });
}

/** A sample lead with every field, and a Proxy that reports reads of fields leads do not have. */
function probeLead(full: boolean, unknownReads: Set<string>): LeadProfile {
  const lead: LeadProfile = full
    ? { id: 'sample-lead', email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines', timezone: 'Europe/London', attributes: {} }
    : { id: 'sample-lead', email: 'someone@example.com' };
  return new Proxy(lead, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && !(LEAD_FIELDS as readonly string[]).includes(prop) && !(prop in Object.prototype) && prop !== 'toJSON' && prop !== 'then') {
        unknownReads.add(prop);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** Fields every lead has: a placeholder of one of them needs no fallback. */
const ALWAYS_SET = ['id', 'email'];

/** What is wrong with a marketing template's placeholders: a field leads lack, or an optional one without a fallback. */
function placeholderProblems(template: EmailTemplate & { source: TemplateSource }): string[] {
  const { subject, paragraphs } = template.source;
  const problems = new Set<string>();
  for (const { field, fallback } of [subject, ...paragraphs].flatMap(placeholdersOf)) {
    const known = /^attributes\.[^.]+$/.test(field) || (LEAD_FIELDS as readonly string[]).includes(field);
    if (!known || field === 'attributes') problems.add(`template "${template.id}" reads lead.${field}, a field leads do not have (they have ${LEAD_FIELDS.join(', ')}; an attribute is attributes.<key>)`);
    else if (fallback === undefined && !ALWAYS_SET.includes(field)) {
      problems.add(`template "${template.id}" prints nothing for {{${field}}} when a lead has no ${field}: give it a fallback, {{${field} | ...}}`);
    }
  }
  return [...problems];
}

/** What is wrong with a marketing template: reads a field leads lack, or prints a missing one as "undefined" (or nothing). */
export function templateFieldProblems(template: EmailTemplate): string[] {
  if (template.source) return placeholderProblems({ ...template, source: template.source });
  const problems: string[] = [];
  const unknownReads = new Set<string>();
  for (const full of [true, false]) {
    let rendered;
    try {
      rendered = template.render({ lead: probeLead(full, unknownReads) });
    } catch (error) {
      problems.push(`template "${template.id}" fails for a lead ${full ? 'with every field' : 'with only id and email'}: ${(error as Error).message}`);
      continue;
    }
    const printed = `${rendered.subject}\n${rendered.text}\n${rendered.html}`;
    const missing = /\b(undefined|null|NaN)\b/.exec(printed);
    if (missing && !full && unknownReads.size === 0) {
      problems.push(`template "${template.id}" prints "${missing[1]}" for a lead with only id and email: give the optional field it uses a fallback`);
    }
  }
  for (const field of unknownReads) problems.push(`template "${template.id}" reads lead.${field}, a field leads do not have (they have ${LEAD_FIELDS.join(', ')})`);
  return problems;
}

/**
 * Checks every file of the library: shape (zod), unique ids and labels, branch and goto targets,
 * templates and event types that exist, steps that can be reached, loops that let time pass, and
 * templates that use only fields leads have.
 */
export function checkLibrary(files: readonly LibraryFile[], templates: Record<string, EmailTemplate>, eventTypes: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  const parsed: Array<{ file: string; sequence: Sequence }> = [];
  for (const { file, definition } of files) {
    const result = SequenceSchema.safeParse(definition);
    if (!result.success) problems.push(...zodProblems(file, definition, result.error));
    else parsed.push({ file, sequence: result.data });
  }

  const byId = new Map<string, { file: string; sequence: Sequence }>();
  for (const entry of parsed) {
    const other = byId.get(entry.sequence.id);
    if (other) problems.push({ kind: 'duplicate-id', file: entry.file, sequence: entry.sequence.id, message: `sequence id "${entry.sequence.id}" is also defined in ${other.file}` });
    else byId.set(entry.sequence.id, entry);
  }

  const templateChecked = new Map<string, string[]>();
  for (const { file, sequence } of byId.values()) {
    const at = (step: number, kind: ProblemKind, message: string) => problems.push({ kind, file, sequence: sequence.id, step, message });
    const seen = new Map<string, number>();
    sequence.steps.forEach((step, i) => {
      if (step.label) {
        if (seen.has(step.label)) at(i, 'duplicate-label', `label "${step.label}" is also on step ${seen.get(step.label)}`);
        else seen.set(step.label, i);
      }
    });
    sequence.steps.forEach((step, i) => {
      const targets =
        step.kind === 'waitFor' ? [step.then, step.else] : step.kind === 'goto' ? [step.to] : [];
      for (const label of targets) {
        if (label !== undefined && labelIndex(sequence, label) < 0) at(i, 'unknown-label', `${stepName(step)} goes to label "${label}", which no step of this sequence carries`);
      }
      if (step.kind === 'goto' && step.sequence !== undefined && !byId.has(step.sequence)) {
        at(i, 'unknown-sequence', `goto names sequence "${step.sequence}", which does not exist (known: ${[...byId.keys()].join(', ')})`);
      }
      if (step.kind === 'email') {
        const template = ownEntry(templates, step.template);
        if (!template) at(i, 'unknown-template', `email template "${step.template}" does not exist`);
        else if (template.kind === 'marketing') {
          if (!templateChecked.has(template.id)) templateChecked.set(template.id, templateFieldProblems(template));
          for (const message of templateChecked.get(template.id)!) at(i, 'missing-field', message);
        } else at(i, 'unknown-template', `template "${step.template}" is a ${template.kind} email, not a marketing one`);
      }
      const events = step.kind === 'waitFor' ? eventList(step.event) : step.kind === 'exit' ? eventList(step.when?.eventSeen) : [];
      for (const type of events) {
        if (!eventTypes.includes(type)) at(i, 'unknown-event', `event type "${type}" is unknown (known: ${eventTypes.join(', ')})`);
      }
    });
  }
  // Reachability and loops only make sense over targets that exist.
  if (problems.some((p) => p.kind === 'unknown-label' || p.kind === 'unknown-sequence')) return problems;

  for (const { file, sequence } of byId.values()) {
    const reached = new Set<number>([0]);
    const queue = [0];
    while (queue.length) {
      const i = queue.shift()!;
      for (const next of successors(sequence, i)) {
        if (typeof next === 'number' && next >= 0 && !reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    sequence.steps.forEach((step, i) => {
      if (!reached.has(i)) problems.push({ kind: 'unreachable-step', file, sequence: sequence.id, step: i, message: `${stepName(step)} can never run: no step leads to it (label it and branch or goto to it, or remove it)` });
    });
  }

  // A loop in which no step lets time pass would spin (and send) without end: find cycles over
  // the steps that take no time, across sequences (a goto to another sequence enters its step 0).
  const key = (id: string, i: number) => `${id}#${i}`;
  const state = new Map<string, 'open' | 'done'>();
  const reported = new Set<string>();
  const visit = (id: string, i: number, path: string[]): void => {
    const k = key(id, i);
    if (state.get(k) === 'done') return;
    if (state.get(k) === 'open') {
      const loop = path.slice(path.indexOf(k));
      const [seqId, stepText] = loop[0]!.split('#') as [string, string];
      const loopKey = [...loop].sort().join();
      if (!reported.has(loopKey)) {
        reported.add(loopKey);
        problems.push({
          kind: 'zero-length-loop',
          file: byId.get(seqId)!.file,
          sequence: seqId,
          step: Number(stepText),
          message: `loop without a wait: ${[...loop, k].map((s) => s.replace('#', ' step ')).join(' → ')}; put a wait or waitFor in it`,
        });
      }
      return;
    }
    const sequence = byId.get(id)!.sequence;
    const step = sequence.steps[i]!;
    if (takesTime(step)) {
      state.set(k, 'done');
      return;
    }
    state.set(k, 'open');
    for (const next of successors(sequence, i)) {
      if (typeof next === 'number') {
        if (next >= 0) visit(id, next, [...path, k]);
      } else if (byId.has(next.sequence)) visit(next.sequence, 0, [...path, k]);
    }
    state.set(k, 'done');
  };
  for (const { sequence } of byId.values()) sequence.steps.forEach((_, i) => visit(sequence.id, i, []));

  return problems;
}
