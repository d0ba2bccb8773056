import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isGrpcServiceError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { addPage, type CampaignPage } from '../src/domain/campaign.js';
import { leadWorkflowId } from '../src/domain/lead.js';
import { CAMPAIGN_SKIP_REASONS, type CampaignSkipReason } from '../src/domain/lead/campaign.js';
import type { Pool } from '../src/infra/db.js';
import { isClosedWorkflow } from '../src/infra/temporal/closed.js';
import { segmentPage } from '../src/leads/segment.js';
import { campaignEnrolmentUpdate, type CampaignProgress } from '../workflows/messages.js';
import type { ActivityLogger } from './index.js';
import type { CampaignActivities } from './types.js';

export interface CampaignActivityDeps {
  pool: Pool;
  /** The client the campaign asks each lead's workflow through (an Update). */
  client: Client;
  logger?: ActivityLogger;
}

/** Leads asked at once, at most (the rate spaces their starts): each ask is a workflow task of a lead on the workers. */
const IN_FLIGHT_MAX = 8;
/** Retries of one lead's ask when Temporal answers "not now" (a lead's workflow task timed out on a busy worker), before the page fails. */
const ASK_RETRIES = 4;

/** FAILED_PRECONDITION (the lead's workflow task failed or timed out: it is retried), DEADLINE_EXCEEDED, UNAVAILABLE. */
const isTransient = (error: unknown): boolean => {
  const grpc = isGrpcServiceError(error) ? error : isGrpcServiceError((error as { cause?: unknown })?.cause) ? (error as { cause: { code?: number } }).cause : undefined;
  return grpc !== undefined && [4, 9, 14].includes((grpc as { code?: number }).code ?? -1);
};

const WRITE_PROGRESS = `
  UPDATE campaigns SET status = $2, enrolled = $3, skipped = $4, failed = $5, cursor = $6, pages = $7,
                       finished_at = $8, updated_at = now()
   WHERE id = $1 AND pages <= $7`;

type Outcome = 'enrolled' | 'failed' | Exclude<CampaignSkipReason, 'already_enrolled'>;

/** The activity's context, or undefined outside an activity (unit tests). */
const activityContext = (): Context | undefined => {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` under a signal of its own that follows `parent`. The client adds an abort listener per
 * gRPC call to the signal it is given and never removes it; on the activity's own signal those
 * piled up over a page (MaxListenersExceededWarning). The per-call signal goes with the call, and
 * its one link to `parent` is removed when the call ends.
 */
export async function abortable<T>(parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const own = new AbortController();
  const follow = () => own.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  try {
    return await fn(own.signal);
  } finally {
    parent.removeEventListener('abort', follow);
  }
}

/** Builds the campaign activities over Postgres and a Temporal client. */
export function createCampaignActivities({ pool, client, logger }: CampaignActivityDeps): CampaignActivities {
  async function writeProgress(campaignId: string, p: CampaignProgress): Promise<void> {
    await pool.query(WRITE_PROGRESS, [campaignId, p.status, p.enrolled, JSON.stringify(p.skipped), p.failed, p.cursor, p.pages, p.finishedAt]);
  }

  return {
    async enrolCampaignPage({ campaign, after, limit, progress }) {
      const ids = await segmentPage(pool, campaign.segment, { after, limit });
      const enrolment = { campaignId: campaign.id, ...campaign.snapshot };
      // Cancelled (the worker shuts down, the attempt timed out): no new lead is asked, the page fails and is retried.
      const context = activityContext();

      /** Asks one lead; skips come back as the validator's failure type. Temporal away for long: thrown, and the page is retried. */
      async function ask(leadId: string, attempt = 0): Promise<Outcome> {
        try {
          const update = () => client.workflow.getHandle(leadWorkflowId(leadId)).executeUpdate(campaignEnrolmentUpdate, { args: [enrolment] });
          // The ask waits on the lead's workflow task. A worker that drains has stopped polling for those,
          // so an ask it does not abort on cancel never ends, and neither does the drain.
          await (context ? abortable(context.cancellationSignal, (signal) => client.withAbortSignal(signal, update)) : update());
          return 'enrolled';
        } catch (error) {
          if (context?.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? error;
          if (error instanceof WorkflowUpdateFailedError) {
            const type = error.cause instanceof ApplicationFailure ? error.cause.type : undefined;
            // Only this campaign's own earlier ask (a retried page) enrolled it: it counts once, as enrolled.
            if (type === 'already_enrolled') return 'enrolled';
            if (type && (CAMPAIGN_SKIP_REASONS as readonly string[]).includes(type)) return type as Outcome;
            logger?.warn({ campaignId: campaign.id, leadId, err: error.cause?.message ?? error.message }, 'campaign enrolment failed for this lead');
            return 'failed';
          }
          // Accepted and disqualified leads' workflows have completed.
          if (isClosedWorkflow(error)) return 'closed';
          if (!isTransient(error) || attempt >= ASK_RETRIES) throw error;
          const wait = 500 * 2 ** attempt;
          await (context ? context.sleep(wait) : sleep(wait));
          return ask(leadId, attempt + 1);
        }
      }

      // The i-th lead of the page starts no earlier than i / rate seconds after the page began.
      const outcomes: Outcome[] = new Array(ids.length);
      const started = Date.now();
      let next = 0;
      let done = 0;
      const lane = async () => {
        for (let i = next++; i < ids.length; i = next++) {
          const due = started + (i * 1000) / campaign.ratePerSecond;
          if (due > Date.now()) await (context ? context.sleep(due - Date.now()) : sleep(due - Date.now()));
          if (context?.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? new Error('cancelled');
          outcomes[i] = await ask(ids[i]!);
          context?.heartbeat({ done: ++done, of: ids.length });
        }
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT_MAX, ids.length) }, lane));

      const page: CampaignPage = { leads: ids.length, last: ids.at(-1) ?? after, done: ids.length < limit, enrolled: 0, skipped: {}, failed: 0 };
      for (const outcome of outcomes) {
        if (outcome === 'enrolled') page.enrolled += 1;
        else if (outcome === 'failed') page.failed += 1;
        else page.skipped[outcome] = (page.skipped[outcome] ?? 0) + 1;
      }
      await writeProgress(campaign.id, addPage(progress, page));
      return page;
    },

    async recordCampaignProgress({ campaignId, progress }) {
      await writeProgress(campaignId, progress);
    },
  };
}
