import { installTestRuntime } from '../helpers/runtime.js';
import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createCampaignActivities } from '../../activities/campaign.js';
import type { CampaignPage } from '../../src/domain/campaign.js';
import { programSnapshot } from '../../src/sequences/catalog.js';
import { SequenceSchema, type ProgramSnapshot, type Sequence } from '../../src/sequences/model.js';
import { bundleWorkflows } from '../../src/worker.js';
import { campaignWorkflow } from '../../workflows/campaign.js';
import { leadWorkflow } from '../../workflows/lead.js';
import {
  campaignProgressQuery,
  cancelCampaignUpdate,
  disqualifyUpdate,
  engagementSignal,
  leadStateQuery,
  startingCampaignProgress,
  unsubscribeSignal,
  type CampaignWorkflowInput,
} from '../../workflows/messages.js';
import type { Segment } from '../../src/domain/segment.js';
import { eventually } from '../helpers/eventually.js';
import { recordingActivities } from '../helpers/fake-activities.js';
import { useDevServer } from '../helpers/dev-server.js';

/**
 * Campaigns on the real dev server and a real PostgreSQL: 500 leads, the worker stopped mid-way
 * and another one started (each lead enrolled once, none missed), cancel, and the skip reasons
 * counted. The leads are started directly (no API) and park in a 30-day wait; the campaign's
 * sequence is a wait too, so the test measures enrolment, not email.
 */
// The SDK's runtime first: the suite's native connection is made in the next hook.
beforeAll(() => installTestRuntime());
const suite = useDevServer('campaign', { postgres: true });
let workflowBundle: WorkflowBundleWithSourceMap;

const parked = (id: string): Sequence => SequenceSchema.parse({ id, version: 1, description: 'test', steps: [{ kind: 'wait', duration: '30 days' }] });
const program: ProgramSnapshot = { ...programSnapshot('onboarding'), enrolSequence: parked('parked') };

beforeAll(async () => {
  workflowBundle = await bundleWorkflows();
});

/** A worker for the lead and campaign workflows: recording lead activities, real campaign ones. */
const startWorker = async (taskQueue: string) => {
  const recorded = recordingActivities();
  const worker = await Worker.create({
    connection: suite.nativeConnection,
    taskQueue,
    workflowBundle,
    shutdownGraceTime: '1 second',
    activities: { ...recorded.activities, ...createCampaignActivities({ pool: suite.pg.pool, client: suite.client }) },
  });
  return { worker, running: worker.run(), recorded };
};

/** Rows in the read model and running lead workflows, `count` of them, ids `<prefix>-0000`... */
async function startLeads(taskQueue: string, prefix: string, count: number, options: { sequence?: Sequence } = {}): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
  await suite.pg.pool.query(`INSERT INTO leads (id, email, enrol_sequence) SELECT id, id || '@example.com', 'parked' FROM unnest($1::text[]) id`, [ids]);
  const leadProgram = options.sequence ? { ...program, enrolSequence: options.sequence } : program;
  const starting = [...ids];
  const lane = async () => {
    for (let id = starting.shift(); id; id = starting.shift()) {
      await suite.client.workflow.start(leadWorkflow, { taskQueue, workflowId: `lead-${id}`, args: [{ lead: { id, email: `${id}@example.com` }, program: leadProgram }] });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return ids;
}

async function startCampaign(taskQueue: string, id: string, segment: Segment, options: Partial<Pick<CampaignWorkflowInput, 'pageSize' | 'pagesPerRun'>> & { ratePerSecond: number }): Promise<WorkflowHandle<typeof campaignWorkflow>> {
  const { ratePerSecond, ...paging } = options;
  const { rows } = await suite.pg.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE id = ANY($1) OR $1 IS NULL', [segment.leadIds ?? null]);
  const matched = rows[0]!.n;
  await suite.pg.pool.query(`INSERT INTO campaigns (id, request, sequence_id, sequence_version, segment, rate_per_second, matched) VALUES ($1, '{}', $2, 1, $3, $4, $5)`, [id, `seq-${id}`, JSON.stringify(segment), ratePerSecond, matched]);
  const progress = startingCampaignProgress(matched, new Date().toISOString());
  return suite.client.workflow.start(campaignWorkflow, {
    taskQueue,
    workflowId: `campaign-${id}`,
    args: [{ campaign: { id, snapshot: { sequence: parked(`seq-${id}`) }, segment, ratePerSecond }, progress, ...paging }],
  });
}

/** How often each lead's timeline says campaign `id` enrolled it. */
async function enrolmentsBy(campaignId: string, ids: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const queue = [...ids];
  const lane = async () => {
    for (let id = queue.shift(); id; id = queue.shift()) {
      const state = await suite.client.workflow.getHandle(`lead-${id}`).query(leadStateQuery);
      counts.set(id, state.timeline.filter((t) => t.text.startsWith(`campaign ${campaignId}:`)).length);
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return counts;
}

const campaignRow = async (id: string) => (await suite.pg.pool.query('SELECT status, enrolled, skipped, failed, pages FROM campaigns WHERE id = $1', [id])).rows[0];

describe('campaign workflow', () => {
  it('over 500 leads, with the worker stopped mid-way: resumes on another worker, each lead enrolled once, none missed', { timeout: 300_000 }, async () => {
    const taskQueue = `campaign-${randomUUID()}`;
    const t0 = Date.now();
    let first = await startWorker(taskQueue);
    const ids = await startLeads(taskQueue, 'k', 500);
    const t1 = Date.now();
    // 50 leads a page, a new run every 3 pages: the stop falls in a later run, mid-page.
    const handle = await startCampaign(taskQueue, 'kill', { leadIds: ids }, { ratePerSecond: 400, pageSize: 50, pagesPerRun: 3 });
    await eventually(async () => expect((await campaignRow('kill')).pages).toBeGreaterThanOrEqual(4), { timeoutMs: 120_000, intervalMs: 50 });
    first.worker.shutdown();
    await first.running;
    const stoppedAt = await campaignRow('kill');
    expect(stoppedAt.status).toBe('running');
    expect(stoppedAt.enrolled).toBeLessThan(500);

    const t2 = Date.now();
    const second = await startWorker(taskQueue);
    const result = await handle.result();
    const t3 = Date.now();
    expect(result).toMatchObject({ status: 'completed', matched: 500, enrolled: 500, failed: 0 });
    expect(Object.values(result.skipped).reduce((a, b) => a + b, 0)).toBe(0);
    expect(await campaignRow('kill')).toMatchObject({ status: 'completed', enrolled: 500, failed: 0 });
    // It continued as new along the way (3 pages a run, 11 pages in all).
    const runs = await suite.client.workflow.list({ query: `WorkflowId = 'campaign-kill'` });
    let runCount = 0;
    for await (const _run of runs) runCount++;
    expect(runCount).toBeGreaterThanOrEqual(4);

    const counts = await enrolmentsBy('kill', ids);
    const s = (ms: number) => (ms / 1000).toFixed(1);
    console.log(`campaign over 500 leads: leads started in ${s(t1 - t0)} s; ${stoppedAt.enrolled} enrolled in ${s(t2 - t1)} s before the stop, the rest in ${s(t3 - t2)} s after; ${s(Date.now() - t3)} s to query every lead`);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(counts.size).toBe(500);
    second.worker.shutdown();
    await second.running;
    first = second;
  });

  it('cancel: stops after the page in flight, answers where it stopped; the leads it enrolled stay enrolled, no other is', { timeout: 180_000 }, async () => {
    const taskQueue = `campaign-${randomUUID()}`;
    const { worker, running } = await startWorker(taskQueue);
    try {
      const ids = await startLeads(taskQueue, 'c', 120);
      const handle = await startCampaign(taskQueue, 'cancel', { leadIds: ids }, { ratePerSecond: 20, pageSize: 10 });
      await eventually(async () => expect((await handle.query(campaignProgressQuery)).enrolled).toBeGreaterThanOrEqual(10), { timeoutMs: 60_000, intervalMs: 50 });
      const answer = await handle.executeUpdate(cancelCampaignUpdate);
      expect(answer.status).toBe('cancelled');
      expect(answer.enrolled).toBeGreaterThanOrEqual(10);
      expect(answer.enrolled).toBeLessThan(120);
      expect(await handle.result()).toEqual(answer);
      expect(await campaignRow('cancel')).toMatchObject({ status: 'cancelled', enrolled: answer.enrolled });
      const counts = await enrolmentsBy('cancel', ids);
      expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(answer.enrolled);
      // Still enrolled afterwards: the leads run the campaign's sequence.
      const enrolled = ids.filter((id) => counts.get(id) === 1);
      const state = await suite.client.workflow.getHandle(`lead-${enrolled[0]}`).query(leadStateQuery);
      expect(state.sequence.id).toBe('seq-cancel');
    } finally {
      worker.shutdown();
      await running;
    }
  });

  it('counts every skip reason: in review, closed, unsubscribed, already in that sequence', { timeout: 180_000 }, async () => {
    const taskQueue = `campaign-${randomUUID()}`;
    const { worker, running } = await startWorker(taskQueue);
    try {
      const plain = await startLeads(taskQueue, 's-plain', 3);
      const [unsubscribed, review, closed] = [await startLeads(taskQueue, 's-unsub', 2), await startLeads(taskQueue, 's-review', 2), await startLeads(taskQueue, 's-closed', 1)];
      const inSequence = await startLeads(taskQueue, 's-same', 2, { sequence: parked('seq-skips') });
      for (const id of unsubscribed) await suite.client.workflow.getHandle(`lead-${id}`).signal(unsubscribeSignal);
      for (const id of review) {
        for (const [i, type] of ['product.compared', 'product.compared', 'pricing.viewed'].entries()) {
          await suite.client.workflow.getHandle(`lead-${id}`).signal(engagementSignal, { eventId: `${id}-${i}`, type, occurredAt: new Date().toISOString() });
        }
      }
      for (const id of closed) await suite.client.workflow.getHandle<typeof leadWorkflow>(`lead-${id}`).executeUpdate(disqualifyUpdate, { args: [{ by: 'admin', reason: 'spam' }] });
      for (const id of review) await eventually(async () => expect((await suite.client.workflow.getHandle(`lead-${id}`).query(leadStateQuery)).stage).toBe('sales_review'));
      for (const id of unsubscribed) await eventually(async () => expect((await suite.client.workflow.getHandle(`lead-${id}`).query(leadStateQuery)).unsubscribed).toBe(true));
      await eventually(async () => expect((await suite.client.workflow.getHandle(`lead-${closed[0]}`).describe()).status.name).toBe('COMPLETED'));

      const all = [...plain, ...unsubscribed, ...review, ...closed, ...inSequence];
      const handle = await startCampaign(taskQueue, 'skips', { leadIds: all }, { ratePerSecond: 100 });
      const result = await handle.result();
      expect(result).toMatchObject({ status: 'completed', matched: 10, enrolled: 3, failed: 0, skipped: { unsubscribed: 2, in_review: 2, closed: 1, in_sequence: 2 } });
      expect(await campaignRow('skips')).toMatchObject({ enrolled: 3, skipped: { unsubscribed: 2, in_review: 2, closed: 1, in_sequence: 2 } });
      // A skip leaves no trace in the lead's history: the validator refused it.
      const history = await suite.client.workflow.getHandle(`lead-${review[0]}`).fetchHistory();
      expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    } finally {
      worker.shutdown();
      await running;
    }
  });

  it('a page whose leads cannot answer ends when cancelled: a draining worker is not held by an ask in flight', { timeout: 60_000 }, async () => {
    // No worker polls this queue, as for a worker that drains: an ask waits on a lead task nobody runs.
    const ids = await startLeads(`nobody-${randomUUID()}`, 'h', 2);
    const env = new MockActivityEnvironment();
    const { enrolCampaignPage } = createCampaignActivities({ pool: suite.pg.pool, client: suite.client });
    const progress = startingCampaignProgress(2, new Date().toISOString());
    const page = env.run(enrolCampaignPage, { campaign: { id: 'hang', snapshot: { sequence: parked('seq-hang') }, segment: { leadIds: ids }, ratePerSecond: 100 }, after: null, limit: 50, progress });
    const settled = page.then(() => 'completed', () => 'rejected');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 100, 'asking'))])).toBe('asking');
    env.cancel();
    expect(await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 10_000, 'still asking'))])).toBe('rejected');
  });

  it('a page leaves no abort listener behind on its activity signal, one per lead asked before', { timeout: 60_000 }, async () => {
    const taskQueue = `listeners-${randomUUID()}`;
    const { worker, running } = await startWorker(taskQueue);
    try {
      const ids = await startLeads(taskQueue, 'l', 30);
      const env = new MockActivityEnvironment();
      const { enrolCampaignPage } = createCampaignActivities({ pool: suite.pg.pool, client: suite.client });
      const before = getEventListeners(env.context.cancellationSignal, 'abort').length;
      const page: CampaignPage = await env.run(enrolCampaignPage, { campaign: { id: 'listeners', snapshot: { sequence: parked('seq-listeners') }, segment: { leadIds: ids }, ratePerSecond: 1_000 }, after: null, limit: 50, progress: startingCampaignProgress(30, new Date().toISOString()) });
      expect(page.enrolled).toBe(30);
      expect(getEventListeners(env.context.cancellationSignal, 'abort').length).toBe(before);
    } finally {
      worker.shutdown();
      await running;
    }
  });
});
