import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, type LeadActivities } from '../../activities/index.js';
import { ErrorCodes } from '../../src/domain/errors.js';
import { hasOwnName } from '../../src/domain/own-key.js';
import type { Pool } from '../../src/infra/db.js';
import { createMetrics } from '../../src/infra/metrics.js';
import { defaultProgram } from '../../src/sequences/catalog.js';
import { SequenceSchema, type ProgramSnapshot } from '../../src/sequences/model.js';
import { templates } from '../../src/sequences/templates.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { findFailedWorkflowTasks } from '../../src/infra/temporal/invariants.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { leadStateQuery } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

/**
 * An email step whose template no longer exists: the send activity fails for good (no retry can
 * bring a template back), and the lead skips the step with a timeline line and goes on, instead
 * of retrying forever. The activity logs it and counts it in a metric.
 */
describe('a missing template (the activity)', () => {
  it('is a non-retryable unknown_template failure with a log line and a metric, before any I/O', async () => {
    const metrics = createMetrics();
    const warn = vi.fn();
    // Neither the pool nor the mailer may be touched: the template is looked up first.
    const untouchable = new Proxy({}, { get: () => { throw new Error('touched'); } });
    const activities = createActivities({ pool: untouchable as Pool, mailer: untouchable as never, config: { mailFrom: 'm@example.com', salesInbox: 's@example.com' }, metrics, logger: { info: () => undefined, warn } });
    for (const template of ['no-such-template', 'constructor', '__proto__']) {
      const failure = await activities.sendNurtureEmail({ lead: { id: 'l1', email: 'l1@example.com' }, template, sendKey: `l1:${template}`, sequence: 's@v1', step: 0 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect([(failure as ApplicationFailure).type, (failure as ApplicationFailure).nonRetryable]).toEqual([ErrorCodes.unknownTemplate, true]);
    }
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls[0]![1]).toMatch(/template does not exist/);
    expect((await metrics.registry.getSingleMetricAsString('leadflow_emails_template_missing_total')).match(/template="no-such-template"} 1/)).not.toBeNull();
  });
});

describe('a missing template (the lead, time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    installTestRuntime();
    env = await createTimeSkippingTestEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('skips the step once (no retries), notes it on the timeline and goes on to the next email', { timeout: 120_000 }, async () => {
    const recorded = recordingActivities();
    const attempts: string[] = [];
    // The recording fake, with the real activity's answer to a template that does not exist.
    const activities: LeadActivities = {
      ...recorded.activities,
      async sendNurtureEmail(input) {
        attempts.push(input.template);
        if (!hasOwnName(templates, input.template)) throw ApplicationFailure.nonRetryable(`unknown email template "${input.template}"`, ErrorCodes.unknownTemplate);
        return recorded.activities.sendNurtureEmail(input);
      },
    };
    const sequence = SequenceSchema.parse({
      id: 'gone',
      version: 1,
      description: 'a sequence naming templates that do not exist',
      steps: [
        { kind: 'email', template: 'no-such-template' },
        { kind: 'email', template: 'constructor' },
        { kind: 'email', template: 'welcome' },
        { kind: 'wait', duration: '30 days' },
      ],
    });
    const program: ProgramSnapshot = { ...defaultProgram, delivery: undefined, enrolSequence: sequence };
    const taskQueue = `missing-template-${randomUUID()}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundleWorkflows(), activities });
    await worker.runUntil(async () => {
      const id = `MT-${randomUUID().slice(0, 8)}`;
      const handle = await env.client.workflow.start(leadWorkflow, { taskQueue, workflowId: `lead-${id}`, args: [{ lead: { id, email: `${id.toLowerCase()}@example.com` }, program }] });
      await eventually(async () => expect((await handle.query(leadStateQuery)).sequence.step).toBe(3));
      const state = await handle.query(leadStateQuery);
      expect(state.timeline.filter((e) => e.kind === 'email').map((e) => e.text)).toEqual([
        'no-such-template skipped: the template does not exist (gone@v1 step 0)',
        'constructor skipped: the template does not exist (gone@v1 step 1)',
        'sent welcome (gone@v1 step 2)',
      ]);
      expect(attempts).toEqual(['no-such-template', 'constructor', 'welcome']);
      expect(recorded.emails.map((e) => e.template)).toEqual(['welcome']);
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(await findFailedWorkflowTasks(env.client, { query: `WorkflowId = 'lead-${id}'` }).catch(() => [])).toEqual([]);
    });
  });
});
