import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { DomainError, ErrorCodes } from '../domain/errors.js';
import type { CampaignSkipReason } from '../domain/lead/campaign.js';
import { describeSegment, type Segment } from '../domain/segment.js';
import { hasOwnName } from '../domain/own-key.js';
import type { Pool } from '../infra/db.js';
import { isClosedWorkflow } from '../infra/temporal/closed.js';
import { campaignSnapshot, sequences } from '../sequences/catalog.js';
import { sequenceLabel } from '../sequences/steps.js';
import type { campaignWorkflow } from '../../workflows/campaign.js';
import {
  CAMPAIGN_WORKFLOW_TYPE,
  campaignWorkflowId,
  cancelCampaignUpdate,
  LEADS_TASK_QUEUE,
  startingCampaignProgress,
  type CampaignStatus,
  type CampaignWorkflowInput,
} from '../../workflows/messages.js';
import { segmentDryRun } from './segment.js';
import { withTemporal } from './service.js';

/** Skip reasons a campaign counts (a lead it already enrolled counts as enrolled, once). */
export const COUNTED_SKIP_REASONS = ['in_review', 'closed', 'unsubscribed', 'in_sequence'] as const satisfies readonly CampaignSkipReason[];

export type CountedSkipReason = (typeof COUNTED_SKIP_REASONS)[number];

export interface CampaignRequest {
  id: string;
  sequence: string;
  segment: Segment;
  ratePerSecond: number;
}

/** A campaign as the API shows it (from Postgres, where its workflow writes progress after every page). */
export interface CampaignView {
  id: string;
  workflowId: string;
  sequence: string;
  sequenceVersion: number;
  segment: Segment;
  /** The segment in words. */
  description: string;
  ratePerSecond: number;
  status: CampaignStatus;
  matched: number;
  enrolled: number;
  skipped: Record<CountedSkipReason, number>;
  failed: number;
  startedAt: string;
  finishedAt: string | null;
}

interface CampaignRow {
  id: string;
  sequence_id: string;
  sequence_version: number;
  segment: Segment;
  rate_per_second: number;
  status: CampaignStatus;
  matched: number;
  enrolled: number;
  skipped: Record<string, number>;
  failed: number;
  started_at: Date;
  finished_at: Date | null;
}

/** How long a cancel may wait: the campaign stops after the page in flight (about a second of work). */
const CANCEL_DEADLINE_MS = 15_000;
/** A campaign's start waits for Temporal like a lead's. */
const START_DEADLINE_MS = 2500;

const viewOf = (row: CampaignRow): CampaignView => ({
  id: row.id,
  workflowId: campaignWorkflowId(row.id),
  sequence: row.sequence_id,
  sequenceVersion: row.sequence_version,
  segment: row.segment,
  description: describeSegment(row.segment),
  ratePerSecond: row.rate_per_second,
  status: row.status,
  matched: row.matched,
  enrolled: row.enrolled,
  skipped: { in_review: 0, closed: 0, unsubscribed: 0, in_sequence: 0, ...row.skipped },
  failed: row.failed,
  startedAt: row.started_at.toISOString(),
  finishedAt: row.finished_at?.toISOString() ?? null,
});

/** The same segment written in another order is the same request (a retried POST must match). */
function canonical(request: CampaignRequest): CampaignRequest {
  const sorted = (values?: string[]) => (values ? [...new Set(values)].sort() : undefined);
  const { stages, grades, leadIds, ...rest } = request.segment;
  const segment: Segment = { ...rest, ...(stages ? { stages: sorted(stages) as Segment['stages'] } : {}), ...(grades ? { grades: sorted(grades) as Segment['grades'] } : {}), ...(leadIds ? { leadIds: sorted(leadIds) } : {}) };
  return { id: request.id, sequence: request.sequence, segment, ratePerSecond: request.ratePerSecond };
}

/** Campaigns: a segment of the read model sent into a sequence by a durable workflow. */
export class CampaignService {
  constructor(private readonly deps: { client: Client; pool: Pool }) {}

  /** How many leads the segment matches now, and the first of them. */
  dryRun(segment: Segment): Promise<{ matched: number; sample: string[] }> {
    return segmentDryRun(this.deps.pool, segment);
  }

  /**
   * Starts a campaign: one row, one workflow. Repeating the call with the same body is safe (it
   * answers with the campaign and starts its workflow if an earlier call could not); another
   * body under the same id is a 409.
   */
  async create(input: CampaignRequest): Promise<CampaignView> {
    if (!hasOwnName(sequences, input.sequence)) {
      throw new DomainError(ErrorCodes.unknownSequence, `sequence "${input.sequence}" does not exist`, [{ path: 'body.sequence', message: `one of ${Object.keys(sequences).join(', ')}` }]);
    }
    const request = canonical(input);
    const snapshot = campaignSnapshot(request.sequence);
    const { matched } = await this.dryRun(request.segment);
    await this.deps.pool.query(
      `INSERT INTO campaigns (id, request, sequence_id, sequence_version, segment, rate_per_second, matched)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [request.id, JSON.stringify(request), snapshot.sequence.id, snapshot.sequence.version, JSON.stringify(request.segment), request.ratePerSecond, matched],
    );
    const { rows } = await this.deps.pool.query<CampaignRow & { same: boolean }>('SELECT *, request = $2::jsonb AS same FROM campaigns WHERE id = $1', [request.id, JSON.stringify(request)]);
    const row = rows[0]!;
    if (!row.same) throw new DomainError(ErrorCodes.campaignExists, `campaign ${request.id} exists with another sequence, segment or rate; choose another id`);
    if (row.status === 'running') await this.ensureWorkflow(row, snapshot);
    return viewOf(row);
  }

  async get(id: string): Promise<CampaignView> {
    return viewOf(await this.row(id));
  }

  /** The latest campaigns, newest first. */
  async list(limit = 50): Promise<CampaignView[]> {
    const { rows } = await this.deps.pool.query<CampaignRow>('SELECT * FROM campaigns ORDER BY started_at DESC, id LIMIT $1', [limit]);
    return rows.map(viewOf);
  }

  /** Stops a running campaign after its page in flight and answers with where it stopped; leads already enrolled stay enrolled. */
  async cancel(id: string): Promise<CampaignView> {
    const row = await this.row(id);
    if (row.status !== 'running') return viewOf(row);
    try {
      await withTemporal(
        this.deps.client,
        'the cancel may not have reached the campaign; repeating it is safe',
        () => this.deps.client.workflow.getHandle<typeof campaignWorkflow>(campaignWorkflowId(id)).executeUpdate(cancelCampaignUpdate),
        CANCEL_DEADLINE_MS,
      );
    } catch (error) {
      // It finished (or was never started) meanwhile: the row says how it ended.
      if (!isClosedWorkflow(error)) throw error;
    }
    return viewOf(await this.row(id));
  }

  private async row(id: string): Promise<CampaignRow> {
    const { rows } = await this.deps.pool.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [id]);
    if (!rows[0]) throw new DomainError(ErrorCodes.campaignNotFound, `campaign ${id} does not exist`);
    return rows[0];
  }

  private async ensureWorkflow(row: CampaignRow, snapshot: CampaignWorkflowInput['campaign']['snapshot']): Promise<void> {
    const input: CampaignWorkflowInput = {
      campaign: { id: row.id, snapshot, segment: row.segment, ratePerSecond: row.rate_per_second },
      progress: startingCampaignProgress(row.matched, row.started_at.toISOString()),
    };
    try {
      await withTemporal(
        this.deps.client,
        `campaign ${row.id} is stored but its workflow could not be started; repeat the call`,
        () =>
          this.deps.client.workflow.start<typeof campaignWorkflow>(CAMPAIGN_WORKFLOW_TYPE, {
            workflowId: campaignWorkflowId(row.id),
            taskQueue: LEADS_TASK_QUEUE,
            args: [input],
            staticSummary: `Campaign ${row.id}: ${describeSegment(row.segment)} → ${sequenceLabel(snapshot.sequence)} at ${row.rate_per_second}/s (${row.matched} matched)`,
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          }),
        START_DEADLINE_MS,
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
}
