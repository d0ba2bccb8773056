import { createPool } from '../src/infra/db.js';
import { startSmtpSink } from '../src/infra/smtp-sink.js';

// The SMTP sink as a process of its own, so the bench can bill its CPU to the sink and not to the
// bench's client or to Leadflow. Env: DATABASE_URL, SMTP_SINK_PORT.

const databaseUrl = process.env.DATABASE_URL;
const port = Number(process.env.SMTP_SINK_PORT);
if (!databaseUrl || !Number.isInteger(port) || port <= 0) {
  console.error('smtp-sink-main: set DATABASE_URL and SMTP_SINK_PORT');
  process.exit(2);
}
const pool = createPool(databaseUrl, 4);
const sink = await startSmtpSink({ pool, port, host: '127.0.0.1' });
console.log(`smtp sink ready on ${sink.url}`);
process.on('SIGTERM', () => {
  void sink
    .stop()
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
