import {
  isGrpcDeadlineError,
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type SignalDefinition } from '@temporalio/common';
import { DomainError, ErrorCodes } from '../domain/errors.js';
import { hasOwnName, ownEntry } from '../domain/own-key.js';
import { applyProfilePatch, type ProfilePatch } from '../domain/profile.js';
import {
  leadWorkflowId,
  type AcceptDecision,
  type DisqualifyDecision,
  type EngagementEvent,
  type LeadProfile,
  type LeadStage,
  type RejectDecision,
  type RejectReason,
  type ReviewView,
  type Grade,
  type ScoreLine,
  type SlaState,
  type TimelineEntry,
} from '../domain/lead.js';
import type { PoolClient } from 'pg';
import { inTransaction, type Pool } from '../infra/db.js';
import { leadErasedEvent, type LeadErasedEvent } from '../domain/erasure.js';
import { LeadKeyStore } from '../infra/lead-keys.js';
import { DEFAULT_SEQUENCE_ID, defaultProgram, pinTemplates, programSnapshot, sequences } from '../sequences/catalog.js';
import type { Program } from '../sequences/model.js';
import { suppressAddress, suppressAddressHashOnly } from '../infra/suppressions.js';
import { deliverabilityOf, type Deliverability } from '../infra/email-feedback.js';
import { isClosedWorkflow } from '../infra/temporal/closed.js';
import { inLanes } from './lanes.js';
import {
  acceptUpdate,
  disqualifyUpdate,
  engagementSignal,
  LEADS_TASK_QUEUE,
  LEAD_WORKFLOW_TYPE,
  leadStateQuery,
  migrateSequenceSignal,
  outcomeUpdate,
  rejectUpdate,
  unsubscribeSignal,
  updateProfileSignal,
  type DecisionResult,
  type LeadStateView,
  type LeadWorkflowInput,
  type OutcomeResult,
} from '../../workflows/messages.js';
import type { leadWorkflow } from '../../workflows/lead.js';
import { startAttributes } from '../../workflows/search-attributes.js';
import { gradeOf } from '../domain/lead/rules.js';
import { invalidOutcome, sameReport, type OutcomeRecord, type OutcomeReport } from '../domain/lead/outcome.js';
import { DEFAULT_PUBLIC_URL, leadEventsOf, type LeadEventSubject } from '../domain/webhooks.js';
import { enqueueLeadEvents, publishLeadEvent } from '../infra/webhook-outbox.js';

export interface NewLead extends LeadProfile {
  sequence?: string;
}

export interface HistoryEntry {
  at: string;
  kind: 'transition' | 'event' | 'email' | 'decision' | 'feedback';
  summary: string;
  data: Record<string, unknown>;
}

export interface LeadDetail extends LeadStateView {
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  timezone: string | null;
  grade: Grade | null;
  /** Free-form profile attributes (what fit rules and segments look at). */
  attributes: Record<string, unknown>;
  workflowId: string;
  createdAt: string;
  /** Marketing emails the lead received, with its opens and clicks. */
  emails: ReceivedEmail[];
  /** What mail providers reported about the lead's address (bounces, complaints, deliveries) and whether it is suppressed. */
  deliverability: Deliverability;
  history: HistoryEntry[];
}

/** The decision that closed a review, as a 409 `not_in_review` tells the salesperson who lost a race. */
export interface ReviewDecision {
  reviewNo: number;
  decision: 'accepted' | 'rejected' | 'disqualified';
  reason: string | null;
  by: string;
  at: string;
}

/** How long a lost decision waits for the winner's to reach Postgres (it is written just after the update). */
const WINNER_WAIT_MS = 5000;

/** An email the lead received, and how it engaged with it (opens and clicks reported as events). */
export interface ReceivedEmail {
  template: string;
  subject: string | null;
  status: string;
  sentAt: string | null;
  engagement: Array<{ type: string; at: string }>;
  /** Bounces, complaints and deliveries reported about this email. */
  feedback: Array<{ kind: string; source: string; at: string }>;
}

/** A lead as the list and the review queue show it: from the Postgres read model. */
export interface LeadSummary {
  id: string;
  workflowId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  timezone: string | null;
  stage: LeadStage;
  score: number;
  reviewCount: number;
  unsubscribed: boolean;
  owner: string | null;
  review: Omit<ReviewView, 'reviewNo'> | null;
  slaBreaches: number;
  lastRejectReason: RejectReason | null;
  /** Seconds in the current stage (for the review queue: time waiting for a decision). */
  waitingSeconds: number;
  scoreBreakdown: ScoreLine[];
  grade: Grade | null;
  emails: ReceivedEmail[];
  stageChangedAt: string;
  createdAt: string;
}

interface LeadRow {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  timezone: string | null;
  attributes: Record<string, unknown>;
  enrol_sequence: string;
  stage: LeadStage;
  score: number;
  review_count: number;
  unsubscribed: boolean;
  sequence_id: string | null;
  sequence_version: number | null;
  sequence_step: number | null;
  next_action_at: Date | null;
  stage_changed_at: Date;
  created_at: Date;
  owner: string | null;
  review_started_at: Date | null;
  sla_due_at: Date | null;
  sla_state: SlaState | null;
  sla_breaches: number;
  score_breakdown: ScoreLine[];
  last_reject_reason: RejectReason | null;
  /** Fit grade, as the lead's workflow last wrote it. */
  grade: Grade | null;
  rules_version: number | null;
  /** Null until the lead's workflow is known to be started (a creation Temporal did not confirm). */
  workflow_started_at: Date | null;
}

const profileOf = (row: LeadRow): LeadProfile => ({
  id: row.id,
  email: row.email,
  ...(row.first_name ? { firstName: row.first_name } : {}),
  ...(row.last_name ? { lastName: row.last_name } : {}),
  ...(row.company ? { company: row.company } : {}),
  ...(row.timezone ? { timezone: row.timezone } : {}),
  ...(row.attributes && Object.keys(row.attributes).length ? { attributes: row.attributes } : {}),
});

/**
 * The marketing emails of lead `l.id`, oldest first, each with the `email.opened` / `email.clicked`
 * events whose `properties.sendKey` or `properties.template` names it (one json column, `emails`).
 */
const RECEIVED_EMAILS = `
  SELECT json_agg(json_build_object(
           'template', o.template, 'subject', o.subject, 'status', o.status,
           'sentAt', to_char(o.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'engagement', coalesce((
             SELECT json_agg(json_build_object('type', ev.type,
                             'at', to_char(ev.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                             ORDER BY ev.occurred_at)
               FROM lead_events ev
              WHERE ev.lead_id = o.lead_id AND ev.type IN ('email.opened', 'email.clicked')
                AND (ev.properties->>'sendKey' = o.send_key OR ev.properties->>'template' = o.template)), '[]'::json),
           'feedback', coalesce((
             SELECT json_agg(json_build_object('kind', f.kind, 'source', f.source,
                             'at', to_char(f.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY f.at)
               FROM email_feedback f WHERE f.send_key = o.send_key), '[]'::json))
         ORDER BY o.created_at) AS emails
    FROM email_outbox o
   WHERE o.lead_id = l.id AND o.kind = 'marketing'`;

/**
 * How long one call to Temporal may take before the API answers without it: the API answers
 * within 3 s while Temporal is down or paused (events: stored, delivered later; the rest: 503).
 */
export const TEMPORAL_DEADLINE_MS = 2000;
/**
 * Calls that take longer on a busy Temporal get a little more: a decision waits for the workflow
 * to run its update (a workflow task on a worker), a lead's start was p99 2.1 s under the bench's load.
 */
const SLOW_CALL_DEADLINE_MS = 2500;
/** After a call timed out, events skip the direct signal for this long (the relay delivers them). */
const TEMPORAL_BACKOFF_MS = 3000;
/** What a 503 asks the caller to wait. */
const RETRY_AFTER_SECONDS = 5;

/** Temporal did not answer in time, or cannot be reached. */
export const isTemporalUnavailable = (error: unknown): boolean => {
  if (isGrpcDeadlineError(error)) return true;
  const grpc = isGrpcServiceError(error) ? error : isGrpcServiceError((error as { cause?: unknown })?.cause) ? ((error as { cause: unknown }).cause as { code?: number }) : undefined;
  // 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE
  return grpc !== undefined && (grpc.code === 4 || grpc.code === 14);
};

/**
 * Runs a call to Temporal that the caller must wait for (a decision, a start) with a short
 * deadline: when Temporal does not answer, a 503 `temporal_unavailable` with Retry-After.
 */
export async function withTemporal<T>(client: Client, what: string, run: () => Promise<T>, deadlineMs = TEMPORAL_DEADLINE_MS): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + deadlineMs, run);
  } catch (error) {
    if (!isTemporalUnavailable(error)) throw error;
    throw new DomainError(ErrorCodes.temporalUnavailable, `Temporal did not answer within ${deadlineMs / 1000} s: ${what}; try again in ${RETRY_AFTER_SECONDS} s`, {
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  }
}

/** What erasure needs besides the client and the pool. */
export interface ErasureDeps {
  /** The lead data keys: erasure destroys the lead's and forgets it in this process. */
  leadKeys: Pick<LeadKeyStore, 'forget'>;
  /** Key of the hash the erased address stays suppressed as. */
  suppressionHashKey: Buffer;
  /**
   * Called once per lead, inside the erasure's transaction, with `lead.erased` (the webhook
   * outbox can take it in the same transaction: the event exists if and only if the erasure does).
   */
  onErased?: (event: LeadErasedEvent, db: PoolClient) => Promise<void>;
}

/** Everything held about a lead (GET /v1/leads/{id}/export). */
export interface LeadExport {
  exportedAt: string;
  lead: LeadDetail;
  events: Array<Record<string, unknown>>;
  emails: Array<Record<string, unknown>>;
  messages: Array<Record<string, unknown>>;
  decisions: Array<Record<string, unknown>>;
  transitions: Array<Record<string, unknown>>;
  reviews: Array<Record<string, unknown>>;
  suppressions: Array<Record<string, unknown>>;
  outcomes: Array<Record<string, unknown>>;
  timeline: HistoryEntry[];
}

/** An event as stored, still to be signalled to its lead's workflow. */
export interface UndeliveredEvent {
  leadId: string;
  seq: string;
  event: EngagementEvent;
}


/**
 * The application's use cases over Temporal and Postgres: the HTTP API calls these, never the
 * client or the pool directly. Postgres holds the profile and events (system of record),
 * the lead's workflow holds its process state.
 */
export class LeadService {
  constructor(private readonly deps: { client: Client; pool: Pool; program?: Program; publicUrl?: string; erasure?: ErasureDeps }) {}

  /** Known sequence ids for enrolment. */
  static sequenceIds(): string[] {
    return Object.keys(sequences);
  }

  /** Known engagement event types. */
  static eventTypes(): string[] {
    return Object.keys(defaultProgram.scoring);
  }

  /**
   * Enrols a lead: one row, one workflow, ever. Repeating the call is safe: it answers with
   * the existing lead and (re)starts the workflow if an earlier call crashed before starting it.
   */
  async create(input: NewLead): Promise<{ id: string; stage: LeadStage; workflowId: string; created: boolean }> {
    const sequenceId = input.sequence ?? DEFAULT_SEQUENCE_ID;
    if (!hasOwnName(sequences, sequenceId)) {
      throw new DomainError(ErrorCodes.unknownSequence, `sequence "${sequenceId}" does not exist`, [
        { path: 'body.sequence', message: `one of ${LeadService.sequenceIds().join(', ')}` },
      ]);
    }
    const inserted = await LeadService.insertLeads(this.deps.pool, [{ ...input, sequence: sequenceId }]);
    if (!inserted.has(input.id)) await this.refuseErased(input.id);
    const row = await this.row(input.id);
    // The row stays when Temporal does not answer: the caller's retry (a 200) starts the workflow.
    await this.withTemporal(`lead ${row.id} is stored but its workflow could not be started`, () => this.ensureWorkflow(row), SLOW_CALL_DEADLINE_MS);
    return { id: row.id, stage: row.stage, workflowId: leadWorkflowId(row.id), created: inserted.has(row.id) };
  }

  /**
   * Stores new leads in one statement (a lead whose id exists is left as it is) and answers the
   * ids it inserted. On `db`, so that a caller can make it part of its own transaction (the CSV
   * import records which rows it created in the same one). Sequences are the caller's to check.
   */
  static async insertLeads(db: Pick<Pool, 'query'>, leads: Array<NewLead & { sequence: string }>): Promise<Set<string>> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO leads (id, email, first_name, last_name, company, timezone, attributes, enrol_sequence)
       SELECT id, lower(email), first_name, last_name, company, timezone, coalesce(attributes, '{}'::jsonb), sequence
         FROM jsonb_to_recordset($1::jsonb)
              AS x(id text, email text, first_name text, last_name text, company text, timezone text, attributes jsonb, sequence text)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        JSON.stringify(
          leads.map((lead) => ({
            id: lead.id,
            email: lead.email,
            first_name: lead.firstName ?? null,
            last_name: lead.lastName ?? null,
            company: lead.company ?? null,
            timezone: lead.timezone ?? null,
            attributes: lead.attributes ?? {},
            sequence: lead.sequence,
          })),
        ),
      ],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Makes sure each stored lead's workflow runs (starting the missing ones), at most `concurrency`
   * starts in flight. Safe to repeat: a running workflow is left as it is. `onStarted` counts progress.
   */
  async ensureWorkflows(leadIds: string[], options: { concurrency: number; onStarted?: (count: number) => void }): Promise<void> {
    const { rows } = await this.deps.pool.query<LeadRow>('SELECT * FROM leads WHERE id = ANY($1::text[]) AND erased_at IS NULL', [leadIds]);
    let started = 0;
    await inLanes(rows, options.concurrency, async (row) => {
      await this.ensureWorkflow(row);
      options.onStarted?.(++started);
    });
  }

  /**
   * Changes a lead's profile (PATCH /v1/leads/{id}): Postgres first, then the lead's workflow is
   * told, inside one transaction that holds the row, so two patches reach the workflow in the
   * order Postgres applied them and a patch Temporal did not confirm (503) changed nothing. A
   * closed lead's profile still changes; a patch that changes nothing tells no one.
   */
  async updateProfile(leadId: string, patch: ProfilePatch): Promise<LeadDetail> {
    await this.changeProfile(leadId, patch);
    return this.get(leadId);
  }

  /** updateProfile without the answer: true when the patch changed something (the CSV import updates existing leads with it). */
  async changeProfile(leadId: string, patch: ProfilePatch): Promise<boolean> {
    let changed = false;
    const db = await this.deps.pool.connect();
    try {
      await db.query('BEGIN');
      const { rows } = await db.query<LeadRow>('SELECT * FROM leads WHERE id = $1 AND erased_at IS NULL FOR UPDATE', [leadId]);
      const before = rows[0];
      if (!before) throw new DomainError(ErrorCodes.leadNotFound, `lead ${leadId} does not exist`);
      const { profile, change } = applyProfilePatch(profileOf(before), patch);
      if (Object.keys(change).length > 0) {
        const { rows: updated } = await db.query<LeadRow>(
          `UPDATE leads SET email = $2, first_name = $3, last_name = $4, company = $5, timezone = $6, attributes = $7, updated_at = now()
            WHERE id = $1 RETURNING *`,
          [leadId, profile.email, profile.firstName ?? null, profile.lastName ?? null, profile.company ?? null, profile.timezone ?? null, profile.attributes ?? {}],
        );
        await this.withTemporal(`the profile of lead ${leadId} was not changed`, () => this.signalLead(updated[0]!, updateProfileSignal, change));
        changed = true;
      }
      await db.query('COMMIT');
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      db.release();
    }
    return changed;
  }

  /**
   * Records an engagement event: durable in Postgres before the answer, then signalled to the
   * lead's workflow with a short deadline. What Temporal does not confirm in time, the relay in
   * the worker delivers later (deliverUndelivered), in order per lead. A repeated eventId is
   * never signalled again: Postgres saw it first, so dedupe is exact however old the original.
   */
  async recordEvent(leadId: string, event: Omit<EngagementEvent, 'occurredAt'> & { occurredAt?: string }): Promise<{ eventId: string; duplicate: boolean }> {
    if (!hasOwnName(defaultProgram.scoring, event.type)) {
      throw new DomainError(ErrorCodes.unknownEventType, `event type "${event.type}" is unknown`, [
        { path: 'body.type', message: `one of ${LeadService.eventTypes().join(', ')}` },
      ]);
    }
    const row = await this.row(leadId);
    const occurredAt = event.occurredAt ?? new Date().toISOString();
    const inserted = await this.deps.pool.query<{ seq: string; waiting: boolean }>(
      `INSERT INTO lead_events (lead_id, event_id, type, occurred_at, properties)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (lead_id, event_id) DO NOTHING
       RETURNING seq, EXISTS (SELECT 1 FROM lead_events WHERE lead_id = $1 AND delivered_at IS NULL) AS waiting`,
      [leadId, event.eventId, event.type, occurredAt, event.properties ?? {}],
    );
    if (inserted.rowCount === 0) return { eventId: event.eventId, duplicate: true };
    // Older events of this lead still waiting for the relay go first: this one waits behind them.
    if (inserted.rows[0]!.waiting || Date.now() < this.temporalBackoffUntil) return { eventId: event.eventId, duplicate: false };
    const signal: EngagementEvent = { eventId: event.eventId, type: event.type, occurredAt, ...(event.properties ? { properties: event.properties } : {}) };
    try {
      await this.deps.client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () => this.signalEvent(row, signal));
      await this.markDelivered(leadId, [inserted.rows[0]!.seq]);
    } catch (error) {
      if (!isTemporalUnavailable(error)) throw error;
      // Stored; the relay delivers it when Temporal answers again.
      this.temporalBackoffUntil = Date.now() + TEMPORAL_BACKOFF_MS;
    }
    return { eventId: event.eventId, duplicate: false };
  }

  /**
   * The relay's round: signals stored events Temporal has not confirmed (older than `minAgeMs`,
   * so a request still delivering its own event is left alone), oldest first per lead. A lead's
   * remaining events wait when one of its signals fails, so order holds. Returns how many were
   * delivered and how many are left for the next round.
   */
  async deliverUndelivered(options: { limit?: number; minAgeMs?: number; deadlineMs?: number } = {}): Promise<{ delivered: number; failed: number }> {
    const { rows } = await this.deps.pool.query<{ lead_id: string; seq: string; event_id: string; type: string; occurred_at: Date; properties: Record<string, unknown> }>(
      `SELECT lead_id, seq, event_id, type, occurred_at, properties FROM lead_events
        WHERE delivered_at IS NULL AND received_at < now() - make_interval(secs => $2::double precision / 1000)
        ORDER BY seq LIMIT $1`,
      [options.limit ?? 500, options.minAgeMs ?? 3000],
    );
    const byLead = new Map<string, UndeliveredEvent[]>();
    for (const r of rows) {
      const event: EngagementEvent = { eventId: r.event_id, type: r.type, occurredAt: r.occurred_at.toISOString(), ...(Object.keys(r.properties).length ? { properties: r.properties } : {}) };
      byLead.set(r.lead_id, [...(byLead.get(r.lead_id) ?? []), { leadId: r.lead_id, seq: r.seq, event }]);
    }
    let delivered = 0;
    let failed = 0;
    const lanes = [...byLead.values()];
    const runLane = async () => {
      for (let lane = lanes.shift(); lane; lane = lanes.shift()) {
        const row = await this.row(lane[0]!.leadId);
        for (const item of lane) {
          try {
            await this.deps.client.connection.withDeadline(Date.now() + (options.deadlineMs ?? 5000), () => this.signalEvent(row, item.event));
          } catch {
            failed += lane.length - lane.indexOf(item);
            break; // the rest of this lead's events wait for the next round, in order
          }
          await this.markDelivered(item.leadId, [item.seq]);
          delivered += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, lanes.length) }, runLane));
    return { delivered, failed };
  }

  private temporalBackoffUntil = 0;

  /** When the email with `sendKey` went to lead `leadId` (ISO-8601), or undefined when it did not (yet). */
  async emailSentAt(leadId: string, sendKey: string): Promise<string | undefined> {
    const { rows } = await this.deps.pool.query<{ sent_at: Date | null }>('SELECT sent_at FROM email_outbox WHERE send_key = $1 AND lead_id = $2', [sendKey, leadId]);
    return rows[0]?.sent_at?.toISOString();
  }

  /** Signals one event to its lead's workflow (starting it if needed); a closed lead keeps the event on record but scores nothing. */
  private signalEvent(row: LeadRow, signal: EngagementEvent): Promise<void> {
    return this.signalLead(row, engagementSignal, signal);
  }

  /** Signals the lead's workflow, starting it if an earlier call crashed before it started; a closed lead's workflow is not told. */
  private async signalLead<T>(row: LeadRow, signal: SignalDefinition<[T]>, arg: T): Promise<void> {
    const input = this.workflowInput(row);
    try {
      await this.deps.client.workflow.signalWithStart<typeof leadWorkflow, [T]>(LEAD_WORKFLOW_TYPE, {
        workflowId: leadWorkflowId(row.id),
        taskQueue: LEADS_TASK_QUEUE,
        args: [input],
        typedSearchAttributes: startAttributes(input.program.enrolSequence, gradeOf(input.lead, input.program.rules)),
        staticSummary: LeadService.workflowSummary(row),
        signal,
        signalArgs: [arg],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (!isClosedWorkflow(error)) throw error;
    }
  }

  private async markDelivered(leadId: string, seqs: string[]): Promise<void> {
    await this.deps.pool.query('UPDATE lead_events SET delivered_at = now() WHERE lead_id = $1 AND seq = ANY($2::bigint[])', [leadId, seqs]);
  }

  /**
   * Runs a call to Temporal that the caller must wait for (a decision, a start) with a short
   * deadline: when Temporal does not answer, a 503 `temporal_unavailable` with Retry-After.
   */
  private withTemporal<T>(what: string, run: () => Promise<T>, deadlineMs = TEMPORAL_DEADLINE_MS): Promise<T> {
    return withTemporal(this.deps.client, what, run, deadlineMs);
  }

  /** The lead's profile, live state (from its workflow) and history (from Postgres). */
  async get(leadId: string): Promise<LeadDetail> {
    const row = await this.row(leadId);
    const view = await this.liveView(row);
    return {
      ...view,
      grade: view.grade ?? null,
      firstName: row.first_name,
      lastName: row.last_name,
      company: row.company,
      timezone: row.timezone,
      attributes: row.attributes ?? {},
      workflowId: leadWorkflowId(row.id),
      createdAt: row.created_at.toISOString(),
      emails: await this.emails(leadId),
      deliverability: await deliverabilityOf(this.deps.pool, row.email),
      history: await this.history(leadId),
    };
  }

  /**
   * Leads from the read model. With a stage filter the longest-waiting come first (for
   * `sales_review`, the review queue); without one, the newest. Each carries its profile, score
   * breakdown, owner and SLA state, and the emails it received with the opens and clicks they got.
   */
  async list(filter: { stage?: LeadStage; limit: number }): Promise<LeadSummary[]> {
    const { rows } = await this.deps.pool.query<LeadRow & { waiting_seconds: number; emails: ReceivedEmail[] }>(
      `SELECT l.*, extract(epoch FROM now() - l.stage_changed_at)::int AS waiting_seconds,
              coalesce(e.emails, '[]'::json) AS emails
         FROM leads l
         LEFT JOIN LATERAL (${RECEIVED_EMAILS}) e ON true
        WHERE l.erased_at IS NULL AND ($1::text IS NULL OR l.stage = $1)
        ORDER BY CASE WHEN $1::text IS NULL THEN l.created_at END DESC, l.stage_changed_at ASC, l.id
        LIMIT $2`,
      [filter.stage ?? null, filter.limit],
    );
    return rows.map((row) => ({
      id: row.id,
      workflowId: leadWorkflowId(row.id),
      email: row.email,
      firstName: row.first_name,
      lastName: row.last_name,
      company: row.company,
      timezone: row.timezone,
      stage: row.stage,
      score: row.score,
      reviewCount: row.review_count,
      unsubscribed: row.unsubscribed,
      owner: row.owner,
      review:
        row.stage === 'sales_review'
          ? {
              since: (row.review_started_at ?? row.stage_changed_at).toISOString(),
              owner: row.owner,
              slaDueAt: row.sla_due_at?.toISOString() ?? null,
              slaState: row.sla_state ?? 'on_time',
            }
          : null,
      slaBreaches: row.sla_breaches,
      lastRejectReason: row.last_reject_reason,
      waitingSeconds: Math.max(0, row.waiting_seconds),
      scoreBreakdown: row.score_breakdown,
      grade: row.grade,
      emails: row.emails,
      stageChangedAt: row.stage_changed_at.toISOString(),
      createdAt: row.created_at.toISOString(),
    }));
  }

  accept(leadId: string, decision: AcceptDecision): Promise<DecisionResult> {
    return this.decide(leadId, (handle) => handle.executeUpdate(acceptUpdate, { args: [decision] }));
  }

  reject(leadId: string, decision: RejectDecision): Promise<DecisionResult> {
    return this.decide(leadId, (handle) => handle.executeUpdate(rejectUpdate, { args: [decision] }));
  }

  disqualify(leadId: string, decision: DisqualifyDecision): Promise<DecisionResult> {
    return this.decide(leadId, (handle) => handle.executeUpdate(disqualifyUpdate, { args: [decision] }));
  }

  /**
   * Sales reports how an accepted lead's opportunity ended (the lead's Update). The same report
   * again answers again; a lead with no accepted review waiting for an outcome is 409
   * `not_accepted`, naming the outcome already recorded when there is one.
   */
  async outcome(leadId: string, report: OutcomeReport): Promise<OutcomeResult> {
    const row = await this.row(leadId);
    try {
      await this.withTemporal('the outcome was not sent and did not take effect', () => this.handle(row.id).describe());
      return await this.withTemporal('the outcome was sent but not confirmed; read the lead before reporting again', () => this.handle(row.id).executeUpdate(outcomeUpdate, { args: [report] }), SLOW_CALL_DEADLINE_MS);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
        const recorded = error.cause.details?.[0] as OutcomeRecord | undefined;
        if (error.cause.type === ErrorCodes.notAccepted) throw new DomainError(ErrorCodes.notAccepted, error.cause.message, { stage: row.stage, ...(recorded ? { outcome: recorded } : {}) });
        if (error.cause.type === ErrorCodes.invalidDecision) throw new DomainError(ErrorCodes.invalidDecision, error.cause.message);
      }
      if (isClosedWorkflow(error)) return this.outcomeOfClosedLead(row, report);
      throw error;
    }
  }

  /**
   * The lead's workflow has ended. A retry of the report that ended it answers as the first one
   * did. A lead accepted before outcomes existed (its workflow ended at the accept) takes a won
   * or lost outcome here, recorded with its webhook events in one transaction; it cannot recycle.
   */
  private async outcomeOfClosedLead(row: LeadRow, report: OutcomeReport): Promise<OutcomeResult> {
    const recorded = await this.recordedOutcome(row.id, row.review_count);
    if (recorded && sameReport(recorded, report)) return { id: row.id, stage: row.stage, outcome: recorded.outcome };
    if (row.stage !== 'accepted' || recorded || report.recycle) {
      const why = recorded ? `its review #${recorded.reviewNo} was already reported ${recorded.outcome} by ${recorded.by}` : row.stage === 'accepted' ? 'it was accepted before outcomes existed, so it cannot recycle' : `it is ${row.stage}`;
      throw new DomainError(ErrorCodes.notAccepted, `lead ${row.id} has no accepted review waiting for an outcome: ${why}`, { stage: row.stage, ...(recorded ? { outcome: recorded } : {}) });
    }
    const invalid = invalidOutcome(report);
    if (invalid) throw new DomainError(ErrorCodes.invalidDecision, invalid);
    const record: OutcomeRecord = { ...report, reviewNo: row.review_count, at: new Date().toISOString() };
    await inTransaction(this.deps.pool, async (db) => {
      const { rowCount } = await db.query(
        `INSERT INTO lead_outcomes (lead_id, review_no, outcome, amount, currency, reason, recycle, decided_by, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8) ON CONFLICT (lead_id, review_no) DO NOTHING`,
        [row.id, record.reviewNo, record.outcome, record.amount ?? null, record.currency ?? null, record.reason ?? null, record.by, record.at],
      );
      if (rowCount) await enqueueLeadEvents(db, leadEventsOf({ id: row.id, score: row.score, grade: row.grade }, { transitions: [], decisions: [], outcomes: [record] }), this.publicUrl());
    });
    const now = await this.recordedOutcome(row.id, row.review_count);
    if (now && !sameReport(now, report)) throw new DomainError(ErrorCodes.notAccepted, `lead ${row.id} has no accepted review waiting for an outcome: its review #${now.reviewNo} was already reported ${now.outcome} by ${now.by}`, { stage: row.stage, outcome: now });
    return { id: row.id, stage: row.stage, outcome: report.outcome };
  }

  /** The outcome Postgres holds for one review of a lead. */
  private async recordedOutcome(leadId: string, reviewNo: number): Promise<OutcomeRecord | undefined> {
    const { rows } = await this.deps.pool.query<{ outcome: OutcomeRecord['outcome']; amount: string | null; currency: string | null; reason: string | null; recycle: boolean; decided_by: string; decided_at: Date }>(
      'SELECT outcome, amount, currency, reason, recycle, decided_by, decided_at FROM lead_outcomes WHERE lead_id = $1 AND review_no = $2',
      [leadId, reviewNo],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      reviewNo,
      by: r.decided_by,
      outcome: r.outcome,
      ...(r.amount !== null ? { amount: Number(r.amount) } : {}),
      ...(r.currency !== null ? { currency: r.currency } : {}),
      ...(r.reason !== null ? { reason: r.reason } : {}),
      ...(r.recycle ? { recycle: true } : {}),
      at: r.decided_at.toISOString(),
    };
  }

  private publicUrl(): string {
    return this.deps.publicUrl ?? DEFAULT_PUBLIC_URL;
  }

  /**
   * Moves in-flight leads of a sequence to its current version (the catalog's, i.e. what new
   * enrolments get): each lead's workflow switches at its next wait (migrateSequence). Leads on
   * that version already, or closed, are left alone. Optionally only the given leads.
   */
  async migrateSequence(sequenceId: string, options: { leadIds?: string[] } = {}): Promise<{ sequence: string; version: number; signalled: string[] }> {
    const current = ownEntry(sequences, sequenceId);
    if (!current) {
      throw new DomainError(ErrorCodes.unknownSequence, `sequence "${sequenceId}" does not exist`, [{ path: 'params.id', message: `one of ${LeadService.sequenceIds().join(', ')}` }]);
    }
    // The program's rules ride along: leads on older rules adopt them, whatever their sequence version.
    const rules = (this.deps.program ?? defaultProgram).rules;
    const { rows } = await this.deps.pool.query<{ id: string }>(
      `SELECT id FROM leads
        WHERE sequence_id = $1 AND (sequence_version < $2 OR coalesce(rules_version, 0) < $4) AND stage NOT IN ('accepted', 'disqualified') AND erased_at IS NULL
          AND ($3::text[] IS NULL OR id = ANY($3))
        ORDER BY id`,
      [sequenceId, current.version, options.leadIds ?? null, rules?.version ?? 0],
    );
    const signalled: string[] = [];
    for (const { id } of rows) {
      try {
        await this.withTemporal(`leads before ${id} were asked to migrate, the others not yet (repeating the call is safe)`, () => this.handle(id).signal(migrateSequenceSignal, { sequence: current, ...(rules ? { rules } : {}) }));
        signalled.push(id);
      } catch (error) {
        if (!isClosedWorkflow(error)) throw error;
      }
    }
    return { sequence: sequenceId, version: current.version, signalled };
  }

  /** Puts the address on the suppression list (so no send can slip through) and tells the workflow. */
  async unsubscribe(leadId: string): Promise<{ id: string; unsubscribed: true }> {
    const row = await this.row(leadId);
    await suppressAddress(this.deps.pool, row.email, 'unsubscribed', row.id);
    // Subscribed endpoints hear of it once per lead (the event key), with the change itself.
    await inTransaction(this.deps.pool, async (db) => {
      await db.query('UPDATE leads SET unsubscribed = true, updated_at = now() WHERE id = $1', [row.id]);
      const subject = { leadId: row.id, stage: row.stage, score: row.score, grade: row.grade };
      await publishLeadEvent(db, { type: 'lead.unsubscribed', key: `lead.unsubscribed:${row.id}`, at: new Date().toISOString(), subject }, this.publicUrl());
    });
    try {
      await this.withTemporal(`the address is suppressed (no marketing email goes to it), but the lead's workflow was not told; repeat the call`, () => this.handle(row.id).signal(unsubscribeSignal));
    } catch (error) {
      if (!isClosedWorkflow(error)) throw error;
    }
    return { id: row.id, unsubscribed: true };
  }

  /**
   * Erases a lead (DELETE /v1/leads/{id}), at once and for good. Its workflow is terminated first
   * (nothing it does afterwards writes the lead's data back); then, in one transaction: its data
   * key is destroyed (every Temporal payload of the lead, its whole history included, is
   * ciphertext nobody can read any more), its rows keep no personal data (a tombstone for the
   * funnel), the development mailbox forgets its messages, and its address stays suppressed as a
   * keyed hash. Repeating the call answers the same and emits nothing again.
   */
  async erase(leadId: string): Promise<{ id: string; erased: true }> {
    const erasure = this.deps.erasure;
    if (!erasure) throw new Error('erasure is not configured (no lead key store)');
    const { rows } = await this.deps.pool.query<{ id: string }>('SELECT id FROM leads WHERE id = $1', [leadId]);
    if (!rows[0]) throw new DomainError(ErrorCodes.leadNotFound, `lead ${leadId} does not exist`);
    try {
      await this.withTemporal('nothing was erased; repeat the call', () => this.handle(leadId).terminate('lead erased (DELETE /v1/leads/{id})'));
    } catch (error) {
      if (!isClosedWorkflow(error) && !/not found|already completed|already finished/i.test(String((error as Error).message))) throw error;
    }
    await inTransaction(this.deps.pool, async (db) => {
      // FOR UPDATE first, as a send locks the lead's row before its outbox row: a send under way finishes, then is scrubbed.
      const { rows: locked } = await db.query<{ email: string; erased_at: Date | null; stage: LeadEventSubject['stage']; score: number | null; grade: LeadEventSubject['grade'] }>(
        'SELECT email, erased_at, stage, score, grade FROM leads WHERE id = $1 FOR UPDATE',
        [leadId],
      );
      const before = locked[0]!;
      if (before.email) await suppressAddressHashOnly(db, before.email, erasure.suppressionHashKey);
      await db.query('DELETE FROM suppressions WHERE lead_id = $1', [leadId]);
      await LeadKeyStore.destroy(db, leadId);
      await db.query(
        `UPDATE leads SET email = '', first_name = NULL, last_name = NULL, company = NULL, timezone = NULL, attributes = '{}'::jsonb,
                erased_at = coalesce(erased_at, now()), updated_at = now()
          WHERE id = $1`,
        [leadId],
      );
      // Types and times stay (the funnel and the scoring report count them); properties may hold anything.
      await db.query(`UPDATE lead_events SET properties = '{}'::jsonb, delivered_at = coalesce(delivered_at, now()) WHERE lead_id = $1`, [leadId]);
      await db.query(`UPDATE email_outbox SET to_address = '', subject = NULL, last_error = NULL WHERE lead_id = $1`, [leadId]);
      await db.query(
        `DELETE FROM mailbox WHERE headers->>'x-leadflow-lead' = $1
            OR ($2 <> '' AND EXISTS (SELECT 1 FROM unnest(to_addresses) t WHERE lower(t) = lower($2)))`,
        [leadId, before.email],
      );
      await db.query('UPDATE sales_decisions SET notes = NULL WHERE lead_id = $1', [leadId]);
      await db.query('UPDATE import_rows SET lead = NULL WHERE lead_id = $1', [leadId]);
      // Bounces and complaints keep their kind and time (the funnel counts them), not the address or the provider's text.
      await db.query(`UPDATE email_feedback SET email = '', detail = NULL, dedupe_key = 'erased:' || id WHERE lead_id = $1 OR ($2 <> '' AND lower(email) = lower($2))`, [leadId, before.email]);
      if (!before.erased_at) {
        const event = leadErasedEvent(leadId, new Date());
        // lead.erased to the webhook endpoints that asked for it, in this transaction: it goes if and only if the erasure does.
        await publishLeadEvent(db, { type: 'lead.erased', key: `lead.erased:${leadId}`, at: event.at, subject: { leadId, stage: before.stage, score: before.score, grade: before.grade } }, this.publicUrl());
        await erasure.onErased?.(event, db);
      }
    });
    erasure.leadKeys.forget(leadId);
    return { id: leadId, erased: true };
  }

  /** Everything held about a lead, decrypted, in one document (GET /v1/leads/{id}/export). */
  async export(leadId: string): Promise<LeadExport> {
    const lead = await this.get(leadId);
    const db = this.deps.pool;
    const rowsOf = async (result: Promise<{ rows: Array<Record<string, unknown>> }>) => (await result).rows;
    const [events, emails, messages, decisions, transitions, owners, breaches, suppressions, outcomes] = await Promise.all([
      rowsOf(db.query('SELECT event_id, type, occurred_at, received_at, delivered_at, properties FROM lead_events WHERE lead_id = $1 ORDER BY seq', [leadId])),
      rowsOf(db.query(`SELECT o.send_key, o.kind, o.template, o.to_address, o.subject, o.status, o.message_id, o.attempts, o.last_error, o.created_at, o.sent_at,
                coalesce((SELECT json_agg(json_build_object('eventId', ev.event_id, 'type', ev.type, 'at', ev.occurred_at) ORDER BY ev.occurred_at)
                            FROM lead_events ev
                           WHERE ev.lead_id = o.lead_id AND ev.type IN ('email.opened', 'email.clicked')
                             AND (ev.properties->>'sendKey' = o.send_key OR ev.properties->>'template' = o.template)), '[]'::json) AS engagement
           FROM email_outbox o WHERE o.lead_id = $1 ORDER BY o.created_at`, [leadId])),
      rowsOf(db.query(`SELECT message_id, from_address, to_addresses, subject, text_body, html_body, received_at FROM mailbox
          WHERE headers->>'x-leadflow-lead' = $1 ORDER BY id`, [leadId])),
      rowsOf(db.query('SELECT review_no, decision, reason, decided_by, notes, at FROM sales_decisions WHERE lead_id = $1 ORDER BY at', [leadId])),
      rowsOf(db.query('SELECT from_stage, to_stage, reason, score, at FROM lead_transitions WHERE lead_id = $1 ORDER BY at, id', [leadId])),
      rowsOf(db.query(`SELECT review_no, 'owner' AS kind, owner, at FROM review_owners WHERE lead_id = $1 ORDER BY review_no`, [leadId])),
      rowsOf(db.query(`SELECT review_no, 'sla_breach' AS kind, level, at FROM review_sla_breaches WHERE lead_id = $1 ORDER BY review_no, level`, [leadId])),
      rowsOf(db.query('SELECT email, reason, created_at FROM suppressions WHERE lead_id = $1 OR email = lower($2)', [leadId, lead.email])),
      // Outcomes come with the outcome work; without its table there are none to report.
      rowsOf(db.query(`SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'lead_outcomes' AND column_name = 'lead_id') AS present`, [])).then(([row]) =>
        row?.present ? rowsOf(db.query('SELECT * FROM lead_outcomes WHERE lead_id = $1', [leadId])) : [],
      ),
    ]);
    return {
      exportedAt: new Date().toISOString(),
      lead,
      events,
      emails,
      messages,
      decisions,
      transitions,
      reviews: [...owners, ...breaches],
      suppressions,
      outcomes,
      timeline: lead.history,
    };
  }

  private async decide(leadId: string, run: (handle: WorkflowHandle<typeof leadWorkflow>) => Promise<DecisionResult>): Promise<DecisionResult> {
    const row = await this.row(leadId);
    try {
      // A sign of life first: a decision is sent only to a Temporal that answers, so one answered
      // 503 here was never sent and did not take effect.
      await this.withTemporal('the decision was not sent and did not take effect', () => this.handle(row.id).describe());
      return await this.withTemporal('the decision was sent but not confirmed; read the lead before deciding again', () => run(this.handle(row.id)), SLOW_CALL_DEADLINE_MS);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
        if (error.cause.type === ErrorCodes.notInReview) throw await this.notInReview(row, error.cause.message);
        if (error.cause.type === ErrorCodes.leadClosed) throw new DomainError(ErrorCodes.leadClosed, error.cause.message);
        if (error.cause.type === ErrorCodes.invalidDecision) throw new DomainError(ErrorCodes.invalidDecision, error.cause.message);
      }
      if (isClosedWorkflow(error)) throw await this.notInReview(row, `lead ${leadId} is ${row.stage}, not in sales review`);
      throw error;
    }
  }

  /**
   * The 409 for a decision on a lead no longer in review, naming the decision that closed its
   * latest review (who, what, when), so whoever lost a race learns who won. The winner's
   * decision reaches Postgres just after its update returns: wait a little for it.
   */
  private async notInReview(row: LeadRow, fallback: string): Promise<DomainError> {
    const { stage, reviewCount: reviewNo } = await this.liveView(row);
    let decision: ReviewDecision | undefined;
    for (const until = Date.now() + WINNER_WAIT_MS; reviewNo > 0 && stage !== 'sales_review'; ) {
      decision = await this.reviewDecision(row.id, reviewNo);
      if (decision || Date.now() >= until) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!decision) return new DomainError(ErrorCodes.notInReview, fallback, { stage });
    const what = decision.decision === 'rejected' ? `rejected it (${decision.reason})` : `${decision.decision === 'accepted' ? 'accepted' : 'disqualified'} it`;
    return new DomainError(ErrorCodes.notInReview, `lead ${row.id} is no longer in sales review: ${decision.by} ${what} at ${decision.at}`, { stage, decision });
  }

  private async reviewDecision(leadId: string, reviewNo: number): Promise<ReviewDecision | undefined> {
    const { rows } = await this.deps.pool.query<{ review_no: number; decision: ReviewDecision['decision']; reason: string | null; decided_by: string; at: Date }>(
      `SELECT review_no, decision, reason, decided_by, at FROM sales_decisions
        WHERE lead_id = $1 AND review_no = $2 ORDER BY at DESC LIMIT 1`,
      [leadId, reviewNo],
    );
    const r = rows[0];
    return r ? { reviewNo: r.review_no, decision: r.decision, reason: r.reason, by: r.decided_by, at: r.at.toISOString() } : undefined;
  }

  private async emails(leadId: string): Promise<ReceivedEmail[]> {
    const { rows } = await this.deps.pool.query<{ emails: ReceivedEmail[] }>(`SELECT coalesce((${RECEIVED_EMAILS}), '[]'::json) AS emails FROM leads l WHERE l.id = $1`, [leadId]);
    return rows[0]?.emails ?? [];
  }

  private handle(leadId: string): WorkflowHandle<typeof leadWorkflow> {
    return this.deps.client.workflow.getHandle<typeof leadWorkflow>(leadWorkflowId(leadId));
  }

  private workflowInput(row: LeadRow): LeadWorkflowInput {
    const lead = profileOf(row);
    return { lead, program: pinTemplates(programSnapshot(row.enrol_sequence, this.deps.program ?? defaultProgram), lead) };
  }

  /** What the Temporal UI shows for the lead's workflow: the id and sequence, never the email (PII). */
  private static workflowSummary(row: LeadRow): string {
    return `Lead ${row.id}: ${row.enrol_sequence} nurture, sales review at ${defaultProgram.threshold} points`;
  }

  private async ensureWorkflow(row: LeadRow): Promise<void> {
    const input = this.workflowInput(row);
    try {
      await this.deps.client.workflow.start<typeof leadWorkflow>(LEAD_WORKFLOW_TYPE, {
        workflowId: leadWorkflowId(row.id),
        taskQueue: LEADS_TASK_QUEUE,
        args: [input],
        // The lead's first workflow task then upserts none (docs/benchmarks.md, cost per input).
        typedSearchAttributes: startAttributes(input.program.enrolSequence, gradeOf(input.lead, input.program.rules)),
        staticSummary: LeadService.workflowSummary(row),
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    if (!row.workflow_started_at) await this.deps.pool.query('UPDATE leads SET workflow_started_at = now() WHERE id = $1 AND workflow_started_at IS NULL', [row.id]);
  }

  /**
   * Starts the workflows of leads stored without one (their creation answered 503 while Temporal
   * did not answer, and the client never repeated it), oldest first, once they are `minAgeMs`
   * old (a creation under way is not raced). The worker's relay calls it every round.
   */
  async startMissingWorkflows(options: { limit?: number; minAgeMs?: number; deadlineMs?: number } = {}): Promise<{ started: number; failed: number }> {
    const { rows } = await this.deps.pool.query<LeadRow>(
      `SELECT * FROM leads WHERE workflow_started_at IS NULL AND erased_at IS NULL AND created_at < now() - make_interval(secs => $2::double precision / 1000)
        ORDER BY created_at LIMIT $1`,
      [options.limit ?? 100, options.minAgeMs ?? 10_000],
    );
    let started = 0;
    let failed = 0;
    for (const row of rows) {
      try {
        await this.deps.client.connection.withDeadline(Date.now() + (options.deadlineMs ?? 5000), () => this.ensureWorkflow(row));
        started += 1;
      } catch {
        failed += 1; // Temporal still away: the next round tries again
        break;
      }
    }
    return { started, failed };
  }

  private async row(leadId: string): Promise<LeadRow> {
    // An erased lead is a tombstone: not found, as if it had never been.
    const { rows } = await this.deps.pool.query<LeadRow>('SELECT * FROM leads WHERE id = $1 AND erased_at IS NULL', [leadId]);
    const row = rows[0];
    if (!row) throw new DomainError(ErrorCodes.leadNotFound, `lead ${leadId} does not exist`);
    return row;
  }

  /** A lead id that was erased is not given out again (its tombstone keeps the funnel's counts). */
  private async refuseErased(leadId: string): Promise<void> {
    const { rows } = await this.deps.pool.query<{ erased: boolean }>('SELECT erased_at IS NOT NULL AS erased FROM leads WHERE id = $1', [leadId]);
    if (rows[0]?.erased) throw new DomainError(ErrorCodes.leadErased, `lead ${leadId} was erased; its id is not reused (enrol the person under a new id)`);
  }

  /** The workflow's own answer; the read model if the workflow cannot answer within TEMPORAL_DEADLINE_MS. */
  private async liveView(row: LeadRow): Promise<LeadStateView> {
    try {
      const live = await this.deps.client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () => this.handle(row.id).query(leadStateQuery));
      // Workflows started before the hand-off fields existed answer without them.
      return {
        ...live,
        scoreBreakdown: live.scoreBreakdown ?? row.score_breakdown,
        grade: live.grade ?? row.grade,
        rulesVersion: live.rulesVersion ?? row.rules_version,
        review: live.review ?? null,
        owner: live.owner ?? row.owner,
        slaBreaches: live.slaBreaches ?? row.sla_breaches,
        lastRejectReason: live.lastRejectReason ?? row.last_reject_reason,
        delivery: live.delivery ?? null,
        timeline: live.timeline ?? [],
      };
    } catch {
      const timeline: TimelineEntry[] = [];
      return {
        id: row.id,
        email: row.email,
        stage: row.stage,
        score: row.score,
        reviewCount: row.review_count,
        unsubscribed: row.unsubscribed,
        sequence: { id: row.sequence_id ?? row.enrol_sequence, version: row.sequence_version ?? 1, step: row.sequence_step ?? 0 },
        nextActionAt: row.next_action_at?.toISOString() ?? null,
        scoreBreakdown: row.score_breakdown,
        grade: row.grade,
        rulesVersion: row.rules_version,
        review:
          row.stage === 'sales_review'
            ? {
                reviewNo: row.review_count,
                since: (row.review_started_at ?? row.stage_changed_at).toISOString(),
                owner: row.owner,
                slaDueAt: row.sla_due_at?.toISOString() ?? null,
                slaState: row.sla_state ?? 'on_time',
              }
            : null,
        owner: row.owner,
        slaBreaches: row.sla_breaches,
        lastRejectReason: row.last_reject_reason,
        delivery: null,
        // The timeline lives in the workflow; the history below (from Postgres) still tells the story.
        timeline,
      };
    }
  }

  private async history(leadId: string): Promise<HistoryEntry[]> {
    const { rows } = await this.deps.pool.query<{ at: Date; kind: HistoryEntry['kind']; summary: string; data: Record<string, unknown> }>(
      `SELECT at, kind, summary, data FROM (
         SELECT at, 'transition' AS kind, coalesce(from_stage, 'new') || ' -> ' || to_stage || ' (' || reason || ')' AS summary,
                jsonb_build_object('from', from_stage, 'to', to_stage, 'reason', reason, 'score', score) AS data
           FROM lead_transitions WHERE lead_id = $1
         UNION ALL
         SELECT received_at, 'event', type || ' ' || event_id,
                jsonb_build_object('eventId', event_id, 'type', type, 'occurredAt', occurred_at, 'properties', properties)
           FROM lead_events WHERE lead_id = $1
         UNION ALL
         SELECT coalesce(sent_at, created_at), 'email', template || ' to ' || to_address || ' (' || status || ')',
                jsonb_build_object('template', template, 'to', to_address, 'subject', subject, 'status', status, 'kind', kind)
           FROM email_outbox WHERE lead_id = $1
         UNION ALL
         SELECT at, 'decision', decision || coalesce(' (' || reason || ')', '') || ' by ' || decided_by,
                jsonb_build_object('reviewNo', review_no, 'decision', decision, 'reason', reason, 'by', decided_by, 'notes', notes)
           FROM sales_decisions WHERE lead_id = $1
         UNION ALL
         SELECT at, 'feedback', replace(kind, '_', ' ') || ' (' || source || ')' || coalesce(': ' || detail, ''),
                jsonb_build_object('kind', kind, 'source', source, 'sendKey', send_key, 'detail', detail)
           FROM email_feedback WHERE lead_id = $1
       ) h ORDER BY at, kind LIMIT 500`,
      [leadId],
    );
    return rows.map((r) => ({ at: new Date(r.at).toISOString(), kind: r.kind, summary: r.summary, data: r.data }));
  }
}
