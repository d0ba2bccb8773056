import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { WebhookActivities } from '../../activities/types.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { webhookDeliveryWorkflow } from '../../workflows/webhook-delivery.js';

/**
 * One webhook delivery's retry policy on the time-skipping server: a receiver refusing for a
 * day is tried with doubling back-off capped at an hour, then the delivery is given up; one that
 * comes back within the day gets it, the attempts before counted.
 */
let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  installTestRuntime();
  workflowBundle = await bundleWorkflows();
});
beforeEach(async () => {
  env = await createTimeSkippingTestEnv();
});
afterEach(async () => {
  await env?.teardown();
});

/** Fake deliverer: refuses until `upAfterMs` of test-server time has passed since the first attempt; records each attempt's time. */
function receiverDownFor(upAfterMs: number) {
  const attempts: number[] = [];
  const givenUp: string[] = [];
  const activities: WebhookActivities = {
    async deliverWebhook() {
      const now = Number(await env.currentTimeMs());
      attempts.push(now);
      if (now - attempts[0]! < upAfterMs) throw ApplicationFailure.retryable('the receiver answered 503', 'webhook_refused');
      return 'delivered';
    },
    async giveUpWebhook({ outboxId }) {
      givenUp.push(outboxId);
    },
  };
  return { attempts, givenUp, activities };
}

async function deliver(activities: WebhookActivities) {
  const taskQueue = `wh-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
  return worker.runUntil(env.client.workflow.execute(webhookDeliveryWorkflow, { taskQueue, workflowId: `webhook-msg_${randomUUID()}`, args: [{ outboxId: 'msg_1' }] }));
}

const HOUR = 3_600_000;

describe('webhook delivery retry policy (time-skipping)', () => {
  it('a receiver down for an hour gets the delivery once it is back, after doubling waits', async () => {
    const { attempts, givenUp, activities } = receiverDownFor(HOUR);
    expect(await deliver(activities)).toBe('delivered');
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 1 s, 2 s, 4 s ... doubling (the server's clock, give or take its rounding), none above an hour.
    expect(gaps.length).toBeGreaterThanOrEqual(12);
    for (const [i, gap] of gaps.entries()) expect(gap, `wait before attempt ${i + 2}`).toBeLessThanOrEqual(HOUR + 1000);
    expect(gaps[3]! / gaps[2]!).toBeCloseTo(2, 0);
    expect(attempts.at(-1)! - attempts[0]!).toBeGreaterThanOrEqual(HOUR);
    expect(attempts.at(-1)! - attempts[0]!).toBeLessThan(3 * HOUR);
    expect(givenUp).toEqual([]);
  });

  it('a receiver down for good is tried for a day (waits capped at an hour), then the delivery is given up', async () => {
    const { attempts, givenUp, activities } = receiverDownFor(Number.POSITIVE_INFINITY);
    expect(await deliver(activities)).toBe('failed');
    const span = attempts.at(-1)! - attempts[0]!;
    expect(span).toBeGreaterThan(22 * HOUR);
    expect(span).toBeLessThanOrEqual(24 * HOUR);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(HOUR + 1000);
    // 12 doubling waits reach the hour; the rest of the day is hourly: about 35 attempts.
    expect(attempts.length).toBeGreaterThanOrEqual(30);
    expect(attempts.length).toBeLessThanOrEqual(40);
    expect(givenUp).toEqual(['msg_1']);
  });
});
