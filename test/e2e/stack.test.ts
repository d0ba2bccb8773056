import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createMailer } from '../../src/infra/mailer.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';
import { noonZone } from '../helpers/zones.js';

/**
 * The whole system as `npm start` runs it (Temporal dev server, embedded PostgreSQL, SMTP
 * sink, worker, API), driven only through HTTP: the shared test stack (free ports, retried
 * when a parallel suite takes one first).
 */
let running: TestStack;
/** Status and body: what these assertions compare (the shared helper also returns the headers). */
async function call(...args: Parameters<TestStack['call']>) {
  const { status, body } = await running.call(...args);
  return { status, body };
}
const mailbox: TestStack['mailbox'] = (to) => running.mailbox(to);

beforeAll(async () => {
  running = await startTestStack();
});

afterAll(async () => {
  await running?.stop();
});

let eventNo = 0;
async function postEvents(leadId: string, types: string[]) {
  for (const type of types) {
    const response = await call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `ev-${++eventNo}`, type } });
    expect(response.status).toBe(202);
  }
}

describe('Leadflow end to end over HTTP', () => {
  it('takes a lead from enrolment through rejection, recycling and a second escalation to acceptance', async () => {
    const lead = { id: 'e2e-ada', email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines' };
    const created = await call('POST', '/v1/leads', { role: 'ingest', body: lead });
    expect(created).toEqual({ status: 201, body: { id: 'e2e-ada', stage: 'nurturing', workflowId: 'lead-e2e-ada' } });
    const again = await call('POST', '/v1/leads', { role: 'marketing', body: lead });
    expect(again).toEqual({ status: 200, body: { id: 'e2e-ada', stage: 'nurturing', workflowId: 'lead-e2e-ada' } });

    // The first email of the onboarding sequence goes out at once.
    const welcome = await eventually(async () => {
      const messages = await mailbox('ada@example.com');
      expect(messages).toHaveLength(1);
      return messages[0]!;
    });
    expect(welcome.subject).toBe('Welcome to Leadflow, Ada');

    // 20 + 20 + 10 = 50: the threshold. A repeated eventId counts once.
    await postEvents('e2e-ada', ['product.compared', 'product.compared']);
    const duplicate = await call('POST', '/v1/leads/e2e-ada/events', { role: 'ingest', body: { eventId: `ev-${eventNo}`, type: 'product.compared' } });
    expect(duplicate).toEqual({ status: 202, body: { eventId: `ev-${eventNo}`, duplicate: true } });
    await postEvents('e2e-ada', ['pricing.viewed']);

    const inReview = await eventually(async () => {
      const response = await call('GET', '/v1/leads/e2e-ada', { role: 'sales' });
      expect(response.body).toMatchObject({ stage: 'sales_review', score: 50, reviewCount: 1 });
      return response.body;
    });
    expect(inReview.sequence).toMatchObject({ id: 'onboarding', version: 1 });
    expect(inReview.history.map((h: { kind: string }) => h.kind)).toEqual(expect.arrayContaining(['transition', 'event', 'email']));

    const notification = await eventually(async () => {
      const messages = await mailbox('sales@example.com');
      expect(messages).toHaveLength(1);
      return messages[0]!;
    });
    expect(notification.subject).toContain('Ada Lovelace');
    expect(notification.subject).toContain('score 50');
    expect(notification.text).toContain('product.compared  +20');

    await eventually(async () => {
      const queue = await call('GET', '/v1/leads?stage=sales_review', { role: 'sales' });
      expect(queue.body.leads.map((l: { id: string }) => l.id)).toContain('e2e-ada');
    });

    const rejected = await call('POST', '/v1/leads/e2e-ada/reject', { role: 'sales', body: { by: 'sam@example.com', reason: 'not_ready', notes: 'budget next quarter' } });
    expect(rejected).toEqual({ status: 200, body: { id: 'e2e-ada', stage: 'nurturing' } });
    const recycled = await call('GET', '/v1/leads/e2e-ada', { role: 'marketing' });
    expect(recycled.body).toMatchObject({ stage: 'nurturing', score: 0, sequence: { id: 'recycle', step: 0 } });

    await postEvents('e2e-ada', ['product.compared', 'product.compared', 'form.submitted']);
    await eventually(async () => {
      const response = await call('GET', '/v1/leads/e2e-ada', { role: 'sales' });
      expect(response.body).toMatchObject({ stage: 'sales_review', score: 50, reviewCount: 2 });
    });
    await eventually(async () => expect(await mailbox('sales@example.com')).toHaveLength(2));

    const accepted = await call('POST', '/v1/leads/e2e-ada/accept', { role: 'sales', body: { by: 'sam@example.com' } });
    expect(accepted).toEqual({ status: 200, body: { id: 'e2e-ada', stage: 'accepted' } });
    const late = await call('POST', '/v1/leads/e2e-ada/accept', { role: 'sales', body: { by: 'kim@example.com' } });
    expect(late.status).toBe(409);
    expect(late.body.error).toBe('not_in_review');

    await eventually(async () => {
      const funnel = await call('GET', '/v1/funnel', { role: 'marketing' });
      expect(funnel.body).toMatchObject({ accepted: 1, rejected: 1, rejectedByReason: { not_ready: 1 }, escalations: 2 });
    });
  });

  it('answers bad requests with the status and a message naming the field', async () => {
    const badEmail = await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'x1', email: 'not-an-email' } });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.error).toBe('validation_failed');
    expect(badEmail.body.details).toEqual([expect.objectContaining({ path: 'body.email' })]);
    expect(badEmail.body.message).toContain('body.email');

    const badId = await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'has spaces', email: 'a@example.com' } });
    expect(badId.status).toBe(400);
    expect(badId.body.details[0].path).toBe('body.id');

    const badJson = await call('POST', '/v1/leads', { role: 'ingest', rawBody: '{"id": ' });
    expect(badJson.status).toBe(400);

    await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'e2e-bob', email: 'bob@example.com' } });
    const unknownType = await call('POST', '/v1/leads/e2e-bob/events', { role: 'ingest', body: { eventId: 'b1', type: 'coffee.drunk' } });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error).toBe('unknown_event_type');
    expect(unknownType.body.details[0].path).toBe('body.type');

    const badReason = await call('POST', '/v1/leads/e2e-bob/reject', { role: 'sales', body: { by: 'sam', reason: 'bored' } });
    expect(badReason.status).toBe(400);
    expect(badReason.body.details[0].path).toBe('body.reason');

    const tooBig = await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'big', email: 'big@example.com', attributes: { blob: 'x'.repeat(70_000) } } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toBe('payload_too_large');
  });

  it('refuses requests without a key (401) or with the wrong role (403)', async () => {
    const noKey = await call('POST', '/v1/leads', { role: null, body: { id: 'nokey', email: 'nokey@example.com' } });
    expect(noKey.status).toBe(401);
    expect(noKey.body.error).toBe('unauthorized');
    const wrongKey = await call('GET', '/v1/leads', { key: 'not-a-real-key' });
    expect(wrongKey.status).toBe(401);
    const ingestAccepting = await call('POST', '/v1/leads/e2e-bob/accept', { role: 'ingest', body: { by: 'x' } });
    expect(ingestAccepting.status).toBe(403);
    expect(ingestAccepting.body.error).toBe('forbidden');
    const salesCreating = await call('POST', '/v1/leads', { role: 'sales', body: { id: 'nope', email: 'nope@example.com' } });
    expect(salesCreating.status).toBe(403);
    const ingestFunnel = await call('GET', '/v1/funnel', { role: 'ingest' });
    expect(ingestFunnel.status).toBe(403);
    // Nothing was created by the refused request.
    expect((await call('GET', '/v1/leads/nope', { role: 'admin' })).status).toBe(404);
  });

  it('answers 404 for unknown leads and 409 for a decision on a lead not in review', async () => {
    const missing = await call('GET', '/v1/leads/ghost', { role: 'sales' });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('lead_not_found');
    const missingEvent = await call('POST', '/v1/leads/ghost/events', { role: 'ingest', body: { eventId: 'g1', type: 'page.viewed' } });
    expect(missingEvent.status).toBe(404);

    await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'e2e-cy', email: 'cy@example.com' } });
    const notInReview = await call('POST', '/v1/leads/e2e-cy/reject', { role: 'sales', body: { by: 'sam', reason: 'no_budget' } });
    expect(notInReview.status).toBe(409);
    expect(notInReview.body).toMatchObject({ error: 'not_in_review' });
    expect(notInReview.body.message).toContain('e2e-cy');
  });

  it('stops marketing email after an unsubscribe', async () => {
    // webinar-invite: a click during its first wait sends the deep dive at once (in a zone where
    // it is noon, inside the send window), so the next email is due now, not in days.
    const body = { id: 'e2e-dee', email: 'dee@example.com', sequence: 'webinar-invite', timezone: noonZone() };
    expect((await call('POST', '/v1/leads', { role: 'ingest', body })).status).toBe(201);
    await eventually(async () => expect(await mailbox('dee@example.com')).toHaveLength(1));
    const unsubscribed = await call('POST', '/v1/leads/e2e-dee/unsubscribe', { role: 'ingest' });
    expect(unsubscribed).toEqual({ status: 200, body: { id: 'e2e-dee', unsubscribed: true } });
    await eventually(async () => expect((await call('GET', '/v1/leads/e2e-dee')).body.unsubscribed).toBe(true));

    await postEvents('e2e-dee', ['email.clicked']);
    // The lead reached the deep-dive step and skipped it...
    await eventually(async () => {
      const { timeline } = (await call('GET', '/v1/leads/e2e-dee')).body as { timeline: Array<{ text: string }> };
      expect(timeline.map((t) => t.text)).toContain('webinar-deep-dive skipped: unsubscribed');
    });
    // ...and the relay received nothing after the invite.
    expect((await mailbox('dee@example.com')).map((m) => m.subject)).toHaveLength(1);
  });

  it('makes leads findable in Temporal by stage, score and review count', async () => {
    await call('POST', '/v1/leads', { role: 'ingest', body: { id: 'e2e-eve', email: 'eve@example.com' } });
    await postEvents('e2e-eve', ['product.compared', 'product.compared', 'product.compared']);
    const query = `LeadStage="sales_review" AND LeadScore>=60 AND LeadUnsubscribed=false`;
    await eventually(async () => {
      const found: string[] = [];
      for await (const workflow of running.stack.client.workflow.list({ query })) found.push(workflow.workflowId);
      expect(found).toEqual(['lead-e2e-eve']);
    });
    const reviewed: string[] = [];
    for await (const workflow of running.stack.client.workflow.list({ query: 'LeadReviewCount>=2' })) reviewed.push(workflow.workflowId);
    expect(reviewed).toContain('lead-e2e-ada');
    expect(reviewed).not.toContain('lead-e2e-eve');
  });

  it('serves health and an OpenAPI document built from the route schemas', async () => {
    const health = await call('GET', '/healthz', { role: null });
    expect(health).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } } });
    expect((await call('GET', '/readyz', { role: null })).status).toBe(200);
    const doc = await call('GET', '/openapi.json', { role: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/leads', '/v1/leads/{id}/events', '/v1/leads/{id}', '/v1/leads/{id}/accept', '/v1/leads/{id}/reject', '/v1/funnel']),
    );
    const rejectBody = doc.body.paths['/v1/leads/{id}/reject'].post.requestBody.content['application/json'].schema;
    expect(rejectBody.properties.reason.enum).toEqual(['not_ready', 'no_budget', 'no_authority', 'wrong_contact', 'no_fit', 'other']);
  });

  it('counts requests, events, decisions and emails in Prometheus metrics', async () => {
    const response = await fetch(`${running.stack.apiUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.slice(line.length + 1));
    // Counted by the earlier tests of this file: one duplicate event, one accept, one reject, two escalations.
    expect(value('leadflow_events_ingested_total{type="product.compared",duplicate="true"}')).toBe(1);
    expect(value('leadflow_decisions_total{decision="accepted"}')).toBe(1);
    expect(value('leadflow_decisions_total{decision="rejected"}')).toBe(1);
    expect(value('leadflow_escalations_total')).toBeGreaterThanOrEqual(2);
    expect(value('leadflow_emails_sent_total{kind="marketing"}')).toBeGreaterThanOrEqual(3);
    expect(value('leadflow_http_requests_total{method="POST",route="/v1/leads/:id/accept",status="409"}')).toBe(1);
  });

  it('delivers as many sends at once as the stack\'s Postgres pool holds: the SMTP sink stores on a pool of its own', async () => {
    // Each send holds one of the stack's connections (its outbox transaction) until the sink has
    // stored the message and answered; a sink on that same pool waited on them until the timeout.
    const mailer = createMailer(running.stack.smtpUrl, { socketTimeoutMs: 5_000 });
    try {
      const activities = createActivities({ pool: running.stack.pool, mailer, config: { mailFrom: 'Leadflow <marketing@example.com>', salesInbox: 'sales@example.com' } });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          activities.sendNurtureEmail({ lead: { id: `burst-${i}`, email: `burst-${i}@example.com`, firstName: 'Ada' }, template: 'welcome', sendKey: `burst-${i}:onboarding@v1:e1:s0`, sequence: 'onboarding@v1', step: 0 }),
        ),
      );
      expect(results.filter((r) => r.sent)).toHaveLength(12);
      expect(await mailbox('burst-11@example.com')).toHaveLength(1);
    } finally {
      mailer.close();
    }
  });
});
