import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
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

/** Leads asked at once, at most (the rate spaces their starts). */
const IN_FLIGHT_MAX = 16;

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

/** Builds the campaign activities over Postgres and a Temporal client. */
export function createCampaignActivities({ pool, client, logger }: CampaignActivityDeps): CampaignActivities {
  async function writeProgress(campaignId: string, p: CampaignProgress): Promise<void> {
    await pool.query(WRITE_PROGRESS, [campaignId, p.status, p.enrolled, JSON.stringify(p.skipped), p.failed, p.cursor, p.pages, p.finishedAt]);
  }

  return {
    async enrolCampaignPage({ campaign, after, limit, progress }) {
      const ids = await segmentPage(pool, campaign.segment, { after, limit });
      const enrolment = { campaignId: campaign.id, ...campaign.snapshot };

      /** Asks one lead; skips come back as the validator's failure type. Temporal away: thrown, and the page is retried. */
      async function ask(leadId: string): Promise<Outcome> {
        try {
          await client.workflow.getHandle(leadWorkflowId(leadId)).executeUpdate(campaignEnrolmentUpdate, { args: [enrolment] });
          return 'enrolled';
        } catch (error) {
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
          throw error;
        }
      }

      // The i-th lead of the page starts no earlier than i / rate seconds after the page began.
      // Cancelled (the worker shuts down, the attempt timed out): no new lead is asked, the page fails and is retried.
      const context = activityContext();
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
