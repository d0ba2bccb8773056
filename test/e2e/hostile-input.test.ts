import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INHERITED_NAMES } from '../../src/domain/own-key.js';
import { findFailedWorkflowTasks } from '../../src/infra/temporal/invariants.js';
import { signWebhook } from '../../src/server/webhook.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type Answer, type TestStack } from '../helpers/http-stack.js';

/**
 * Hostile input on the whole stack: oversized, wrongly typed and malformed bodies; unicode and
 * control characters in every string field; forged and replayed webhook signatures, replays
 * racing each other. Every refusal is a 4xx `{ error, message, details? }` naming the field, and
 * changes nothing: the row counts of every table the API writes stay as they were.
 */
let t: TestStack;
const SECRET = 'whsec-hostile-0123456789';

beforeAll(async () => {
  t = await startTestStack({ WEBHOOK_SECRETS: SECRET, RATE_LIMIT_MAX: '0' });
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'target', email: 'target@example.com' } })).status).toBe(201);
  for (const [n, type] of ['product.compared', 'product.compared', 'pricing.viewed'].entries()) {
    await t.call('POST', '/v1/leads/target/events', { role: 'ingest', body: { eventId: `esc-${n}`, type } });
  }
  await eventually(async () => expect((await t.call('GET', '/v1/leads/target')).body.stage).toBe('sales_review'), { timeoutMs: 30_000 });
  // The workflow writes its read model after the stage change: let it land before counting rows.
  await eventually(async () => expect(Number((await t.stack.pool.query(`SELECT count(*) AS n FROM lead_transitions WHERE lead_id = 'target'`)).rows[0].n)).toBe(2), { timeoutMs: 30_000 });
});

afterAll(async () => {
  await t?.stop();
});

const TABLES = ['leads', 'lead_events', 'sales_decisions', 'suppressions', 'webhook_deliveries', 'lead_transitions'];
async function counts(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of TABLES) result[table] = Number((await t.stack.pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  return result;
}

/** A refusal as the API promises it: 4xx, a code, a sentence, and (when given) the field. */
function expectRefusal(answer: Answer, status: number, field?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  expect(JSON.stringify(answer.body)).not.toMatch(/\bat .+\.(ts|js):\d+|SELECT |INSERT |node_modules/);
  if (field) expect(JSON.stringify(answer.body.details ?? answer.body.message), `${field} named`).toContain(field);
}

const CONTROL = ['\u0000', '\n', '\r\n', '\t', '\u0007', '\u001b[31m', '\u007f'];
const NASTY_BUT_TEXT = ['Zoë 🚀 李', '\u202eevil', '\u200b', 'a\u0301', '😀'.repeat(20), '<script>alert(1)</script>', "'; DROP TABLE leads; --", '%00', '${jndi:ldap://x}'];

describe('hostile bodies', () => {
  it('refuses oversized, wrongly typed and malformed bodies with a 4xx naming the problem, changing nothing', async () => {
    const before = await counts();
    const big = { id: 'big', email: 'big@example.com', attributes: { blob: 'x'.repeat(70 * 1024) } };
    expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: big }), 413);
    expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', rawBody: '{"id": "half", "email": ' }), 400);
    expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', rawBody: '' }), 400);
    expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', rawBody: 'null' }), 400);
    expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', rawBody: '[]' }), 400);
    const form = await fetch(`${t.stack.apiUrl}/v1/leads`, { method: 'POST', headers: { authorization: 'Bearer ingest-key-0001', 'content-type': 'application/x-www-form-urlencoded' }, body: 'id=x&email=y' });
    expectRefusal({ status: form.status, headers: form.headers, body: await form.json() }, 415);
    const wrongTypes: Array<[Record<string, unknown>, string]> = [
      [{ id: 42, email: 'n@example.com' }, 'body.id'],
      [{ id: 'wt1', email: ['a@example.com'] }, 'body.email'],
      [{ id: 'wt2', email: 'wt2@example.com', firstName: { first: 'Ada' } }, 'body.firstName'],
      [{ id: 'wt3', email: 'wt3@example.com', attributes: 'not an object' }, 'body.attributes'],
      [{ id: 'wt4', email: 'wt4@example.com', timezone: 1 }, 'body.timezone'],
      [{ id: 'x'.repeat(129), email: 'long@example.com' }, 'body.id'],
      [{ id: 'wt5', email: `${'a'.repeat(65)}@example.com` }, 'body.email'],
    ];
    for (const [body, field] of wrongTypes) expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body }), 400, field);
    expectRefusal(await t.call('POST', '/v1/leads/target/events', { role: 'ingest', body: { eventId: 7, type: ['pricing.viewed'] } }), 400, 'body.eventId');
    expectRefusal(await t.call('POST', '/v1/leads/target/events', { role: 'ingest', body: { eventId: 'e', type: 'pricing.viewed', occurredAt: '0000-01-01T00:00:00Z' } }), 400, 'body.occurredAt');
    expectRefusal(await t.call('POST', '/v1/leads/target/reject', { role: 'sales', body: { by: 'sam', reason: 'because' } }), 400, 'body.reason');
    expectRefusal(await t.call('POST', '/v1/events', { role: 'ingest', body: { events: 'all of them' } }), 400, 'body.events');
    expectRefusal(await t.call('GET', '/v1/leads?limit=lots'), 400, 'querystring.limit');
    expectRefusal(await t.call('GET', '/v1/funnel?from=yesterday', { role: 'marketing' }), 400, 'querystring.from');
    // A path we serve with a method we do not: 405 naming the allowed ones.
    const wrongMethod = await t.call('PUT', '/v1/leads/target', { body: { email: 'x@example.com' } });
    expectRefusal(wrongMethod, 405);
    // DELETE is erasure (admin, docs/privacy.md).
    expect(wrongMethod.headers.get('allow')).toBe('GET, DELETE, PATCH');
    expect(await counts()).toEqual(before);
    expect((await t.call('GET', '/v1/leads/target')).body).toMatchObject({ stage: 'sales_review', score: 50 });
  });

  it('keeps ids of 101 to 128 characters working on every lead route (Fastify refused them with 414)', async () => {
    const id = `L${'x'.repeat(127)}`;
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: 'long-id@example.com' } })).status).toBe(201);
    expect((await t.call('GET', `/v1/leads/${id}`)).status).toBe(200);
    expect((await t.call('POST', `/v1/leads/${id}/events`, { role: 'ingest', body: { eventId: 'l1', type: 'page.viewed' } })).status).toBe(202);
    expectRefusal(await t.call('GET', `/v1/leads/${id}y`), 400, 'params.id');
  });

  it('takes any Unicode text where free text belongs and gives it back intact', async () => {
    for (const [i, text] of NASTY_BUT_TEXT.entries()) {
      const id = `u-${i}`;
      const created = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `u${i}@example.com`, firstName: text, lastName: text, company: text, attributes: { [text]: text } } });
      expect(created.status, text).toBe(201);
      const lead = (await t.call('GET', `/v1/leads/${id}`)).body;
      expect([lead.firstName, lead.lastName, lead.company], text).toEqual([text.trim(), text.trim(), text.trim()].map((v) => v || undefined));
      const event = await t.call('POST', `/v1/leads/${id}/events`, { role: 'ingest', body: { eventId: text, type: 'page.viewed', properties: { [text]: text } } });
      expect(event.status, text).toBe(202);
    }
  });

  it('refuses control characters in one-line fields, and NUL or lone surrogates anywhere, with the field named; nothing changes', async () => {
    const before = await counts();
    const base = { id: 'ctl', email: 'ctl@example.com' };
    for (const bad of CONTROL) {
      for (const field of ['firstName', 'lastName', 'company']) {
        expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: { ...base, [field]: `Ada${bad}Lovelace` } }), 400, `body.${field}`);
      }
      expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: { ...base, id: `ctl${bad}` } }), 400, 'body.id');
      expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: { ...base, email: `ctl${bad}@example.com` } }), 400, 'body.email');
      expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: { ...base, timezone: `Europe/Paris${bad}` } }), 400, 'body.timezone');
      expectRefusal(await t.call('POST', '/v1/leads/target/reject', { role: 'sales', body: { by: `sam${bad}x`, reason: 'no_fit' } }), 400, 'body.by');
      expectRefusal(await t.call('POST', '/v1/leads/target/disqualify', { role: 'sales', body: { by: 'sam', reason: `spam${bad}x` } }), 400, 'body.reason');
    }
    // NUL and lone surrogates: valid JSON, but no store keeps them; refused wherever they hide.
    for (const bad of ['\u0000', '\ud800', '\udfff']) {
      const where: Array<[string, string, unknown, string]> = [
        ['POST', '/v1/leads', { ...base, attributes: { note: `x${bad}` } }, 'body.attributes.note'],
        ['POST', '/v1/leads', { ...base, attributes: { [`k${bad}`]: 1 } }, 'body.attributes'],
        ['POST', '/v1/leads/target/events', { eventId: `e${bad}`, type: 'page.viewed' }, 'body.eventId'],
        ['POST', '/v1/leads/target/events', { eventId: 'nul-prop', type: 'page.viewed', properties: { deep: [{ v: `x${bad}` }] } }, 'body.properties.deep.0.v'],
        ['POST', '/v1/leads/target/reject', { by: 'sam', reason: 'no_fit', notes: `n${bad}` }, 'body.notes'],
      ];
      for (const [method, url, body, field] of where) expectRefusal(await t.call(method, url, { role: 'admin', body }), 400, field);
      // In a batch, the item is refused on its own, naming its field; the batch is answered.
      const batch = await t.call('POST', '/v1/events', { role: 'ingest', body: { events: [{ leadId: 'target', eventId: `b${bad}`, type: 'page.viewed' }, { leadId: 'target', eventId: 'b-ok', type: 'page.viewed', properties: { [`k${bad}`]: 1 } }] } });
      expect(batch.status).toBe(202);
      const [first, second] = batch.body.results as Array<{ status: string; error: string; details: Array<{ path: string }> }>;
      expect([first!.status, first!.error, first!.details[0]!.path]).toEqual(['refused', 'invalid_text', 'events.0.eventId']);
      expect([second!.status, second!.details[0]!.path.startsWith('events.1.properties')]).toEqual(['refused', true]);
      expect(['invalid_text', 'validation_failed']).toContain(second!.error);
    }
    expectRefusal(await t.call('GET', `/v1/dev/mailbox?to=${encodeURIComponent('a\u0000@example.com')}`), 400, 'querystring.to');
    expectRefusal(await t.call('GET', `/v1/leads?stage=${encodeURIComponent('sales_review\u0000')}`), 400, 'querystring.stage');
    expect(await counts()).toEqual(before);
    expect((await t.call('GET', '/v1/leads/target')).body).toMatchObject({ stage: 'sales_review', score: 50 });
  });
});

describe('hostile webhooks', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const webhook = (rawBody: string, headers: Record<string, string>) => t.call('POST', '/v1/webhooks/events', { role: null, rawBody, headers });
  const body = (eventId: string) => JSON.stringify({ events: [{ leadId: 'target', eventId, type: 'email.opened' }] });

  it('refuses forged signatures (other secret, moved timestamp, other id, swapped body, truncated digest) and changes nothing', async () => {
    const before = await counts();
    const genuine = signWebhook(SECRET, body('f1'));
    const digest = genuine['webhook-signature']!;
    const forgeries: Array<Record<string, string>> = [
      signWebhook('not-our-secret-0123456789', body('f1')),
      { ...genuine, 'webhook-timestamp': String(now() + 1) }, // the genuine digest under another timestamp
      { ...genuine, 'webhook-id': 'msg_forged' }, // ... under another id
      { ...genuine, 'webhook-signature': digest.slice(0, -2) },
      { ...genuine, 'webhook-signature': `${digest.toUpperCase()}x` },
      { ...genuine, 'webhook-timestamp': 'abc' },
      { 'webhook-signature': digest },
    ];
    for (const signature of forgeries) expectRefusal(await webhook(body('f1'), signature), 401);
    expectRefusal(await webhook(body('f2'), genuine), 401); // f1's signature on f2's body
    expectRefusal(await webhook(`${body('f1')} `, genuine), 401); // one byte more
    expect(await counts()).toEqual(before);
  });

  it('plays a delivery sent twice at the same moment exactly once', async () => {
    const raw = body('race-1');
    const signature = signWebhook(SECRET, raw);
    const answers = await Promise.all(Array.from({ length: 6 }, () => webhook(raw, signature)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([202, 401, 401, 401, 401, 401]);
    for (const refused of answers.filter((a) => a.status === 401)) expect(refused.body.error).toBe('replayed_signature');
    // Replayed later, the same digest given twice: still a replay.
    expectRefusal(await webhook(raw, { ...signature, 'webhook-signature': `${signature['webhook-signature']} ${signature['webhook-signature']}` }), 401);
    await eventually(async () => expect((await t.call('GET', '/v1/leads/target')).body.score).toBe(51));
  });
});

describe('inherited names (constructor, __proto__, toString, ...) on every route that takes a name', () => {
  // The names a route looks up in a table: each must be an unknown name (400 naming the field),
  // never a crash, a 500 or a wedged lead.
  const NAMES = INHERITED_NAMES;

  it('refuses each as an event type (single, batch, webhook), a sequence (lead creation, migrate) and a reject reason; the lead still scores and no workflow task failed', { timeout: 180_000 }, async () => {
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'named', email: 'named@example.com' } })).status).toBe(201);
    const before = await counts();
    for (const name of NAMES) {
      expectRefusal(await t.call('POST', '/v1/leads/named/events', { role: 'ingest', body: { eventId: `n-${name}`, type: name } }), 400, 'body.type');
      expectRefusal(await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: `seq-${name.replace(/[^A-Za-z0-9]/g, 'x')}`, email: 'seq@example.com', sequence: name } }), 400, 'body.sequence');
      expectRefusal(await t.call('POST', '/v1/leads/target/reject', { role: 'sales', body: { by: 'sam', reason: name } }), 400, 'body.reason');
      const migrate = await t.call('POST', `/v1/sequences/${encodeURIComponent(name)}/migrate`, { role: 'marketing', body: {} });
      expectRefusal(migrate, 400, 'params.id');
    }
    // Batch and webhook: each item refused on its own, naming its field.
    const events = NAMES.map((name, i) => ({ leadId: 'named', eventId: `b-${i}`, type: name }));
    const batch = await t.call('POST', '/v1/events', { role: 'ingest', body: { events } });
    expect(batch.status).toBe(202);
    expect(batch.body.accepted).toBe(0);
    for (const [i, result] of (batch.body.results as Array<{ error: string; details: Array<{ path: string }> }>).entries()) {
      expect([result.error, result.details.map((d) => d.path)], NAMES[i]).toEqual(['unknown_event_type', [`events.${i}.type`]]);
    }
    const raw = JSON.stringify({ events: NAMES.map((name, i) => ({ leadId: 'named', eventId: `w-${i}`, type: name })) });
    const signed = await t.call('POST', '/v1/webhooks/events', { role: null, rawBody: raw, headers: signWebhook(SECRET, raw) });
    expect([signed.status, signed.body.accepted]).toEqual([202, 0]);
    expect(new Set(signed.body.results.map((r: { details: Array<{ path: string }> }) => r.details[0]!.path.replace(/\d+/, 'N')))).toEqual(new Set(['events.N.type']));
    // Nothing was stored (the webhook's signature is, as a replay guard): no lead row for a refused
    // sequence (a later event for that id is a 404, not a 500), no event, no decision.
    const after = await counts();
    expect([after.leads, after.lead_events, after.sales_decisions]).toEqual([before.leads, before.lead_events, before.sales_decisions]);
    expectRefusal(await t.call('POST', '/v1/leads/seq-constructor/events', { role: 'ingest', body: { eventId: 'late', type: 'page.viewed' } }), 404);
    // The lead still scores, and neither it nor any other lead has a failed workflow task.
    expect((await t.call('POST', '/v1/leads/named/events', { role: 'ingest', body: { eventId: 'after', type: 'pricing.viewed' } })).status).toBe(202);
    await eventually(async () => expect((await t.call('GET', '/v1/leads/named')).body.score).toBe(10), { timeoutMs: 30_000 });
    expect(await findFailedWorkflowTasks(t.stack.client)).toEqual([]);
  });
});
