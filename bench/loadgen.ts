import fs from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { benchDataConverter } from './codec.js';
import { benchTickSignal } from './workflows.js';

// The open-loop load generator, a process of its own (its CPU is its own, and it shares no event
// loop with the probes), started once per run: for each line "run <plan.json> <result.json>" on
// stdin it sends operation i of the plan at t0 + i / rate whatever the answers do, writes every
// send's timestamp and answer to the result file, and prints "done". While a plan runs it prints
// "progress <sent> <answered>" once a second.

export interface LoadOp {
  /** Workflow id (signal) or lead id (http). */
  target: string;
  /** Operation id: the signal's argument, or the event's eventId. */
  id: string;
  /** Event type (http). */
  type?: string;
}

export interface LoadPlan {
  kind: 'signal' | 'http';
  ratePerSecond: number;
  ops: LoadOp[];
  /** Requests in flight beyond which sending waits (the rate then falls, and the result shows it). */
  maxInFlight: number;
  temporalAddress?: string;
  namespace?: string;
  apiUrl?: string;
  apiKey?: string;
}

export interface LoadResult {
  /** Epoch ms of the first planned send. */
  t0: number;
  /** Per op: epoch ms sent, epoch ms answered (null: failed). */
  sentAt: number[];
  answeredAt: Array<number | null>;
  errors: number;
  firstError?: string;
  maxInFlightSeen: number;
}

const now = () => performance.timeOrigin + performance.now();

const clients = new Map<string, Client>();
async function signalClient(address: string, namespace: string): Promise<Client> {
  const key = `${address}/${namespace}`;
  let client = clients.get(key);
  if (!client) {
    const connection = await Connection.connect({ address });
    client = new Client({ connection, namespace, dataConverter: benchDataConverter() });
    clients.set(key, client);
  }
  return client;
}

async function runPlan(planFile: string, resultFile: string): Promise<void> {
  const plan = JSON.parse(await fs.readFile(planFile, 'utf8')) as LoadPlan;
  let send: (op: LoadOp) => Promise<void>;
  if (plan.kind === 'signal') {
    const client = await signalClient(plan.temporalAddress!, plan.namespace ?? 'default');
    send = (op) => client.workflow.getHandle(op.target).signal(benchTickSignal, op.id);
  } else {
    send = async (op) => {
      const response = await fetch(`${plan.apiUrl}/v1/leads/${encodeURIComponent(op.target)}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${plan.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventId: op.id, type: op.type ?? 'page.viewed' }),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`POST /v1/leads/${op.target}/events: HTTP ${response.status}`);
    };
  }
  const sentAt: number[] = [];
  const answeredAt: Array<number | null> = [];
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let maxInFlightSeen = 0;
  let answered = 0;
  const pending = new Set<Promise<void>>();
  const t0 = now() + 100;
  let next = 0;
  const progress = setInterval(() => console.log(`progress ${next} ${answered}`), 1000);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(plan.ops.length, Math.floor(((now() - t0) * plan.ratePerSecond) / 1000) + 1);
      while (next < due && inFlight < plan.maxInFlight) {
        const i = next++;
        sentAt[i] = now();
        inFlight += 1;
        maxInFlightSeen = Math.max(maxInFlightSeen, inFlight);
        const request = send(plan.ops[i]!).then(
          () => {
            answeredAt[i] = now();
          },
          (error: unknown) => {
            answeredAt[i] = null;
            errors += 1;
            firstError ??= error instanceof Error ? error.message : String(error);
          },
        );
        pending.add(request);
        void request.finally(() => {
          inFlight -= 1;
          answered += 1;
          pending.delete(request);
        });
      }
      if (next >= plan.ops.length) resolve();
      else setTimeout(tick, Math.max(0, Math.min(5, t0 + (next * 1000) / plan.ratePerSecond - now())));
    };
    setTimeout(tick, Math.max(0, t0 - now()));
  });
  await Promise.all(pending);
  clearInterval(progress);
  console.log(`progress ${next} ${answered}`);
  const result: LoadResult = { t0, sentAt, answeredAt, errors, ...(firstError ? { firstError } : {}), maxInFlightSeen };
  await fs.writeFile(resultFile, JSON.stringify(result));
}


async function main(): Promise<void> {
  console.log('loadgen ready');
  for await (const line of createInterface({ input: process.stdin })) {
    const [command, planFile, resultFile] = line.trim().split(' ');
    if (command !== 'run' || !planFile || !resultFile) continue;
    await runPlan(planFile, resultFile);
    console.log('done');
  }
  for (const client of clients.values()) await client.connection.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
