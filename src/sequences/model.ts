import { z } from 'zod';
import type { TemplateSource } from './templates.js';
import { isDuration, parseDuration } from '../domain/duration.js';
import { GRADES, REJECT_REASONS } from '../domain/lead.js';
import { parseIpRange } from '../domain/ip.js';
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

/** A user-agent pattern: a regular expression, matched case-insensitively. */
const UserAgentPattern = z.string().min(1).max(500).refine((p) => {
  try {
    new RegExp(p, 'i');
    return true;
  } catch {
    return false;
  }
}, 'a valid regular expression');

/** `17.0.0.0/8`, `2620:149::/32`. */
const IpRangeText = z.string().refine((r) => parseIpRange(r) !== undefined, 'an IPv4 or IPv6 range in CIDR form, e.g. 17.0.0.0/8');

/**
 * Honest engagement (src/sequences/engagement-filter.ts): opens and clicks that are a machine's,
 * not a person's, are recorded but score nothing. A privacy proxy fetches every image of an email
 * (Apple Mail Privacy Protection, Gmail's image proxy); a link scanner follows links before the
 * recipient sees them (security gateways, link previews). The facts come with the event from the
 * tracking routes: user agent, address, delivery time, the email's link count.
 */
export const EngagementFilterSchema = z.object({
  /** Bump on every change: new enrolments get it, in-flight leads keep the one they were enrolled with. */
  version: z.number().int().positive(),
  /** Opens from these are a proxy's fetch: a match on the user agent or on the address. */
  privacyProxies: z
    .array(z.object({ id: z.string().min(1).max(100), label: z.string().min(1).max(200), userAgent: UserAgentPattern.optional(), ipRanges: z.array(IpRangeText).max(200).optional() }))
    .max(50)
    .refine((proxies) => proxies.every((p) => p.userAgent !== undefined || (p.ipRanges?.length ?? 0) > 0), 'every proxy names a userAgent or ipRanges'),
  /** Opens and clicks from these user agents are a scanner's. */
  linkScanners: z.array(z.object({ id: z.string().min(1).max(100), label: z.string().min(1).max(200), userAgent: UserAgentPattern })).max(50),
  /** A click this soon after the email was delivered is a scanner's (0: off). */
  clickWithinSeconds: z.number().int().min(0).max(3600),
  /** Every link of an email (two or more) clicked within this many seconds: a scanner's (0: off). */
  allLinksWithinSeconds: z.number().int().min(0).max(3600),
});
export type EngagementFilter = z.infer<typeof EngagementFilterSchema>;

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

/** Names a rule in breakdowns, timelines and reports. */
export const RuleIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'rule ids are lower-case words joined by -');
/**
 * What a condition reads: for an event, a property (`path`, `asset.kind`); for the profile, a
 * field (`email`, `company`, `timezone`...) or an attribute (`attributes.employees`).
 */
const FieldSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/, 'a field name, dotted for nested values, e.g. "path" or "attributes.employees"');
const Scalar = z.union([z.string(), z.number(), z.boolean()]);

/** One condition: a field and exactly one operator (src/domain/lead/rules.ts says what each means). */
export const ConditionSchema = z.union([
  z.strictObject({ field: FieldSchema, equals: Scalar }),
  z.strictObject({ field: FieldSchema, oneOf: z.array(z.union([z.string(), z.number()])).min(1) }),
  z.strictObject({ field: FieldSchema, atLeast: z.number() }),
  z.strictObject({ field: FieldSchema, atMost: z.number() }),
  z.strictObject({ field: FieldSchema, exists: z.boolean() }),
  z.strictObject({ field: FieldSchema, startsWith: z.string().min(1) }),
  /** The value is an email address whose domain is not a free-mail domain (gmail.com, outlook.com...). */
  z.strictObject({ field: FieldSchema, businessEmail: z.literal(true) }),
]);
export type Condition = z.infer<typeof ConditionSchema>;

/**
 * A conditional scoring rule: `points` (negative ones subtract) for an event of type `event`
 * whose properties meet every condition of `when`. The first rule that matches an event gives
 * its points; an event no rule matches scores by the flat table (`scoring`).
 */
export const ScoringRuleSchema = z.strictObject({
  id: RuleIdSchema,
  event: z.string().min(1),
  when: z.array(ConditionSchema).optional(),
  points: z.number().int().refine((p) => p !== 0, 'a rule gives or takes points (0: remove the rule)'),
  /** At most `points` (in absolute value) from this rule per `per`, counted from the rule's first points of the period. */
  cap: z.strictObject({ points: z.number().int().positive(), per: DurationSchema }).optional(),
});
export type ScoringRule = z.infer<typeof ScoringRuleSchema>;

/** A fit rule: `points` when the profile meets every condition; the fit points of all matching rules add up. */
export const FitRuleSchema = z.strictObject({
  id: RuleIdSchema,
  when: z.array(ConditionSchema).min(1),
  points: z.number().int().refine((p) => p !== 0, 'a rule gives or takes points (0: remove the rule)'),
});
export type FitRule = z.infer<typeof FitRuleSchema>;

export const FitModelSchema = z.strictObject({
  rules: z.array(FitRuleSchema).min(1),
  /** Fit points a grade needs at least; below C's the grade is D. */
  grades: z.strictObject({ A: z.number().int(), B: z.number().int(), C: z.number().int() }).refine((g) => g.A > g.B && g.B > g.C, 'grades need A > B > C points'),
});
export type FitModel = z.infer<typeof FitModelSchema>;

/**
 * The qualification model beside the flat table: conditional scoring rules, fit rules and the
 * grade a lead needs for sales review. Versioned like a sequence: a lead keeps the version it
 * was enrolled with until a migration brings a newer one.
 */
export const RulesSchema = z
  .strictObject({
    /** Bump it on every change. */
    version: z.number().int().positive(),
    scoring: z.array(ScoringRuleSchema).optional(),
    fit: FitModelSchema.optional(),
    /** Sales review needs the score and at least this grade (default: any grade). */
    minGrade: z.enum(GRADES).optional(),
  })
  .refine((r) => r.minGrade === undefined || r.fit !== undefined, 'minGrade needs fit rules to grade leads')
  .refine((r) => new Set([...(r.scoring ?? []), ...(r.fit?.rules ?? [])].map((x) => x.id)).size === (r.scoring?.length ?? 0) + (r.fit?.rules.length ?? 0), 'rule ids are unique');
export type Rules = z.infer<typeof RulesSchema>;

/**
 * zod drops an own `__proto__` key from a record without a word, so a rule under that name would
 * vanish from the program unseen. Refuse it instead, naming the key.
 */
function refuseProtoKey(value: unknown, ctx: z.RefinementCtx): unknown {
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
    ctx.addIssue({ code: 'custom', path: ['__proto__'], message: '"__proto__" cannot name an event type' });
  }
  return value;
}

/**
 * The program: scoring rules, the sales-review threshold, and the sequences a lead runs.
 * A lead's workflow receives a snapshot of it at enrolment, so editing the program later
 * never changes an in-flight lead.
 */
export const ProgramSchema = z.object({
  /** Points per engagement event type; an event type absent here is unknown (400 at the API). */
  scoring: z.preprocess(refuseProtoKey, z.record(z.string(), z.number().int().nonnegative())),
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
  /** Conditional scoring, fit grade and minimum grade. Absent (snapshots from before): the flat table alone, no grade. */
  rules: RulesSchema.optional(),
  /** Opens and clicks that score nothing (privacy proxies, link scanners). Absent (snapshots from before): every one scores. */
  engagementFilter: EngagementFilterSchema.optional(),
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
