import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import proto from '@temporalio/proto';
import { createLogger } from '../../src/stack.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';

/**
 * Lead data is encrypted in every payload the Temporal server stores: the raw history, as the
 * server hands it out, holds no email, name or company in plain text. The codec endpoint (admin)
 * gives it back to ops, for the Temporal UI's origin only, and its path key never reaches a log.
 */
let t: TestStack;
const UI_ORIGIN = 'http://localhost:8080';
const logLines: string[] = [];
const LEAD = { id: 'pii-grace', email: 'grace.hopper.pii@example.com', firstName: 'Gracelyn', lastName: 'Hopperton', company: 'Cobol Navy Works' };

beforeAll(async () => {
  const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  t = await startTestStack({ CODEC_CORS_ORIGINS: UI_ORIGIN }, { logger });
});

afterAll(async () => {
  await t?.stop();
});

/** Every event of a lead's history, raw from the server: no data converter, no codec. */
async function rawHistory(workflowId: string) {
  const events: proto.temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await t.stack.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId }, nextPageToken });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

describe('PII in Temporal payloads', () => {
  it('stores no email, name or company in plain text in the history, while the API still reads them', { timeout: 90_000 }, async () => {
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: LEAD })).status).toBe(201);
    let n = 0;
    for (const type of ['product.compared', 'product.compared', 'pricing.viewed']) {
      await t.call('POST', `/v1/leads/${LEAD.id}/events`, { role: 'ingest', body: { eventId: `pii-${++n}`, type } });
    }
    // Welcome sent and sales notified: activities carried the profile both ways.
    await eventually(async () => expect((await t.mailbox(LEAD.email)).length).toBeGreaterThanOrEqual(1), { timeoutMs: 30_000 });
    await eventually(async () => expect((await t.call('GET', `/v1/leads/${LEAD.id}`, { role: 'sales' })).body.stage).toBe('sales_review'), { timeoutMs: 30_000 });
    const detail = await t.call('GET', `/v1/leads/${LEAD.id}`, { role: 'sales' });
    expect(detail.body.email).toBe(LEAD.email); // decrypted for the API through the client's codec

    const events = await rawHistory(`lead-${LEAD.id}`);
    const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode({ events }).finish());
    // The search itself works: the activity names are in the same bytes, in plain text.
    expect(bytes.includes('sendNurtureEmail')).toBe(true);
    expect(bytes.includes('notifySales')).toBe(true);
    for (const secret of [LEAD.email, 'grace.hopper', LEAD.firstName, LEAD.lastName, LEAD.company]) {
      expect(bytes.includes(secret), `"${secret}" in the raw history`).toBe(false);
      expect(bytes.includes(Buffer.from(secret).toString('base64')), `"${secret}" (base64) in the raw history`).toBe(false);
    }
    const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe('binary/encrypted');
    // Under the lead's own data key (crypto-shredding, docs/privacy.md), not the shared PAYLOAD_KEYS one.
    expect(Buffer.from(input.metadata!['encryption-key-id']!).toString()).toMatch(/^lead:[0-9a-f]{24}$/);
  });

  it('decodes for ops through the codec endpoint: admin by bearer key or path key, CORS for the UI origin only', async () => {
    const events = await rawHistory(`lead-${LEAD.id}`);
    const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const wire = {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(input.data!).toString('base64'),
        },
      ],
    };
    const decoded = await t.call('POST', '/codec/decode', { role: 'admin', body: wire, headers: { origin: UI_ORIGIN } });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const plain = decoded.body.payloads[0];
    expect(Buffer.from(plain.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(plain.data, 'base64').toString())).toMatchObject({ lead: { id: LEAD.id, email: LEAD.email } });

    // What the Temporal UI does: preflight, then POST <endpoint>/decode without our header.
    const preflight = await fetch(`${t.stack.apiUrl}/codec/${TEST_KEYS.admin}/decode`, {
      method: 'OPTIONS',
      headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const byPath = await t.call('POST', `/codec/${TEST_KEYS.admin}/decode`, { role: null, body: wire, headers: { origin: UI_ORIGIN, 'x-namespace': 'default' } });
    expect(byPath.status).toBe(200);
    expect(byPath.body).toEqual(decoded.body);

    // Refusals: no key, a wrong path key, a key without admin, a foreign origin (no CORS header).
    expect((await t.call('POST', '/codec/decode', { role: null, body: wire })).status).toBe(401);
    expect((await t.call('POST', '/codec/not-the-admin-key/decode', { role: null, body: wire })).status).toBe(401);
    expect((await t.call('POST', '/codec/decode', { role: 'sales', body: wire })).status).toBe(403);
    const foreign = await t.call('POST', '/codec/decode', { role: 'admin', body: wire, headers: { origin: 'https://evil.example' } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    // Garbage is a 400 that names the problem, not a 500.
    const tampered = { payloads: [{ ...wire.payloads[0]!, data: Buffer.from('not really encrypted data at all').toString('base64') }] };
    const refused = await t.call('POST', '/codec/decode', { role: 'admin', body: tampered });
    expect([refused.status, refused.body.error]).toEqual([400, 'undecodable_payload']);

    // Encode then decode round-trips; the path key was never logged.
    const encoded = await t.call('POST', '/codec/encode', { role: 'admin', body: decoded.body });
    expect(Buffer.from(encoded.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect((await t.call('POST', '/codec/decode', { role: 'admin', body: encoded.body })).body).toEqual(decoded.body);
    expect(logLines.some((line) => line.includes('/codec/***/decode'))).toBe(true);
    for (const line of logLines) expect(line).not.toContain(TEST_KEYS.admin);
  });
});
