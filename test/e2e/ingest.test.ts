import { installTestRuntime } from '../helpers/runtime.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../src/infra/net.js';
import { signWebhook } from '../../src/server/webhook.js';
import { createLogger, startStack, type RunningStack } from '../../src/stack.js';
import { eventually } from '../helpers/eventually.js';

/**
 * Access control and ingestion over HTTP against the whole stack: every route's auth, the
 * batch endpoint's per-item answers, signed webhooks, rate limits, and keys kept out of logs.
 */
let stack: RunningStack;
let dataDir: string;
let api: string;
const logLines: string[] = [];

const KEYS = { ingest: 'ingest-key-0001', marketing: 'marketing-key-0001', sales: 'sales-key-0001', admin: 'admin-key-0001' };
/** A second ingest key that the rate-limit test uses up, leaving the others alone. */
const BURST_KEY = 'burst-ingest-key-0001';
/** A raw secret (its bytes are the key) and a Standard Webhooks one (whsec_ and a base64 key). */
const SECRETS = ['whsec-previous-0123456789', `whsec_${Buffer.from('current-key-0123456789abcdef').toString('base64')}`];
const RATE_LIMIT = 100;
/** The ingestion routes' own budget per key (RATE_LIMIT_INGEST_MAX). */
const INGEST_LIMIT = 150;

beforeAll(async () => {
  installTestRuntime();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-ingest-'));
  const [port, temporalPort, uiPort, pgPort, smtpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = loadConfig({
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    EMBEDDED_PG_PORT: String(pgPort),
    SMTP_SINK_PORT: String(smtpPort),
    DATA_DIR: dataDir,
    LEADS_API_KEYS: [...Object.entries(KEYS).map(([role, key]) => `${role}:${key}`), `ingest:${BURST_KEY}`].join(','),
    WEBHOOK_SECRETS: SECRETS.join(','),
    RATE_LIMIT_MAX: String(RATE_LIMIT),
    RATE_LIMIT_INGEST_MAX: String(INGEST_LIMIT),
    // Long enough that no bucket empties while this file runs.
    RATE_LIMIT_WINDOW_SECONDS: '3600',
  });
  // Every log line at the most verbose level, to prove keys and secrets never reach them.
  const logger = createLogger('trace', { write: (line: string) => void logLines.push(line) });
  stack = await startStack(config, { ui: false, logger });
  api = stack.apiUrl;
});

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

type Role = keyof typeof KEYS;

interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(method: string, url: string, options: { role?: Role | null; key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key ?? (options.role === null ? undefined : KEYS[options.role ?? 'admin']);
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined || options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = options.rawBody ?? JSON.stringify(options.body);
  }
  const response = await fetch(`${api}${url}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json');
  return { status: response.status, headers: response.headers, body: json && text ? JSON.parse(text) : text };
}

/** Sends `rawBody` to the webhook with the Standard Webhooks headers (none when `signature` is null). */
function webhook(rawBody: string, signature: Record<string, string> | null): Promise<Answer> {
  return call('POST', '/v1/webhooks/events', { role: null, rawBody, headers: signature ?? {} });
}

const now = () => Math.floor(Date.now() / 1000);

async function enrol(id: string): Promise<void> {
  const created = await call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com` } });
  expect(created.status).toBe(201);
}

async function expectScore(id: string, score: number): Promise<void> {
  await eventually(async () => expect((await call('GET', `/v1/leads/${id}`, { role: 'marketing' })).body.score).toBe(score), { intervalMs: 300 });
}

describe('access control', () => {
  it('answers 401 without a key or with an unknown one and 403 for a role the route does not allow, on every route the app has', async () => {
    const routes = stack.routes.filter((r) => r.method !== 'HEAD');
    // OPTIONS (CORS preflight of the codec endpoint) is safe and must be public: browsers send no key with it.
    const mutating = routes.filter((r) => r.method !== 'GET' && r.method !== 'OPTIONS');
    // The table comes from the app itself; these are only the routes we know must be in it.
    expect(mutating.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/leads',
        'POST /v1/leads/:id/events',
        'POST /v1/events',
        'POST /v1/webhooks/events',
        'POST /v1/leads/:id/accept',
        'POST /v1/leads/:id/reject',
        'POST /v1/leads/:id/disqualify',
        'POST /v1/leads/:id/unsubscribe',
      ]),
    );
    for (const route of mutating) expect(route.access.kind, `${route.method} ${route.url}`).not.toBe('public');

    let checked = 0;
    for (const route of routes) {
      const url = route.url.replace(':id', 'auth-probe');
      const where = `${route.method} ${route.url}`;
      if (route.access.kind === 'public') {
        expect((await call(route.method, url, { role: null })).status, where).toBe(200);
        continue;
      }
      const body = route.method === 'GET' ? undefined : {};
      if (route.access.kind === 'token') {
        // Tracking and unsubscribe links: only a token we signed opens them, never an API key.
        for (const role of [null, 'admin'] as const) {
          const answer = await call(route.method, url, { role, body });
          expect([answer.status, answer.body.error], `${where} as ${role ?? 'nobody'}`).toEqual([403, 'invalid_token']);
        }
        checked++;
        continue;
      }
      if (route.access.kind === 'signature') {
        const unsigned = await call(route.method, url, { role: null, body });
        expect([unsigned.status, unsigned.body.error], where).toEqual([401, 'invalid_signature']);
        // An API key, even admin's, does not open a signed route.
        expect((await call(route.method, url, { role: 'admin', body })).status, where).toBe(401);
        checked++;
        continue;
      }
      const noKey = await call(route.method, url, { role: null, body });
      expect([noKey.status, noKey.body.error], `${where} without a key`).toEqual([401, 'unauthorized']);
      const unknownKey = await call(route.method, url, { key: 'not-a-key-at-all', body });
      expect([unknownKey.status, unknownKey.body.error], `${where} with an unknown key`).toEqual([401, 'unauthorized']);
      for (const role of Object.keys(KEYS) as Role[]) {
        const answer = await call(route.method, url, { role, body });
        const allowed = role === 'admin' || route.access.roles.includes(role);
        if (allowed) expect([401, 403], `${where} as ${role}`).not.toContain(answer.status);
        else expect([answer.status, answer.body.error], `${where} as ${role}`).toEqual([403, 'forbidden']);
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(mutating.length);
    // None of the probes created anything.
    expect((await call('GET', '/v1/leads/auth-probe')).status).toBe(404);
  });
});

describe('POST /v1/events (batch)', () => {
  it('accepts the good events and refuses each bad one with its own reason', async () => {
    await enrol('b-ann');
    await enrol('b-ben');
    expect((await call('POST', '/v1/leads/b-ann/events', { role: 'ingest', body: { eventId: 'pre-1', type: 'page.viewed' } })).status).toBe(202);

    const events = [
      { leadId: 'b-ann', eventId: 'b1', type: 'product.compared' },
      { leadId: 'b-ben', eventId: 'b2', type: 'pricing.viewed', occurredAt: '2026-01-05T10:00:00Z', properties: { page: '/pricing' } },
      { leadId: 'ghost', eventId: 'b3', type: 'page.viewed' },
      { leadId: 'b-ann', eventId: 'b4', type: 'coffee.drunk' },
      { leadId: 'b-ann', type: 'page.viewed' },
      { leadId: 'b-ann', eventId: 'b6', type: 'page.viewed', occurredAt: 'yesterday' },
      'not an event',
      { leadId: 'b-ann', eventId: 'pre-1', type: 'page.viewed' },
      { leadId: 'b-ann', eventId: 'b1', type: 'product.compared' },
      { leadId: 'b-ann', eventId: 'b10', type: 'pricing.viewed' },
    ];
    const answer = await call('POST', '/v1/events', { role: 'ingest', body: { events } });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: 3, refused: 7 });
    const results = answer.body.results as Array<{ index: number; status: string; error?: string; details?: Array<{ path: string }> }>;
    expect(results.map((r) => r.index)).toEqual(events.map((_e, i) => i));
    expect(results.map((r) => r.error ?? r.status)).toEqual([
      'accepted',
      'accepted',
      'lead_not_found',
      'unknown_event_type',
      'validation_failed',
      'validation_failed',
      'validation_failed',
      'duplicate_event',
      'duplicate_event',
      'accepted',
    ]);
    expect(results[0]).toEqual({ index: 0, status: 'accepted', leadId: 'b-ann', eventId: 'b1' });
    expect(results[2]).toMatchObject({ status: 'refused', leadId: 'ghost', eventId: 'b3' });
    expect(results[2]!.error).toBe('lead_not_found');
    expect(results[4]!.details!.map((d) => d.path)).toEqual(['events.4.eventId']);
    expect(results[5]!.details!.map((d) => d.path)).toEqual(['events.5.occurredAt']);
    expect(results[8]).toMatchObject({ error: 'duplicate_event', message: 'repeats item 0 of this batch' });

    // Only the accepted events scored: 1 (pre-1) + 20 + 10 for Ann, 10 for Ben.
    await expectScore('b-ann', 31);
    await expectScore('b-ben', 10);
    const history = (await call('GET', '/v1/leads/b-ben')).body.history as Array<{ kind: string; data: { eventId?: string; occurredAt?: string } }>;
    expect(history.find((h) => h.data.eventId === 'b2')?.data.occurredAt).toMatch(/^2026-01-05T10:00:00/);

    // Sending the same batch again changes nothing: every good item is now a duplicate.
    const again = await call('POST', '/v1/events', { role: 'ingest', body: { events: events.slice(0, 2) } });
    expect(again.body).toMatchObject({ accepted: 0, refused: 2, results: [{ error: 'duplicate_event' }, { error: 'duplicate_event' }] });
  });

  it('refuses an empty batch, more than 500 events, and bodies over 1 MiB as a whole', async () => {
    const empty = await call('POST', '/v1/events', { role: 'ingest', body: { events: [] } });
    expect([empty.status, empty.body.error, empty.body.details[0].path]).toEqual([400, 'validation_failed', 'body.events']);
    const event = (i: number) => ({ leadId: 'ghost', eventId: `x${i}`, type: 'page.viewed' });
    const tooMany = await call('POST', '/v1/events', { role: 'ingest', body: { events: Array.from({ length: 501 }, (_v, i) => event(i)) } });
    expect([tooMany.status, tooMany.body.details[0].path]).toEqual([400, 'body.events']);

    // 500 events with some properties weigh more than the 64 KiB other routes allow, and pass here.
    const padding = 'p'.repeat(200);
    const full = { events: Array.from({ length: 500 }, (_v, i) => ({ ...event(i), properties: { padding } })) };
    expect(JSON.stringify(full).length).toBeGreaterThan(64 * 1024);
    const answer = await call('POST', '/v1/events', { role: 'ingest', body: full });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ accepted: 0, refused: 500 });
    expect(new Set(answer.body.results.map((r: { error: string }) => r.error))).toEqual(new Set(['lead_not_found']));

    const huge = await call('POST', '/v1/events', { role: 'ingest', body: { events: [{ ...event(1), properties: { blob: 'x'.repeat(1024 * 1024) } }] } });
    expect([huge.status, huge.body.error]).toEqual([413, 'payload_too_large']);
    expect(huge.body.message).toContain('1 MiB');
  });
});

describe('POST /v1/webhooks/events (signed)', () => {
  it('accepts deliveries signed with any configured secret and refuses bad, stale and replayed signatures', async () => {
    await enrol('w-wes');
    const body = (eventId: string, type = 'webinar.viewed') => JSON.stringify({ events: [{ leadId: 'w-wes', eventId, type }] });

    const first = body('w1');
    const firstSignature = signWebhook(SECRETS[0]!, first);
    const good = await webhook(first, firstSignature);
    expect([good.status, good.body]).toEqual([202, { accepted: 1, refused: 0, results: [{ index: 0, status: 'accepted', leadId: 'w-wes', eventId: 'w1' }] }]);
    // Rotation: the newer secret works as well.
    expect((await webhook(body('w2'), signWebhook(SECRETS[1]!, body('w2')))).body.accepted).toBe(1);
    // Several v1 values: one matching is enough.
    const third = body('w3');
    const thirdHeaders = signWebhook(SECRETS[1]!, third);
    expect((await webhook(third, { ...thirdHeaders, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${thirdHeaders['webhook-signature']}` })).body.accepted).toBe(1);

    const refusals: Array<[string, Answer]> = [
      ['invalid_signature', await webhook(body('w4'), signWebhook('some-other-secret-000', body('w4')))],
      ['invalid_signature', await webhook(body('w5', 'product.compared'), signWebhook(SECRETS[0]!, body('w5')))],
      ['invalid_signature', await webhook(body('w6'), null)],
      ['invalid_signature', await webhook(body('w7'), { 'webhook-id': 'msg_w7', 'webhook-timestamp': String(now()), 'webhook-signature': 'v1=abc' })],
      ['stale_signature', await webhook(body('w8'), signWebhook(SECRETS[0]!, body('w8'), now() - 400))],
      ['stale_signature', await webhook(body('w9'), signWebhook(SECRETS[0]!, body('w9'), now() + 400))],
      ['replayed_signature', await webhook(first, firstSignature)],
      // The webhook-id is the replay key: the same id signed anew is still a replay.
      ['replayed_signature', await webhook(first, signWebhook(SECRETS[0]!, first, now(), firstSignature['webhook-id']))],
    ];
    for (const [code, answer] of refusals) {
      expect([answer.status, answer.body.error], code).toEqual([401, code]);
      expect(answer.body.message, code).toEqual(expect.any(String));
    }

    // A signed body is checked like a batch: per-item refusals, and invalid JSON is a 400.
    const mixed = JSON.stringify({ events: [{ leadId: 'w-wes', eventId: 'w10', type: 'email.opened' }, { leadId: 'w-wes', eventId: 'w11', type: 'fax.sent' }] });
    const mixedAnswer = await webhook(mixed, signWebhook(SECRETS[0]!, mixed));
    expect(mixedAnswer.body).toMatchObject({ accepted: 1, refused: 1, results: [{ status: 'accepted' }, { error: 'unknown_event_type' }] });
    const notJson = await webhook('{"events": [', signWebhook(SECRETS[0]!, '{"events": ['));
    expect([notJson.status, notJson.body.error]).toEqual([400, 'invalid_json']);

    // Only the four accepted deliveries scored: 5 + 5 + 5 + 1; nothing refused got through.
    await expectScore('w-wes', 16);
    const events = ((await call('GET', '/v1/leads/w-wes')).body.history as Array<{ kind: string; data: { eventId: string } }>)
      .filter((h) => h.kind === 'event')
      .map((h) => h.data.eventId)
      .sort();
    expect(events).toEqual(['w1', 'w10', 'w2', 'w3']);
  });
});

describe('rate limit', () => {
  it('answers 429 with the error shape and Retry-After once a key has used its budget, and only for that key', async () => {
    const answers = [];
    for (let i = 0; i < RATE_LIMIT; i += 20) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, () => call('GET', '/v1/leads?limit=1', { key: BURST_KEY })))));
    }
    expect(answers.map((a) => a.status)).toEqual(Array(RATE_LIMIT).fill(200));
    expect(answers.at(-1)!.headers.get('x-ratelimit-remaining')).toBe('0');

    const limited = await call('GET', '/v1/leads?limit=1', { key: BURST_KEY });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'rate_limited', details: { limit: RATE_LIMIT } });
    expect(limited.body.message).toContain(`at most ${RATE_LIMIT} per 3600 s`);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.body.details.retryAfterSeconds).toBe(Number(limited.headers.get('retry-after')));
    // Event ingestion has its own budget: the key still reports events, up to INGEST_LIMIT requests.
    const ingested = [];
    for (let i = 0; i < INGEST_LIMIT; i += 25) {
      ingested.push(...(await Promise.all(Array.from({ length: 25 }, (_, j) => call('POST', '/v1/events', { key: BURST_KEY, body: { events: [{ leadId: 'b-ann', eventId: `burst-${i + j}`, type: 'page.viewed' }] } })))));
    }
    expect(ingested.map((a) => a.status)).toEqual(Array(INGEST_LIMIT).fill(202));
    const ingestLimited = await call('POST', '/v1/leads/b-ann/events', { key: BURST_KEY, body: { eventId: 'late', type: 'page.viewed' } });
    expect([ingestLimited.status, ingestLimited.body.error, ingestLimited.body.details.limit]).toEqual([429, 'rate_limited', INGEST_LIMIT]);
    expect(Number(ingestLimited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Limited before anything is done: the refused event was not stored.
    expect((await stack.pool.query(`SELECT count(*)::int AS n FROM lead_events WHERE event_id = 'late'`)).rows[0].n).toBe(0);

    // Another key of the same role has its own budget.
    expect((await call('GET', '/v1/leads?limit=1', { role: 'ingest' })).status).toBe(200);
  });
});

describe('OpenAPI document', () => {
  it('describes the batch and webhook routes, their item schema, signature and error answers', async () => {
    const doc = (await call('GET', '/openapi.json', { role: null })).body;
    const batch = doc.paths['/v1/events'].post;
    const events = batch.requestBody.content['application/json'].schema.properties.events;
    expect(events).toMatchObject({ type: 'array', minItems: 1, maxItems: 500 });
    expect(events.items.required).toEqual(expect.arrayContaining(['leadId', 'eventId', 'type']));
    expect(Object.keys(batch.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '413', '429']));
    expect(batch.responses['202'].content['application/json'].schema.properties.results.items.properties.status.enum).toEqual(['accepted', 'refused']);

    const signed = doc.paths['/v1/webhooks/events'].post;
    expect(signed.security).toEqual([{ webhookSignature: [] }]);
    // webhook-id and webhook-timestamp are parameters; webhook-signature is the security scheme's header.
    for (const name of ['webhook-id', 'webhook-timestamp']) {
      expect(signed.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name, required: true })]));
    }
    expect(doc.components.securitySchemes.webhookSignature).toMatchObject({ type: 'apiKey', in: 'header', name: 'webhook-signature' });
  });
});

describe('logs', () => {
  it('never contain an API key or a webhook secret', () => {
    const text = logLines.join('');
    expect(text).toContain('incoming request');
    expect(text).toContain('/v1/webhooks/events');
    for (const secret of [...Object.values(KEYS), BURST_KEY, ...SECRETS]) expect(text).not.toContain(secret);
  });
});
