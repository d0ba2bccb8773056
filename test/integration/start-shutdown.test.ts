import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres.js';
import { freePort } from '../../src/infra/net.js';
import { eventually } from '../helpers/eventually.js';

/**
 * Ctrl-C in a terminal sends SIGINT to the whole foreground process group: `npm start`, and
 * every child in its group. Postgres must not be in that group, or it shuts down while the
 * worker is still draining an email send, and the send can never record itself.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let smtp: SMTPServer;
let smtpPort: number;
let child: ChildProcess | undefined;
const accepted: string[] = [];
let onDataStarted: () => void = () => undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-ctrl-c-'));
  // A slow relay: 3 s per message, so the Ctrl-C lands while the welcome email is on the wire.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      onDataStarted();
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => setTimeout(() => (accepted.push(/^x-leadflow-send-key:\s*(\S+)/im.exec(raw)?.[1] ?? '?'), callback()), 3000));
    },
  });
  smtpPort = await freePort();
  await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm start on Ctrl-C', () => {
  it('drains the worker (the email in flight finishes and records itself) before Postgres stops', async () => {
    const [apiPort, temporalPort, uiPort, pgPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const output: string[] = [];
    // Its own process group, as a terminal gives `npm start`: the group signal below is the Ctrl-C.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: String(apiPort),
        TEMPORAL_PORT: String(temporalPort),
        TEMPORAL_UI_PORT: String(uiPort),
        EMBEDDED_PG_PORT: String(pgPort),
        METRICS_PORT: String(metricsPort),
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        DATA_DIR: dir,
        LEADS_API_KEYS: 'ingest:ctrl-c-ingest-key',
        WORKER_SHUTDOWN_GRACE_SECONDS: '20',
      },
    });
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    await eventually(() => expect(output.join('')).toContain('Leadflow all-in-one is running'), { timeoutMs: 150_000, intervalMs: 250 });

    const dataStarted = new Promise<void>((resolve) => (onDataStarted = resolve));
    const created = await fetch(`http://127.0.0.1:${apiPort}/v1/leads`, {
      method: 'POST',
      headers: { authorization: 'Bearer ctrl-c-ingest-key', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ctrl-c-1', email: 'ctrl-c-1@example.com' }),
    });
    expect(created.status).toBe(201);
    await dataStarted;
    process.kill(-child.pid!, 'SIGINT');

    expect(await exited).toBe(0);
    const said = output.join('');
    expect(said).toContain('[leadflow] stopped');
    expect(said).not.toMatch(/database system is shutting down|terminating connection due to administrator command/);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatch(/^ctrl-c-1:onboarding@v\d+:e1:s0$/);

    // The send recorded itself before Postgres went down: the outbox says sent.
    const pgAgain = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: pgPort });
    const db = new pg.Client({ connectionString: pgAgain.url });
    await db.connect();
    try {
      const outbox = await db.query(`SELECT status FROM email_outbox WHERE lead_id = 'ctrl-c-1'`);
      expect(outbox.rows).toEqual([{ status: 'sent' }]);
    } finally {
      await db.end();
      await pgAgain.stop();
    }
  }, 240_000);
});
