import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { SMTPServer } from 'smtp-server';
import { migrate } from '../../src/infra/db.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/infra/embedded-postgres.js';
import { freePort } from '../../src/infra/net.js';
import { DEV_PAYLOAD_KEYS, leadDataConverter } from '../../src/infra/payload-codec.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { programSnapshot } from '../../src/sequences/catalog.js';
import { LEAD_WORKFLOW_TYPE, LEADS_TASK_QUEUE } from '../../workflows/messages.js';
import { eventually } from '../helpers/eventually.js';

/**
 * `kill -9` of everything (worker, Temporal dev server, PostgreSQL) while welcome emails are
 * being handed to SMTP, then a restart: the cut-off sends are retried within 20 s of the restart
 * (their heartbeat stops; 10 s heartbeat timeout, 1 s retry), and each arrives exactly once.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LEADS = 4;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-crash-'));
const children: ChildProcess[] = [];
let temporal: DevServer | undefined;
let postgres: RunningPostgres | undefined;

/** An SMTP relay that, while `hang` is on, takes each message's data and never answers (a send in flight). */
class HangingSmtp {
  hang = true;
  inFlight = 0;
  readonly received = new Map<string, number>();
  readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData: (stream, _session, callback) => {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        if (this.hang) {
          this.inFlight += 1;
          return; // never answers: the sender waits until it dies
        }
        const key = /^x-leadflow-send-key:\s*(\S+)/im.exec(raw)?.[1] ?? 'unknown';
        this.received.set(key, (this.received.get(key) ?? 0) + 1);
        callback();
      });
    },
  });
}
const smtp = new HangingSmtp();
smtp.server.on('error', () => undefined);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await new Promise<void>((resolve) => smtp.server.close(() => resolve()));
  await postgres?.stop().catch(() => undefined);
  await temporal?.stop().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('crash recovery (kill -9 of everything mid-send)', () => {
  it('retries the cut-off sends within 20 s of the worker restart, each delivered once', { timeout: 240_000 }, async () => {
    const [temporalPort, pgPort, smtpPort] = await Promise.all([freePort(), freePort(), freePort()]);
    await new Promise<void>((resolve) => smtp.server.listen(smtpPort, '127.0.0.1', resolve));
    const dbFile = path.join(dir, 'temporal.db');
    const startParts = async () => {
      [temporal, postgres] = await Promise.all([startDevServer({ port: temporalPort, uiPort: 0, ui: false, dbFile }), startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort })]);
    };
    const startWorker = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'test', TEMPORAL_ADDRESS: temporal!.address, DATABASE_URL: postgres!.url, SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, METRICS_PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      children.push(child);
      return child;
    };
    await startParts();
    await migrate(postgres!.url);
    const worker = startWorker();
    const connection = await Connection.connect({ address: temporal!.address });
    const client = new Client({ connection, dataConverter: leadDataConverter(DEV_PAYLOAD_KEYS) });
    const ids = Array.from({ length: LEADS }, (_, i) => `crash-${i}`);
    for (const id of ids) {
      await client.workflow.start(LEAD_WORKFLOW_TYPE, { taskQueue: LEADS_TASK_QUEUE, workflowId: `lead-${id}`, args: [{ lead: { id, email: `${id}@example.com` }, program: programSnapshot('onboarding') }] });
    }
    // Every welcome email is in the relay's hands, unanswered: then everything dies at once.
    await eventually(() => expect(smtp.inFlight).toBe(LEADS), { timeoutMs: 60_000, intervalMs: 200 });
    await connection.close();
    const pgPid = Number(fs.readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    for (const pid of [worker.pid!, temporal!.pid!, pgPid]) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    smtp.hang = false;

    const restarted = Date.now();
    await startParts();
    // From here on the time is ours (heartbeat timeout, retry, worker start); how long the dev
    // server and PostgreSQL take to come back depends on the machine's load, and is reported.
    const partsUp = Date.now();
    startWorker();
    const keys = ids.map((id) => `${id}:onboarding@v1:e1:s0`);
    await eventually(() => expect(keys.every((key) => smtp.received.has(key))).toBe(true), { timeoutMs: 120_000, intervalMs: 100 });
    const total = (Date.now() - restarted) / 1000;
    const seconds = (Date.now() - partsUp) / 1000;
    console.log(`crash recovery: ${LEADS} cut-off welcome emails delivered ${total.toFixed(1)} s after the restart, ${seconds.toFixed(1)} s after the worker restarted (Temporal and PostgreSQL took ${((partsUp - restarted) / 1000).toFixed(1)} s to come back)`);
    // Exactly once, and nothing else was sent twice either.
    expect(keys.map((key) => smtp.received.get(key))).toEqual(keys.map(() => 1));
    expect([...smtp.received.values()].every((n) => n === 1)).toBe(true);
    expect(seconds).toBeLessThan(20);
  });
});
