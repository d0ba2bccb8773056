import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { addDuration } from '../../src/domain/duration.js';
import type { EngagementEvent } from '../../src/domain/lead.js';
import { defaultProgram, programSnapshot } from '../../src/sequences/catalog.js';
import type { Program } from '../../src/sequences/model.js';
import { createTimeSkippingTestEnv } from '../../src/infra/temporal/test-server.js';
import { bundleWorkflows } from '../../src/worker.js';
import { leadWorkflow } from '../../workflows/lead.js';
import {
  acceptUpdate,
  outcomeUpdate,
  engagementSignal,
  leadStateQuery,
  rejectUpdate,
  unsubscribeSignal,
} from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';

const DAY = 86_400_000;

/**
 * The default program with a send window open around the clock: these tests check the
 * sequence's own days, whatever the hour the suite runs at (windows: sequences.test.ts).
 */
const anyHourProgram: Program = { ...defaultProgram, delivery: { ...defaultProgram.delivery!, sendWindow: { ...defaultProgram.delivery!.sendWindow, start: '00:00', end: '24:00' } } };

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  installTestRuntime();
  workflowBundle = await bundleWorkflows();
});

// Time is global to a test server, and a lead cut off mid-activity can hold its clock:
// each test gets a server of its own (about a second to start).
beforeEach(async () => {
  env = await createTimeSkippingTestEnv();
});

afterEach(async () => {
  await env?.teardown();
});

/** Runs one lead's workflow on its own task queue with recording activities. */
async function withLead(
  body: (ctx: { handle: WorkflowHandle<typeof leadWorkflow>; recorded: ReturnType<typeof recordingActivities>; startedAt: number }) => Promise<void>,
  options: { sequence?: string; historyBudget?: number; owners?: string[] } = {},
): Promise<void> {
  const taskQueue = `test-${randomUUID()}`;
  const recorded = recordingActivities({ owners: options.owners });
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: recorded.activities });
  const leadId = `L-${randomUUID().slice(0, 8)}`;
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(leadWorkflow, {
      taskQueue,
      workflowId: `lead-${leadId}`,
      args: [
        {
          lead: { id: leadId, email: `${leadId.toLowerCase()}@example.com`, firstName: 'Ada' },
          program: programSnapshot(options.sequence ?? 'onboarding', anyHourProgram),
          ...(options.historyBudget ? { historyBudget: options.historyBudget } : {}),
        },
      ],
    });
    const startedAt = (await handle.describe()).startTime.getTime();
    await body({ handle, recorded, startedAt });
  });
  // Whatever the test was about, the workflow never asked twice for one send key.
  expect(recorded.repeatedSendKeys(), 'send keys the workflow asked for more than once').toEqual([]);
}

let eventCounter = 0;
const event = (type: string, eventId = `e-${++eventCounter}`): EngagementEvent => ({ eventId, type, occurredAt: new Date(0).toISOString() });

async function sendEvents(handle: WorkflowHandle<typeof leadWorkflow>, types: string[]): Promise<void> {
  for (const type of types) await handle.signal(engagementSignal, event(type));
}

const nurture = (emails: ReturnType<typeof recordingActivities>['emails']) => emails.filter((e) => e.kind === 'nurture');
const daysAfter = (at: number, startedAt: number) => Math.round(((at - startedAt) / DAY) * 100) / 100;

describe('lead workflow (time-skipping)', () => {
  it('sends the onboarding sequence: first email at once, later steps days apart', async () => {
    await withLead(async ({ recorded, startedAt }) => {
      await eventually(() => expect(nurture(recorded.emails)).toHaveLength(1));
      await env.sleep('11 days');
      await eventually(() => expect(nurture(recorded.emails)).toHaveLength(4));
      expect(nurture(recorded.emails).map((e) => [e.template, daysAfter(e.at, startedAt)])).toEqual([
        ['welcome', 0],
        ['customer-stories', 2],
        ['product-tour', 5],
        ['pricing-guide', 10],
      ]);
      // The sequence is over: a month later nothing more was sent.
      await env.sleep('30 days');
      expect(nurture(recorded.emails)).toHaveLength(4);
      // Four emails, four calls: none asked for twice.
      expect(recorded.callCounts().sendNurtureEmail).toBe(4);
    });
  });

  it('escalates at exactly 50 points, with one notification to sales', async () => {
    await withLead(async ({ handle, recorded }) => {
      await eventually(() => expect(nurture(recorded.emails)).toHaveLength(1));
      // 20 + 20 + 5 = 45: below the threshold.
      await sendEvents(handle, ['product.compared', 'product.compared', 'webinar.viewed']);
      await eventually(async () => expect(await handle.query(leadStateQuery)).toMatchObject({ score: 45, stage: 'nurturing' }));
      await sendEvents(handle, ['webinar.viewed']);
      await eventually(async () => expect(await handle.query(leadStateQuery)).toMatchObject({ score: 50, stage: 'sales_review', reviewCount: 1 }));
      await eventually(() => expect(recorded.salesNotifications).toHaveLength(1));
      expect(recorded.salesNotifications[0]).toMatchObject({ score: 50, reviewCount: 1 });
      expect(recorded.salesNotifications[0]!.events.map((e) => e.type)).toEqual(['product.compared', 'product.compared', 'webinar.viewed', 'webinar.viewed']);
      // More engagement while in review neither notifies again nor sends marketing email.
      await sendEvents(handle, ['pricing.viewed']);
      await env.sleep('12 days');
      // One notification means one call of notifySales, not one that the fake let through.
      expect(recorded.salesNotifications).toHaveLength(1);
      expect(recorded.callCounts()).toMatchObject({ notifySales: 1, sendNurtureEmail: 1 });
      expect(nurture(recorded.emails).map((e) => e.template)).toEqual(['welcome']);
      const last = recorded.records.at(-1)!;
      expect(last.view).toMatchObject({ stage: 'sales_review', score: 60 });
    });
  });

  it('sends the welcome email to a lead that escalates before it, then pauses the sequence in review', async () => {
    await withLead(async ({ handle, recorded }) => {
      // The website creates the lead and posts its engagement in the same second.
      await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));
      await eventually(() => expect(nurture(recorded.emails).map((e) => e.template)).toEqual(['welcome']));
      await eventually(() => expect(recorded.salesNotifications).toHaveLength(1));
      await env.sleep('15 days');
      expect(nurture(recorded.emails).map((e) => e.template)).toEqual(['welcome']);
      expect((await handle.query(leadStateQuery)).sequence.step).toBe(1);
    });
  });

  it('ignores a repeated eventId', async () => {
    await withLead(async ({ handle }) => {
      await handle.signal(engagementSignal, event('product.compared', 'same-id'));
      await handle.signal(engagementSignal, event('product.compared', 'same-id'));
      await handle.signal(engagementSignal, event('page.viewed', 'other-id'));
      await eventually(async () => expect((await handle.query(leadStateQuery)).score).toBe(21));
    });
  });

  it('recycles a rejected lead and escalates it again on new engagement', async () => {
    await withLead(async ({ handle, recorded, startedAt }) => {
      await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));

      const rejected = await handle.executeUpdate(rejectUpdate, { args: [{ by: 'sam@sales', reason: 'no_authority', notes: 'ask the CFO' }] });
      expect(rejected.stage).toBe('nurturing');
      const afterReject = await handle.query(leadStateQuery);
      expect(afterReject).toMatchObject({
        stage: 'nurturing',
        score: 0,
        reviewCount: 1,
        sequence: { id: 'recycle', version: 1, step: 0 },
        lastRejectReason: 'no_authority',
        scoreBreakdown: [],
        review: null,
      });
      const rejectedAt = (await env.currentTimeMs());

      // The recycle sequence waits 3 days (no special wait for no_authority), then checks in.
      await env.sleep('4 days');
      await eventually(() => expect(nurture(recorded.emails).map((e) => e.template)).toContain('recycle-checkin'));
      const checkin = nurture(recorded.emails).find((e) => e.template === 'recycle-checkin')!;
      expect(daysAfter(checkin.at, rejectedAt)).toBeCloseTo(3, 1);
      expect(checkin.at).toBeGreaterThan(startedAt);

      await sendEvents(handle, ['product.compared', 'product.compared', 'form.submitted']);
      await eventually(async () => expect(await handle.query(leadStateQuery)).toMatchObject({ stage: 'sales_review', score: 50, reviewCount: 2 }));
      await eventually(() => expect(recorded.salesNotifications.map((n) => n.reviewCount)).toEqual([1, 2]));

      const accepted = await handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] });
      expect(accepted.stage).toBe('accepted');
      // The accepted lead waits for its outcome; won ends its story.
      expect(await handle.executeUpdate(outcomeUpdate, { args: [{ by: 'sam@sales', outcome: 'won', amount: 500 }] })).toEqual({ id: expect.any(String), stage: 'accepted', outcome: 'won' });
      const final = await handle.result();
      expect(final).toMatchObject({ stage: 'accepted', reviewCount: 2 });
      const decisions = recorded.records.flatMap((r) => r.decisions);
      expect(decisions.map((d) => [d.reviewNo, d.decision, d.reason])).toEqual([
        [1, 'rejected', 'no_authority'],
        [2, 'accepted', undefined],
      ]);
      expect(recorded.records.flatMap((r) => r.outcomes ?? [])).toEqual([expect.objectContaining({ reviewNo: 2, outcome: 'won', amount: 500, by: 'sam@sales' })]);
    });
  });

  it('stops marketing email after an unsubscribe but keeps the lead', async () => {
    await withLead(async ({ handle, recorded }) => {
      await eventually(() => expect(nurture(recorded.emails)).toHaveLength(1));
      await handle.signal(unsubscribeSignal);
      await eventually(async () => expect((await handle.query(leadStateQuery)).unsubscribed).toBe(true));
      await env.sleep('20 days');
      expect(nurture(recorded.emails).map((e) => e.template)).toEqual(['welcome']);
      // Still a lead: engagement still scores and still reaches sales.
      await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));
      await eventually(() => expect(recorded.salesNotifications).toHaveLength(1));
    });
  });

  it('refuses a decision on a lead that is not in review, leaving no trace in history', async () => {
    await withLead(async ({ handle }) => {
      const error = await handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (error as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('not_in_review');
      const history = await handle.fetchHistory();
      const updateEvents = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      expect(updateEvents).toHaveLength(0);
      expect((await handle.query(leadStateQuery)).stage).toBe('nurturing');
    });
  });

  it('lets exactly one of two concurrent decisions win', async () => {
    await withLead(async ({ handle }) => {
      await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));
      const results = await Promise.allSettled([
        handle.executeUpdate(acceptUpdate, { args: [{ by: 'ana@sales' }] }),
        handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob@sales', reason: 'no_budget' }] }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(((lost[0]!.reason as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('not_in_review');
    });
  });

  it('continues as new across its timers, keeping the sequence schedule and sending each email once', async () => {
    // A budget so small that the lead rolls over on its own between steps, with waits pending.
    // (Signals racing a rollover are tested against the dev server in
    // test/integration/continue-as-new.test.ts: the time-skipping test server drops a signal
    // that arrives while a run closes, where the real server hands it to the next run.)
    await withLead(
      async ({ handle, recorded, startedAt }) => {
        const firstRun = (await handle.describe()).runId;
        await env.sleep('11 days');
        await eventually(() => expect(nurture(recorded.emails)).toHaveLength(4));
        expect(nurture(recorded.emails).map((e) => [e.template, daysAfter(e.at, startedAt)])).toEqual([
          ['welcome', 0],
          ['customer-stories', 2],
          ['product-tour', 5],
          ['pricing-guide', 10],
        ]);
        // Each email once across the rollovers: one call per send key, no repeat a new run made.
        expect(recorded.callCounts().sendNurtureEmail).toBe(4);
        expect(recorded.repeatedSendKeys()).toEqual([]);
        const state = await handle.query(leadStateQuery);
        expect(state).toMatchObject({ stage: 'nurturing', sequence: { id: 'onboarding', step: 7 } });
        expect(state.timeline.filter((t) => t.kind === 'continued').length).toBeGreaterThanOrEqual(2);
        expect((await handle.describe()).runId).not.toBe(firstRun);
      },
      { historyBudget: 16 },
    );
  });

  it('waits longer in the recycle sequence when sales said not_ready than no_budget', async () => {
    const recycleCheckinDays = async (reason: 'not_ready' | 'no_budget'): Promise<number> => {
      let days = NaN;
      await withLead(async ({ handle, recorded }) => {
        await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
        await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));
        await handle.executeUpdate(rejectUpdate, { args: [{ by: 'sam@sales', reason }] });
        const rejectedAt = await env.currentTimeMs();
        await env.sleep('61 days');
        await eventually(() => expect(nurture(recorded.emails).map((e) => e.template)).toContain('recycle-checkin'));
        days = daysAfter(nurture(recorded.emails).find((e) => e.template === 'recycle-checkin')!.at, rejectedAt);
      });
      return days;
    };
    expect(await recycleCheckinDays('not_ready')).toBeCloseTo(30, 1);
    expect(await recycleCheckinDays('no_budget')).toBeCloseTo(14, 1);
  });

  it('assigns an owner, reminds sales after the review SLA, tells the manager after the second and again every SLA period', async () => {
    await withLead(
      async ({ handle, recorded }) => {
        await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
        await eventually(async () => expect((await handle.query(leadStateQuery)).review?.owner).toBe('olga@example.com'));
        const inReview = await handle.query(leadStateQuery);
        const since = Date.parse(inReview.review!.since);
        expect(inReview).toMatchObject({ owner: 'olga@example.com', slaBreaches: 0, review: { reviewNo: 1, slaState: 'on_time' } });
        const firstDue = addDuration(since, '2 business days')!;
        expect(Date.parse(inReview.review!.slaDueAt!)).toBe(firstDue);
        expect(recorded.salesNotifications.map((n) => n.owner)).toEqual(['olga@example.com']);

        // Nothing before the deadline...
        await env.sleep(firstDue - (await env.currentTimeMs()) - 60_000);
        expect(recorded.reminders).toHaveLength(0);
        // ...a reminder at it...
        await env.sleep('2 minutes');
        await eventually(() => expect(recorded.reminders.map((r) => r.level)).toEqual([1]));
        expect(recorded.reminders[0]!.at).toBeGreaterThanOrEqual(firstDue);
        expect(recorded.reminders[0]).toMatchObject({ owner: 'olga@example.com', reviewNo: 1 });
        const reminded = await handle.query(leadStateQuery);
        expect(reminded).toMatchObject({ slaBreaches: 1, review: { slaState: 'reminded' } });
        const secondDue = addDuration(firstDue, '2 business days')!;
        expect(Date.parse(reminded.review!.slaDueAt!)).toBe(secondDue);

        // ...and the manager after the second expiry; then the manager again every SLA period
        // (the review never parks: docs/decisions.md, lead engine v2).
        await env.sleep(secondDue - (await env.currentTimeMs()) + 60_000);
        await eventually(() => expect(recorded.reminders.map((r) => r.level)).toEqual([1, 2]));
        const thirdDue = addDuration(secondDue, '2 business days')!;
        expect(Date.parse((await handle.query(leadStateQuery)).review!.slaDueAt!)).toBe(thirdDue);
        await env.sleep(thirdDue - (await env.currentTimeMs()) + 60_000);
        await eventually(() => expect(recorded.reminders.map((r) => [r.level, r.sendKey.split(':').at(-1)])).toEqual([[1, 'sla-1'], [2, 'sla-2'], [2, 'sla-2-r1']]));
        expect(recorded.reminders[2]!.at).toBeGreaterThanOrEqual(thirdDue);
        expect(recorded.callCounts()).toMatchObject({ remindSales: 3, notifySales: 1, assignOwner: 1 });
        const escalated = await handle.query(leadStateQuery);
        expect(escalated).toMatchObject({ stage: 'sales_review', slaBreaches: 1, review: { slaState: 'escalated', slaDueAt: new Date(addDuration(thirdDue, '2 business days')!).toISOString() } });
        expect(escalated.timeline.filter((t) => t.kind === 'sla')).toHaveLength(3);
        const breaches = recorded.records.flatMap((r) => r.slaBreaches ?? []);
        expect(breaches.map((b) => [b.reviewNo, b.level])).toEqual([
          [1, 1],
          [1, 2],
        ]);

        // A decision ends the review and its SLA; a rejected lead has no owner any more.
        await handle.executeUpdate(rejectUpdate, { args: [{ by: 'olga@example.com', reason: 'no_fit' }] });
        expect(await handle.query(leadStateQuery)).toMatchObject({ stage: 'nurturing', review: null, owner: null, slaBreaches: 1 });
        const remindersAtReject = recorded.reminders.length;
        await env.sleep('10 days');
        expect(recorded.reminders).toHaveLength(remindersAtReject);
      },
      { owners: ['olga@example.com'] },
    );
  });

  it('sends no SLA reminder when sales decides in time, and tells the story in the timeline', async () => {
    await withLead(async ({ handle, recorded }) => {
      await sendEvents(handle, ['product.compared', 'product.compared', 'pricing.viewed']);
      await eventually(async () => expect((await handle.query(leadStateQuery)).stage).toBe('sales_review'));
      await env.sleep('1 day');
      await handle.executeUpdate(acceptUpdate, { args: [{ by: 'sam@sales' }] });
      await handle.executeUpdate(outcomeUpdate, { args: [{ by: 'sam@sales', outcome: 'lost', reason: 'went quiet' }] });
      const final = await handle.result();
      expect(final).toMatchObject({ stage: 'accepted', owner: null, slaBreaches: 0 });
      expect(recorded.reminders).toHaveLength(0);
      // The closed workflow still answers the state query (by replay): its timeline, in order.
      const { timeline } = await handle.query(leadStateQuery);
      expect(timeline.map((t) => `${t.kind}: ${t.text}`)).toEqual([
        'enrolled: enrolled in onboarding@v1',
        'event: product.compared +20 → score 20',
        'event: product.compared +20 → score 40',
        'event: pricing.viewed +10 → score 50',
        'stage: nurturing → sales_review (threshold_reached)',
        'email: sent welcome (onboarding@v1 step 0)',
        'decision: accepted by sam@sales',
        'stage: sales_review → accepted (accepted)',
        'decision: lost (went quiet), reported by sam@sales',
      ]);
    });
  });
});
