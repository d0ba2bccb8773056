import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { LEADS_TASK_QUEUE } from '../workflows/messages.js';

/** The workflow entry point, as TypeScript source under tsx or compiled JavaScript under dist/. */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return fs.existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** Bundles the deterministic workflow code once (webpack), so several workers or tests can share it. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};

export interface LeadWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** On shutdown, how long in-flight activities get to finish (default 30 s). */
  shutdownGraceSeconds?: number;
  /** Sticky-cache size (WORKER_MAX_CACHED_WORKFLOWS); undefined: the SDK's default from the heap size. */
  maxCachedWorkflows?: number;
  /** The payload codec (encryption); the same one the clients use. */
  dataConverter?: DataConverter;
}

/** A worker for task queue `leads`: the lead workflow and its activities over real dependencies. */
export async function createLeadWorker(options: LeadWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue = LEADS_TASK_QUEUE, workflowBundle, shutdownGraceSeconds = 30, maxCachedWorkflows, dataConverter, ...deps } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    // A SIGTERM lets an email being sent finish and record itself, rather than cut it mid-way;
    // past the grace time the attempt is cancelled and Temporal retries it on another worker.
    shutdownGraceTime: shutdownGraceSeconds * 1000,
    // Every cached lead holds its workflow state in the worker (about 1 MiB): a bound keeps a
    // worker's memory flat however many leads are parked in timers (docs/benchmarks.md).
    ...(maxCachedWorkflows !== undefined ? { maxCachedWorkflows } : {}),
    ...(dataConverter ? { dataConverter } : {}),
    ...(workflowBundle ? { workflowBundle } : { workflowBundle: await bundleWorkflows() }),
    activities: createActivities(deps),
  });
}
