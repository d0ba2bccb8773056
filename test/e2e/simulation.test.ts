import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runSimulation } from '../../src/leads/simulation.js';
import { defaultProgram } from '../../src/sequences/catalog.js';
import { main as simulateCli } from '../../src/tools/simulate-cli.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';

/**
 * What-if on real past leads: a population driven through the real API and workflows (dev
 * server, Postgres, SMTP sink), so its escalations, rejections and acceptances are the ones the
 * workflows recorded; then the simulation with the program unchanged reproduces each of them,
 * and a lower threshold escalates exactly the leads worked out here. The route's validation, the
 * roles, the calibration report on the same population and `npm run simulate` against the stack.
 */
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t?.stop();
});

let eventNo = 0;
/** Posts one event; answers its id. */
async function post(leadId: string, type: string): Promise<string> {
  const eventId = `sim-${++eventNo}`;
  expect((await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId, type } })).status).toBe(202);
  return eventId;
}
const stageOf = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body.stage;
async function enrol(id: string) {
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com` } })).status).toBe(201);
}
/** Events of `types`, answering their ids. */
async function send(id: string, types: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const type of types) ids.push(await post(id, type));
  return ids;
}
/** 20 + 20 + 10: the threshold at the third event; waits for the review. Answers the event ids. */
async function escalate(id: string): Promise<string[]> {
  const ids = await send(id, ['product.compared', 'product.compared', 'pricing.viewed']);
  await eventually(async () => expect(await stageOf(id)).toBe('sales_review'));
  return ids;
}
const decide = async (id: string, action: 'accept' | 'reject', reason?: string) =>
  expect((await t.call('POST', `/v1/leads/${id}/${action}`, { role: 'sales', body: { by: 'olga@example.com', ...(reason ? { reason } : {}) } })).status).toBe(200);

/** Per lead, the events that crossed the threshold at its real escalations. */
const crossing: Record<string, string[]> = {};
const LEADS = ['w-ada', 'w-ben', 'w-cleo', 'w-dan', 'w-eve', 'w-finn'];

describe('what-if simulation over leads the workflows really ran', () => {
  it('with the program unchanged, reproduces every real escalation: same reviews, same scores, same events, same times', { timeout: 180_000 }, async () => {
    for (const id of LEADS) await enrol(id);
    // ada: 41 points, never escalated. cleo: 20.
    await send('w-ada', ['product.compared', 'product.compared', 'page.viewed']);
    await send('w-cleo', ['form.submitted', 'pricing.viewed']);
    // ben: escalated, accepted.
    crossing['w-ben'] = [(await escalate('w-ben'))[2]!];
    await decide('w-ben', 'accept');
    // dan: escalated, rejected (score back to 0), then 40 points: not again.
    crossing['w-dan'] = [(await escalate('w-dan'))[2]!];
    await decide('w-dan', 'reject', 'no_budget');
    await send('w-dan', ['product.compared', 'product.compared']);
    // eve: escalated, rejected, escalated again, still in review.
    const first = (await escalate('w-eve'))[2]!;
    await decide('w-eve', 'reject', 'not_ready');
    crossing['w-eve'] = [first, (await escalate('w-eve'))[2]!];
    // finn: escalated, waiting for sales.
    crossing['w-finn'] = [(await escalate('w-finn'))[2]!];

    // The workflows write transitions and decisions to Postgres a moment after the fact.
    const recorded = await eventually(async () => {
      const { rows } = await t.stack.pool.query<{ lead_id: string; at: Date; score: number }>(
        `SELECT lead_id, at, score FROM lead_transitions WHERE to_stage = 'sales_review' AND lead_id = ANY($1) ORDER BY lead_id, at`,
        [LEADS],
      );
      expect(rows).toHaveLength(5);
      const decisions = await t.stack.pool.query(`SELECT 1 FROM sales_decisions WHERE lead_id = ANY($1)`, [LEADS]);
      expect(decisions.rowCount).toBe(3);
      const undelivered = await t.stack.pool.query(`SELECT 1 FROM lead_events WHERE lead_id = ANY($1) AND delivered_at IS NULL`, [LEADS]);
      expect(undelivered.rowCount).toBe(0);
      return rows;
    });

    const answer = await t.call('POST', '/v1/simulations', { role: 'marketing', body: { program: {}, leads: LEADS } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      leads: 6,
      escalations: { now: 5, simulated: 5 },
      leadsEscalated: { now: 4, simulated: 4 },
      changed: [],
      newlyEscalated: 0,
      acceptedAmongNew: 0,
      rejectedAmongNew: 0,
      wonAmongNew: 0,
      unreproduced: [],
    });

    // Lead by lead: the replay escalates at the events that really crossed the threshold, at the recorded scores and times.
    const results = await runSimulation(t.stack.pool, defaultProgram, {}, { leadIds: LEADS });
    for (const result of results) {
      const real = recorded.filter((r) => r.lead_id === result.leadId);
      expect(result.simulated, result.leadId).toEqual(real.map((r) => r.at.toISOString()));
      expect(result.simulatedScores, result.leadId).toEqual(real.map((r) => r.score));
      expect(result.simulatedBy, result.leadId).toEqual(crossing[result.leadId] ?? []);
    }
  });

  it('with a lower threshold, escalates exactly the expected extra leads and says what sales did with them', async () => {
    const answer = await t.call('POST', '/v1/simulations', { role: 'marketing', body: { program: { threshold: 40 }, leads: LEADS } });
    expect(answer.status).toBe(200);
    // ada newly (40 at her second event); ben, dan, eve, finn a event earlier; dan and eve once more after their rejection; cleo never.
    expect(answer.body.changed.map((c: { leadId: string; change: string; escalationsSimulated: string[] }) => [c.leadId, c.change, c.escalationsSimulated.length])).toEqual([
      ['w-ada', 'new', 1],
      ['w-ben', 'earlier', 1],
      ['w-dan', 'earlier', 2],
      ['w-eve', 'earlier', 2],
      ['w-finn', 'earlier', 1],
    ]);
    expect(answer.body).toMatchObject({ escalations: { now: 5, simulated: 7 }, leadsEscalated: { now: 4, simulated: 5 }, newlyEscalated: 5, acceptedAmongNew: 1, rejectedAmongNew: 2, wonAmongNew: 0, unreproduced: [] });
    // The earlier escalation is at the time the second event reached the workflow: before the real one.
    const ben = answer.body.changed.find((c: { leadId: string }) => c.leadId === 'w-ben');
    expect(Date.parse(ben.simulated)).toBeLessThan(Date.parse(ben.now));

    // "What if product comparisons were worth 25?": 25 + 25 at the second comparison.
    const compared = await t.call('POST', '/v1/simulations', { role: 'marketing', body: { program: { scoring: { 'product.compared': 25 } }, leads: LEADS } });
    expect(compared.body.changed.map((c: { leadId: string; change: string }) => [c.leadId, c.change])).toEqual([
      ['w-ada', 'new'],
      ['w-ben', 'earlier'],
      ['w-dan', 'earlier'],
      ['w-eve', 'earlier'],
      ['w-finn', 'earlier'],
    ]);
  });

  it('refuses a request it cannot mean with a 400 naming the field, and only marketing may simulate', async () => {
    const refused = async (body: unknown) => {
      const answer = await t.call('POST', '/v1/simulations', { role: 'marketing', body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toBe('validation_failed');
      return (answer.body.details as Array<{ path: string }>).map((d) => d.path);
    };
    expect(await refused({})).toContain('body.program');
    expect(await refused({ program: { threshold: 0 } })).toEqual(['body.program.threshold']);
    expect(await refused({ program: { scoring: { 'product.comparedd': 25 } } })).toEqual(['body.program.scoring.product.comparedd']);
    expect(await refused({ program: { scoring: { constructor: 25 } } })).toEqual(['body.program.scoring.constructor']);
    expect(await refused({ program: { scoring: { 'pricing.viewed': -5 } } })).toEqual(['body.program.scoring.pricing.viewed']);
    expect(await refused({ program: { scoring: { 'pricing.viewed': 2.5 } } })).toEqual(['body.program.scoring.pricing.viewed']);
    expect(await refused({ program: { fit: { rules: [], grades: { A: 1, B: 2, C: 3 } } } })).toEqual(expect.arrayContaining(['body.program.fit.rules']));
    expect(await refused({ program: {}, since: 'last week' })).toEqual(['body.since']);
    expect(await refused({ program: {}, leads: ['no spaces please'] })).toEqual(['body.leads.0']);
    expect((await t.call('POST', '/v1/simulations', { role: 'sales', body: { program: {} } })).status).toBe(403);
    expect((await t.call('POST', '/v1/simulations', { role: null, body: { program: {} } })).status).toBe(401);
  });

  it('shows the calibration report of the same population to marketing and sales', async () => {
    const report = await t.call('GET', '/v1/reports/scoring', { role: 'sales' });
    expect(report.status).toBe(200);
    // ada, ben, dan, eve, finn compared products; ben was accepted; dan and eve rejected.
    expect(report.body.rules.find((r: { rule: string }) => r.rule === 'product.compared')).toMatchObject({
      leads: 5,
      escalated: 4,
      accepted: 1,
      rejected: 2,
      rejectedByReason: { no_budget: 1, not_ready: 1 },
      won: 0,
      warning: 'only 5 lead(s) had product.compared (fewer than 30): too few to trust its lift',
    });
    expect(report.body.threshold).toMatchObject({ points: 50, leads: 6, escalated: 4, accepted: 1, rejected: 2 });
    expect((await t.call('GET', '/v1/reports/scoring', { role: 'marketing' })).status).toBe(200);
    expect((await t.call('GET', '/v1/reports/scoring', { role: 'ingest' })).status).toBe(403);
    const bad = await t.call('GET', '/v1/reports/scoring?since=soon', { role: 'marketing' });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path)).toEqual(['querystring.since']);
  });

  it('npm run simulate asks the API and prints the answer in words, or the API\'s refusal', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    const error = vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
    try {
      const target = ['--api', t.stack.apiUrl, '--key', TEST_KEYS.marketing, '--leads', LEADS.join(',')];
      expect(await simulateCli(['--threshold', '40', ...target])).toBe(0);
      const text = out.join('\n');
      // Kept for the docs: what a marketer sees.
      fs.mkdirSync('test-artifacts', { recursive: true });
      fs.writeFileSync(path.join('test-artifacts', 'simulate-threshold-40.txt'), `${text}\n`);
      expect(text).toContain('What if threshold 40: 6 past leads replayed.');
      expect(text).toContain('escalations (reviews):   5 now -> 7 simulated');
      expect(text).toContain('newly escalated leads:   5 (earlier than they did, or never did); of them sales actually accepted 1, rejected 2, won 0');
      expect(text).toMatch(/ {2}w-ada {19}new {7}- {21}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      expect(await simulateCli(['--points', 'product.comparedd=25', ...target])).toBe(1);
      expect(err.join('\n')).toContain('body.program.scoring.product.comparedd: "product.comparedd" is neither an event type of the flat table');
      expect(await simulateCli(['--points', 'product.compared', ...target])).toBe(2);
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });
});
