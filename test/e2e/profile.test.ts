import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * PATCH /v1/leads/{id} over HTTP on the whole stack: the profile changes in Postgres and in the
 * lead's workflow, so the next email is rendered with it; bad input changes nothing.
 */
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

const detail = async (id: string) => (await t.call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body;

async function enrolWebinarLead(id: string): Promise<void> {
  const created = await t.call('POST', '/v1/leads', {
    role: 'ingest',
    body: { id, email: `${id}@example.com`, firstName: 'Ada', company: 'Analytical', sequence: 'webinar-invite', timezone: noonZone(), attributes: { plan: 'trial', seats: 3 } },
  });
  expect(created.status).toBe(201);
  await eventually(async () => expect((await t.mailbox(`${id}@example.com`)).map((m) => m.subject)).toEqual(['Ada, a live walkthrough for Analytical']));
}

describe('PATCH /v1/leads/{id}', () => {
  it('changes the profile: the next email greets the lead by its new name', async () => {
    await enrolWebinarLead('prof-a');
    const patched = await t.call('PATCH', '/v1/leads/prof-a', { role: 'marketing', body: { firstName: 'Grace', company: 'Navy', attributes: { plan: null, role: 'cto' } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: 'prof-a', firstName: 'Grace', company: 'Navy', attributes: { seats: 3, role: 'cto' } });
    expect(patched.body.attributes).not.toHaveProperty('plan');
    await eventually(async () => expect((await detail('prof-a')).timeline.map((e: { text: string }) => e.text)).toContain('profile updated (firstName, company, attributes)'));

    // A view of the webinar moves the sequence to its next email, rendered now, for Grace at Navy.
    const event = await t.call('POST', '/v1/leads/prof-a/events', { role: 'ingest', body: { eventId: 'w1', type: 'webinar.viewed' } });
    expect(event.status).toBe(202);
    const deepDive = await eventually(async () => {
      const mail = (await t.mailbox('prof-a@example.com')).find((m) => m.subject.startsWith('Going further'));
      expect(mail).toBeDefined();
      return mail!;
    });
    expect(deepDive.subject).toBe('Going further with Leadflow at Navy');
    expect(deepDive.text).toMatch(/^Hi Grace,/);
  });

  it('moves the email to a new address, and a patch that changes nothing tells the workflow nothing', async () => {
    await enrolWebinarLead('prof-b');
    const moved = await t.call('PATCH', '/v1/leads/prof-b', { role: 'ingest', body: { email: 'Prof-B.New@Example.com' } });
    expect([moved.status, moved.body.email]).toEqual([200, 'prof-b.new@example.com']);
    await eventually(async () => expect((await detail('prof-b')).email).toBe('prof-b.new@example.com'));
    const lines = async () => (await detail('prof-b')).timeline.filter((e: { text: string }) => e.text.startsWith('profile updated')).length;
    await eventually(async () => expect(await lines()).toBe(1));
    const same = await t.call('PATCH', '/v1/leads/prof-b', { role: 'ingest', body: { email: 'prof-b.new@example.com', firstName: 'Ada' } });
    expect(same.status).toBe(200);
    expect(await lines()).toBe(1);
  });

  it('refuses bad input with the field named, and changes nothing', async () => {
    await enrolWebinarLead('prof-c');
    const before = await detail('prof-c');
    const cases: Array<[unknown, string]> = [
      [{ email: 'not-an-address' }, 'email'],
      [{ email: null }, 'email'],
      [{ sequence: 'onboarding' }, 'sequence'],
      [{ id: 'other' }, 'id'],
      [{ timezone: 'Mars/Olympus' }, 'timezone'],
      [{ firstName: 'two\nlines' }, 'firstName'],
      [{}, 'at least one'],
    ];
    for (const [body, field] of cases) {
      const answer = await t.call('PATCH', '/v1/leads/prof-c', { role: 'marketing', body });
      expect([answer.status, JSON.stringify(body)]).toEqual([400, JSON.stringify(body)]);
      expect(JSON.stringify(answer.body)).toContain(field);
    }
    expect((await t.call('PATCH', '/v1/leads/prof-c', { role: 'sales', body: { firstName: 'Eve' } })).status).toBe(403);
    expect((await t.call('PATCH', '/v1/leads/nobody', { role: 'marketing', body: { firstName: 'Eve' } })).status).toBe(404);
    const after = await detail('prof-c');
    expect({ email: after.email, firstName: after.firstName, company: after.company, attributes: after.attributes }).toEqual({
      email: before.email,
      firstName: before.firstName,
      company: before.company,
      attributes: before.attributes,
    });
  });
});
