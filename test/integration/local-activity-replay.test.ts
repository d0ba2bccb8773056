import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/activity';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { useDevServer } from '../helpers/dev-server.js';
import { programSnapshot } from '../../src/sequences/catalog.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { engagementSignal } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';
import type { LeadActivities } from '../../activities/types.js';

// A read-model write that keeps failing slowly (Postgres restarting) while the lead's email
// answers and signals arrive: the history this leaves must replay under the same code. With the
// SDK retrying inside the local activity (up to 9 s), the call outlived the workflow task's
// heartbeat and this replay failed (TimerMachine ... TimerCanceled); see recordLeadState in
// workflows/lead.ts.
// The SDK's runtime first: the suite's native connection is made in the next hook.
beforeAll(() => installTestRuntime());
const suite = useDevServer('la-replay');
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

/** The parts of a history event this test reads (each kind of event carries its own attributes). */
type Event = { activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null; markerRecordedEventAttributes?: { failure?: unknown } | null; workflowTaskFailedEventAttributes?: unknown };

describe('local activities in an outage', () => {
  it('leave a history that replays: read-model writes failing for 20 s while the welcome email answers and the lead reaches review', { timeout: 180_000 }, async () => {
    const client = suite.client;
    const taskQueue = `la-${randomUUID()}`;
    const recorded = recordingActivities();
    let failing = false;
    let failedWrites = 0;
    let emailsAnsweredInOutage = 0;
    let emailsStarted = 0;
    const worker = await Worker.create({
      connection: suite.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: {
        ...recorded.activities,
        // Postgres restarting: each write hangs almost to its 2 s limit, then fails.
        async recordLeadState(input: Parameters<LeadActivities['recordLeadState']>[0]) {
          if (failing) {
            failedWrites += 1;
            await sleep(1_900);
            throw ApplicationFailure.retryable('database restarting');
          }
          return recorded.activities.recordLeadState(input);
        },
        // The welcome email is in flight when the outage starts and answers during it.
        async sendNurtureEmail(input: Parameters<LeadActivities['sendNurtureEmail']>[0]) {
          emailsStarted += 1;
          await sleep(6_000);
          if (failing) emailsAnsweredInOutage += 1;
          return recorded.activities.sendNurtureEmail(input);
        },
      },
    });
    const leadId = `la-${randomUUID().slice(0, 8)}`;
    const program = { ...programSnapshot('onboarding'), threshold: 30 };
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(leadWorkflow, { taskQueue, workflowId: `lead-${leadId}`, args: [{ lead: { id: leadId, email: `${leadId}@example.com` }, program }] });
      await eventually(() => expect(emailsStarted).toBe(1));
      failing = true;
      // Four pricing views (40 points): the lead crosses the threshold of 30 while writes fail.
      for (let i = 0; i < 4; i++) await handle.signal(engagementSignal, { type: 'pricing.viewed', eventId: `${leadId}-e${i}`, occurredAt: new Date().toISOString() });
      await sleep(20_000);
      failing = false;
      await eventually(() => expect(recorded.salesNotifications).toHaveLength(1), { timeoutMs: 90_000 });
      const history = await handle.fetchHistory();
      await handle.terminate('test over');
      const events = (history.events ?? []) as Event[];
      // The weather really came: writes failed, the email answered meanwhile, the owner was
      // assigned and sales told once it ended.
      expect(failedWrites).toBeGreaterThanOrEqual(3);
      expect(emailsAnsweredInOutage).toBe(1);
      expect(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'notifySales')).toHaveLength(1);
      // No workflow task failed on the way (a failure thrown out of the lane would fail every one).
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
      // A fresh worker, as after a restart, replays it to the same commands.
      await Worker.runReplayHistory({ workflowBundle }, history, `lead-${leadId}`);
      // Each failed write is in history (its marker), and so is each wait before the next: no attempt
      // ran unrecorded inside a workflow task.
      expect(events.filter((e) => e.markerRecordedEventAttributes?.failure).length).toBe(failedWrites);
    });
  });
});
