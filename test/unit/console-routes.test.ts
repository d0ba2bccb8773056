import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { Pool } from '../../src/infra/db.js';
import { buildApp } from '../../src/server/app.js';
import { consoleFiles } from '../../src/server/console.js';

// Serving the console and the session route talk to neither Temporal nor Postgres.
const deps = { client: {} as Client, pool: {} as Pool, apiKeys: [{ role: 'sales' as const, key: 'sales-key-0001' }, { role: 'marketing' as const, key: 'marketing-key-0001' }] };

const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-console-'));
fs.mkdirSync(path.join(dist, 'assets'));
fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>console</title>');
fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

describe('web console routes', () => {
  it('serves the built files under /console/ with a strict content security policy, assets cached for good', async () => {
    expect([...consoleFiles(dist).entries()].sort()).toEqual([
      ['/console/', 'index.html'],
      ['/console/assets/index-abc123.js', 'assets/index-abc123.js'],
    ]);
    const app = await buildApp({ ...deps, console: { dir: dist } });
    const index = await app.inject({ method: 'GET', url: '/console/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(index.body).toContain('<title>console</title>');

    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    for (const url of ['/', '/console']) {
      const redirect = await app.inject({ method: 'GET', url });
      expect([redirect.statusCode, redirect.headers.location]).toEqual([302, '/console/']);
    }
    // Only the built files exist: nothing else under the folder, nothing outside it.
    for (const url of ['/console/assets/missing.js', '/console/../package.json', '/console/%2e%2e/package.json']) {
      const missing = await app.inject({ method: 'GET', url });
      expect([missing.statusCode, missing.json().error], url).toEqual([404, 'not_found']);
    }
    expect(app.routeTable.filter((r) => r.url.startsWith('/console')).every((r) => r.access.kind === 'public')).toBe(true);
    await app.close();
  });

  it('says how to build the console when it is not built', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-console-empty-'));
    const app = await buildApp({ ...deps, console: { dir: empty } });
    const answer = await app.inject({ method: 'GET', url: '/console/' });
    expect(answer.statusCode).toBe(503);
    expect(answer.body).toContain('npm run console:build');
    await app.close();
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it('tells a key its roles, the mailbox, the Temporal UI, reject reasons and sequences; nothing without a key', async () => {
    const app = await buildApp({ ...deps, devMailbox: true, temporalUi: { url: 'http://127.0.0.1:8233', namespace: 'default' } });
    const session = await app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: 'Bearer sales-key-0001' } });
    expect(session.statusCode).toBe(200);
    expect(session.json()).toEqual({
      roles: ['sales'],
      mailbox: true,
      temporalUi: { url: 'http://127.0.0.1:8233', namespace: 'default' },
      rejectReasons: ['not_ready', 'no_budget', 'no_authority', 'wrong_contact', 'no_fit', 'other'],
      sequences: expect.arrayContaining(['onboarding', 'recycle']),
    });
    expect((await app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: 'Bearer marketing-key-0001' } })).json().roles).toEqual(['marketing']);
    expect((await app.inject({ method: 'GET', url: '/v1/session' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/v1/session', headers: { authorization: 'Bearer wrong-key-0001' } })).statusCode).toBe(401);
    await app.close();

    const real = await buildApp(deps);
    expect((await real.inject({ method: 'GET', url: '/v1/session', headers: { authorization: 'Bearer sales-key-0001' } })).json()).toMatchObject({ mailbox: false, temporalUi: null });
    await real.close();
  });
});
