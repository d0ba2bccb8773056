import type { LeadProfile } from '../domain/lead.js';
import { ownEntry } from '../domain/own-key.js';
import { durationMs, eventList, labelIndex, sequenceLabel, type Program, type Sequence, type SequenceStep } from './model.js';
import type { EmailTemplate, RenderedEmail } from './templates.js';

/**
 * A sequence as a timeline for a sample lead (`npm run sequences -- preview <id>`): the path of a
 * lead who never engages (every waitFor times out), across gotos, with each email rendered; then
 * the steps only engagement reaches. Pure: the CLI prints it or writes HTML files.
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

export function previewSequence(
  start: Sequence,
  options: { sequences: Record<string, Sequence>; templates: Record<string, EmailTemplate>; lead: LeadProfile; program?: Program; maxSteps?: number },
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

  const path: PreviewEntry[] = [];
  const visited = new Set<string>();
  let sequence = start;
  let i = 0;
  let at = 0;
  const maxSteps = options.maxSteps ?? 50;
  while (i >= 0 && i < sequence.steps.length && path.length < maxSteps) {
    const key = `${sequence.id}#${i}`;
    if (visited.has(key)) {
      path.push({ sequence: sequenceLabel(sequence), step: i, atMs: at, text: `loops back to step ${i}: the path repeats from here` });
      break;
    }
    visited.add(key);
    const step = sequence.steps[i]!;
    path.push(entry(sequence, i, at));
    switch (step.kind) {
      case 'wait':
        at += durationMs(step.duration);
        i += 1;
        break;
      case 'waitFor':
        at += durationMs(step.timeout);
        i = step.else === undefined ? i + 1 : labelIndex(sequence, step.else);
        break;
      case 'exit':
        i = step.when ? i + 1 : -1;
        break;
      case 'goto': {
        const next = step.sequence !== undefined ? ownEntry(options.sequences, step.sequence) : undefined;
        if (step.sequence !== undefined) {
          if (!next) i = -1;
          else {
            sequence = next;
            i = 0;
          }
        } else i = labelIndex(sequence, step.to!);
        break;
      }
      default:
        i += 1;
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
