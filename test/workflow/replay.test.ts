import { installTestRuntime } from '../helpers/runtime.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from '../../src/worker.js';
import { bundleWithoutPatchGuard, loadRecordedHistories, replayAll, toHistory } from '../helpers/histories.js';

/**
 * Every history recorded from a real run (test/histories/, `npm run histories:record`) replays
 * under the current workflow code. A change to workflows/ that would make an in-flight lead
 * take a different path fails here, in CI, instead of in production.
 */
let workflowBundle: WorkflowBundleWithSourceMap;
const recorded = loadRecordedHistories();

/** The activity types a recorded run scheduled, in order. */
const scheduled = (r: (typeof recorded)[number]): string[] =>
  ((r.history as { events: Array<{ activityTaskScheduledEventAttributes?: { activityType: { name: string } } }> }).events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : [],
  );

beforeAll(async () => {
  installTestRuntime();
  workflowBundle = await bundleWorkflows();
});

describe('replay of recorded histories', () => {
  it('has the histories of every shipped path', () => {
    const names = recorded.map((r) => r.file);
    for (const name of [
      'onboarding-complete',
      'escalate-reject-recycle',
      'unsubscribe',
      'continue-as-new',
      'webinar-engaged',
      'webinar-timeout-goto',
      'migrate-and-decay',
      'sla-reminder-escalation',
      'owner-assignment',
      'disqualify',
    ]) {
      expect(names.some((f) => f.startsWith(name)), name).toBe(true);
    }
    // The later paths are really in them: SLA timers fired (reminder and manager), owners
    // assigned, a lead disqualified.
    const activities = (file: string) => scheduled(recorded.find((r) => r.file === file)!);
    expect(activities('sla-reminder-escalation.json').filter((a) => a === 'remindSales')).toHaveLength(2);
    expect(activities('owner-assignment.json').filter((a) => a === 'assignOwner')).toHaveLength(2);
    const updates = (recorded.find((r) => r.file === 'disqualify.json')!.history as { events: Array<{ workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest: { input: { name: string } } } }> }).events
      .flatMap((e) => (e.workflowExecutionUpdateAcceptedEventAttributes ? [e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.name] : []));
    expect(updates).toEqual(['disqualify']);
    const outcomeUpdates = (recorded.find((r) => r.file === 'v2-outcome-recycle.json')!.history as { events: Array<{ workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest: { input: { name: string } } } }> }).events
      .flatMap((e) => (e.workflowExecutionUpdateAcceptedEventAttributes ? [e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest.input.name] : []));
    expect(outcomeUpdates).toEqual(['accept', 'outcome', 'accept', 'outcome']);
  });

  it('has histories recorded under the lead engine v2 (its patch marker) beside those of the first engine', () => {
    // Payload data is base64 in the files: decode each marker's to find the patch id.
    const patches = (r: (typeof recorded)[number]) =>
      (toHistory(r).events ?? []).flatMap((e) => Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((d) => (d.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString('utf8'))));
    const engines = recorded.map((r) => [r.file, patches(r).some((text) => text.includes('lead-engine-v2'))] as const);
    for (const [file, v2] of engines) expect(v2).toBe(file.startsWith('v2-'));
    expect(engines.filter(([, v2]) => v2).length).toBeGreaterThanOrEqual(6);
  });

  it('replays every recorded history under the current workflow code', async () => {
    const outcomes = await replayAll(workflowBundle, recorded);
    expect(outcomes.map((o) => o.file)).toEqual(recorded.map((r) => r.file));
    expect(outcomes.filter((o) => o.error).map((o) => `${o.file}: ${(o.error as Error).message}`)).toEqual([]);
  });

  it('fails, through the same loop, against code with one patched() guard removed (the check can fail)', { timeout: 120_000 }, async () => {
    // The review SLA shipped behind patched('sales-review-sla'). Code that drops the guard no
    // longer records the marker the histories of every escalation carry: each of those (the ones
    // that assigned an owner) fails replay, and only those.
    const unguarded = await bundleWithoutPatchGuard('SALES_REVIEW_SLA_PATCH');
    const outcomes = await replayAll(unguarded, recorded);
    const escalated = recorded.filter((r) => scheduled(r).includes('assignOwner')).map((r) => r.file);
    expect(escalated).toEqual(expect.arrayContaining(['escalate-reject-recycle.json', 'owner-assignment.json', 'sla-reminder-escalation.json']));
    const failed = outcomes.filter((o) => o.error);
    expect(failed.map((o) => o.file)).toEqual(escalated);
    for (const o of failed) expect(o.error, o.file).toBeInstanceOf(DeterminismViolationError);
  });

  it('fails a history whose commands the code no longer issues', async () => {
    const original = recorded.find((r) => r.file === 'onboarding-complete.json')!;
    // Rename the first activity the run scheduled: to the current code that is a different command.
    const tampered = structuredClone(original) as { history: { events: Array<Record<string, { activityType?: { name: string } }>> } };
    const scheduled = tampered.history.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'someOtherActivity';
    const error = await Worker.runReplayHistory({ workflowBundle }, toHistory(tampered), original.workflowId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeterminismViolationError);
  });
});
