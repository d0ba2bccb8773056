import { allHandlersFinished, condition, continueAsNew, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CampaignActivities } from '../activities/types.js';
import { addPage, campaignDetails, defaultPageSize } from '../src/domain/campaign.js';
import { campaignProgressQuery, cancelCampaignUpdate, type CampaignProgress, type CampaignWorkflowInput } from './messages.js';

/** Pages per run before the campaign continues as new (its history stays short however big the segment). */
const DEFAULT_PAGES_PER_RUN = 100;

// A page takes about a second at the rate; a worker that dies mid-page stops heartbeating and the
// page goes again on another worker (the leads asked twice answer "already enrolled").
const { enrolCampaignPage } = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
const { recordCampaignProgress } = proxyActivities<CampaignActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * One campaign: pages through its segment by lead id and asks each lead to take the campaign's
 * sequence, at the campaign's rate. Its state is the cursor and the counts, carried across
 * continue-as-new; a cancel stops it after the page in flight.
 */
export async function campaignWorkflow(input: CampaignWorkflowInput): Promise<CampaignProgress> {
  const { campaign } = input;
  const pageSize = input.pageSize ?? defaultPageSize(campaign.ratePerSecond);
  const pagesPerRun = input.pagesPerRun ?? DEFAULT_PAGES_PER_RUN;
  let progress = input.progress;
  let cancelRequested = false;
  let stopped = false;
  const show = () => setCurrentDetails(campaignDetails(progress));

  setHandler(campaignProgressQuery, () => progress);
  setHandler(cancelCampaignUpdate, async () => {
    cancelRequested = true;
    await condition(() => stopped);
    return progress;
  });
  show();

  let exhausted = false;
  for (let pagesThisRun = 0; !cancelRequested; pagesThisRun++) {
    // No handler can be running here: a cancel would have ended the loop.
    if (pagesThisRun >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof campaignWorkflow>({ ...input, progress });
    }
    const page = await enrolCampaignPage({ campaign, after: progress.cursor, limit: pageSize, progress });
    progress = addPage(progress, page);
    show();
    if (page.done) {
      exhausted = true;
      break;
    }
  }
  progress = { ...progress, status: exhausted ? 'completed' : 'cancelled', finishedAt: new Date().toISOString(), pages: progress.pages + 1 };
  await recordCampaignProgress({ campaignId: campaign.id, progress });
  show();
  stopped = true;
  await condition(allHandlersFinished);
  return progress;
}
