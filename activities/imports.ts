import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from '../src/infra/db.js';
import { ImportNotFoundError, ImportService } from '../src/leads/imports.js';
import type { ImportActivities } from './types.js';

export interface ImportActivityDeps {
  pool: Pool;
  /** Starts the new leads' workflows, as the API does. */
  client: Client;
  /** Lead workflows started at once per page (default 16). */
  concurrency?: number;
  /** Imported leads started whose workflow has not run yet, at most (default 200; see ImportAhead); 0: no bound. */
  aheadMax?: number;
  /** The longest a chunk waits for the workers (default 60 s). */
  aheadWaitMs?: number;
}

/** A stage commits right after it starts the workflow: an import not found yet is retried a few times, then it is a failure. */
const ATTEMPTS_BEFORE_NOT_FOUND = 5;

/** The CSV import job's activities over the real pool and Temporal client. */
export function createImportActivities({ pool, client, concurrency = 16, aheadMax = 200, aheadWaitMs = 60_000 }: ImportActivityDeps): ImportActivities {
  const imports = new ImportService({ client, pool });
  return {
    async importPage({ importId, pageSize }) {
      const context = Context.current();
      context.heartbeat();
      try {
        return await imports.processPage(importId, {
          pageSize,
          concurrency,
          // The SDK throttles heartbeats (to 80 % of the heartbeat timeout): one per start is cheap.
          onProgress: (started) => context.heartbeat({ started }),
          // context.sleep ends when the activity is cancelled (the worker shuts down).
          ...(aheadMax > 0 ? { ahead: { max: aheadMax, waitMs: aheadWaitMs, sleep: (ms: number) => context.sleep(ms), onWait: (waiting: number) => context.heartbeat({ waitingForWorkers: waiting }) } } : {}),
        });
      } catch (error) {
        if (!(error instanceof ImportNotFoundError)) throw error;
        if (context.info.attempt < ATTEMPTS_BEFORE_NOT_FOUND) throw ApplicationFailure.retryable(error.message, 'import_not_found');
        throw ApplicationFailure.nonRetryable(`${error.message}: its file was not staged (the upload failed after the job started)`, 'import_not_found');
      }
    },
  };
}
