import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Pool } from '../../src/infra/db.js';
import type { Mailer } from '../../src/infra/mailer.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows, createLeadWorker } from '../../src/worker.js';

// WORKER_MAX_CACHED_WORKFLOWS reaches the SDK: without a bound, the sticky cache is sized from
// the heap limit and every parked lead it holds costs the worker about 1 MiB (docs/benchmarks.md).
let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  installTestRuntime();
  [env, workflowBundle] = await Promise.all([createTimeSkippingTestEnv(), bundleWorkflows()]);
});

afterAll(async () => {
  await env?.teardown();
});

/** Runs the worker and stops it at once: a worker never run holds the connection, and the teardown refused to close it. */
async function release(worker: Worker): Promise<void> {
  const running = worker.run();
  worker.shutdown();
  await running;
}

// No task runs in these tests: the activities' dependencies are never touched.
const deps = { pool: {} as Pool, mailer: {} as Mailer, config: { mailFrom: 'marketing@example.com', salesInbox: 'sales@example.com' } };

describe('lead worker options', () => {
  it('bounds the sticky cache when told to', async () => {
    const worker = await createLeadWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue: `t-${randomUUID()}`, workflowBundle, ...deps, maxCachedWorkflows: 250 });
    expect(worker.options.maxCachedWorkflows).toBe(250);
    await release(worker);
  });

  it("keeps the SDK's default, sized from the heap, when not told", async () => {
    const worker = await createLeadWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue: `t-${randomUUID()}`, workflowBundle, ...deps });
    expect(worker.options.maxCachedWorkflows).toBeGreaterThanOrEqual(10);
    expect(worker.options.maxCachedWorkflows).not.toBe(250);
    await release(worker);
  });
});
