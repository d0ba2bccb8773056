import { z } from 'zod';
import type { TemplateSource } from './templates.js';
import { isDuration, parseDuration } from '../domain/duration.js';
import { REJECT_REASONS } from '../domain/lead.js';
import { WEEKDAYS } from './weekdays.js';

/**
 * A nurture sequence is data: an ordered list of steps, validated by zod, pinned into each
 * lead's workflow input when the lead is enrolled. Pure module: workflows import it.
 */

/** A duration with units, e.g. `'2 days'`, `'36 hours'`. Bare numbers are refused. */
export const DurationSchema = z
  .string()
  .refine((value) => (parseDuration(value) ?? 0) > 0, 'a positive duration with units, e.g. "2 days"');

/** Names a step so branches, gotos and migrations can point at it. */
export const LabelSchema = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'labels are lower-case words joined by -');
const labelled = { label: LabelSchema.optional() };

export const EmailStepSchema = z.object({
  kind: z.literal('email'),
  ...labelled,
  /** Template id (src/sequences/templates.ts, or one the sequence's own file exports). */
  template: z.string().min(1),
});

export const WaitStepSchema = z.object({
  kind: z.literal('wait'),
  ...labelled,
  duration: DurationSchema,
  /**
   * Another wait for leads sales rejected with one of these reasons (recycle sequences):
   * a lead that is `not_ready` gets more room than one with `no_budget`.
   */
  byRejectReason: z.partialRecord(z.enum(REJECT_REASONS), DurationSchema).optional(),
});

/** Waits for an engagement event, at most `timeout`; goes to `then` if it came, else to `else` (default: the next step). */
export const WaitForStepSchema = z.object({
  kind: z.literal('waitFor'),
  ...labelled,
  /** Event type(s) that end the wait, e.g. `'email.clicked'` or `['webinar.viewed', 'pricing.viewed']`. */
  event: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  timeout: DurationSchema,
  /** Label to go to when the event came (default: the next step). */
  then: LabelSchema.optional(),
  /** Label to go to when the timeout passed first (default: the next step). */
  else: LabelSchema.optional(),
});

/** Ends the sequence when the condition holds (always, without one); otherwise goes on. */
export const ExitStepSchema = z.object({
  kind: z.literal('exit'),
  ...labelled,
  when: z
    .object({
      /** The lead's (decayed) score is at least this. */
      scoreAtLeast: z.number().int().positive().optional(),
      /** The lead has sent one of these event types since it was enrolled. */
      eventSeen: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    })
    .refine((w) => w.scoreAtLeast !== undefined || w.eventSeen !== undefined, 'name scoreAtLeast or eventSeen (or drop `when` to exit always)')
    .optional(),
});

/** Jumps to a label of this sequence (`to`) or to the start of another sequence (`sequence`). */
export const GotoStepSchema = z
  .object({
    kind: z.literal('goto'),
    ...labelled,
    to: LabelSchema.optional(),
    sequence: z.string().regex(/^[a-z0-9-]+$/).optional(),
  })
  .refine((g) => (g.to === undefined) !== (g.sequence === undefined), 'a goto names exactly one of `to` (a label) or `sequence` (an id)');

export const StepSchema = z.discriminatedUnion('kind', [EmailStepSchema, WaitStepSchema, WaitForStepSchema, ExitStepSchema, GotoStepSchema]);
export type SequenceStep = z.infer<typeof StepSchema>;
export type StepOf<K extends SequenceStep['kind']> = Extract<SequenceStep, { kind: K }>;

export const SequenceSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/, 'sequence ids are lower-case words joined by -'),
  /** Bump it on every change: new enrolments get the new version, in-flight leads keep theirs. */
  version: z.number().int().positive(),
  description: z.string(),
  steps: z.array(StepSchema).min(1),
});
export type Sequence = z.infer<typeof SequenceSchema>;
/** A sequence as written in its file (before zod fills defaults). */
export type SequenceDefinition = z.input<typeof SequenceSchema>;

/**
 * The program: scoring rules, the sales-review threshold, and the sequences a lead runs.
 * A lead's workflow receives a snapshot of it at enrolment, so editing the program later
 * never changes an in-flight lead.
 */
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a local time "HH:MM", e.g. "08:00"');
export { WEEKDAYS, type Weekday } from './weekdays.js';

/** When marketing email may go out, in the lead's local time. */
export const SendWindowSchema = z
  .object({
    /** Days email may go out on. */
    days: z.array(z.enum(WEEKDAYS)).min(1),
    /** Opening time, local to the lead. */
    start: HHMM,
    /** Closing time, local to the lead (exclusive; "24:00" for midnight). */
    end: HHMM,
    /** Time zone of leads that gave none (IANA, e.g. "UTC", "Europe/Paris"). */
    defaultTimezone: z.string().min(1),
  })
  .refine((w) => w.start < w.end, 'the window opens before it closes (start < end)');
export type SendWindow = z.infer<typeof SendWindowSchema>;

/** Delivery rules: when marketing email may go, and how much of it. */
export const DeliverySchema = z.object({
  sendWindow: SendWindowSchema,
  /**
   * Whether the first email of a lead's first enrolment ignores the window (DESIGN.md: "on
   * enrolment the default sequence sends its first email at once"). Later emails respect it.
   */
  firstEmailAtOnce: z.boolean(),
  /** At most `max` marketing emails in any rolling `per`. */
  frequencyCap: z.object({ max: z.number().int().positive(), per: DurationSchema }),
});
export type Delivery = z.infer<typeof DeliverySchema>;

/**
 * The program: scoring rules, the sales-review threshold, and the sequences a lead runs.
 * A lead's workflow receives a snapshot of it at enrolment, so editing the program later
 * never changes an in-flight lead.
 */
export const ProgramSchema = z.object({
  /** Points per engagement event type; an event type absent here is unknown (400 at the API). */
  scoring: z.record(z.string(), z.number().int().nonnegative()),
  /** Score at which a nurturing lead goes to sales review (compared with the decayed score). */
  threshold: z.number().int().positive(),
  /** Sequence a lead runs after sales rejected it. */
  recycleSequence: SequenceSchema,
  /** Sales review: how long sales has before a reminder, and again before a manager hears of it. */
  review: z.object({
    sla: z.string().refine(isDuration, 'a positive duration, e.g. "2 business days" or "36 hours"'),
  }),
  /** Send window and frequency cap. Snapshots from before they existed have none: no limits. */
  delivery: DeliverySchema.optional(),
  /** Score decay: points older than `after` stop counting. Absent: points never expire. */
  decay: z.object({ after: DurationSchema }).optional(),
});
export type Program = z.infer<typeof ProgramSchema>;

/**
 * A template as pinned into a lead's snapshot: its source, rendered for the lead's profile of the
 * moment it is sent; leads enrolled before sources were pinned hold the content rendered for
 * them at enrolment, sent as it is.
 */
export type PinnedEmail = { kind: 'marketing'; source: TemplateSource } | { kind: 'marketing' | 'sales'; subject: string; text: string; html: string };

/** What a lead's workflow is started with: its program and enrolment sequence, frozen. */
export interface ProgramSnapshot extends Program {
  enrolSequence: Sequence;
  /**
   * The content of every template its sequences name, as published with them: editing or deleting
   * a template file later changes no email of this lead (snapshots from before have none).
   */
  templates?: Record<string, PinnedEmail>;
  /** Every sequence a `goto` can reach from the enrolment and recycle sequences, frozen too. */
  sequences?: Sequence[];
}
