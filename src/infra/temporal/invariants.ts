import type { Client } from '@temporalio/client';
import { LEAD_WORKFLOW_TYPE } from '../../../workflows/messages.js';

/** A lead workflow run whose history holds failed workflow tasks (a wedged or crashing lead). */
export interface FailedWorkflowTasks {
  workflowId: string;
  runId: string;
  failures: number;
  /** The first failure's message: what the workflow code threw. */
  firstMessage: string;
}

/**
 * Failures the server itself causes and the SDK recovers from at once: a signal or update that
 * arrived while the task completed (the task is redone with it), a worker restart's sticky reset.
 */
const BENIGN_CAUSES = new Set([1 /* UNHANDLED_COMMAND */, 13 /* RESET_STICKY_TASK_QUEUE */, 31 /* UNHANDLED_UPDATE */]);

/**
 * Every lead workflow run (open or closed) whose history holds a WorkflowTaskFailed event. A
 * workflow task fails when workflow code throws (a hostile name reaching arithmetic, a
 * non-determinism); the SDK then retries it forever, so the lead never moves again. After a
 * fuzz or chaos run this must be empty: the runs check it and fail otherwise.
 */
export async function findFailedWorkflowTasks(client: Client, options: { query?: string; concurrency?: number } = {}): Promise<FailedWorkflowTasks[]> {
  const runs: Array<{ workflowId: string; runId: string }> = [];
  for await (const wf of client.workflow.list({ query: options.query ?? `WorkflowType = '${LEAD_WORKFLOW_TYPE}'` })) runs.push({ workflowId: wf.workflowId, runId: wf.runId });
  const found: FailedWorkflowTasks[] = [];
  const lane = async () => {
    for (let run = runs.shift(); run; run = runs.shift()) {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const failed = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes && !BENIGN_CAUSES.has(Number(e.workflowTaskFailedEventAttributes.cause ?? 0)));
      if (failed.length) found.push({ ...run, failures: failed.length, firstMessage: failed[0]!.workflowTaskFailedEventAttributes!.failure?.message ?? '' });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, lane));
  return found;
}
