import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * Campaigns over HTTP on the whole stack: the dry run, the start (idempotent on the same body,
 * 409 on another), the progress until it completes with its skips counted, the campaign's email
 * in the mailbox, cancel, roles and bad segments.
 */
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
  for (const [id, industry] of [['cmp-a', 'fintech'], ['cmp-b', 'fintech'], ['cmp-c', 'fintech'], ['cmp-d', 'retail']] as const) {
    const created = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, firstName: 'Ada', company: 'Engines', timezone: noonZone(), attributes: { industry } } });
    expect(created.status).toBe(201);
  }
  expect((await t.call('POST', '/v1/leads/cmp-c/unsubscribe', { role: 'ingest' })).status).toBe(200);
  // The read model shows each lead (written by its workflow) and c's unsubscribe.
  await eventually(async () => expect((await t.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE sequence_id IS NOT NULL`)).rows[0].n).toBe(4));
  await eventually(async () => expect((await t.stack.pool.query(`SELECT unsubscribed FROM leads WHERE id = 'cmp-c'`)).rows[0].unsubscribed).toBe(true));
});
afterAll(async () => {
  await t?.stop();
});

const fintech = { attributes: { industry: 'fintech' } };
const body = { id: 'dec-webinar', sequence: 'webinar-invite', segment: fintech, ratePerSecond: 50 };

describe('campaigns over HTTP', () => {
  it('dry run: the count and a sample at once, nothing started', async () => {
    const dry = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { segment: fintech, dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({ matched: 3, sample: ['cmp-a', 'cmp-b', 'cmp-c'] });
    expect((await t.stack.pool.query('SELECT count(*)::int AS n FROM campaigns')).rows[0].n).toBe(0);
  });

  it('refuses a misspelt filter, a campaign without id or sequence, an unknown sequence, and the wrong role', async () => {
    const misspelt = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { segment: { stage: ['nurturing'] }, dryRun: true } });
    expect([misspelt.status, misspelt.body.error]).toEqual([400, 'validation_failed']);
    const bare = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { segment: fintech } });
    expect(bare.status).toBe(400);
    expect(bare.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['body.id', 'body.sequence']);
    const unknown = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { ...body, id: 'x', sequence: 'constructor' } });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'unknown_sequence']);
    const sales = await t.call('POST', '/v1/campaigns', { role: 'sales', body });
    expect(sales.status).toBe(403);
    expect((await t.call('GET', '/v1/campaigns/nope', { role: 'sales' })).status).toBe(404);
  });

  it('runs: enrols the segment, counts the unsubscribed lead as skipped, sends the campaign email; same body again is the same campaign, another is 409', async () => {
    const started = await t.call('POST', '/v1/campaigns', { role: 'marketing', body });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ id: 'dec-webinar', status: 'running', matched: 3 });
    const again = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { ...body, segment: { attributes: { industry: 'fintech' } } } });
    expect(again.status).toBe(202);
    const other = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { ...body, ratePerSecond: 5 } });
    expect([other.status, other.body.error]).toEqual([409, 'campaign_exists']);

    const done = await eventually(async () => {
      const got = await t.call('GET', '/v1/campaigns/dec-webinar', { role: 'sales' });
      expect(got.body.status).toBe('completed');
      return got.body;
    }, { timeoutMs: 60_000 });
    expect(done).toMatchObject({
      id: 'dec-webinar',
      workflowId: 'campaign-dec-webinar',
      sequence: 'webinar-invite',
      sequenceVersion: 1,
      matched: 3,
      enrolled: 2,
      skipped: { unsubscribed: 1, in_review: 0, closed: 0, in_sequence: 0 },
      failed: 0,
    });
    expect(done.finishedAt).not.toBeNull();
    for (const id of ['cmp-a', 'cmp-b']) {
      await eventually(async () => expect((await t.mailbox(`${id}@example.com`)).map((m) => m.subject)).toContain('Ada, a live walkthrough for Engines'));
      expect((await t.call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body.sequence).toMatchObject({ id: 'webinar-invite', step: 1 });
    }
    expect((await t.mailbox('cmp-c@example.com')).map((m) => m.subject)).not.toContain('Ada, a live walkthrough for Engines');
    expect((await t.mailbox('cmp-d@example.com')).map((m) => m.subject)).not.toContain('Ada, a live walkthrough for Engines');

    // The list shows it; a cancel of a finished campaign changes nothing.
    expect((await t.call('GET', '/v1/campaigns', { role: 'marketing' })).body.campaigns.map((c: { id: string }) => c.id)).toContain('dec-webinar');
    const cancelled = await t.call('POST', '/v1/campaigns/dec-webinar/cancel', { role: 'marketing' });
    expect([cancelled.status, cancelled.body.status, cancelled.body.enrolled]).toEqual([200, 'completed', 2]);
    // Its workflow shows a summary and its progress in the Temporal UI.
    const handle = t.stack.client.workflow.getHandle('campaign-dec-webinar');
    expect(await (await handle.describe()).staticSummary()).toBe('Campaign dec-webinar: industry = "fintech" → webinar-invite@v1 at 50/s (3 matched)');
    const { currentDetails } = await handle.query(workflowMetadataQuery);
    expect(currentDetails).toBe('**completed** `▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓` 100%\n\n3 of 3 matched leads asked: enrolled 2, skipped unsubscribed 1, failed 0');
  });

  it('cancel: a slow campaign stops after its page in flight; the leads it enrolled stay enrolled', async () => {
    for (let i = 0; i < 30; i++) {
      expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: `slow-${String(i).padStart(2, '0')}`, email: `slow-${i}@example.com`, attributes: { batch: 'slow' } } })).status).toBe(201);
    }
    await eventually(async () => expect((await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { segment: { attributes: { batch: 'slow' } }, dryRun: true } })).body.matched).toBe(30));
    const started = await t.call('POST', '/v1/campaigns', { role: 'marketing', body: { id: 'slow', sequence: 'recycle', segment: { attributes: { batch: 'slow' } }, ratePerSecond: 2 } });
    expect(started.status).toBe(202);
    await eventually(async () => expect((await t.call('GET', '/v1/campaigns/slow', { role: 'marketing' })).body.enrolled).toBeGreaterThan(0), { timeoutMs: 30_000 });
    const cancelled = await t.call('POST', '/v1/campaigns/slow/cancel', { role: 'marketing' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.enrolled).toBeLessThan(30);
    const enrolled = (await t.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE id LIKE 'slow-%' AND sequence_id = 'recycle'`)).rows[0].n;
    await eventually(async () => expect((await t.stack.pool.query(`SELECT count(*)::int AS n FROM leads WHERE id LIKE 'slow-%' AND sequence_id = 'recycle'`)).rows[0].n).toBe(cancelled.body.enrolled));
    expect(enrolled).toBeLessThanOrEqual(cancelled.body.enrolled);
    expect((await t.call('GET', '/v1/campaigns/slow', { role: 'sales' })).body).toMatchObject({ status: 'cancelled', enrolled: cancelled.body.enrolled });
  });
});
