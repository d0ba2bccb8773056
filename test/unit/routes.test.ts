import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { Pool } from '../../src/infra/db.js';
import { buildApp } from '../../src/server/app.js';

// Building the app talks to nothing; these stand-ins are never called.
const deps = { client: {} as Client, pool: {} as Pool, apiKeys: [] };

describe('route access declarations', () => {
  it('refuses to add a route that does not say who may call it', async () => {
    const app = await buildApp(deps);
    expect(() => app.post('/v1/something-new', async () => ({}))).toThrow('route POST /v1/something-new declares no access: set config.access');
    await app.close();
  });

  it('lists every route with its access; the webhook route exists only with secrets', async () => {
    const plain = await buildApp(deps);
    await plain.ready();
    expect(plain.routeTable.find((r) => r.url === '/v1/events')).toEqual({ method: 'POST', url: '/v1/events', access: { kind: 'key', roles: ['ingest'] } });
    expect(plain.routeTable.some((r) => r.url === '/v1/webhooks/events')).toBe(false);
    await plain.close();

    const signed = await buildApp({ ...deps, webhook: { secrets: ['whsec-0123456789abcdef'], toleranceSeconds: 300 } });
    await signed.ready();
    expect(signed.routeTable.find((r) => r.url === '/v1/webhooks/events')?.access).toEqual({ kind: 'signature' });
    expect(signed.routeTable.find((r) => r.url === '/v1/webhooks/email-feedback')?.access).toEqual({ kind: 'signature' });
    await signed.close();
    expect(plain.routeTable.some((r) => r.url === '/v1/webhooks/email-feedback')).toBe(false);

    // SNS topics alone: the feedback route (SNS-signed messages), not the events webhook.
    const snsOnly = await buildApp({ ...deps, emailFeedback: { snsTopicArns: ['arn:aws:sns:eu-west-1:123456789012:ses-feedback'], softBounceLimit: 3 } });
    await snsOnly.ready();
    expect(snsOnly.routeTable.map((r) => r.url).filter((url) => url.startsWith('/v1/webhooks/'))).toEqual(['/v1/webhooks/email-feedback']);
    await snsOnly.close();
  });
});
