import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { Client, Connection } from '@temporalio/client';
import { LeadKeyStore } from '../../src/infra/lead-keys.js';
import { DEV_PAYLOAD_KEYS, leadDataConverter } from '../../src/infra/payload-codec.js';
import { freePort } from '../../src/infra/net.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { programSnapshot } from '../../src/sequences/catalog.js';
import { LEAD_WORKFLOW_TYPE, LEADS_TASK_QUEUE, leadStateQuery } from '../../workflows/messages.js';
import type { leadWorkflow } from '../../workflows/lead.js';
import { eventually } from '../helpers/eventually.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * SIGTERM to a deployed worker (`npm run worker`, a process of its own) while it is sending an
 * email: the send finishes and records itself before the worker exits, and the next worker
 * carries on without sending it again.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let temporal: DevServer;
let pg: TestPostgres;
let smtp: SMTPServer;
let smtpPort: number;
let connection: Connection;
/** Message-IDs the SMTP server accepted, in order. */
const accepted: string[] = [];
/** Resolves the first time a message's data starts arriving (the send is in flight). */
let onDataStarted: () => void = () => undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-sigterm-'));
  [temporal, pg] = await Promise.all([
    startDevServer({ port: await freePort(), uiPort: 0, ui: false, dbFile: path.join(dir, 'temporal.db') }),
    startTestPostgres(),
  ]);
  connection = await Connection.connect({ address: temporal.address });
  // A slow relay: it takes 3 s to accept each message, long enough to stop the worker mid-send.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      onDataStarted();
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        setTimeout(() => {
          accepted.push(/^message-id:\s*(\S+)/im.exec(raw)?.[1] ?? '?');
          callback();
        }, 3000);
      });
    },
  });
  smtpPort = await freePort();
  await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await connection?.close();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await pg?.stop();
  await temporal?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** `npm run worker` as deployed: its own process, real Temporal, Postgres and SMTP from env. */
function startWorker(): { child: ChildProcess; output: string[]; exited: Promise<number | null> } {
  const output: string[] = [];
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      TEMPORAL_ADDRESS: temporal.address,
      DATABASE_URL: pg.url,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      METRICS_PORT: '0',
      WORKER_SHUTDOWN_GRACE_SECONDS: '20',
      DATA_DIR: dir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

describe('worker shutdown on SIGTERM', () => {
  it('lets an email being sent finish, exits cleanly, and the next worker does not send it again', async () => {
    const first = startWorker();
    await eventually(() => expect(first.output.join('')).toContain('Leadflow worker is running'), { timeoutMs: 60_000 });

    // The deployed worker encrypts with the development payload key (PAYLOAD_KEYS unset) and the leads' own keys: so do we.
    const client = new Client({ connection, dataConverter: leadDataConverter(DEV_PAYLOAD_KEYS, new LeadKeyStore(pg.pool, DEV_PAYLOAD_KEYS)) });
    const leadId = 'sigterm-1';
    await pg.pool.query(`INSERT INTO leads (id, email, enrol_sequence) VALUES ($1, $2, 'onboarding')`, [leadId, `${leadId}@example.com`]);
    const dataStarted = new Promise<void>((resolve) => (onDataStarted = resolve));
    const handle = await client.workflow.start<typeof leadWorkflow>(LEAD_WORKFLOW_TYPE, {
      taskQueue: LEADS_TASK_QUEUE,
      workflowId: `lead-${leadId}`,
      args: [{ lead: { id: leadId, email: `${leadId}@example.com` }, program: programSnapshot('onboarding') }],
    });

    // The welcome email is on the wire: stop the worker now.
    await dataStarted;
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    const code = await first.exited;
    expect(code).toBe(0);
    // It waited for the relay (about 3 s) rather than dropping the send.
    expect(Date.now() - signalledAt).toBeGreaterThan(1500);
    expect(first.output.join('')).toContain('[leadflow] stopped');
    expect(accepted).toHaveLength(1);
    const outbox = await pg.pool.query(`SELECT status FROM email_outbox WHERE lead_id = $1`, [leadId]);
    expect(outbox.rows).toEqual([{ status: 'sent' }]);

    // A new worker picks the lead up where it was: the welcome is done, the next step waits.
    const second = startWorker();
    await eventually(async () => expect((await handle.query(leadStateQuery)).sequence.step).toBe(1), { timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(accepted).toHaveLength(1);
    const history = await handle.fetchHistory();
    const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes);
    expect(failed).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
