import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { Pool } from '../../src/infra/db.js';
import { buildApp } from '../../src/server/app.js';

// Refusals happen before any query: the stand-ins are never called.
let app: FastifyInstance;
beforeAll(async () => {
  app = await buildApp({ client: {} as Client, pool: {} as Pool, apiKeys: [{ role: 'marketing', key: 'm-key' }, { role: 'sales', key: 's-key' }] });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

const simulate = (payload: unknown, key = 'm-key') => app.inject({ method: 'POST', url: '/v1/simulations', headers: { authorization: `Bearer ${key}` }, payload: payload as object });
const paths = (body: string) => (JSON.parse(body) as { details: Array<{ path: string }> }).details.map((d) => d.path);

describe('POST /v1/simulations and GET /v1/reports/scoring: input at the edge', () => {
  it('refuses a change it cannot mean with a 400 naming the field', async () => {
    for (const [payload, path] of [
      [{}, 'body.program'],
      [{ program: { threshold: -1 } }, 'body.program.threshold'],
      [{ program: { scoring: { 'product.compare': 25 } } }, 'body.program.scoring.product.compare'],
      [{ program: { scoring: { toString: 25 } } }, 'body.program.scoring.toString'],
      [{ program: { scoring: { 'email.opened': -1 } } }, 'body.program.scoring.email.opened'],
      [{ program: { minGrade: 'E' } }, 'body.program.minGrade'],
      [{ program: {}, leads: [] }, 'body.leads'],
      [{ program: {}, since: '2026-13-01T00:00:00Z' }, 'body.since'],
    ] as const) {
      const answer = await simulate(payload);
      expect(answer.statusCode, JSON.stringify(payload)).toBe(400);
      expect(JSON.parse(answer.body).error).toBe('validation_failed');
      expect(paths(answer.body), JSON.stringify(payload)).toContain(path);
    }
    // An unknown field of the body or the change: strict, never ignored.
    expect((await simulate({ program: { treshold: 40 } })).statusCode).toBe(400);
    expect((await simulate({ program: {}, threshold: 40 })).statusCode).toBe(400);
  });

  it('lets marketing simulate and marketing and sales read the calibration', async () => {
    expect((await simulate({ program: {} }, 's-key')).statusCode).toBe(403);
    const since = await app.inject({ method: 'GET', url: '/v1/reports/scoring?since=tomorrow', headers: { authorization: 'Bearer s-key' } });
    expect(since.statusCode).toBe(400);
    expect(paths(since.body)).toEqual(['querystring.since']);
    expect((await app.inject({ method: 'GET', url: '/v1/reports/scoring' })).statusCode).toBe(401);
  });

  it('lists the program\'s scoring names in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const body = doc.paths['/v1/simulations'].post.requestBody.content['application/json'].schema;
    const scoring = body.properties.program.properties.scoring;
    expect(Object.keys(scoring.properties)).toContain('product.compared');
    expect(scoring.properties['product.compared']).toMatchObject({ type: 'integer', minimum: 0 });
    expect(scoring.additionalProperties).toBe(false);
  });
});
