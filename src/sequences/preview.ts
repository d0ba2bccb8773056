import type { LeadProfile } from '../domain/lead.js';
import { ownEntry } from '../domain/own-key.js';
import { newLeadState, reduce, wakeAt, type LeadContext, type LeadInput } from '../domain/lead/index.js';
import type { Program, ProgramSnapshot, Sequence, SequenceStep } from './model.js';
import { eventList, sequenceLabel } from './steps.js';
import type { EmailTemplate, RenderedEmail } from './templates.js';

/**
 * A sequence as a timeline for a sample lead (`npm run sequences -- preview <id>`): the path of a
 * lead who never engages (every waitFor times out), across gotos, with each email rendered, as the
 * lead machine runs it; then the steps only engagement reaches. Pure: the CLI prints it or writes HTML files.
 */

export interface PreviewEntry {
  sequence: string;
  step: number;
  label?: string;
  /** Time since enrolment along the path (ms); undefined for steps off the path. */
  atMs?: number;
  /** What the step does, in words. */
  text: string;
  email?: RenderedEmail & { template: string };
}

export interface Preview {
  title: string;
  path: PreviewEntry[];
  branches: PreviewEntry[];
  rules: string[];
}

const describe = (step: SequenceStep): string => {
  switch (step.kind) {
    case 'email':
      return `email "${step.template}"`;
    case 'wait':
      return `wait ${step.duration}${step.byRejectReason ? ` (${Object.entries(step.byRejectReason).map(([r, d]) => `${d} if rejected ${r}`).join(', ')})` : ''}`;
    case 'waitFor':
      return `wait up to ${step.timeout} for ${eventList(step.event).join(' or ')}: came → ${step.then ?? 'next step'}, else → ${step.else ?? 'next step'}`;
    case 'exit':
      return step.when
        ? `exit if ${[step.when.scoreAtLeast !== undefined ? `score ≥ ${step.when.scoreAtLeast}` : '', eventList(step.when.eventSeen).length ? `${eventList(step.when.eventSeen).join(' or ')} seen` : ''].filter(Boolean).join(' or ')}`
        : 'exit: the sequence ends';
    case 'goto':
      return step.sequence !== undefined ? `go to sequence "${step.sequence}"` : `go to "${step.to}"`;
  }
};

/** Monday 5 January 2026, 09:00 UTC: where the simulated clock of a preview starts. */
const PREVIEW_START = Date.UTC(2026, 0, 5, 9);

/**
 * Runs the lead machine (src/domain/lead/, the code every lead runs) for the sample lead on a
 * simulated clock: it never engages, every email is answered at once, and each timer the lead
 * asks for fires on time. So the path shows the send window, the frequency cap and the timeouts
 * as a lead would live them.
 */
export function previewSequence(
  start: Sequence,
  options: { sequences: Record<string, Sequence>; templates: Record<string, EmailTemplate>; lead: LeadProfile; program?: Program; maxSteps?: number; startAt?: number },
): Preview {
  const render = (template: string): PreviewEntry['email'] => {
    const t = ownEntry(options.templates, template);
    if (!t) return { template, subject: `(unknown template "${template}")`, text: '', html: '' };
    return { template, ...t.render({ lead: options.lead }) };
  };
  const entry = (sequence: Sequence, i: number, atMs?: number): PreviewEntry => {
    const step = sequence.steps[i]!;
    return {
      sequence: sequenceLabel(sequence),
      step: i,
      ...(step.label ? { label: step.label } : {}),
      ...(atMs === undefined ? {} : { atMs }),
      text: describe(step),
      ...(step.kind === 'email' ? { email: render(step.template) } : {}),
    };
  };

  const base: Program = options.program ?? { scoring: {}, threshold: Number.MAX_SAFE_INTEGER, recycleSequence: start, review: { sla: '2 days' } };
  const program: ProgramSnapshot = { ...base, enrolSequence: start, sequences: Object.values(options.sequences).filter((s) => s.id !== start.id) };
  const startAt = options.startAt ?? PREVIEW_START;
  let now = startAt;
  const ctx = (): LeadContext => ({ now, program });
  let state = newLeadState(options.lead, ctx());
  const path: PreviewEntry[] = [];
  const visited = new Set<string>();
  const maxSteps = options.maxSteps ?? 50;
  const sequenceOf = (id: string, version: number) => [start, ...Object.values(options.sequences)].find((s) => s.id === id && s.version === version) ?? start;
  let input: LeadInput | undefined = { kind: 'enrolment' };
  let at = '';
  while (input && path.length < maxSteps) {
    const { state: next, effects } = reduce(state, input, ctx());
    state = next;
    input = undefined;
    const here = `${state.sequence.id}@v${state.sequence.version}#${state.sequence.step}#${state.sequence.enrolment}#${state.sequence.loop ?? 0}`;
    const sequence = sequenceOf(state.sequence.id, state.sequence.version);
    const step = sequence.steps[state.sequence.step];
    if (here !== at && step) {
      at = here;
      const key = `${sequence.id}#${state.sequence.step}`;
      if (visited.has(key)) {
        path.push({ sequence: sequenceLabel(sequence), step: state.sequence.step, atMs: now - startAt, text: `loops back to step ${state.sequence.step}: the path repeats from here` });
        break;
      }
      visited.add(key);
      if (step.kind !== 'email') path.push(entry(sequence, state.sequence.step, now - startAt));
    }
    const email = effects.find((e) => e.kind === 'sendMarketingEmail');
    if (email) {
      path.push(entry(sequence, email.step, now - startAt));
      input = { kind: 'effectResult', result: { kind: 'emailAnswered', sendKey: email.sendKey, outcome: 'sent' } };
      continue;
    }
    const wake = wakeAt(state, ctx()).lead;
    if (wake !== undefined) {
      now = Math.max(now, wake);
      input = { kind: 'timerDue' };
    }
  }

  const onPath = new Set(path.map((p) => `${p.sequence}#${p.step}`));
  const branches = start.steps.map((_, j) => entry(start, j)).filter((e) => !onPath.has(`${e.sequence}#${e.step}`));

  const rules: string[] = [];
  const delivery = options.program?.delivery;
  if (delivery) {
    const w = delivery.sendWindow;
    rules.push(`send window ${w.start}-${w.end} on ${w.days.join(', ')} in the lead's time zone (default ${w.defaultTimezone})${delivery.firstEmailAtOnce ? '; the first email of a new lead goes at once' : ''}`);
    rules.push(`frequency cap: at most ${delivery.frequencyCap.max} marketing emails per ${delivery.frequencyCap.per}`);
  }
  if (options.program?.decay) rules.push(`score decay: points older than ${options.program.decay.after} stop counting`);

  return { title: `${sequenceLabel(start)}: ${start.description}`, path, branches, rules };
}

/** "day 2", "day 2 + 4 h", "at once". */
export function formatOffset(ms: number): string {
  if (ms === 0) return 'at once';
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.round((ms % 86_400_000) / 3_600_000);
  return `day ${days}${hours ? ` + ${hours} h` : ''}`;
}
