import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installTestRuntime } from '../helpers/runtime.js';
import type { LeadProfile } from '../../src/domain/lead.js';
import { gradeOf } from '../../src/domain/lead/rules.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import type { Program } from '../../src/sequences/model.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import { engagementSignal, leadStateQuery, migrateSequenceSignal, updateProfileSignal } from '../../workflows/messages.js';
import { LeadGradeKey, LeadStageKey, startAttributes } from '../../workflows/search-attributes.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

/**
 * The qualification rule on the time-skipping server: a program that needs grade C keeps a lead
 * that does not fit out of sales review whatever it does, and hands it over once its profile
 * (PATCH /v1/leads/{id} → the updateProfile signal) makes it fit.
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

const needsC: Program = { ...defaultProgram, rules: { ...defaultProgram.rules!, minGrade: 'C' } };

describe('qualification: score and minimum grade', () => {
  it('a no_fit profile never escalates on engagement alone when the program requires grade C, and escalates after a PATCH that makes it fit', async () => {
    const taskQueue = `fit-${randomUUID()}`;
    const recorded = recordingActivities({ owners: ['olga@example.com'] });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: recorded.activities });
    const lead: LeadProfile = { id: `F-${randomUUID().slice(0, 8)}`, email: 'student@gmail.com', firstName: 'Sam', attributes: { role: 'student' } };
    const program = programSnapshot('onboarding', needsC);
    expect(gradeOf(lead, program.rules)).toBe('D');
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(leadWorkflow, {
        taskQueue,
        workflowId: `lead-${lead.id}`,
        args: [{ lead, program }],
        typedSearchAttributes: startAttributes(program.enrolSequence, gradeOf(lead, program.rules)),
      });
      // Far past the threshold, over weeks of the sequence: still nurturing.
      let n = 0;
      for (let week = 0; week < 3; week++) {
        for (const type of ['product.compared', 'product.compared', 'pricing.viewed', 'webinar.viewed']) {
          await handle.signal(engagementSignal, { eventId: `f-${++n}`, type, occurredAt: new Date().toISOString() });
        }
        await env.sleep('7 days');
      }
      const held = await handle.query(leadStateQuery);
      expect(held.score).toBe(165);
      expect(held).toMatchObject({ stage: 'nurturing', grade: 'D', reviewCount: 0 });
      expect(held.timeline.filter((t) => t.kind === 'qualification').map((t) => t.text)).toEqual(['score 50 reached the threshold (50), but grade D is below the C sales review needs: stays in nurturing']);
      expect(recorded.salesNotifications).toEqual([]);
      expect((await handle.describe()).typedSearchAttributes.get(LeadGradeKey)).toBe('D');

      // The profile now fits: business email and a decision-maker's role (20 + 20 fit points, grade B).
      await handle.signal(updateProfileSignal, { email: 'sam@acme.io', attributes: { role: 'cto' } });
      await eventually(() => expect(recorded.salesNotifications).toHaveLength(1));
      const escalated = await handle.query(leadStateQuery);
      expect(escalated).toMatchObject({ stage: 'sales_review', grade: 'B', reviewCount: 1 });
      expect(escalated.timeline.map((t) => t.text)).toContain('grade D → B');
      const notification = recorded.salesNotifications[0]!;
      expect(notification.grade).toBe('B');
      expect(notification.events.map((e) => e.type)).toContain('product.compared');
      const described = await handle.describe();
      expect(described.typedSearchAttributes.get(LeadGradeKey)).toBe('B');
      expect(described.typedSearchAttributes.get(LeadStageKey)).toBe('sales_review');
      expect(recorded.records.at(-1)!.view).toMatchObject({ stage: 'sales_review', grade: 'B' });
    });
  });

  it('a lead keeps the rules it was enrolled with until the migration route brings newer ones', async () => {
    const taskQueue = `rules-${randomUUID()}`;
    const recorded = recordingActivities();
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: recorded.activities });
    const lead: LeadProfile = { id: `R-${randomUUID().slice(0, 8)}`, email: 'rae@acme.io' };
    const program = programSnapshot('onboarding', defaultProgram);
    const v2 = { ...program.rules!, version: 2, scoring: [{ id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 10 }] };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(leadWorkflow, {
        taskQueue,
        workflowId: `lead-${lead.id}`,
        args: [{ lead, program }],
        typedSearchAttributes: startAttributes(program.enrolSequence, gradeOf(lead, program.rules)),
      });
      const pricing = (eventId: string) => handle.signal(engagementSignal, { eventId, type: 'page.viewed', occurredAt: new Date().toISOString(), properties: { path: '/pricing' } });
      await pricing('r-1');
      await eventually(async () => expect((await handle.query(leadStateQuery)).score).toBe(1));
      await handle.signal(migrateSequenceSignal, { sequence: program.enrolSequence, rules: v2 });
      await pricing('r-2');
      const state = await eventually(async () => {
        const s = await handle.query(leadStateQuery);
        expect(s.score).toBe(11);
        return s;
      });
      expect(state.rulesVersion).toBe(2);
      expect(state.scoreBreakdown.map((l) => l.rule)).toEqual(['page.viewed', 'pricing-page']);
      expect(state.timeline.map((t) => t.text)).toContain('rules v2 apply from now on (were v1)');
      await eventually(() => expect(recorded.records.at(-1)!.view.rulesVersion).toBe(2));
    });
  });
});
