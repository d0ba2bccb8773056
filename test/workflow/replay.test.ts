import { installTestRuntime } from '../helpers/runtime.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from '../../worker/worker.js';
import { loadRecordedHistories, toHistory } from '../helpers/histories.js';

/**
 * Every history recorded from a real run (test/histories/, `npm run histories:record`) replays
 * under the current workflow code. A change to workflows/ that would make an in-flight lead
 * take a different path fails here, in CI, instead of in production.
 */
let workflowBundle: WorkflowBundleWithSourceMap;
const recorded = loadRecordedHistories();

beforeAll(async () => {
  installTestRuntime();
  workflowBundle = await bundleWorkflows();
});

describe('replay of recorded histories', () => {
  it('has the histories of every shipped path', () => {
    const names = recorded.map((r) => r.file);
    for (const name of ['onboarding-complete', 'escalate-reject-recycle', 'unsubscribe', 'continue-as-new', 'webinar-engaged', 'webinar-timeout-goto', 'migrate-and-decay']) {
      expect(names.some((f) => f.startsWith(name))).toBe(true);
    }
  });

  it('replays every recorded history under the current workflow code', async () => {
    const results: Array<{ workflowId: string; error?: unknown }> = [];
    const histories = recorded.map((r) => ({ workflowId: `${r.workflowId} (${r.file})`, history: toHistory(r) }));
    for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) results.push(result);
    expect(results).toHaveLength(recorded.length);
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${(r.error as Error).message}`)).toEqual([]);
  });

  it('fails a history whose commands the code no longer issues (the check can fail)', async () => {
    const original = recorded.find((r) => r.file === 'onboarding-complete.json')!;
    // Rename the first activity the run scheduled: to the current code that is a different command.
    const tampered = structuredClone(original) as { history: { events: Array<Record<string, { activityType?: { name: string } }>> } };
    const scheduled = tampered.history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'someOtherActivity';
    const error = await Worker.runReplayHistory({ workflowBundle }, toHistory(tampered), original.workflowId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeterminismViolationError);
  });
});
