import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installTestRuntime } from '../helpers/runtime.js';
import type { SendNurtureEmailInput } from '../../activities/types.js';
import { campaignSnapshot, defaultProgram, pinTemplates, programSnapshot } from '../../src/sequences/catalog.js';
import type { Program } from '../../src/sequences/model.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { campaignEnrolmentUpdate, leadStateQuery } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

/**
 * A lead a campaign enrolled, on the time-skipping server: its onboarding ends, the campaign's
 * webinar invitation goes at once and its reminder three days later, each with a send key of the
 * new enrolment; the onboarding email it would have had after two days never goes.
 */
const DAY = 86_400_000;
const anyHour: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;
beforeAll(async () => {
  installTestRuntime();
  [env, workflowBundle] = await Promise.all([createTimeSkippingTestEnv(), bundleWorkflows()]);
});
afterAll(async () => {
  await env?.teardown();
});

describe('a campaign-enrolled lead', () => {
  it("receives the campaign sequence's emails on its schedule, the old sequence's no more", async () => {
    const taskQueue = `campaign-${randomUUID()}`;
    const recorded = recordingActivities();
    const inputs: SendNurtureEmailInput[] = [];
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: {
        ...recorded.activities,
        async sendNurtureEmail(input: SendNurtureEmailInput) {
          inputs.push(input);
          return recorded.activities.sendNurtureEmail(input);
        },
      },
    });
    const id = `CE-${randomUUID().slice(0, 8)}`;
    const lead = { id, email: `${id.toLowerCase()}@example.com`, firstName: 'Ada', company: 'Engines Ltd' };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(leadWorkflow, { taskQueue, workflowId: `lead-${id}`, args: [{ lead, program: pinTemplates(programSnapshot('onboarding', anyHour), lead) }] });
      await eventually(() => expect(recorded.emails.map((e) => e.template)).toEqual(['welcome']));
      await env.sleep('1 day');
      const enrolledAt = await env.currentTimeMs();
      const answer = await handle.executeUpdate(campaignEnrolmentUpdate, { args: [{ campaignId: 'webinar-dec', ...campaignSnapshot('webinar-invite') }] });
      expect(answer).toEqual({ id, enrolment: 2 });
      await eventually(() => expect(recorded.emails.map((e) => e.template)).toEqual(['welcome', 'webinar-invite']));

      await env.sleep('4 days');
      await eventually(() => expect(recorded.emails.map((e) => e.template)).toEqual(['welcome', 'webinar-invite', 'webinar-reminder']));
      const [, invite, reminder] = recorded.emails;
      expect(invite!.sendKey).toBe(`${id}:webinar-invite@v1:e2:s0`);
      expect(reminder!.sendKey).toBe(`${id}:webinar-invite@v1:e2:s2`);
      expect(invite!.at - enrolledAt).toBeLessThan(60_000);
      expect(reminder!.at - invite!.at).toBeGreaterThanOrEqual(3 * DAY);
      expect(reminder!.at - invite!.at).toBeLessThan(3 * DAY + 60_000);
      // The campaign's template sources went with its sequence (rendered for the lead as each goes).
      const snapshot = campaignSnapshot('webinar-invite');
      expect(inputs.filter((i) => i.template.startsWith('webinar')).map((i) => i.content)).toEqual([snapshot.templates!['webinar-invite'], snapshot.templates!['webinar-reminder']]);
      expect(snapshot.templates!['webinar-invite']).toMatchObject({ kind: 'marketing', source: expect.anything() });
      expect(recorded.repeatedSendKeys()).toEqual([]);

      // Asked again (a campaign retrying its page): refused by the validator, nothing sent.
      const again = await handle.executeUpdate(campaignEnrolmentUpdate, { args: [{ campaignId: 'webinar-dec', ...campaignSnapshot('webinar-invite') }] }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((again as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('already_enrolled');
      const state = await handle.query(leadStateQuery);
      expect(state.sequence).toMatchObject({ id: 'webinar-invite', version: 1 });
      expect(state.timeline.filter((t) => t.text.startsWith('campaign webinar-dec:'))).toHaveLength(1);
    });
  });
});
