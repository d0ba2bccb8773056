import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/stack.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestStack, TEST_KEYS, type Answer, type TestStack } from '../helpers/http-stack.js';

/**
 * API hygiene when things break inside: with PostgreSQL gone, every route answers with the error
 * shape and a generic sentence, never a stack trace, SQL, a driver message or an address; the
 * reason is in the log for ops, and no log line carries a key, a payload key or a password.
 */
let pg: TestPostgres;
let t: TestStack;
const logLines: string[] = [];
const PAYLOAD_KEY = Buffer.alloc(32, 42).toString('base64');
const WEBHOOK_SECRET = 'whsec-hygiene-0123456789';

beforeAll(async () => {
  pg = await startTestPostgres();
  const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });
  t = await startTestStack({ DATABASE_URL: pg.url, PAYLOAD_KEYS: `hyg:${PAYLOAD_KEY}`, WEBHOOK_SECRETS: WEBHOOK_SECRET, RATE_LIMIT_MAX: '0' }, { logger });
  expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'before', email: 'before@example.com' } })).status).toBe(201);
});

afterAll(async () => {
  await t?.stop();
  await pg?.stop().catch(() => undefined);
});

/** What no client may ever see in an answer. */
const LEAKS = [/\bat .+[.](ts|js):\d+/, /node_modules/, /\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b/i, /ECONNREFUSED|ECONNRESET|terminating connection/, /127\.0\.0\.1:\d+/, /postgres(ql)?:\/\//i, /\bpg\b|relation "|column "/];

function expectNoLeak(answer: Answer, where: string): void {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  for (const leak of LEAKS) expect(text, `${where}: ${text}`).not.toMatch(leak);
}

describe('internal errors never reach a client', () => {
  it('answers 500 internal (or 503 from the health checks) with a generic sentence while PostgreSQL is down, and logs the reason', { timeout: 90_000 }, async () => {
    await pg.stop();
    const probes: Array<[string, string, unknown?]> = [
      ['POST', '/v1/leads', { id: 'during', email: 'during@example.com' }],
      ['GET', '/v1/leads/before'],
      ['GET', '/v1/leads?stage=nurturing'],
      ['POST', '/v1/leads/before/events', { eventId: 'down-1', type: 'page.viewed' }],
      ['POST', '/v1/events', { events: [{ leadId: 'before', eventId: 'down-2', type: 'page.viewed' }] }],
      ['POST', '/v1/leads/before/unsubscribe'],
      ['GET', '/v1/funnel'],
      ['GET', '/v1/dev/mailbox'],
      ['GET', '/healthz'],
      ['GET', '/readyz'],
    ];
    for (const [method, url, body] of probes) {
      const answer = await t.call(method, url, { role: 'admin', ...(body ? { body } : {}) });
      const where = `${method} ${url}`;
      expectNoLeak(answer, where);
      if (url.endsWith('z')) {
        expect([answer.status, answer.body], where).toEqual([503, { status: 'degraded', checks: { postgres: 'unavailable', temporal: 'ok' } }]);
      } else if (url === '/v1/events') {
        // Per-item answers: each item refused as `internal`, to be sent again.
        expect([answer.status, answer.body.results[0].error], where).toEqual([202, 'internal']);
      } else {
        expect([answer.status, answer.body], where).toEqual([500, { error: 'internal', message: 'something went wrong on our side; the request can be retried' }]);
      }
    }
    // The signed webhook too: and its signature is released, so the sender's retry is not a "replay".
    const { signWebhook } = await import('../../src/server/webhook.js');
    const raw = JSON.stringify({ events: [{ leadId: 'before', eventId: 'down-3', type: 'page.viewed' }] });
    const hook = await t.call('POST', '/v1/webhooks/events', { role: null, rawBody: raw, headers: signWebhook(WEBHOOK_SECRET, raw) });
    expectNoLeak(hook, 'webhook');
    expect(hook.status).toBeGreaterThanOrEqual(500);
    // Ops get the reason in the log.
    expect(logLines.some((l) => /request failed|health check failed/.test(l) && /ECONNREFUSED|connect|terminat/i.test(l))).toBe(true);
  });

  it('keeps keys, payload keys, webhook secrets and database passwords out of every log line', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const secrets = [...Object.values(TEST_KEYS), PAYLOAD_KEY, WEBHOOK_SECRET, `:${new URL(pg.url).password}@`];
    for (const line of logLines) for (const secret of secrets) expect(line, 'a secret in a log line').not.toContain(secret);
  });
});
