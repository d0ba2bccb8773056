import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';

/**
 * Outbound webhooks on the whole stack: endpoints managed by admins, signed lead events delivered
 * to local receivers that check the signature with their own HMAC (not the package), a receiver
 * down for a while then up, and a slow receiver that holds up nobody else.
 */
let t: TestStack;

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  at: number;
}

/**
 * A local receiver on 127.0.0.1: records every request; answers at once, or, a slow one, only
 * when released or after `holdMs` (below the sender's 15 s request timeout).
 */
class Receiver {
  readonly requests: Received[] = [];
  /** When each answer went (ms since epoch). */
  readonly answeredAt: number[] = [];
  private server?: http.Server;
  private readonly held: Array<() => void> = [];
  port = 0;
  constructor(private holdMs = 0) {}
  /** Answers every request held so far (and those to come, at once). */
  release(): void {
    this.holdMs = 0;
    for (const answer of this.held.splice(0)) answer();
  }
  async listen(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        this.requests.push({ id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']), body, at: Date.now() });
        let answered = false;
        const answer = () => {
          if (answered) return;
          answered = true;
          this.answeredAt.push(Date.now());
          res.writeHead(204).end();
        };
        if (!this.holdMs) return answer();
        this.held.push(answer);
        setTimeout(answer, this.holdMs);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
    return this;
  }
  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }
  /** Payloads whose signature checks out with `secret` (the spec's HMAC, computed here), by type and lead. */
  verified(secret: string): Array<{ id: string; type: string; data: Record<string, unknown> }> {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    return this.requests.map((r) => {
      const expected = createHmac('sha256', key).update(`${r.id}.${r.timestamp}.${r.body}`).digest('base64');
      const presented = r.signature.split(' ').map((s) => s.replace(/^v1,/, ''));
      if (!presented.includes(expected)) throw new Error(`delivery ${r.id} carries no valid signature`);
      const payload = JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, unknown> };
      return { id: r.id, type: payload.type, data: payload.data };
    });
  }
}

const receivers: Receiver[] = [];
const receiver = async (holdMs = 0) => {
  const r = await new Receiver(holdMs).listen();
  receivers.push(r);
  return r;
};

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  for (const r of receivers) await r.close();
  await t?.stop();
});

let eventNo = 0;
async function post(leadId: string, type: string) {
  expect((await t.call('POST', `/v1/leads/${leadId}/events`, { role: 'ingest', body: { eventId: `wh-${++eventNo}`, type } })).status).toBe(202);
}
async function enrol(id: string) {
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com` } })).status).toBe(201);
}
async function escalate(id: string, reviewNo = 1) {
  for (const type of ['product.compared', 'product.compared', 'pricing.viewed']) await post(id, type);
  await eventually(async () => expect((await t.call('GET', `/v1/leads/${id}`, { role: 'sales' })).body).toMatchObject({ stage: 'sales_review', reviewCount: reviewNo }));
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
async function subscribe(url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const created = await t.call('POST', '/v1/webhook-endpoints', { role: 'admin', body: { url, events, description: 'test CRM' } });
  expect(created.status).toBe(201);
  return created.body;
}
const deliveries = async (endpointId: string) => (await t.call('GET', `/v1/webhook-endpoints/${endpointId}/deliveries`, { role: 'admin' })).body.deliveries as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ALL = ['lead.escalated', 'lead.accepted', 'lead.rejected', 'lead.disqualified', 'lead.outcome', 'lead.unsubscribed', 'lead.erased'];

describe('webhook endpoints (admin)', () => {
  it('creates an endpoint with a whsec_ secret shown once (stored sealed), lists and deletes it, refuses bad input and other roles', async () => {
    const created = await t.call('POST', '/v1/webhook-endpoints', { role: 'admin', body: { url: 'http://127.0.0.1:9/nowhere', events: ['lead.accepted'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^ep_/), url: 'http://127.0.0.1:9/nowhere', events: ['lead.accepted'], secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/) });
    const listed = await t.call('GET', '/v1/webhook-endpoints', { role: 'admin' });
    const mine = listed.body.endpoints.find((e: { id: string }) => e.id === created.body.id);
    expect(mine).toEqual({ id: created.body.id, url: 'http://127.0.0.1:9/nowhere', events: ['lead.accepted'], description: null, createdAt: expect.any(String) });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    const { rows } = await t.stack.pool.query('SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1', [created.body.id]);
    expect(rows[0].secret_encrypted).not.toContain(created.body.secret.slice('whsec_'.length));

    for (const [body, field] of [
      [{ url: 'ftp://example.com', events: ['lead.accepted'] }, 'body.url'],
      [{ url: 'not a url', events: ['lead.accepted'] }, 'body.url'],
      [{ url: 'http://example.com', events: ['lead.sold'] }, 'body.events'],
      [{ url: 'http://example.com', events: [] }, 'body.events'],
    ] as const) {
      const answer = await t.call('POST', '/v1/webhook-endpoints', { role: 'admin', body });
      expect([answer.status, JSON.stringify(answer.body.details)], JSON.stringify(body)).toEqual([400, expect.stringContaining(field)]);
    }
    expect((await t.call('POST', '/v1/webhook-endpoints', { role: 'marketing', body: { url: 'http://example.com', events: ['lead.accepted'] } })).status).toBe(403);
    expect((await t.call('GET', '/v1/webhook-endpoints', { role: 'sales' })).status).toBe(403);

    expect((await t.call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { role: 'admin' })).status).toBe(204);
    expect((await t.call('GET', '/v1/webhook-endpoints', { role: 'admin' })).body.endpoints.map((e: { id: string }) => e.id)).not.toContain(created.body.id);
    expect((await t.call('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { role: 'admin' })).status).toBe(404);
    expect((await t.call('GET', '/v1/webhook-endpoints/ep_nope/deliveries', { role: 'admin' })).status).toBe(404);
  });
});

describe('webhook deliveries', () => {
  it('delivers every lead event, signed by Standard Webhooks, with the lead, its stage, score, grade and console link; each attempt listed', async () => {
    const crm = await receiver();
    const endpoint = await subscribe(crm.url, ALL);
    await enrol('wh-won');
    await escalate('wh-won');
    await acceptLead('wh-won');
    expect((await t.call('POST', '/v1/leads/wh-won/outcome', { role: 'sales', body: { by: 'sam', outcome: 'won', amount: 1000, currency: 'EUR' } })).status).toBe(200);
    await enrol('wh-rej');
    await escalate('wh-rej');
    expect((await t.call('POST', '/v1/leads/wh-rej/reject', { role: 'sales', body: { by: 'sam', reason: 'no_budget' } })).status).toBe(200);
    await enrol('wh-dq');
    expect((await t.call('POST', '/v1/leads/wh-dq/disqualify', { role: 'sales', body: { by: 'sam', reason: 'competitor' } })).status).toBe(200);
    await enrol('wh-unsub');
    expect((await t.call('POST', '/v1/leads/wh-unsub/unsubscribe', { role: 'marketing' })).status).toBe(200);
    // A second unsubscribe is not a second event.
    expect((await t.call('POST', '/v1/leads/wh-unsub/unsubscribe', { role: 'marketing' })).status).toBe(200);
    await enrol('wh-erased');
    expect((await t.call('DELETE', '/v1/leads/wh-erased', { role: 'admin' })).status).toBe(202);
    // A second erasure is not a second event.
    expect((await t.call('DELETE', '/v1/leads/wh-erased', { role: 'admin' })).status).toBe(202);

    const expected = [
      ['lead.escalated', 'wh-won', 'sales_review'],
      ['lead.accepted', 'wh-won', 'accepted'],
      ['lead.outcome', 'wh-won', 'accepted'],
      ['lead.escalated', 'wh-rej', 'sales_review'],
      ['lead.rejected', 'wh-rej', 'nurturing'],
      ['lead.disqualified', 'wh-dq', 'disqualified'],
      ['lead.unsubscribed', 'wh-unsub', 'nurturing'],
      ['lead.erased', 'wh-erased', 'nurturing'],
    ];
    const got = await eventually(
      async () => {
        const verified = crm.verified(endpoint.secret);
        expect(verified.map((v) => [v.type, v.data.leadId, v.data.stage]).sort()).toEqual([...expected].sort());
        return verified;
      },
      { timeoutMs: 30_000 },
    );
    expect(new Set(got.map((g) => g.id)).size).toBe(expected.length);
    const outcome = got.find((g) => g.type === 'lead.outcome')!;
    const { grade } = (await t.call('GET', '/v1/leads/wh-won', { role: 'sales' })).body;
    expect(outcome.data).toMatchObject({ leadId: 'wh-won', score: 50, grade, outcome: 'won', amount: 1000, currency: 'EUR', by: 'sam', reviewNo: 1 });
    expect(outcome.data.url).toBe(`${t.stack.apiUrl.replace('localhost', '127.0.0.1')}/console/#/leads/wh-won`);
    expect(got.find((g) => g.type === 'lead.rejected')!.data).toMatchObject({ reason: 'no_budget', by: 'sam', score: 0 });

    const listed = await eventually(async () => {
      const list = await deliveries(endpoint.id);
      expect(list.map((d) => d.status)).toEqual(Array(expected.length).fill('delivered'));
      return list;
    });
    expect(new Set(listed.map((d) => d.id))).toEqual(new Set(got.map((g) => g.id)));
    for (const d of listed) expect(d.attempts).toEqual([{ attempt: 1, at: expect.any(String), statusCode: 204, error: null, durationMs: expect.any(Number) }]);
  });

  it('a receiver down for a while misses nothing once it is up: every event delivered, none twice by webhook-id; the failed attempts are listed', async () => {
    const crm = await receiver();
    const port = crm.port;
    await crm.close(); // down: connections refused
    const endpoint = await subscribe(`http://127.0.0.1:${port}/hooks`, ['lead.escalated', 'lead.accepted']);
    for (const id of ['wh-down-1', 'wh-down-2']) {
      await enrol(id);
      await escalate(id);
      await acceptLead(id);
    }
    // Every delivery has tried and failed at least once while the receiver was down.
    const failing = await eventually(
      async () => {
        const list = await deliveries(endpoint.id);
        expect(list).toHaveLength(4);
        for (const d of list) expect(d.attempts[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/ECONNREFUSED|fetch failed/) });
        return list;
      },
      { timeoutMs: 30_000 },
    );
    expect(failing.every((d) => d.status === 'pending')).toBe(true);

    await crm.listen(port); // up again, same address
    const got = await eventually(
      async () => {
        const verified = crm.verified(endpoint.secret);
        expect(verified).toHaveLength(4);
        return verified;
      },
      { timeoutMs: 40_000 },
    );
    expect(got.map((g) => `${g.type} ${g.data.leadId}`).sort()).toEqual(['lead.accepted wh-down-1', 'lead.accepted wh-down-2', 'lead.escalated wh-down-1', 'lead.escalated wh-down-2']);
    // The ids are the outbox rows', unchanged across attempts: nothing came twice.
    expect(new Set(got.map((g) => g.id))).toEqual(new Set(failing.map((d) => d.id)));
    const delivered = await eventually(async () => {
      const list = await deliveries(endpoint.id);
      expect(list.every((d) => d.status === 'delivered')).toBe(true);
      return list;
    });
    for (const d of delivered) {
      expect(d.attempts.length).toBeGreaterThanOrEqual(2);
      expect(d.attempts.at(-1)).toMatchObject({ statusCode: 204, error: null });
    }
  }, 120_000);

  it('a slow receiver (holding each answer up to 12 s) holds up neither another endpoint nor the lead: both get there while it has not answered', async () => {
    const slow = await receiver(12_000);
    const fast = await receiver();
    const slowEndpoint = await subscribe(slow.url, ['lead.escalated', 'lead.accepted']);
    const fastEndpoint = await subscribe(fast.url, ['lead.escalated', 'lead.accepted']);
    await enrol('wh-slow');
    await escalate('wh-slow');
    // The slow receiver has the escalation and has not answered yet...
    await eventually(async () => expect(slow.requests.map((r) => JSON.parse(r.body).type)).toContain('lead.escalated'));
    expect(slow.answeredAt).toHaveLength(0);
    // ...while the lead's hand-off goes on: the sales notification is out, sales accepts,
    // and the fast endpoint hears both events, all before the slow one answers its first.
    await eventually(async () => expect((await t.mailbox('sales@example.com')).some((m) => m.text.includes('Lead: wh-slow'))).toBe(true));
    await acceptLead('wh-slow');
    await eventually(async () => expect(fast.verified(fastEndpoint.secret).map((v) => v.type).sort()).toEqual(['lead.accepted', 'lead.escalated']));
    // The slow endpoint's second delivery did not queue behind its first either.
    await eventually(async () => expect(slow.requests).toHaveLength(2));
    const handedOff = Date.now();
    // Everything above happened while the slow receiver had answered nothing.
    expect(slow.answeredAt.filter((at) => at <= handedOff)).toEqual([]);
    slow.release();
    await eventually(async () => expect((await deliveries(slowEndpoint.id)).map((d) => d.status)).toEqual(['delivered', 'delivered']), { timeoutMs: 30_000 });
    expect(slow.verified(slowEndpoint.secret).map((v) => v.type).sort()).toEqual(['lead.accepted', 'lead.escalated']);
  }, 90_000);
});
