import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/stack.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';

/**
 * The sales hand-off over HTTP on the whole stack: the review queue (order and contents, owners
 * assigned round-robin), two salespeople deciding the same lead at once, and the funnel against
 * a scripted population whose figures the test works out on its own.
 */
let t: TestStack;
const OWNERS = ['olga@example.com', 'piet@example.com'];
/** Every JSON log line of the API and the worker. */
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const logger = createLogger('info', { write: (line: string) => void logLines.push(JSON.parse(line)) });
  t = await startTestStack({ SALES_OWNERS: OWNERS.join(','), SALES_MANAGER_INBOX: 'boss@example.com' }, { logger });
});

afterAll(async () => {
  await t?.stop();
});

let eventNo = 0;
async function post(leadId: string, type: string, properties?: Record<string, unknown>) {
  const response = await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `h-${++eventNo}`, type, ...(properties ? { properties } : {}) } });
  expect(response.status).toBe(202);
}

async function enrol(id: string, sequence = 'onboarding', extra: Record<string, unknown> = {}) {
  const created = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com`, sequence, ...extra } });
  expect(created.status).toBe(201);
}

/** 20 + 20 + 10 points: exactly the threshold; waits until the lead is in review. */
async function escalate(id: string) {
  for (const type of ['product.compared', 'product.compared', 'pricing.viewed']) await post(id, type);
  await eventually(async () => expect((await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body.stage).toBe('sales_review'));
}

const queue = async () => (await t.call('GET', '/v1/leads?stage=sales_review', { role: 'sales' })).body.leads as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('sales hand-off over HTTP', () => {
  it('orders the review queue by time waiting and shows profile, score breakdown, emails, owner and SLA', async () => {
    await enrol('q-first', 'onboarding', { firstName: 'Flo', company: 'First Co', timezone: 'Europe/Paris' });
    await enrol('q-second', 'onboarding', { firstName: 'Sid' });
    // The welcome email goes at once; an open of it is reported as an event tied to it.
    await eventually(async () => expect(await t.mailbox('q-first@example.com')).toHaveLength(1));
    await post('q-first', 'email.opened', { template: 'welcome' });
    await escalate('q-first');
    await escalate('q-second');

    // The queue reads the Postgres read model, which the workflows' activities keep current.
    const leads = await eventually(async () => {
      const inQueue = (await queue()).filter((l) => l.id.startsWith('q-'));
      expect(inQueue.map((l) => l.id)).toEqual(['q-first', 'q-second']);
      expect(inQueue.every((l) => l.owner !== null)).toBe(true);
      return inQueue;
    });
    const [first, second] = leads;
    expect(first).toMatchObject({
      firstName: 'Flo',
      company: 'First Co',
      timezone: 'Europe/Paris',
      stage: 'sales_review',
      score: 51,
      reviewCount: 1,
      review: { slaState: 'on_time' },
    });
    expect(first!.waitingSeconds).toBeGreaterThanOrEqual(second!.waitingSeconds);
    expect(first!.scoreBreakdown.map((s: { type: string; points: number }) => [s.type, s.points])).toEqual([
      ['email.opened', 1],
      ['product.compared', 20],
      ['product.compared', 20],
      ['pricing.viewed', 10],
    ]);
    expect(first!.scoreBreakdown.every((s: { occurredAt: string }) => !Number.isNaN(Date.parse(s.occurredAt)))).toBe(true);
    expect(first!.emails).toEqual([
      expect.objectContaining({ template: 'welcome', status: 'sent', engagement: [expect.objectContaining({ type: 'email.opened' })] }),
    ]);
    // Two reviews, two owners: round-robin over SALES_OWNERS, and the notification goes to the owner.
    expect(new Set([first!.owner, second!.owner])).toEqual(new Set(OWNERS));
    expect(Date.parse(first!.review.slaDueAt)).toBeGreaterThan(Date.parse(first!.review.since));
    await eventually(async () => {
      const toOwner = await t.mailbox(first!.owner);
      expect(toOwner.map((m) => m.subject)).toEqual([expect.stringMatching(/^Lead ready for review: Flo/)]);
    });

    // The lead's own page says the same, plus its timeline from the workflow.
    const detail = (await t.call('GET', '/v1/leads/q-first', { role: 'sales' })).body;
    expect(detail.emails).toEqual(first!.emails);
    expect(detail).toMatchObject({ owner: first!.owner, review: { reviewNo: 1, slaState: 'on_time', owner: first!.owner } });
    expect(detail.timeline.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['enrolled', 'event', 'email', 'stage']));

    // The logs follow the lead by id and workflow id, from the API request to the worker's send.
    const aboutLead = logLines.filter((l) => l.leadId === 'q-first');
    expect(aboutLead.every((l) => l.workflowId === 'lead-q-first')).toBe(true);
    expect(aboutLead).toContainEqual(expect.objectContaining({ msg: 'request completed', res: expect.objectContaining({ statusCode: 200 }) }));
    expect(aboutLead).toContainEqual(expect.objectContaining({ msg: 'email sent', template: 'welcome', activity: 'sendNurtureEmail', kind: 'marketing' }));
    expect(aboutLead).toContainEqual(expect.objectContaining({ msg: 'email sent', template: 'sales-notification', activity: 'notifySales', kind: 'sales' }));
  });

  it('lets exactly one of two salespeople deciding the same lead at once win', async () => {
    await enrol('race-1');
    await escalate('race-1');
    const [a, b] = await Promise.all([
      t.call('POST', '/v1/leads/race-1/accept', { role: 'sales', body: { by: 'olga@example.com' } }),
      t.call('POST', '/v1/leads/race-1/reject', { role: 'sales', body: { by: 'piet@example.com', reason: 'no_budget' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.body.error).toBe('not_in_review');
    // The loser hears who won, what they decided and when (the console shows it).
    const won = a.status === 200 ? { decision: 'accepted', by: 'olga@example.com', reason: null } : { decision: 'rejected', by: 'piet@example.com', reason: 'no_budget' };
    expect(loser.body.details).toEqual({ stage: won.decision === 'accepted' ? 'accepted' : 'nurturing', decision: { reviewNo: 1, ...won, at: expect.any(String) } });
    expect(loser.body.message).toContain(`is no longer in sales review: ${won.by} ${won.decision}`);
    const final = (await t.call('GET', '/v1/leads/race-1', { role: 'sales' })).body;
    expect(final.stage).toBe(a.status === 200 ? 'accepted' : 'nurturing');
    await eventually(async () => expect((await queue()).map((l) => l.id)).not.toContain('race-1'));
  });

  it('reports the funnel of a scripted population, overall, by sequence and by week', async () => {
    // What each lead goes through: escalations come before each decision, `review` leaves it waiting.
    type Step = 'accept' | `reject:${string}` | 'review' | 'unsubscribe';
    const plans: Array<{ id: string; sequence: string; steps: Step[] }> = [
      { id: 'f-1', sequence: 'onboarding', steps: ['reject:no_budget', 'accept'] },
      { id: 'f-2', sequence: 'onboarding', steps: ['reject:not_ready'] },
      { id: 'f-3', sequence: 'onboarding', steps: ['accept'] },
      { id: 'f-4', sequence: 'onboarding', steps: [] },
      { id: 'f-5', sequence: 'recycle', steps: ['reject:not_ready', 'review'] },
      { id: 'f-6', sequence: 'recycle', steps: ['reject:no_fit', 'reject:other'] },
      { id: 'f-7', sequence: 'recycle', steps: ['unsubscribe'] },
      { id: 'f-8', sequence: 'onboarding', steps: ['review'] },
    ];
    // The database stamps enrolment on the same clock: the period starts with this population.
    const since = new Date().toISOString();
    for (const plan of plans) {
      await enrol(plan.id, plan.sequence);
      for (const step of plan.steps) {
        if (step === 'unsubscribe') {
          expect((await t.call('POST', `/v1/leads/${plan.id}/unsubscribe`, { role: 'ingest' })).status).toBe(200);
          continue;
        }
        await escalate(plan.id);
        if (step === 'accept') expect((await t.call('POST', `/v1/leads/${plan.id}/accept`, { role: 'sales', body: { by: 'olga@example.com' } })).status).toBe(200);
        if (step.startsWith('reject:')) {
          const reason = step.slice('reject:'.length);
          expect((await t.call('POST', `/v1/leads/${plan.id}/reject`, { role: 'sales', body: { by: 'piet@example.com', reason } })).status).toBe(200);
        }
      }
    }

    // The expected figures, worked out from the plans alone.
    const expected = (subset: typeof plans) => {
      const escalationsOf = (p: (typeof plans)[number]) => p.steps.filter((s) => s !== 'unsubscribe').length;
      const rejections = subset.flatMap((p) => p.steps.filter((s) => s.startsWith('reject:')).map((s) => s.slice(7)));
      const accepted = subset.filter((p) => p.steps.includes('accept')).length;
      const stageOf = (p: (typeof plans)[number]) => (p.steps.at(-1) === 'accept' ? 'accepted' : p.steps.at(-1) === 'review' ? 'sales_review' : 'nurturing');
      return {
        enrolled: subset.length,
        byStage: {
          nurturing: subset.filter((p) => stageOf(p) === 'nurturing').length,
          sales_review: subset.filter((p) => stageOf(p) === 'sales_review').length,
          accepted: subset.filter((p) => stageOf(p) === 'accepted').length,
          disqualified: 0,
        },
        escalated: subset.filter((p) => escalationsOf(p) > 0).length,
        escalations: subset.reduce((n, p) => n + escalationsOf(p), 0),
        accepted,
        rejected: rejections.length,
        rejectedByReason: rejections.reduce<Record<string, number>>((m, r) => ({ ...m, [r]: (m[r] ?? 0) + 1 }), {}),
        disqualified: 0,
        recycled: subset.filter((p) => p.steps.some((s) => s.startsWith('reject:'))).length,
        reEscalated: subset.filter((p) => escalationsOf(p) > 1).length,
        unsubscribed: subset.filter((p) => p.steps.includes('unsubscribe')).length,
        acceptanceRate: accepted + rejections.length ? accepted / (accepted + rejections.length) : null,
        slaBreaches: 0,
      };
    };

    const funnel = await eventually(async () => {
      const answer = await t.call('GET', `/v1/funnel?from=${encodeURIComponent(since)}`, { role: 'marketing' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject(expected(plans));
      return answer.body;
    });
    expect(funnel.filter).toEqual({ sequence: null, from: since, to: null });
    // One decision per review that was decided; times are there and ordered.
    const decided = plans.flatMap((p) => p.steps.filter((s) => s === 'accept' || s.startsWith('reject:'))).length;
    expect(funnel.timeToDecision.count).toBe(decided);
    expect(funnel.timeToDecision.medianSeconds).toBeGreaterThanOrEqual(0);
    expect(funnel.timeToDecision.p90Seconds).toBeGreaterThanOrEqual(funnel.timeToDecision.medianSeconds);
    expect(funnel.timeToEscalation.count).toBe(expected(plans).escalated);
    expect(funnel.timeToEscalation.p90Seconds).toBeGreaterThanOrEqual(funnel.timeToEscalation.medianSeconds);

    for (const sequence of ['onboarding', 'recycle']) {
      const slice = funnel.bySequence.find((s: { sequence: string }) => s.sequence === sequence);
      expect(slice).toMatchObject({ sequence, ...expected(plans.filter((p) => p.sequence === sequence)) });
      const filtered = (await t.call('GET', `/v1/funnel?from=${encodeURIComponent(since)}&sequence=${sequence}`, { role: 'sales' })).body;
      expect(filtered).toMatchObject(expected(plans.filter((p) => p.sequence === sequence)));
    }
    // Everyone enrolled this week.
    expect(funnel.byWeek).toHaveLength(1);
    expect(funnel.byWeek[0]).toMatchObject(expected(plans));

    // The worker's side of /metrics: our counters and the Temporal SDK's runtime metrics.
    const metrics = await (await fetch(`${t.stack.apiUrl}/metrics`)).text();
    const escalationsCounted = Number(/^leadflow_escalations_total (\d+)/m.exec(metrics)?.[1]);
    expect(escalationsCounted).toBeGreaterThanOrEqual(expected(plans).escalations);
    expect(metrics).toMatch(/^temporal_worker_task_slots_available\{/m);
    expect(metrics).toMatch(/^temporal_workflow_task_execution_latency/m);

    // Distributions: every case in one histogram bucket; in seconds, all under a minute. A decision
    // dated five hours later (we cannot wait that long) moves one case to the 4 h – 1 day bucket.
    const sum = (histogram: Array<{ count: number }>) => histogram.reduce((n, b) => n + b.count, 0);
    expect(funnel.timeToEscalation.histogram.map((b: { upToSeconds: number | null }) => b.upToSeconds)).toEqual([60, 600, 3600, 14_400, 86_400, 172_800, 604_800, 2_592_000, null]);
    expect(sum(funnel.timeToEscalation.histogram)).toBe(funnel.timeToEscalation.count);
    expect(funnel.timeToEscalation.histogram[0].count).toBe(funnel.timeToEscalation.count);
    expect(funnel.timeToDecision.histogram[0].count).toBe(decided);
    await t.stack.pool.query(`UPDATE sales_decisions SET at = at + interval '5 hours' WHERE lead_id = 'f-3'`);
    const later = (await t.call('GET', `/v1/funnel?from=${encodeURIComponent(since)}`, { role: 'marketing' })).body;
    expect(later.timeToDecision.histogram.map((b: { count: number }) => b.count)).toEqual([decided - 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(later.bySequence.find((s: { sequence: string }) => s.sequence === 'onboarding').timeToDecision.histogram[4].count).toBe(1);

    const badPeriod = await t.call('GET', '/v1/funnel?from=yesterday', { role: 'marketing' });
    expect(badPeriod.status).toBe(400);
    expect(badPeriod.body.details[0].path).toBe('querystring.from');
  });
});
