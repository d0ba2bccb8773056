import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProgram } from '../../src/sequences/catalog.js';
import { ProgramSchema, type Program } from '../../src/sequences/model.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';

/**
 * The qualification model over HTTP on the whole stack: a program with conditional scoring rules
 * and a minimum grade; the lead detail and the review queue show the grade and name the rule of
 * every point; the sales notification carries both; a lead that does not fit waits in nurturing
 * and says why.
 */
const program: Program = ProgramSchema.parse({
  ...defaultProgram,
  rules: {
    ...defaultProgram.rules!,
    version: 7,
    scoring: [
      { id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 10 },
      { id: 'careers-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/careers' }], points: -10 },
    ],
    minGrade: 'C',
  },
});

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({}, { program });
});
afterAll(async () => {
  await t?.stop();
});

let eventNo = 0;
async function post(leadId: string, type: string, properties?: Record<string, unknown>) {
  const response = await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `q-${++eventNo}`, type, ...(properties ? { properties } : {}) } });
  expect(response.status).toBe(202);
}
const detail = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const queue = async () => (await t.call('GET', '/v1/leads?stage=sales_review', { role: 'sales' })).body.leads as Array<Record<string, any>>;

describe('qualification over HTTP', () => {
  it('shows the grade and the rule of every point in the lead detail, the review queue and the sales notification; a lead that does not fit waits', async () => {
    for (const body of [
      { id: 'fit-ada', email: 'ada@acme.io', firstName: 'Ada', company: 'Acme' },
      { id: 'nofit-sam', email: 'sam@gmail.com', firstName: 'Sam', attributes: { role: 'student' } },
    ]) {
      expect((await t.call('POST', '/v1/leads', { role: 'ingest', body })).status).toBe(201);
    }
    for (const id of ['fit-ada', 'nofit-sam']) {
      await post(id, 'product.compared');
      await post(id, 'page.viewed', { path: '/careers/engineering' });
      await post(id, 'product.compared');
      await post(id, 'page.viewed', { path: '/pricing/teams' });
      await post(id, 'pricing.viewed');
    }

    const ada = await eventually(async () => {
      const lead = await detail('fit-ada');
      expect(lead.stage).toBe('sales_review');
      return lead;
    });
    // 20 + 10 fit points (business email, a company): grade C.
    expect(ada.grade).toBe('C');
    expect(ada.rulesVersion).toBe(7);
    expect(ada.score).toBe(50);
    expect(ada.scoreBreakdown.map((l: { rule: string; type: string; points: number }) => [l.rule, l.type, l.points])).toEqual([
      ['product.compared', 'product.compared', 20],
      ['careers-page', 'page.viewed', -10],
      ['product.compared', 'product.compared', 20],
      ['pricing-page', 'page.viewed', 10],
      ['pricing.viewed', 'pricing.viewed', 10],
    ]);
    for (const line of ada.scoreBreakdown) expect(Date.parse(line.countsUntil) - Date.parse(line.occurredAt)).toBeGreaterThan(89 * 86_400_000);

    const sam = await detail('nofit-sam');
    expect(sam).toMatchObject({ stage: 'nurturing', grade: 'D', score: 50 });
    expect(sam.timeline.filter((e: { kind: string }) => e.kind === 'qualification').map((e: { text: string }) => e.text)).toEqual([
      'score 50 reached the threshold (50), but grade D is below the C sales review needs: stays in nurturing',
    ]);

    const inQueue = await eventually(async () => {
      const leads = await queue();
      expect(leads.map((l) => l.id)).toEqual(['fit-ada']);
      expect(leads[0]!.grade).toBe('C');
      return leads;
    });
    expect(inQueue[0]!.scoreBreakdown.map((l: { rule: string }) => l.rule)).toEqual(['product.compared', 'careers-page', 'product.compared', 'pricing-page', 'pricing.viewed']);

    const [notification] = await eventually(async () => {
      const messages = (await t.mailbox('sales@example.com')).filter((m) => m.subject.startsWith('Lead ready for review'));
      expect(messages).toHaveLength(1);
      return messages;
    });
    expect(notification!.subject).toMatch(/, grade C$/);
    expect(notification!.text).toContain('Grade: C');
    expect(notification!.text).toMatch(/page\.viewed {2}-10 {2}\(rule careers-page\)/);
    expect(notification!.text).toMatch(/page\.viewed {2}\+10 {2}\(rule pricing-page\)/);

    // The profile now fits (business email, a decision-maker: 40 fit points, grade B): the lead goes to review.
    const patched = await t.call('PATCH', '/v1/leads/nofit-sam', { role: 'marketing', body: { email: 'sam@acme.io', attributes: { role: 'cto' } } });
    expect(patched.status).toBe(200);
    await eventually(async () => {
      const leads = await queue();
      expect(leads.map((l) => [l.id, l.grade])).toEqual([
        ['fit-ada', 'C'],
        ['nofit-sam', 'B'],
      ]);
    });
    const escalated = await detail('nofit-sam');
    expect(escalated).toMatchObject({ stage: 'sales_review', grade: 'B', reviewCount: 1 });
    expect(escalated.timeline.map((e: { text: string }) => e.text)).toContain('grade D → B');

    // The migration route signals no lead whose sequence and rules are the program's already.
    const migrate = await t.call('POST', '/v1/sequences/onboarding/migrate', { role: 'marketing', body: {} });
    expect(migrate.status).toBe(200);
    expect(migrate.body.signalled).toEqual([]);
  });
});
