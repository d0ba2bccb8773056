import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as activities from './baseline-activities.js';
import { benchDataConverter } from './codec.js';

// A worker process for the bare-engine baselines (bench/workflows.ts), run next to the Leadflow
// worker so both are measured the same way (their own process, RSS and CPU from /proc), with the
// Leadflow worker's payload codec. Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default
// "default"), BENCH_TASK_QUEUE, PAYLOAD_KEYS (as the Leadflow worker reads it).

const address = process.env.TEMPORAL_ADDRESS;
const taskQueue = process.env.BENCH_TASK_QUEUE;
if (!address || !taskQueue) {
  console.error('baseline-worker: set TEMPORAL_ADDRESS and BENCH_TASK_QUEUE');
  process.exit(2);
}
Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });

const workflowBundle = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error },
});
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  taskQueue,
  workflowBundle,
  activities,
  dataConverter: benchDataConverter(),
});
const running = worker.run();
process.on('SIGTERM', () => {
  if (worker.getState() === 'RUNNING') worker.shutdown();
});
console.log('baseline worker ready');
await running;
await connection.close();
process.exit(0);
