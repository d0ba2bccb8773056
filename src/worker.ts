import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { createCampaignActivities } from '../activities/campaign.js';
import { createImportActivities } from '../activities/imports.js';
import { createWebhookActivities, type WebhookActivityDeps } from '../activities/webhooks.js';
import type { Tracing } from './infra/tracing.js';
import { LEADS_TASK_QUEUE, WEBHOOKS_TASK_QUEUE } from '../workflows/messages.js';

/** The workflow entry point, as TypeScript source under tsx or compiled JavaScript under dist/. */
export function workflowsPath(): string {
  const ts = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
  return fs.existsSync(ts) ? ts : fileURLToPath(new URL('../workflows/index.js', import.meta.url));
}

/** The SDK's workflow interceptors (inbound, outbound, internals) that open a span per workflow task and carry the context on. */
export const TRACING_WORKFLOW_INTERCEPTORS = createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/**
 * Bundles the deterministic workflow code once (webpack), so several workers or tests can share
 * it. With tracing the bundle carries the SDK's workflow interceptors; without, it is the bundle
 * the cost tests measure, with no span, header or sink call added.
 */
export function bundleWorkflows(options: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    logger: quietBundlerLogger,
    ...(options.tracing ? { workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS] } : {}),
  });
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
  /** OpenTelemetry: workflow and activity spans, continuing the caller's trace (a prebuilt workflowBundle must then be a tracing one). */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>;
  /** The client campaigns ask leads through and the CSV import's activity starts lead workflows with; without one the worker runs neither's activities. */
  client?: Client;
  /** Lead workflows an import page starts at once (default 16). */
  importConcurrency?: number;
  /** IMPORT_AHEAD_MAX (default 200; 0: no bound). */
  importAheadMax?: number;
}

/** A worker for task queue `leads`: the lead, campaign and import workflows and their activities over real dependencies. */
export async function createLeadWorker(options: LeadWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue = LEADS_TASK_QUEUE, workflowBundle, shutdownGraceSeconds = 30, maxCachedWorkflows, dataConverter, tracing, client, importConcurrency, importAheadMax, ...deps } = options;
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
    ...(workflowBundle ? { workflowBundle } : { workflowBundle: await bundleWorkflows({ tracing: Boolean(tracing) }) }),
    activities: {
      ...createActivities(deps),
      ...(client ? createCampaignActivities({ pool: deps.pool, client, ...(deps.logger ? { logger: deps.logger } : {}) }) : {}),
      ...(client ? createImportActivities({ pool: deps.pool, client, ...(importConcurrency ? { concurrency: importConcurrency } : {}), ...(importAheadMax !== undefined ? { aheadMax: importAheadMax } : {}) }) : {}),
    },
    // As the SDK's OpenTelemetry docs set it up: workflow spans leave the sandbox through a sink
    // (not in history, not called on replay), activity spans are children of the workflow's.
    ...(tracing
      ? {
          sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
          interceptors: {
            activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
          },
        }
      : {}),
  });
}

export interface WebhookWorkerOptions extends WebhookActivityDeps {
  connection: NativeConnection;
  namespace: string;
  workflowBundle?: WorkflowBundleWithSourceMap;
  dataConverter?: DataConverter;
  shutdownGraceSeconds?: number;
}

/**
 * A worker for task queue `webhooks`: the delivery workflows and their activity. Its own slots:
 * however many receivers are slow, a lead's activities on `leads` never queue behind them.
 */
export async function createWebhookWorker(options: WebhookWorkerOptions): Promise<Worker> {
  const { connection, namespace, workflowBundle, dataConverter, shutdownGraceSeconds = 30, ...deps } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue: WEBHOOKS_TASK_QUEUE,
    shutdownGraceTime: shutdownGraceSeconds * 1000,
    ...(dataConverter ? { dataConverter } : {}),
    ...(workflowBundle ? { workflowBundle } : { workflowBundle: await bundleWorkflows() }),
    activities: createWebhookActivities(deps),
  });
}
