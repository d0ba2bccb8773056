import { z } from 'zod';
import { isDuration, parseDuration } from '../domain/duration.js';
import { REJECT_REASONS } from '../domain/lead.js';

/**
 * A nurture sequence is data: an ordered list of steps, validated by zod, pinned into each
 * lead's workflow input when the lead is enrolled. Pure module: workflows import it.
 */

/** A duration with units, e.g. `'2 days'`, `'36 hours'`. Bare numbers are refused. */
export const DurationSchema = z
  .string()
  .refine((value) => (parseDuration(value) ?? 0) > 0, 'a positive duration with units, e.g. "2 days"');

export const EmailStepSchema = z.object({
  kind: z.literal('email'),
  /** Template id from src/sequences/templates.ts. */
  template: z.string().min(1),
});

export const WaitStepSchema = z.object({
  kind: z.literal('wait'),
  duration: DurationSchema,
  /**
   * Another wait for leads sales rejected with one of these reasons (recycle sequences):
   * a lead that is `not_ready` gets more room than one with `no_budget`.
   */
  byRejectReason: z.partialRecord(z.enum(REJECT_REASONS), DurationSchema).optional(),
});

export const StepSchema = z.discriminatedUnion('kind', [EmailStepSchema, WaitStepSchema]);
export type SequenceStep = z.infer<typeof StepSchema>;

export const SequenceSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/, 'sequence ids are lower-case words joined by -'),
  version: z.number().int().positive(),
  description: z.string(),
  steps: z.array(StepSchema).min(1),
});
export type Sequence = z.infer<typeof SequenceSchema>;

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

/**
 * The program: scoring rules, the sales-review threshold, and the sequences a lead runs.
 * A lead's workflow receives a snapshot of it at enrolment, so editing the program later
 * never changes an in-flight lead.
 */
export const ProgramSchema = z.object({
  /** Points per engagement event type; an event type absent here is unknown (400 at the API). */
  scoring: z.record(z.string(), z.number().int().nonnegative()),
  /** Score at which a nurturing lead goes to sales review. */
  threshold: z.number().int().positive(),
  /** Sequence a lead runs after sales rejected it. */
  recycleSequence: SequenceSchema,
  /** Sales review: how long sales has before a reminder, and again before a manager hears of it. */
  review: z.object({
    sla: z.string().refine(isDuration, 'a positive duration, e.g. "2 business days" or "36 hours"'),
  }),
});
export type Program = z.infer<typeof ProgramSchema>;

/** What a lead's workflow is started with: its program and enrolment sequence, frozen. */
export interface ProgramSnapshot extends Program {
  enrolSequence: Sequence;
}
