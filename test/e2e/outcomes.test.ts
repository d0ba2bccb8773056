import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';
import { programSnapshot } from '../../src/sequences/catalog.js';

/**
 * Outcomes over HTTP on the whole stack: won, lost, lost and recycled (the lead escalates again
 * and takes a second outcome), retries, refusals, and the funnel's revenue section.
 */
let t: TestStack;
const since = new Date().toISOString();

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

let eventNo = 0;
async function post(leadId: string, type: string) {
  const response = await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `o-${++eventNo}`, type } });
  expect(response.status).toBe(202);
}
const lead = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body;

/** 20 + 20 + 10 points: exactly the threshold; waits for review number `reviewNo`, then accepts it. */
async function escalateAndAccept(id: string, reviewNo = 1) {
  for (const type of ['product.compared', 'product.compared', 'pricing.viewed']) await post(id, type);
  await eventually(async () => expect(await lead(id)).toMatchObject({ stage: 'sales_review', reviewCount: reviewNo }));
  await acceptLead(id);
}

/** Accepts a lead in review; a 503 (Temporal slow on a loaded machine: "read the lead before deciding again") is retried. */
async function acceptLead(id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const answer = await t.call('POST', `/v1/leads/${id}/accept`, { role: 'sales', body: { by: 'sam' } });
    if (answer.status === 200) return;
    if (answer.status === 409 && (await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body.stage === 'accepted') return;
    expect([answer.status, attempt < 5], JSON.stringify(answer.body)).toEqual([503, true]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
async function enrol(id: string) {
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com` } })).status).toBe(201);
}

const outcome = (id: string, body: Record<string, unknown>, role: 'sales' | 'marketing' = 'sales') => t.call('POST', `/v1/leads/${id}/outcome`, { role, body });

describe('POST /v1/leads/{id}/outcome', () => {
  it('won: the accepted lead records its amount and its story ends; the same request again answers the same', async () => {
    await enrol('o-won');
    await escalateAndAccept('o-won');
    const body = { by: 'sam', outcome: 'won', amount: 12_500, currency: 'EUR' };
    const first = await outcome('o-won', body);
    expect([first.status, first.body]).toEqual([200, { id: 'o-won', stage: 'accepted', outcome: 'won' }]);
    const { rows } = await t.stack.pool.query('SELECT review_no, outcome, amount, currency, reason, recycle, decided_by FROM lead_outcomes WHERE lead_id = $1', ['o-won']);
    expect(rows).toEqual([{ review_no: 1, outcome: 'won', amount: '12500.00', currency: 'EUR', reason: null, recycle: false, decided_by: 'sam' }]);
    // The workflow has ended: nothing waits for this lead any more.
    await eventually(async () => expect((await t.stack.client.workflow.getHandle('lead-o-won').describe()).status.name).toBe('COMPLETED'));
    // A retried request (same body) answers as the first did; another body is refused with what was recorded.
    const retry = await outcome('o-won', body);
    expect([retry.status, retry.body]).toEqual([200, { id: 'o-won', stage: 'accepted', outcome: 'won' }]);
    const other = await outcome('o-won', { ...body, amount: 99 });
    expect([other.status, other.body.error]).toEqual([409, 'not_accepted']);
    expect(other.body.details).toMatchObject({ stage: 'accepted', outcome: { reviewNo: 1, outcome: 'won', amount: 12_500, by: 'sam' } });
  });

  it('lost: recorded with its reason; the lead stays accepted and closed', async () => {
    await enrol('o-lost');
    await escalateAndAccept('o-lost');
    const answer = await outcome('o-lost', { by: 'sam', outcome: 'lost', reason: 'no budget this year' });
    expect([answer.status, answer.body]).toEqual([200, { id: 'o-lost', stage: 'accepted', outcome: 'lost' }]);
    const { rows } = await t.stack.pool.query('SELECT outcome, amount, reason, recycle FROM lead_outcomes WHERE lead_id = $1', ['o-lost']);
    expect(rows).toEqual([{ outcome: 'lost', amount: null, reason: 'no budget this year', recycle: false }]);
    expect((await lead('o-lost')).stage).toBe('accepted');
  });

  it('lost + recycle: back to nurturing in the recycle sequence, escalates again, is accepted again and won', async () => {
    await enrol('o-recycle');
    await escalateAndAccept('o-recycle');
    const recycled = await outcome('o-recycle', { by: 'sam', outcome: 'lost', reason: 'timing', recycle: true });
    expect([recycled.status, recycled.body]).toEqual([200, { id: 'o-recycle', stage: 'nurturing', outcome: 'lost' }]);
    await eventually(async () => expect(await lead('o-recycle')).toMatchObject({ stage: 'nurturing', score: 0, reviewCount: 1, sequence: { id: programSnapshot('onboarding').recycleSequence.id } }));
    // Retried while the lead nurtures: the same answer, and still one row.
    const retry = await outcome('o-recycle', { by: 'sam', outcome: 'lost', reason: 'timing', recycle: true });
    expect([retry.status, retry.body.outcome]).toEqual([200, 'lost']);
    // Not accepted now: another outcome is refused.
    const early = await outcome('o-recycle', { by: 'sam', outcome: 'won', amount: 5 });
    expect([early.status, early.body.error, early.body.details?.stage]).toEqual([409, 'not_accepted', 'nurturing']);

    await escalateAndAccept('o-recycle', 2);
    const wonLater = await outcome('o-recycle', { by: 'sam', outcome: 'won', amount: 900, currency: 'USD' });
    expect([wonLater.status, wonLater.body]).toEqual([200, { id: 'o-recycle', stage: 'accepted', outcome: 'won' }]);
    const { rows } = await t.stack.pool.query('SELECT review_no, outcome, recycle FROM lead_outcomes WHERE lead_id = $1 ORDER BY review_no', ['o-recycle']);
    expect(rows).toEqual([
      { review_no: 1, outcome: 'lost', recycle: true },
      { review_no: 2, outcome: 'won', recycle: false },
    ]);
    const transitions = await t.stack.pool.query('SELECT from_stage, to_stage, reason FROM lead_transitions WHERE lead_id = $1 ORDER BY at, id', ['o-recycle']);
    expect(transitions.rows.map((r) => `${r.from_stage}>${r.to_stage}`)).toEqual(['null>nurturing', 'nurturing>sales_review', 'sales_review>accepted', 'accepted>nurturing', 'nurturing>sales_review', 'sales_review>accepted']);
  });

  it('refuses bad input with 400 naming the field, a lead not accepted with 409 not_accepted, and other roles', async () => {
    await enrol('o-new');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ by: 'sam', outcome: 'won' }, 'body.amount'],
      [{ by: 'sam', outcome: 'won', amount: -1 }, 'body.amount'],
      [{ by: 'sam', outcome: 'won', amount: 1, recycle: true }, 'body.recycle'],
      [{ by: 'sam', outcome: 'lost' }, 'body.reason'],
      [{ by: 'sam', outcome: 'lost', reason: 'x', amount: 3 }, 'body.amount'],
      [{ by: 'sam', outcome: 'maybe' }, 'body.outcome'],
      [{ outcome: 'won', amount: 1 }, 'body.by'],
      [{ by: 'sam', outcome: 'won', amount: 1, currency: 'euro' }, 'body.currency'],
    ];
    for (const [body, field] of cases) {
      const answer = await outcome('o-new', body);
      expect([answer.status, answer.body.error], JSON.stringify(body)).toEqual([400, 'validation_failed']);
      expect(answer.body.details.map((d: { path: string }) => d.path), JSON.stringify(body)).toContain(field);
    }
    const nurturing = await outcome('o-new', { by: 'sam', outcome: 'won', amount: 1 });
    expect([nurturing.status, nurturing.body.error, nurturing.body.details]).toEqual([409, 'not_accepted', { stage: 'nurturing' }]);
    expect((await outcome('nobody', { by: 'sam', outcome: 'won', amount: 1 })).status).toBe(404);
    expect((await outcome('o-new', { by: 'sam', outcome: 'won', amount: 1 }, 'marketing')).status).toBe(403);
  });

  it('the funnel reaches revenue: accepted → won, amounts per currency, by sequence, grade and week', async () => {
    const funnel = await eventually(async () => {
      const answer = await t.call('GET', `/v1/funnel?from=${encodeURIComponent(since)}`, { role: 'marketing' });
      expect(answer.status).toBe(200);
      expect(answer.body.revenue.won).toBe(2);
      return answer.body;
    });
    // Accepted reviews: o-won, o-lost, o-recycle twice. Won: o-won (12,500 EUR), o-recycle's second (900 USD).
    const totals = { accepted: 4, won: 2, lost: 2, open: 0, winRate: 0.5, amount: { EUR: 12_500, USD: 900 } };
    expect(funnel.revenue).toMatchObject(totals);
    expect(funnel.revenue.bySequence).toEqual([{ sequence: 'onboarding', ...totals }]);
    // The default program's fit rules grade these profiles alike.
    const grade = (await lead('o-won')).grade ?? 'none';
    expect(funnel.revenue.byGrade).toEqual([{ grade, ...totals }]);
    expect(funnel.revenue.byWeek.reduce((n: number, w: { won: number }) => n + w.won, 0)).toBe(2);
    // The existing figures are still there.
    expect(funnel).toMatchObject({ accepted: 4, escalated: 3 });
  });

  it('the sales notification links to the lead in the console', async () => {
    const notes = await t.mailbox('sales@example.com');
    const aboutWon = notes.find((m) => m.text.includes('Lead: o-won'));
    expect(aboutWon?.text).toContain(`/console/#/leads/o-won`);
    expect(aboutWon?.text).toContain(`Open the lead: ${t.stack.apiUrl.replace('localhost', '127.0.0.1')}/console/#/leads/o-won`);
  });
});
