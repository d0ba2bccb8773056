import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/infra/net.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { importWorkflowId, LEAD_WORKFLOW_TYPE } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, TEST_KEYS, type TestStack } from '../helpers/http-stack.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * A CSV import whose worker is killed (`kill -9`) mid-way: a fresh worker takes the job over
 * (the cut-off page's heartbeat stops, it is retried) and finishes it, with every lead created
 * once, counted once and running one workflow. The API runs in this process; the workers are
 * the deployment entry point (worker/main.ts) in child processes.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = 200;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-import-restart-'));
const workers: ChildProcess[] = [];
let temporal: DevServer | undefined;
let postgres: TestPostgres | undefined;
let running: TestStack | undefined;

afterAll(async () => {
  for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
  await running?.stop();
  await postgres?.stop().catch(() => undefined);
  await temporal?.stop().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('CSV import across a worker crash', () => {
  it('resumes where the killed worker was and creates no lead twice', { timeout: 300_000 }, async () => {
    [temporal, postgres] = await Promise.all([startDevServer({ port: await freePort(), uiPort: 0, ui: false, dbFile: path.join(dir, 'temporal.db') }), startTestPostgres()]);
    running = await startTestStack({ TEMPORAL_ADDRESS: temporal.address, DATABASE_URL: postgres.url }, { worker: false, importPageSize: 20 });
    const startWorker = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'test', TEMPORAL_ADDRESS: temporal!.address, DATABASE_URL: postgres!.url, SMTP_URL: running!.stack.smtpUrl, METRICS_PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      workers.push(child);
      return child;
    };
    const first = startWorker();

    const csv = ['id,email,firstName', ...Array.from({ length: ROWS }, (_, i) => `crash-${i},crash-${i}@example.com,Lead${i}`)].join('\n');
    const response = await fetch(`${running.stack.apiUrl}/v1/imports`, { method: 'POST', headers: { authorization: `Bearer ${TEST_KEYS.marketing}`, 'content-type': 'text/csv' }, body: csv });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const status = async () => (await running!.call('GET', `/v1/imports/${id}`, { role: 'marketing' })).body;

    // Kill the worker once the job is under way, well before it is done.
    const atKill = await eventually(
      async () => {
        const now = await status();
        expect(now.created).toBeGreaterThanOrEqual(40);
        return now;
      },
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(atKill.status).toBe('running');
    expect(atKill.created).toBeLessThan(ROWS);

    const restarted = Date.now();
    startWorker();
    const done = await eventually(
      async () => {
        const now = await status();
        expect(now.status).toBe('completed');
        return now;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    const resumedSeconds = (Date.now() - restarted) / 1000;
    expect(done).toMatchObject({ rows: ROWS, created: ROWS, updated: 0, refused: 0, errors: [] });

    const pool = running.stack.pool;
    const leads = await pool.query(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM leads WHERE id LIKE 'crash-%'`);
    expect(leads.rows[0]).toEqual({ n: ROWS, ids: ROWS });
    const outcomes = await pool.query(`SELECT outcome, count(*)::int AS n FROM import_rows WHERE import_id = $1 GROUP BY outcome`, [id]);
    expect(outcomes.rows).toEqual([{ outcome: 'created', n: ROWS }]);
    // One workflow run per lead: none was started twice (or started and terminated).
    const client = running.stack.client;
    await eventually(async () => expect(await client.workflow.count(`WorkflowType = '${LEAD_WORKFLOW_TYPE}'`)).toMatchObject({ count: ROWS }), { timeoutMs: 30_000, intervalMs: 500 });

    // How the job crossed the crash, as its history tells it.
    const history = await client.workflow.getHandle(importWorkflowId(id)).fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
    console.log(
      `import restart: killed at ${atKill.created}/${ROWS} created; completed ${resumedSeconds.toFixed(1)} s after the new worker was spawned; ${attempts.length} page activities, highest attempt ${Math.max(...attempts)}`,
    );
  });
});
