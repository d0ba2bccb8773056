import { z } from 'zod';
import { ROLES } from '../config.js';
import { LeadIdSchema } from '../domain/lead-id.js';
import { MAX_REPORTED_ERRORS } from '../domain/imports.js';
import { GRADES, LEAD_STAGES, OUTCOMES, REJECT_REASONS, SLA_STATES } from '../domain/lead.js';
import { defaultProgram, sequences } from '../sequences/catalog.js';
import { LEAD_EVENT_TYPES } from '../domain/webhooks.js';

/**
 * Request and response schemas of HTTP API v1 (DESIGN.md). Fastify validates with them and
 * `/openapi.json` is generated from them, so the document cannot drift from the code.
 */

/** IANA zone names the runtime knows, plus UTC: the document lists them, so it says exactly what is accepted. */
export const TIME_ZONES = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
const timeZones = new Set(TIME_ZONES);
const isTimeZone = (tz: string): boolean => timeZones.has(tz);

/**
 * A one-line text field (names, company, who decided): no control characters, so nothing a
 * template puts into a subject line or a log line can break it (CR/LF, NUL, escapes).
 */
// `(?![\s\S])` rather than `$`: the same "end of text" for ECMAScript and for Python-based
// tools such as schemathesis, where `$` also matches before a final line break.
const ONE_LINE = /^[^\u0000-\u001f\u007f]*(?![\s\S])/;
const oneLine = (max: number) => z.string().regex(ONE_LINE, 'one line of text without control characters (line breaks, tabs, NUL)').trim().max(max);

/** Who made a decision: a name or address, not blank (the document says so with a pattern). */
const NOT_BLANK = '^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*(?![\\s\\S])';
const decidedBy = oneLine(200).min(1).meta({ pattern: NOT_BLANK });

/** Keys of free-form objects (attributes, properties): any text but NUL, which no store keeps. */
const freeKey = z.string().regex(/^[^\u0000]*(?![\s\S])/, 'a key without NUL (\\u0000)');

/** RFC 5321 caps the local part of an address at 64 characters; zod's email pattern does not. */
const emailAddress = z
  .email()
  .max(254)
  .refine((email) => email.slice(0, email.lastIndexOf('@')).length <= 64, 'the part before @ may be 64 characters at most');

/**
 * An ISO-8601 instant with its offset, stored as UTC: Postgres takes offsets up to ±15:59 and no
 * year 0, both of which the ISO pattern allows, so the value is normalised here and refused here.
 */
export const instant = z.iso
  .datetime({ offset: true })
  .refine((value) => {
    const year = new Date(value).getUTCFullYear();
    // Not a date at all: the ISO check above already said so, once.
    return Number.isNaN(year) || (year >= 1 && year <= 9999);
  }, 'a date-time between the years 1 and 9999')
  .transform((value) => new Date(value).toISOString());

export const LeadIdParams = z.object({ id: LeadIdSchema });

export const CreateLeadBody = z.object({
  id: LeadIdSchema,
  email: emailAddress,
  firstName: oneLine(100).optional(),
  lastName: oneLine(100).optional(),
  company: oneLine(200).optional(),
  timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Paris').meta({ enum: TIME_ZONES }).optional(),
  // The catalog's sequences and scoring rules are listed in the document; the service checks them
  // (400 unknown_sequence / unknown_event_type naming the choices), so a new one needs no schema edit.
  sequence: z.string().max(100).meta({ enum: Object.keys(sequences) }).optional(),
  attributes: z.record(freeKey, z.unknown()).optional(),
});

/**
 * PATCH /v1/leads/{id}: any of the profile fields; `null` clears a field (not the email);
 * attributes merge and `null` removes a key. An unknown field is refused, naming it.
 */
export const UpdateLeadBody = z
  .strictObject({
    email: CreateLeadBody.shape.email.optional(),
    firstName: oneLine(100).nullable().optional(),
    lastName: oneLine(100).nullable().optional(),
    company: oneLine(200).nullable().optional(),
    timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Paris').meta({ enum: TIME_ZONES }).nullable().optional(),
    attributes: z.record(freeKey, z.unknown()).optional().describe('merged into the current attributes; a key set to null is removed'),
  })
  .refine((body) => Object.keys(body).length > 0, 'send at least one of email, firstName, lastName, company, timezone, attributes')
  .meta({ minProperties: 1 });

export const LeadCreated = z.object({ id: z.string(), stage: z.enum(LEAD_STAGES), workflowId: z.string() });

export const EventBody = z.object({
  eventId: z.string().min(1).max(200),
  type: z.string().min(1).max(100).meta({ enum: Object.keys(defaultProgram.scoring) }),
  occurredAt: instant.optional(),
  properties: z.record(freeKey, z.unknown()).optional(),
});

export const EventAccepted = z.object({ eventId: z.string(), duplicate: z.boolean() });

/** Most events one batch (or one webhook delivery) may carry. */
export const MAX_BATCH_EVENTS = 500;

/** One event of a batch: the single-event body plus the lead it belongs to. */
export const BatchEvent = EventBody.extend({ leadId: LeadIdSchema });
export type BatchEvent = z.infer<typeof BatchEvent>;

/**
 * A batch body. Fastify checks only the envelope (an array of 1 to 500 items); each item is
 * validated on its own so that one bad item is refused alone. The document still shows the
 * item schema: its JSON Schema is attached to the loosely validated item.
 */
const { $schema: _dialect, ...batchEventJsonSchema } = z.toJSONSchema(BatchEvent, { io: 'input' });
export const EventBatchBody = z.object({
  events: z
    .array(z.unknown().meta({ ...batchEventJsonSchema, description: 'an event; one that does not match is refused in the results, the others still count' }))
    .min(1)
    .max(MAX_BATCH_EVENTS),
});

export const REFUSAL_CODES = ['validation_failed', 'invalid_text', 'unknown_event_type', 'lead_not_found', 'duplicate_event', 'internal'] as const;

export const BatchItemResult = z.object({
  index: z.number().int().meta({ description: 'position of the item in `events`' }),
  status: z.enum(['accepted', 'refused']),
  leadId: z.string().optional(),
  eventId: z.string().optional(),
  error: z.string().optional().meta({ description: `why it was refused: ${REFUSAL_CODES.join(', ')}` }),
  message: z.string().optional(),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type BatchItemResult = z.infer<typeof BatchItemResult>;

export const BatchResult = z.object({
  accepted: z.number().int(),
  refused: z.number().int(),
  results: z.array(BatchItemResult).meta({ description: 'one result per item, in the order sent' }),
});
export type BatchResult = z.infer<typeof BatchResult>;

export const WebhookHeaders = z.looseObject({
  'webhook-id': z.string().meta({ description: 'the delivery\'s unique id (Standard Webhooks): a second delivery with the same id is a replay' }),
  'webhook-timestamp': z.string().meta({ description: 'unix seconds when the delivery was signed' }),
  'webhook-signature': z.string().meta({ description: 'v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>"> with a WEBHOOK_SECRETS secret; several space-separated during a rotation' }),
});

const SequencePosition = z.object({ id: z.string(), version: z.number().int(), step: z.number().int() });

export const HistoryEntry = z.object({
  at: z.string(),
  kind: z.enum(['transition', 'event', 'email', 'decision', 'feedback']),
  summary: z.string(),
  data: z.record(z.string(), z.unknown()),
});

const ScoreItem = z.object({
  eventId: z.string(),
  type: z.string(),
  points: z.number().int().describe('points this line adds to the current score (negative: a rule took points)'),
  occurredAt: z.string(),
  rule: z.string().optional().describe('the scoring rule that gave the points: a rule id, or the event type for the flat table of points per type'),
  count: z.number().int().optional().describe('events summed in this line (older events are summed per type, rule and day)'),
  countsUntil: z.string().nullable().optional().describe('when these points stop counting (score decay); null: never'),
});

const Review = z.object({
  since: z.string().describe('when the lead entered sales review'),
  owner: z.string().nullable().describe('salesperson the review is assigned to (round-robin over SALES_OWNERS)'),
  slaDueAt: z.string().nullable().describe('when the next SLA step is due: a reminder, then an escalation to the manager'),
  slaState: z.enum(SLA_STATES),
});

const TimelineEntry = z.object({
  at: z.string(),
  kind: z.enum(['enrolled', 'event', 'email', 'stage', 'decision', 'sla', 'unsubscribed', 'continued', 'sequence', 'profile', 'qualification', 'filtered']).describe('filtered: an open or click recorded but not scored (a privacy proxy, a link scanner), with the reason'),
  text: z.string(),
});

/** Fields every view of a lead shows: who it is and where it stands. */
const LeadBase = z.object({
  id: z.string(),
  email: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  company: z.string().nullable(),
  timezone: z.string().nullable(),
  stage: z.enum(LEAD_STAGES),
  score: z.number().int(),
  reviewCount: z.number().int(),
  unsubscribed: z.boolean(),
  owner: z.string().nullable(),
  slaBreaches: z.number().int().describe('reviews of this lead that went past their SLA'),
  lastRejectReason: z.enum(REJECT_REASONS).nullable(),
  scoreBreakdown: z.array(ScoreItem).describe('why each point counts: the rule, the event, until when'),
  grade: z.enum(GRADES).nullable().describe("fit grade (A best) from the program's fit rules; null without fit rules"),
  rulesVersion: z.number().int().nullable().optional().describe('version of the scoring and fit rules the lead runs under (pinned at enrolment; newer ones come with POST /v1/sequences/{id}/migrate)'),
  createdAt: z.string(),
});

const Delivery = z.object({
  timezone: z.string().describe("time zone the send window applies in: the lead's, or the program's default"),
  sendWindow: z.object({ days: z.array(z.string()), start: z.string(), end: z.string() }).nullable().describe('when marketing email may go, local time; null: any time'),
  frequencyCap: z
    .object({ max: z.number().int(), per: z.string(), sentInWindow: z.number().int().describe('marketing emails sent in the current rolling window') })
    .nullable(),
  nextSendAt: z.string().nullable().describe('when the email the sequence is at may go (window, cap); null when none waits'),
  decayAfter: z.string().nullable().describe('points older than this stop counting; null: never'),
});

const ReceivedEmail = z.object({
  template: z.string(),
  subject: z.string().nullable(),
  status: z.string().describe('sent, pending, suppressed, bounced (5xx at send time) or soft_bounced (4xx on every attempt)'),
  sentAt: z.string().nullable(),
  engagement: z.array(z.object({ type: z.string(), at: z.string() })).describe('email.opened / email.clicked events for this email'),
  feedback: z.array(z.object({ kind: z.string(), source: z.string(), at: z.string() })).optional().describe('bounces, complaints and deliveries reported about this email'),
});

export const LeadDetail = LeadBase.extend({
  attributes: z.record(z.string(), z.unknown()).describe('free-form profile attributes (segments and fit rules look at them)'),
  sequence: SequencePosition,
  delivery: Delivery.nullable().optional().describe('delivery rules the lead runs under (send window, frequency cap, score decay); null for leads enrolled before they existed'),
  nextActionAt: z.string().nullable(),
  review: Review.extend({ reviewNo: z.number().int() }).nullable(),
  workflowId: z.string(),
  timeline: z.array(TimelineEntry).describe("the lead's recent story as its workflow tells it (last 100 entries)"),
  emails: z.array(ReceivedEmail).describe('marketing emails the lead received and its engagement with them'),
  deliverability: z
    .object({
      suppressed: z.enum(['unsubscribed', 'hard_bounce', 'soft_bounce', 'complaint', 'erased']).nullable().describe('why the address gets no marketing email; erased: the address of an erased lead (kept as a keyed hash); null: it may be mailed'),
      hardBounces: z.number().int(),
      softBounces: z.number().int(),
      softBouncesInRow: z.number().int().describe('soft bounces since the last delivery: at SOFT_BOUNCE_LIMIT the address is suppressed'),
      complaints: z.number().int(),
      deliveries: z.number().int().describe('deliveries providers confirmed (they end a run of soft bounces)'),
    })
    .describe('what mail providers reported about the address (POST /v1/webhooks/email-feedback, and the relay at send time)'),
  history: z.array(HistoryEntry),
});

export const ListLeadsQuery = z.object({
  stage: z.enum(LEAD_STAGES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const LeadSummary = LeadBase.extend({
  workflowId: z.string().describe('lead-<id>: the Temporal workflow of this lead'),
  review: Review.nullable(),
  waitingSeconds: z.number().int().describe('seconds in the current stage; in the review queue, time waiting for a decision'),
  emails: z.array(ReceivedEmail).describe('marketing emails the lead received and its engagement with them'),
  stageChangedAt: z.string(),
});

export const LeadList = z.object({ leads: z.array(LeadSummary) });

export const AcceptBody = z.object({ by: decidedBy, notes: z.string().max(5000).optional() });
export const RejectBody = z.object({
  by: decidedBy,
  reason: z.enum(REJECT_REASONS),
  notes: z.string().max(5000).optional(),
});
export const DisqualifyBody = z.object({ by: decidedBy, reason: oneLine(500).min(1).meta({ pattern: NOT_BLANK }) });

export const DecisionResult = z.object({ id: z.string(), stage: z.enum(LEAD_STAGES) });

/** Largest amount lead_outcomes holds (numeric(14, 2)). */
const MAX_AMOUNT = 999_999_999_999.99;
export const OutcomeBody = z
  .object({
    by: decidedBy,
    outcome: z.enum(OUTCOMES),
    amount: z.number().min(0).max(MAX_AMOUNT).optional().describe('won: the amount of the deal (required); lost: not allowed'),
    currency: z.string().regex(/^[A-Z]{3}(?![\s\S])/, 'an ISO 4217 code such as EUR').optional().describe('ISO 4217 code of the amount (won only)'),
    reason: oneLine(500).min(1).meta({ pattern: NOT_BLANK }).optional().describe('lost: why (required); won: not allowed'),
    recycle: z.boolean().optional().describe('lost only: back to nurturing in the recycle sequence, to escalate again'),
  })
  .superRefine((body, ctx) => {
    const refuse = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    if (body.outcome === 'won') {
      if (body.amount === undefined) refuse('amount', 'a won outcome carries its amount');
      if (body.reason !== undefined) refuse('reason', 'a won outcome carries no reason');
      if (body.recycle !== undefined) refuse('recycle', 'only a lost lead recycles');
    } else {
      if (body.reason === undefined) refuse('reason', 'a lost outcome carries its reason');
      if (body.amount !== undefined) refuse('amount', 'a lost outcome carries no amount');
      if (body.currency !== undefined) refuse('currency', 'a lost outcome carries no currency');
    }
  })
  // The same rule in the document, for clients and fuzzers: won needs amount, lost needs reason.
  .meta({
    oneOf: [
      { properties: { outcome: { const: 'won' } }, required: ['amount'], not: { anyOf: [{ required: ['reason'] }, { required: ['recycle'] }] } },
      { properties: { outcome: { const: 'lost' } }, required: ['reason'], not: { anyOf: [{ required: ['amount'] }, { required: ['currency'] }] } },
    ],
  });
export const OutcomeResult = z.object({ id: z.string(), stage: z.enum(LEAD_STAGES), outcome: z.enum(OUTCOMES) });

/** An endpoint URL: http(s), a host name or address, a port up to 65535, a path of printable ASCII (the document says so too). */
const WEBHOOK_URL = '^https?://[A-Za-z0-9.-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(/[!-~]*)?(?![\\s\\S])';
export const WebhookEndpointIdParams = z.object({ id: z.string().min(1).max(100).regex(/^[A-Za-z0-9_-]+(?![\s\S])/, 'an endpoint id such as ep_...') });
export const CreateWebhookEndpointBody = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .regex(new RegExp(WEBHOOK_URL), 'an http or https URL: host, optional port, path')
    .meta({ pattern: WEBHOOK_URL })
    .describe('where deliveries are POSTed (http or https)'),
  events: z.array(z.enum(LEAD_EVENT_TYPES)).min(1).max(LEAD_EVENT_TYPES.length).describe('the lead events this endpoint receives'),
  description: oneLine(500).optional(),
});
export const WebhookEndpoint = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(LEAD_EVENT_TYPES)),
  description: z.string().nullable(),
  createdAt: z.string(),
});
export const WebhookEndpointCreated = WebhookEndpoint.extend({
  secret: z.string().describe('whsec_...: the Standard Webhooks signing secret, shown this once (stored encrypted, never answered again)'),
});
export const NoContent = z.null().describe('no body');
export const WebhookEndpointList = z.object({ endpoints: z.array(WebhookEndpoint) });
export const WebhookDeliveries = z.object({
  deliveries: z.array(
    z.object({
      id: z.string().describe('the webhook-id header: the same on every attempt'),
      eventType: z.enum(LEAD_EVENT_TYPES),
      leadId: z.string().nullable(),
      status: z.enum(['pending', 'delivered', 'failed', 'cancelled']),
      attempts: z.array(z.object({ attempt: z.number().int(), at: z.string(), statusCode: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number().int() })),
      createdAt: z.string(),
      deliveredAt: z.string().nullable(),
      payload: z.unknown().describe('the body as sent: { type, timestamp, data }'),
    }),
  ),
});
export const Unsubscribed = z.object({ id: z.string(), unsubscribed: z.literal(true) });

const DurationStats = z.object({
  count: z.number().int().describe('how many cases the figures are computed over'),
  medianSeconds: z.number().int().nullable(),
  p90Seconds: z.number().int().nullable(),
  histogram: z
    .array(z.object({ upToSeconds: z.number().int().nullable(), count: z.number().int() }))
    .describe('cases per bucket, from the previous bound up to upToSeconds (1 min, 10 min, 1 h, 4 h, 1 day, 2 days, 1 week, 30 days, then null: longer)'),
});

const FunnelFigures = z.object({
  enrolled: z.number().int(),
  byStage: z.record(z.string(), z.number().int()).describe('leads per current stage'),
  escalated: z.number().int().describe('leads that reached sales review at least once (MQLs)'),
  escalations: z.number().int().describe('escalations in all; a recycled lead can escalate again'),
  accepted: z.number().int(),
  rejected: z.number().int(),
  rejectedByReason: z.record(z.string(), z.number().int()),
  disqualified: z.number().int(),
  recycled: z.number().int().describe('leads sales rejected at least once'),
  reEscalated: z.number().int().describe('leads that reached sales review more than once'),
  unsubscribed: z.number().int(),
  hardBounced: z.number().int().describe("leads whose address bounced hard (a provider's report, or a 5xx at send time): suppressed"),
  softBounced: z.number().int().describe('leads whose address soft-bounced at least once'),
  complained: z.number().int().describe('leads whose recipient marked an email as spam: suppressed'),
  acceptanceRate: z.number().nullable().describe('accepted / (accepted + rejected); null before any decision'),
  timeToEscalation: DurationStats.describe('from enrolment to the first escalation'),
  timeToDecision: DurationStats.describe('from an escalation to the decision on that review'),
  slaBreaches: z.number().int().describe('reviews that went past their SLA'),
});

export const FunnelQuery = z.object({
  sequence: z.string().max(100).optional().describe('only leads enrolled in this sequence'),
  from: instant.optional().describe('only leads enrolled at or after this instant'),
  to: instant.optional().describe('only leads enrolled before this instant'),
});

const RevenueFigures = z.object({
  accepted: z.number().int().describe('accepted reviews'),
  won: z.number().int(),
  lost: z.number().int(),
  open: z.number().int().describe('accepted reviews still waiting for their outcome'),
  winRate: z.number().nullable().describe('won / (won + lost); null before any outcome'),
  amount: z.record(z.string(), z.number()).describe('amounts won per currency ("none": given without one)'),
});

export const Funnel = FunnelFigures.extend({
  filter: z.object({ sequence: z.string().nullable(), from: z.string().nullable(), to: z.string().nullable() }),
  revenue: RevenueFigures.extend({
    bySequence: z.array(RevenueFigures.extend({ sequence: z.string() })),
    byGrade: z.array(RevenueFigures.extend({ grade: z.string().describe('fit grade, "none" without one') })),
    byWeek: z.array(RevenueFigures.extend({ week: z.string().describe('Monday of the week the outcome was reported (else of the accept), UTC') })),
  }).describe('past the hand-off: accepted → won, and the amounts won'),
  bySequence: z.array(FunnelFigures.extend({ sequence: z.string() })),
  byWeek: z.array(FunnelFigures.extend({ week: z.string().describe('Monday of the enrolment week (UTC)') })),
});

export const MailboxQuery = z.object({ to: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).default(200) });
export const Mailbox = z.object({
  messages: z.array(
    z.object({
      to: z.array(z.string()),
      from: z.string(),
      subject: z.string(),
      text: z.string().nullable(),
      html: z.string().nullable(),
      messageId: z.string().nullable(),
      headers: z.record(z.string(), z.string()),
      receivedAt: z.string(),
      repeat: z.boolean().describe('an earlier delivery carried the same Message-ID: the relay received this email again'),
    }),
  ),
});

export const ErrorBody = z.object({
  error: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

/** The error answers every route documents (each an ErrorBody). */
export const ErrorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  503: ErrorBody.describe('temporal_unavailable: Temporal did not answer within seconds; the sentence says what did and did not happen, Retry-After when to try again'),
};

export const Session = z.object({
  roles: z.array(z.enum(ROLES)).describe("the key's roles"),
  mailbox: z.boolean().describe('whether GET /v1/dev/mailbox exists (embedded SMTP sink)'),
  temporalUi: z
    .object({ url: z.string(), namespace: z.string() })
    .nullable()
    .describe("the Temporal Web UI to link a lead's workflow to: <url>/namespaces/<namespace>/workflows/<workflowId>; null: none configured"),
  rejectReasons: z.array(z.enum(REJECT_REASONS)),
  sequences: z.array(z.string()).describe('sequence ids leads can be enrolled in (funnel filter)'),
});

export const ImportAccepted = z.object({
  id: z.string(),
  status: z.enum(['running', 'completed']),
  workflowId: z.string().describe('import-<id>: the Temporal workflow that runs the import'),
});
export const ImportStatus = z.object({
  id: z.string(),
  status: z.enum(['running', 'completed']),
  sequence: z.string(),
  workflowId: z.string(),
  rows: z.number().int().describe('data rows in the file (blank lines not counted)'),
  created: z.number().int().describe('new leads created so far'),
  updated: z.number().int().describe('rows whose lead existed already: its profile was updated'),
  refused: z.number().int().describe('rows refused; each has at least one entry in errors'),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  errors: z
    .array(z.object({ row: z.number().int().describe('the row in the file as a spreadsheet numbers it: the header is row 1'), field: z.string().describe('the column'), message: z.string() }))
    .describe(`why rows were refused, by row (the first ${MAX_REPORTED_ERRORS})`),
});

export const Health = z.object({ status: z.enum(['ok', 'degraded']), checks: z.record(z.string(), z.string()) });

/** A payload as Temporal's codec servers exchange them: base64 metadata values and data. */
export const CodecPayload = z.object({
  metadata: z.record(z.string().max(256), z.base64().max(4096)).optional(),
  data: z.base64().optional(),
});
// The Temporal CLI (Go's protojson) leaves an empty list out: `{}` is a request for no payloads
// (a terminated workflow's event without details), not an error.
export const CodecBody = z.object({ payloads: z.array(CodecPayload).max(10_000).default([]) });

export const LeadErased = z.object({ id: z.string(), erased: z.literal(true) });

const exportRows = z.array(z.record(z.string(), z.unknown()));
/** GET /v1/leads/{id}/export: everything held about a lead, decrypted, in one document (GDPR art. 15). */
export const LeadExport = z.object({
  exportedAt: z.string(),
  lead: LeadDetail.describe('the profile and live state, as GET /v1/leads/{id} answers'),
  events: exportRows.describe('every engagement event as received, with its properties'),
  emails: exportRows.describe('every email sent to or about the lead (outbox), each with the opens and clicks it got'),
  messages: exportRows.describe('the rendered emails as the development mailbox holds them (empty with a real SMTP relay)'),
  decisions: exportRows.describe('sales decisions with reasons and notes'),
  transitions: exportRows.describe('stage changes'),
  reviews: exportRows.describe('review owners and SLA breaches'),
  suppressions: exportRows.describe("the lead's address on the suppression list"),
  outcomes: exportRows.describe('won / lost outcomes (when the outcome table exists)'),
  timeline: z.array(HistoryEntry).describe("the lead's story from Postgres, oldest first: stage changes, events, emails, decisions (lead.timeline is its workflow's own)"),
});
