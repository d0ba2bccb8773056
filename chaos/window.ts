import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../activities/index.js';
import { createPool, migrate } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { createMailer, type Mailer } from '../src/infra/mailer.js';
import { freePort } from '../src/infra/net.js';
import { startSmtpSink } from '../src/infra/smtp-sink.js';

/**
 * Measures the one window where a duplicate email is possible (docs/reliability.md): from the
 * relay's 250 to the COMMIT of the outbox row marked `sent`, over real sends through the real
 * activity, embedded PostgreSQL and the SMTP sink. `node --import tsx chaos/window.ts [sends]`.
 */
const sends = Number(process.argv[2] ?? 300);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-window-'));
const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort() });
await migrate(pg.url);
const pool = createPool(pg.url);
const sink = await startSmtpSink({ pool, port: await freePort() });
const real = createMailer(sink.url);
let acceptedAt = 0;
const mailer: Mailer = {
  async send(message) {
    const result = await real.send(message);
    acceptedAt = performance.now(); // the relay said 250: from here to the commit is the window
    return result;
  },
  close: () => real.close(),
};
const activities = createActivities({ pool, mailer, config: { mailFrom: 'marketing@example.com', salesInbox: 'sales@example.com' } });
const windows: number[] = [];
const totals: number[] = [];
for (let i = 0; i < sends; i++) {
  const started = performance.now();
  await activities.sendNurtureEmail({ lead: { id: `w${i}`, email: `w${i}@example.com` }, template: 'welcome', sendKey: `w${i}:window@v1:e1:s0`, sequence: 'window@v1', step: 0 });
  const committed = performance.now(); // sendNurtureEmail returns after the COMMIT
  windows.push(committed - acceptedAt);
  totals.push(committed - started);
}
const at = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.floor(p * (values.length - 1))]!.toFixed(1);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
console.log(`${sends} sends; window (relay 250 -> 'sent' committed): p50 ${at(windows, 0.5)} ms, p90 ${at(windows, 0.9)} ms, p99 ${at(windows, 0.99)} ms, max ${at(windows, 1)} ms`);
console.log(`whole send: p50 ${at(totals, 0.5)} ms, p99 ${at(totals, 0.99)} ms; share of send time inside the window ${((100 * sum(windows)) / sum(totals)).toFixed(1)}%`);
real.close();
await sink.stop();
await pool.end();
await pg.stop();
fs.rmSync(dir, { recursive: true, force: true });
