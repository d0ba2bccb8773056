import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTemporalCli } from '../../src/infra/temporal/binaries.js';
import { LeadService } from '../../src/leads/service.js';
import { LeadKeyStore } from '../../src/infra/lead-keys.js';
import { DEV_PAYLOAD_KEYS } from '../../src/infra/payload-codec.js';
import type { LeadErasedEvent } from '../../src/domain/erasure.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';

/**
 * Erasure by crypto-shredding, proven from the outside: after DELETE /v1/leads/{id}, a dump of
 * every Postgres table and the lead's raw Temporal history (through the `temporal` CLI without
 * the codec, and with our codec server) hold none of the lead's email, names or company; the
 * funnel counts the same; the address stays suppressed for a new lead with it.
 */
const run = promisify(execFile);
let t: TestStack;
let cli: string;

const ERASED = { id: 'erase-ada', email: 'ada.shredded@example.com', firstName: 'Adalinde', lastName: 'Shreddington', company: 'Vanishing Analytics Ltd', attributes: { phone: '+44 20 7946 0958', industry: 'fintech' } };
const KEPT = { id: 'erase-control', email: 'kept.control@example.com', firstName: 'Keptolin', lastName: 'Controlson', company: 'Remaining Industries' };
const SECRETS = [ERASED.email, 'ada.shredded', ERASED.firstName, ERASED.lastName, ERASED.company, ERASED.attributes.phone];

beforeAll(async () => {
  t = await startTestStack({ SALES_OWNERS: 'owner.one@example.com' });
  const resolved = await resolveTemporalCli();
  if (!resolved.path) throw new Error(`the temporal CLI is needed here (npm install puts it in .temporal/); tried ${resolved.tried.join(', ')}`);
  cli = resolved.path;
}, 240_000);

afterAll(async () => {
  await t?.stop();
});

/** Every row of every table, each cast to text: what a dump of the database would hold. */
async function dumpPostgres(): Promise<string> {
  const { rows: tables } = await t.stack.pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const parts: string[] = [];
  for (const { name } of tables) {
    expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
    const { rows } = await t.stack.pool.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
    parts.push(`-- ${name}`, ...rows.map((r) => r.row));
  }
  expect(tables.map((r) => r.name)).toEqual(expect.arrayContaining(['leads', 'lead_events', 'email_outbox', 'mailbox', 'suppressions', 'sales_decisions', 'lead_keys']));
  return parts.join('\n');
}

/**
 * `temporal workflow show` as ops would run it, with or without our codec server. The JSON output
 * keeps payload data in base64: every `data` field is decoded and appended, so what a payload
 * holds is searched as text too.
 */
async function cliHistory(workflowId: string, codec: boolean): Promise<string> {
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--address', t.stack.temporalAddress, '--namespace', 'default', '--output', 'json'];
  if (codec) args.push('--codec-endpoint', `${t.stack.apiUrl}/codec`, '--codec-auth', `Bearer ${TEST_KEYS.admin}`);
  const { stdout } = await run(cli, args, { maxBuffer: 64 * 1024 * 1024 });
  const decoded: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'data' && typeof value === 'string') decoded.push(Buffer.from(value, 'base64').toString('latin1'));
        else walk(value);
      }
    }
  };
  walk(JSON.parse(stdout));
  expect(decoded.length).toBeGreaterThan(0);
  return [stdout, ...decoded].join('\n');
}

/** The lead's history as the server hands it out: no data converter, no codec. */
async function rawHistoryBytes(workflowId: string): Promise<Buffer> {
  const events: proto.temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await t.stack.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId }, nextPageToken });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return Buffer.from(proto.temporal.api.history.v1.History.encode({ events }).finish());
}

const expectNone = (where: string, text: string, secrets: string[]) => {
  const lower = text.toLowerCase();
  for (const secret of secrets) {
    expect(lower.includes(secret.toLowerCase()), `"${secret}" in ${where}`).toBe(false);
    expect(text.includes(Buffer.from(secret).toString('base64')), `"${secret}" (base64) in ${where}`).toBe(false);
  }
};

/** Creates a lead and brings it to sales review: welcome email, sales notification (with its profile), an owner. */
async function leadInReview(lead: { id: string; email: string } & Record<string, unknown>, prefix: string): Promise<void> {
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: lead })).status).toBe(201);
  await eventually(async () => expect((await t.mailbox(lead.email)).length).toBeGreaterThanOrEqual(1), { timeoutMs: 30_000 });
  let n = 0;
  for (const type of ['product.compared', 'product.compared', 'pricing.viewed']) {
    const answer = await t.call('POST', `/v1/leads/${lead.id}/events`, { role: 'ingest', body: { eventId: `${prefix}-${++n}`, type, properties: { page: `/pricing?ref=${lead.email}` } } });
    expect(answer.status).toBe(202);
  }
  await eventually(async () => expect((await t.call('GET', `/v1/leads/${lead.id}`, { role: 'sales' })).body.stage).toBe('sales_review'), { timeoutMs: 30_000 });
  await eventually(async () => expect((await t.mailbox('owner.one@example.com')).some((m) => m.headers['x-leadflow-lead'] === lead.id)).toBe(true), { timeoutMs: 30_000 });
}

describe('erasure (DELETE /v1/leads/{id})', () => {
  it('leaves none of the lead in Postgres or its Temporal history, readable or not, and keeps the funnel', { timeout: 180_000 }, async () => {
    await leadInReview(ERASED, 'er');
    await leadInReview(KEPT, 'kp');
    const reject = await t.call('POST', `/v1/leads/${ERASED.id}/reject`, { role: 'sales', body: { by: 'sam@example.com', reason: 'not_ready', notes: `spoke to ${ERASED.firstName} at ${ERASED.company}` } });
    expect(reject.status).toBe(200);
    await eventually(async () => expect((await t.stack.pool.query('SELECT 1 FROM sales_decisions WHERE lead_id = $1', [ERASED.id])).rowCount).toBe(1));

    // Before: the history is readable through the codec (the proof below is not vacuous).
    expect(await cliHistory(`lead-${ERASED.id}`, true)).toContain(ERASED.email);
    expect(await dumpPostgres()).toContain(ERASED.email);
    const funnelBefore = (await t.call('GET', '/v1/funnel', { role: 'marketing' })).body;

    const erased = await t.call('DELETE', `/v1/leads/${ERASED.id}`, { role: 'admin' });
    expect([erased.status, erased.body]).toEqual([202, { id: ERASED.id, erased: true }]);
    expect((await t.call('GET', `/v1/leads/${ERASED.id}`, { role: 'admin' })).status).toBe(404);
    // Idempotent: the same answer again; unknown ids are 404; only admins erase.
    expect((await t.call('DELETE', `/v1/leads/${ERASED.id}`, { role: 'admin' })).body).toEqual({ id: ERASED.id, erased: true });
    expect((await t.call('DELETE', '/v1/leads/never-was', { role: 'admin' })).status).toBe(404);
    expect((await t.call('DELETE', `/v1/leads/${KEPT.id}`, { role: 'sales' })).status).toBe(403);
    expect((await t.call('GET', '/v1/leads?limit=100', { role: 'sales' })).body.leads.map((l: { id: string }) => l.id)).not.toContain(ERASED.id);

    // The funnel counts the tombstone as it counted the lead.
    expect((await t.call('GET', '/v1/funnel', { role: 'marketing' })).body).toEqual(funnelBefore);

    // Postgres: every table, every column.
    const dump = await dumpPostgres();
    expectNone('the Postgres dump', dump, SECRETS);
    expect(dump).toContain(KEPT.email); // the dump does see lead data
    expect(dump).toContain(ERASED.id); // the tombstone

    // Temporal: the lead's workflow ended; its history is still there, and unreadable.
    const description = await t.stack.client.workflow.getHandle(`lead-${ERASED.id}`).describe();
    expect(description.status.name).toBe('TERMINATED');
    const raw = await rawHistoryBytes(`lead-${ERASED.id}`);
    expect(raw.includes('sendNurtureEmail')).toBe(true);
    expectNone('the raw history', raw.toString('latin1'), SECRETS);
    const plainCli = await cliHistory(`lead-${ERASED.id}`, false);
    const codecCli = await cliHistory(`lead-${ERASED.id}`, true);
    for (const [where, text] of [['temporal workflow show', plainCli], ['temporal workflow show --codec-endpoint', codecCli]] as const) {
      expect(text.toLowerCase()).toContain('terminated');
      expectNone(where, text, SECRETS);
    }
    // The codec still reads the lead that was not erased.
    expect(await cliHistory(`lead-${KEPT.id}`, true)).toContain(KEPT.email);
    expect(await cliHistory(`lead-${KEPT.id}`, false)).not.toContain(KEPT.email);

    // The codec server gives an erased lead's payloads back as they are: ciphertext.
    const events = (await t.stack.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: `lead-${ERASED.id}` } })).history!.events!;
    const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!['encryption-key-id']!).toString()).toMatch(/^lead:[0-9a-f]{24}$/);
    const wire = { payloads: [{ metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(input.data!).toString('base64') }] };
    const decoded = await t.call('POST', '/codec/decode', { role: 'admin', body: wire });
    expect(decoded.status).toBe(200);
    expect(decoded.body).toEqual(wire);
    // What the CLI sends for the terminated event's empty details (protojson omits an empty list).
    expect((await t.call('POST', '/codec/decode', { role: 'admin', body: {} })).body).toEqual({ payloads: [] });

    // The development mailbox forgot the lead's messages, the sales notifications about it included.
    expect(await t.mailbox(ERASED.email)).toEqual([]);
    expect((await t.mailbox('owner.one@example.com')).some((m) => m.headers['x-leadflow-lead'] === ERASED.id)).toBe(false);
    expect((await t.mailbox('owner.one@example.com')).some((m) => m.headers['x-leadflow-lead'] === KEPT.id)).toBe(true);
  });

  it('keeps the erased address suppressed: a new lead with it, posted or imported, gets no marketing email', { timeout: 120_000 }, async () => {
    // The id of an erased lead is not given out again.
    const reused = await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: ERASED.id, email: ERASED.email } });
    expect([reused.status, reused.body.error]).toEqual([409, 'lead_erased']);

    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'erase-ada-again', email: ERASED.email.toUpperCase() } })).status).toBe(201);
    const imported = await fetch(`${t.stack.apiUrl}/v1/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEYS.marketing}`, 'content-type': 'text/csv' },
      body: `id,email,firstName\nerase-ada-imported,${ERASED.email},Ada\n`,
    });
    expect(imported.status).toBe(202);
    for (const id of ['erase-ada-again', 'erase-ada-imported']) {
      await eventually(
        async () => {
          const lead = await t.call('GET', `/v1/leads/${id}`, { role: 'sales' });
          expect(lead.status).toBe(200);
          expect(lead.body.emails.map((e: { status: string }) => e.status)).toEqual(['suppressed']);
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    }
    expect(await t.mailbox(ERASED.email)).toEqual([]);
    // Held as a keyed hash, never as the address.
    const { rows } = await t.stack.pool.query<{ email: string; lead_id: string | null }>(`SELECT email, lead_id FROM suppressions WHERE reason = 'erased'`);
    expect(rows).toEqual([{ email: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/), lead_id: null }]);
  });

  it('emits lead.erased once, inside the erasure transaction', { timeout: 60_000 }, async () => {
    const lead = { id: 'erase-event', email: 'erase.event@example.com', firstName: 'Evented' };
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: lead })).status).toBe(201);
    const emitted: LeadErasedEvent[] = [];
    const service = new LeadService({
      client: t.stack.client,
      pool: t.stack.pool,
      erasure: {
        leadKeys: new LeadKeyStore(t.stack.pool, DEV_PAYLOAD_KEYS),
        suppressionHashKey: Buffer.from('a test suppression hash key'),
        onErased: async (event, db) => {
          // Inside the transaction: the tombstone is already there for this connection.
          const { rows } = await db.query<{ erased: boolean }>('SELECT erased_at IS NOT NULL AS erased FROM leads WHERE id = $1', [event.leadId]);
          expect(rows[0]!.erased).toBe(true);
          emitted.push(event);
        },
      },
    });
    const before = Date.now();
    await service.erase(lead.id);
    await service.erase(lead.id);
    expect(emitted).toEqual([{ type: 'lead.erased', leadId: lead.id, at: expect.any(String) }]);
    expect(Date.parse(emitted[0]!.at)).toBeGreaterThanOrEqual(before - 1000);
  });
});

describe('export (GET /v1/leads/{id}/export)', () => {
  it('returns everything held about a lead, decrypted, in one document', { timeout: 120_000 }, async () => {
    const lead = { id: 'export-grace', email: 'grace.export@example.com', firstName: 'Gracia', lastName: 'Exportova', company: 'Portable Data GmbH', attributes: { industry: 'retail' } };
    await leadInReview(lead, 'ex');
    const welcome = (await t.call('GET', `/v1/leads/${lead.id}`, { role: 'sales' })).body.emails[0];
    expect((await t.call('POST', `/v1/leads/${lead.id}/events`, { role: 'ingest', body: { eventId: 'ex-open', type: 'email.opened', properties: { template: welcome.template } } })).status).toBe(202);
    expect((await t.call('POST', `/v1/leads/${lead.id}/reject`, { role: 'sales', body: { by: 'sam@example.com', reason: 'no_budget', notes: 'budget in Q3' } })).status).toBe(200);
    expect((await t.call('POST', `/v1/leads/${lead.id}/unsubscribe`, { role: 'ingest' })).status).toBe(200);
    await eventually(async () => expect((await t.stack.pool.query('SELECT 1 FROM sales_decisions WHERE lead_id = $1', [lead.id])).rowCount).toBe(1));

    expect((await t.call('GET', `/v1/leads/${lead.id}/export`, { role: 'sales' })).status).toBe(403);
    const answer = await t.call('GET', `/v1/leads/${lead.id}/export`, { role: 'admin' });
    expect(answer.status).toBe(200);
    const doc = answer.body;
    expect(doc.lead).toMatchObject({ id: lead.id, email: lead.email, firstName: lead.firstName, lastName: lead.lastName, company: lead.company, attributes: lead.attributes });
    expect(doc.events.map((e: { event_id: string }) => e.event_id)).toEqual(['ex-1', 'ex-2', 'ex-3', 'ex-open']);
    expect(doc.events[0].properties).toEqual({ page: `/pricing?ref=${lead.email}` });
    const kinds = doc.emails.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['marketing', 'sales']));
    const sent = doc.emails.find((e: { template: string }) => e.template === welcome.template);
    expect(sent).toMatchObject({ to_address: lead.email, status: 'sent' });
    expect(sent.engagement).toEqual([{ eventId: 'ex-open', type: 'email.opened', at: expect.any(String) }]);
    expect(doc.messages.length).toBeGreaterThanOrEqual(2); // the welcome and the sales notification, rendered
    expect(doc.messages.some((m: { text_body: string }) => m.text_body.includes(lead.firstName))).toBe(true);
    expect(doc.decisions).toEqual([expect.objectContaining({ decision: 'rejected', reason: 'no_budget', decided_by: 'sam@example.com', notes: 'budget in Q3' })]);
    expect(doc.transitions.map((r: { to_stage: string }) => r.to_stage)).toEqual(expect.arrayContaining(['nurturing', 'sales_review']));
    expect(doc.reviews).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'owner', owner: 'owner.one@example.com', review_no: 1 })]));
    expect(doc.suppressions).toEqual([expect.objectContaining({ email: lead.email, reason: 'unsubscribed' })]);
    expect(doc.outcomes).toEqual([]); // no lead_outcomes table in this build
    expect(doc.timeline.map((h: { kind: string }) => h.kind)).toEqual(expect.arrayContaining(['transition', 'event', 'email', 'decision']));
    expect(doc.lead.timeline.length).toBeGreaterThan(0);
    expect((await t.call('GET', '/v1/leads/nobody/export', { role: 'admin' })).status).toBe(404);
  });
});
