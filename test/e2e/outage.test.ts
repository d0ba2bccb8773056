import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFailedWorkflowTasks } from '../../src/infra/temporal/invariants.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type Answer, type CallOptions, type TestStack } from '../helpers/http-stack.js';

/**
 * Ingestion never waits on Temporal: with the dev server's process stopped (SIGSTOP), events are
 * stored and answered 202 at once, what must wait answers 503 with Retry-After, and every answer
 * comes within 3 s; once it resumes, the relay delivers what was stored, each event scored once.
 * And dedupe is exact forever: an eventId repeated after 2,500 newer ones is not scored again.
 */
let t: TestStack;
let pid: number;

beforeAll(async () => {
  t = await startTestStack({ RATE_LIMIT_MAX: '0' });
  pid = t.stack.temporalPid!;
  expect(pid).toBeGreaterThan(0);
});

afterAll(async () => {
  if (pid) process.kill(pid, 'SIGCONT');
  await t?.stop();
});

/** A call and how long its answer took. */
async function timed(method: string, url: string, options: CallOptions = {}): Promise<Answer & { ms: number }> {
  const started = performance.now();
  const answer = await t.call(method, url, options);
  return { ...answer, ms: performance.now() - started };
}

describe('Temporal paused (SIGSTOP of the dev server)', () => {
  it('answers every request within 3 s: events 202 (scored once it resumes), decisions and lead creation 503 with Retry-After (not taking effect)', { timeout: 180_000 }, async () => {
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'paused', email: 'paused@example.com' } })).status).toBe(201);
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'review', email: 'review@example.com' } })).status).toBe(201);
    for (const [n, type] of ['product.compared', 'product.compared', 'pricing.viewed'].entries()) {
      expect((await t.call('POST', '/v1/leads/review/events', { role: 'ingest', body: { eventId: `r${n}`, type } })).status).toBe(202);
    }
    await eventually(async () => expect((await t.call('GET', '/v1/leads/review')).body.stage).toBe('sales_review'), { timeoutMs: 30_000 });

    process.kill(pid, 'SIGSTOP');
    const answers: Array<Answer & { ms: number; what: string }> = [];
    const note = async (what: string, call: Promise<Answer & { ms: number }>) => {
      const answer = { ...(await call), what };
      answers.push(answer);
      return answer;
    };
    try {
      const types = ['page.viewed', 'pricing.viewed', 'email.clicked', 'webinar.viewed', 'email.opened'];
      for (let i = 0; i < 20; i++) {
        const answer = await note(`event ${i}`, timed('POST', '/v1/leads/paused/events', { role: 'ingest', body: { eventId: `p${i}`, type: types[i % types.length] } }));
        expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      }
      // A repeat while paused is a duplicate, known from Postgres alone.
      expect((await note('repeat', timed('POST', '/v1/leads/paused/events', { role: 'ingest', body: { eventId: 'p0', type: 'page.viewed' } }))).body).toEqual({ eventId: 'p0', duplicate: true });
      const batch = await note('batch', timed('POST', '/v1/events', { role: 'ingest', body: { events: [0, 1, 2].map((i) => ({ leadId: 'paused', eventId: `b${i}`, type: 'form.submitted' })) } }));
      expect([batch.status, batch.body.accepted]).toEqual([202, 3]);

      const accept = await note('accept', timed('POST', '/v1/leads/review/accept', { role: 'sales', body: { by: 'sam' } }));
      expect([accept.status, accept.body.error]).toEqual([503, 'temporal_unavailable']);
      expect(accept.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(accept.body.message).toMatch(/did not take effect/);
      const reject = await note('reject', timed('POST', '/v1/leads/review/reject', { role: 'sales', body: { by: 'sam', reason: 'no_budget' } }));
      expect([reject.status, reject.headers.get('retry-after') !== null]).toEqual([503, true]);
      const create = await note('create', timed('POST', '/v1/leads', { role: 'ingest', body: { id: 'late-lead', email: 'late@example.com' } }));
      expect([create.status, create.body.error, create.headers.get('retry-after') !== null]).toEqual([503, 'temporal_unavailable', true]);
      // A client that never repeats its call: the lead is stored, and the relay starts it once Temporal is back.
      const abandoned = await note('create', timed('POST', '/v1/leads', { role: 'ingest', body: { id: 'abandoned-lead', email: 'abandoned@example.com' } }));
      expect([abandoned.status, abandoned.body.error]).toEqual([503, 'temporal_unavailable']);
      // Reads answer from the read model; health says Temporal is unavailable.
      expect((await note('read', timed('GET', '/v1/leads/paused'))).status).toBe(200);
      expect((await note('health', timed('GET', '/healthz', { role: null }))).status).toBe(503);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const slowest = answers.reduce((a, b) => (b.ms > a.ms ? b : a));
    console.log(`Temporal paused: ${answers.length} answers, slowest ${slowest.what} in ${Math.round(slowest.ms)} ms; events ${answers.filter((a) => a.what.startsWith('event')).map((a) => Math.round(a.ms)).join(', ')} ms`);
    expect(slowest.ms, slowest.what).toBeLessThan(3000);

    // Resumed: the relay delivers the stored events; each counts once (20 singles and 3 in the batch).
    const points: Record<string, number> = { 'page.viewed': 1, 'pricing.viewed': 10, 'email.clicked': 3, 'webinar.viewed': 5, 'email.opened': 1 };
    const expected = Array.from({ length: 20 }, (_, i) => points[['page.viewed', 'pricing.viewed', 'email.clicked', 'webinar.viewed', 'email.opened'][i % 5]!]!).reduce((a, b) => a + b, 0) + 30;
    await eventually(
      async () => {
        const lead = (await t.call('GET', '/v1/leads/paused')).body;
        expect(lead.scoreBreakdown.length).toBe(23);
        expect(lead.score).toBe(expected);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The relay marks an event delivered once its signal returned, a moment after the workflow may have scored it.
    await eventually(async () => expect((await t.stack.pool.query(`SELECT count(*)::int AS n FROM lead_events WHERE delivered_at IS NULL`)).rows[0].n).toBe(0), { timeoutMs: 30_000 });
    // The decisions answered 503 did not take effect, and the retry of the creation works.
    const review = (await t.call('GET', '/v1/leads/review')).body;
    expect([review.stage, review.reviewCount]).toEqual(['sales_review', 1]);
    expect((await t.stack.pool.query(`SELECT count(*)::int AS n FROM sales_decisions WHERE lead_id = 'review'`)).rows[0].n).toBe(0);
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'late-lead', email: 'late@example.com' } })).status).toBe(200);
    await eventually(async () => expect((await t.call('GET', '/v1/leads/late-lead')).body.timeline.length).toBeGreaterThan(0), { timeoutMs: 30_000 });
    // Never repeated, not lost: the worker's relay started its workflow, and its welcome email went.
    await eventually(async () => expect((await t.mailbox('abandoned@example.com')).length).toBe(1), { timeoutMs: 60_000 });
    expect((await t.stack.pool.query(`SELECT workflow_started_at IS NOT NULL AS started FROM leads WHERE id = 'abandoned-lead'`)).rows[0].started).toBe(true);
    expect((await t.call('POST', '/v1/leads/review/accept', { role: 'sales', body: { by: 'sam' } })).status).toBe(200);
    expect(await findFailedWorkflowTasks(t.stack.client)).toEqual([]);
  });
});

describe('dedupe', () => {
  it('does not score an eventId sent again after 2,500 newer events (Postgres saw it first; the workflow remembers 2,000)', { timeout: 480_000 }, async () => {
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'dedupe', email: 'dedupe@example.com' } })).status).toBe(201);
    expect((await t.call('POST', '/v1/leads/dedupe/events', { role: 'ingest', body: { eventId: 'first', type: 'page.viewed' } })).body).toEqual({ eventId: 'first', duplicate: false });
    const started = Date.now();
    for (let batch = 0; batch < 5; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => ({ leadId: 'dedupe', eventId: `n-${batch * 500 + i}`, type: 'page.viewed' }));
      const answer = await t.call('POST', '/v1/events', { role: 'ingest', body: { events } });
      expect([answer.status, answer.body.accepted]).toEqual([202, 500]);
    }
    const ingested = Date.now();
    // The read model (Postgres), not the live query: the workflow is busy with 2,500 signals.
    const readScore = async () => (await t.stack.pool.query(`SELECT score FROM leads WHERE id = 'dedupe'`)).rows[0].score as number;
    // One lead takes its events at a few dozen a second (a read-model write per workflow task): minutes under load.
    await eventually(async () => expect(await readScore()).toBe(2501), { timeoutMs: 300_000, intervalMs: 1000 });
    console.log(`dedupe: 2,500 events ingested in ${Date.now() - started} ms, scored ${Date.now() - ingested} ms later`);
    expect((await t.call('POST', '/v1/leads/dedupe/events', { role: 'ingest', body: { eventId: 'first', type: 'page.viewed' } })).body).toEqual({ eventId: 'first', duplicate: true });
    // One new event after the repeat: once it is scored, the repeat would have been too.
    expect((await t.call('POST', '/v1/leads/dedupe/events', { role: 'ingest', body: { eventId: 'last', type: 'page.viewed' } })).status).toBe(202);
    await eventually(async () => expect((await t.call('GET', '/v1/leads/dedupe')).body.scoreBreakdown.at(-1)?.eventId).toBe('last'), { timeoutMs: 60_000, intervalMs: 500 });
    expect((await t.call('GET', '/v1/leads/dedupe')).body.score).toBe(2502);
  });
});
