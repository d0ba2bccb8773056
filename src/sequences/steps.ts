import { parseDuration } from '../domain/duration.js';
import type { Sequence } from './model.js';

/**
 * The helpers of the sequence model that code at run time needs, without the zod schemas:
 * the lead machine and the workflow bundle import these, the schemas stay at the edges.
 */

export { WEEKDAYS, type Weekday } from './weekdays.js';

/** The event types a `waitFor` or `exit` step names, as a list. */
export function eventList(events: string | string[] | undefined): string[] {
  return events === undefined ? [] : typeof events === 'string' ? [events] : events;
}

/** Index of the step carrying `label`, or -1. */
export function labelIndex(sequence: Pick<Sequence, 'steps'>, label: string): number {
  return sequence.steps.findIndex((s) => s.label === label);
}

/** `onboarding@v1`: how a sequence version is named in keys, search attributes and logs. */
export function sequenceLabel(sequence: Pick<Sequence, 'id' | 'version'>): string {
  return `${sequence.id}@v${sequence.version}`;
}

/** Milliseconds of a wait step; the schema guarantees units and a positive value. */
export function durationMs(duration: string): number {
  const value = parseDuration(duration);
  if (value === undefined) throw new Error(`"${duration}" is not a duration with units`);
  return value;
}
