import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { ImportService, type ImportRow } from '../../src/leads/imports.js';
import { freePort } from '../../src/infra/net.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { eventually } from '../helpers/eventually.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * An import keeps at most `ahead.max` of its leads started and not yet run by a worker. No lead
 * worker runs here: the test plays the workers by setting the read model's revision (what a
 * lead's first workflow task writes), so it sees exactly when the import waits and when it goes.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-import-ahead-'));
let temporal: DevServer;
let postgres: TestPostgres;
let connection: Connection;
let imports: ImportService;

beforeAll(async () => {
  [temporal, postgres] = await Promise.all([startDevServer({ port: await freePort(), uiPort: 0, ui: false, dbFile: path.join(dir, 'temporal.db') }), startTestPostgres()]);
  connection = await Connection.connect({ address: temporal.address });
  imports = new ImportService({ client: new Client({ connection, namespace: temporal.namespace }), pool: postgres.pool });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await postgres?.stop();
  await temporal?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function* rowsOf(prefix: string, n: number): AsyncIterable<ImportRow> {
  for (let i = 0; i < n; i++) yield { row: i + 2, lead: { id: `${prefix}-${i}`, email: `${prefix}-${i}@example.com` } };
}

const started = async (prefix: string) =>
  Number((await postgres.pool.query<{ n: string }>('SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND workflow_started_at IS NOT NULL', [`${prefix}-%`])).rows[0]!.n);
/** What a worker's first task of each started lead does to the read model. */
const workersCatchUp = (prefix: string) => postgres.pool.query(`UPDATE leads SET revision = 1 WHERE id LIKE $1 AND workflow_started_at IS NOT NULL AND revision = 0`, [`${prefix}-%`]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('CSV import: how far it runs ahead of the workers', () => {
  it('starts a chunk at a time and waits while max leads are started and not yet run; goes on when the workers catch up', { timeout: 120_000 }, async () => {
    const { id } = await imports.stage('onboarding', rowsOf('ahead', 30));
    const waits: number[] = [];
    const page = imports.processPage(id, { pageSize: 30, concurrency: 4, ahead: { max: 10, waitMs: 60_000, pollMs: 50, sleep, onWait: (n) => waits.push(n) } });

    // Chunks of 5: two go (10 started, none run), the third waits.
    await eventually(() => expect(waits.length).toBeGreaterThan(3), { timeoutMs: 30_000 });
    expect(await started('ahead')).toBe(10);
    expect(await imports.unprocessed(id, 0)).toBe(10);
    expect(new Set(waits)).toEqual(new Set([10]));

    // The workers run what was started: the import goes on, and waits again at the next ten.
    await workersCatchUp('ahead');
    await eventually(async () => expect(await started('ahead')).toBe(20), { timeoutMs: 30_000 });
    await sleep(300);
    expect(await started('ahead')).toBe(20);

    await workersCatchUp('ahead');
    await eventually(async () => expect(await started('ahead')).toBe(30), { timeoutMs: 30_000 });
    const progress = await page;
    expect(progress).toMatchObject({ rows: 30, created: 30, remaining: 0 });
  });

  it('does not wait past waitMs for workers that never come', { timeout: 120_000 }, async () => {
    const { id } = await imports.stage('onboarding', rowsOf('stalled', 12));
    const t0 = Date.now();
    const progress = await imports.processPage(id, { pageSize: 12, concurrency: 4, ahead: { max: 4, waitMs: 400, pollMs: 50, sleep } });
    expect(progress).toMatchObject({ created: 12, remaining: 0 });
    expect(await started('stalled')).toBe(12);
    // Six chunks of 2: the first two go at once, each later one waited its 400 ms out.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4 * 400);
  });

  it('starts the whole page at once without a bound (the API route and tests that ask for none)', { timeout: 120_000 }, async () => {
    const { id } = await imports.stage('onboarding', rowsOf('unbounded', 8));
    const progress = await imports.processPage(id, { pageSize: 8, concurrency: 4 });
    expect(progress).toMatchObject({ created: 8, remaining: 0 });
    expect(await started('unbounded')).toBe(8);
  });
});
