import { continueAsNew, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { ImportActivities } from '../activities/types.js';
import { importDetails, type ImportProgress } from '../src/domain/imports.js';
import type { ImportWorkflowInput } from './messages.js';

const DEFAULT_PAGE_SIZE = 500;
/** Pages per run before continuing as new: about 6 history events a page. */
const PAGES_PER_RUN = 500;

// A page starts up to 500 workflows: it heartbeats, and a worker that died mid-page is noticed
// within 10 s; the page is then repeated, which creates no lead twice (ImportService.processPage).
const { importPage } = proxyActivities<ImportActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['import_not_found'] },
});

/** A CSV import (`import-<id>`): pages through the staged rows until none is left, progress in its current details. */
export async function importWorkflow(input: ImportWorkflowInput): Promise<ImportProgress> {
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  for (let page = 1; ; page++) {
    const progress = await importPage({ importId: input.importId, pageSize });
    setCurrentDetails(importDetails(progress));
    if (progress.remaining === 0) return progress;
    if (page >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) await continueAsNew<typeof importWorkflow>(input);
  }
}
