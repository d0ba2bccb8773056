import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { INHERITED_NAMES, ownEntry } from '../../src/domain/own-key.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { engagementSignal, leadStateQuery } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

/**
 * Scoring as the workflow does it, checked against a model for generated event streams: any
 * mix of event types (unknown ones and inherited names such as `constructor` included), repeated eventIds (a replayed delivery), any
 * order. The score is the sum of the points of each distinct eventId's first delivery, and the
 * lead is in sales review exactly when that sum reached the threshold.
 */
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `scoring-${randomUUID()}`;

beforeAll(async () => {
  installTestRuntime();
  env = await createTimeSkippingTestEnv();
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleWorkflows(), activities: recordingActivities().activities });
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await env?.teardown();
});

// Unknown types include every name a plain object inherits (`constructor`, `__proto__`, ...).
const TYPES = [...Object.keys(defaultProgram.scoring), 'unknown.type', ...INHERITED_NAMES];
const event = fc.record({ eventId: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), type: fc.constantFrom(...TYPES) });

/** What the score and stage must be after `events`, in order. */
function model(events: Array<{ eventId: string; type: string }>) {
  const seen = new Set<string>();
  let score = 0;
  let escalated = false;
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    score += ownEntry(defaultProgram.scoring, e.type) ?? 0;
    if (score >= defaultProgram.threshold) escalated = true;
  }
  return { score, stage: escalated ? 'sales_review' : 'nurturing', reviewCount: escalated ? 1 : 0 };
}

describe('scoring (property-based, on the workflow)', () => {
  it('scores each distinct event once, ignores unknown types, and escalates exactly at the threshold', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 12 }), async (events) => {
        const id = `P-${randomUUID().slice(0, 8)}`;
        const handle = await env.client.workflow.start(leadWorkflow, {
          taskQueue,
          workflowId: `lead-${id}`,
          args: [{ lead: { id, email: `${id.toLowerCase()}@example.com` }, program: programSnapshot('onboarding') }],
        });
        for (const e of events) await handle.signal(engagementSignal, { ...e, occurredAt: new Date(0).toISOString() });
        const expected = model(events);
        await eventually(async () => {
          const state = await handle.query(leadStateQuery);
          expect({ score: state.score, stage: state.stage, reviewCount: state.reviewCount }).toEqual(expected);
        });
        await handle.terminate('property checked');
      }),
      { numRuns: 25 },
    );
  });
});
