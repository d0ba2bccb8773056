import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { startLeadflowCluster } from '../src/cluster/topology.js';
import { createPool, migrate, type Pool } from '../src/infra/db.js';
import { startEmbeddedPostgres } from '../src/infra/embedded-postgres.js';
import { freePort } from '../src/infra/net.js';
import { resolveTemporalCli } from '../src/infra/temporal/binaries.js';
import { readTemporalPin } from '../src/infra/temporal/cluster-build.js';
import { DEV_SERVER_SQLITE_PRAGMAS, startDevServer } from '../src/infra/temporal/dev-server.js';
import { LeadStageKey } from '../workflows/search-attributes.js';
import type { HistoryMark } from './analysis.js';
import { benchDataConverter } from './codec.js';
import { findPid, sampleProc, sampleProcTree, startChild, type BenchChild, type ProcSample } from './procs.js';
import type { Progress } from './progress.js';

// The parts under test, started once per run: Temporal (dev server, the cluster, or
// TEMPORAL_ADDRESS), PostgreSQL, the SMTP sink in a process of its own, the Leadflow worker(s)
// and API from their deployment entry points, the baseline worker. Each process is sampled from
// /proc by name, so every phase bills CPU and memory the same way.

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const KEYS = { ingest: 'bench-ingest-key', sales: 'bench-sales-key', marketing: 'bench-marketing-key' };
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The processes the bench samples; `bench` is the bench's own client (the driver, not the system). */
export const PROCESS_NAMES = ['worker', 'api', 'baselineWorker', 'temporal', 'postgres', 'smtpSink', 'bench'] as const;
export type ProcessName = (typeof PROCESS_NAMES)[number];
/** Everything but the driver: what "all processes" adds up. */
export const SYSTEM_PROCESSES: readonly ProcessName[] = PROCESS_NAMES.filter((n) => n !== 'bench');

export interface StackOptions {
  cluster: boolean;
  workers: number;
  cpuProf: boolean;
  keepData: boolean;
  /** Use and keep this folder instead of a new temporary one. */
  dataDir?: string;
  outDir: string;
  /** The dev server's SQLite pragmas (undefined: Leadflow's default). */
  sqlitePragmas?: readonly string[];
  /** Extra environment of the Leadflow worker (e.g. WORKER_MAX_CACHED_WORKFLOWS). */
  workerEnv?: NodeJS.ProcessEnv;
}

export interface BenchStack {
  runId: string;
  dataDir: string;
  profileDir: string;
  temporalAddress: string;
  namespace: string;
  client: Client;
  pool: Pool;
  apiUrl: string;
  baselineQueue: string;
  /** False when SMTP_URL points elsewhere: the SMTP hand-off is then not measured. */
  sinkIsOurs: boolean;
  setup: { temporal: string; postgres: string; smtp: string; workerConcurrencyDefaults: string };
  http(method: string, url: string, body?: unknown, key?: string): Promise<{ status: number; json: unknown }>;
  expectStatus(method: string, url: string, body: unknown, statuses: number[]): Promise<{ status: number; json: unknown }>;
  /** CPU ms so far per process (undefined where a process is not ours to sample). */
  cpu(): Promise<Record<ProcessName, number | undefined>>;
  /** RSS of the Leadflow worker(s) and the API, and the Temporal server's. */
  rss(): Promise<{ worker: number; api: number; temporal?: number }>;
  /** A line of the first worker's Prometheus metrics, by name pattern. */
  workerMetric(name: RegExp): Promise<number | undefined>;
  temporalDbBytes(): Promise<number | undefined>;
  postgresBytes(): Promise<number>;
  /** A workflow's history as marks (every run of it, in order). */
  history(workflowId: string): Promise<HistoryMark[]>;
  /** Stops the Leadflow worker(s) and starts them again with `env` added (the cache sweep). */
  restartWorkers(env: NodeJS.ProcessEnv): Promise<void>;
  /** Stops every process; the worker writes its CPU profile on exit. */
  stop(): Promise<void>;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const epochMs = (t: HistoryEvent['eventTime']): number => Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);

/** Starts the parts and the processes under test. */
export async function startStack(options: StackOptions, progress: Progress): Promise<BenchStack> {
  // Lead ids carry the run id, so a bench against a shared Postgres never meets older leads
  // (no "_" or "%" in it: it goes into LIKE patterns).
  const runId = `b${Date.now().toString(36)}`;
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  try {
    // A given folder is kept and may hold an earlier run's data (its leads, their workflows): both servers start from it.
    const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-bench-')));
    if (options.dataDir) await fs.mkdir(dataDir, { recursive: true });
    if (options.keepData || options.dataDir) progress.log(`data folder (kept): ${dataDir}`);
    else stops.push(() => fs.rm(dataDir, { recursive: true, force: true }));

    progress.start('starting Temporal, PostgreSQL and the SMTP sink', 0);
    let temporalAddress = process.env.TEMPORAL_ADDRESS || '';
    const temporalDbFile = path.join(dataDir, 'temporal.db');
    const temporalPids: number[] = [];
    let databaseUrl = process.env.DATABASE_URL || '';
    let postgresPid: number | undefined;
    const metricsPorts = await Promise.all(Array.from({ length: options.workers }, () => freePort()));
    const cluster = options.cluster
      ? await startLeadflowCluster({
          dataDir,
          ...(databaseUrl ? { databaseUrl } : {}),
          apis: 1,
          workers: options.workers,
          appEnv: { LOG_LEVEL: 'warn', HOST: '127.0.0.1', LEADS_API_KEYS: `ingest:${KEYS.ingest},sales:${KEYS.sales},marketing:${KEYS.marketing}`, RATE_LIMIT_MAX: '0', WORKER_SHUTDOWN_GRACE_SECONDS: '5' },
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
      const dev = await startDevServer({ cliPath: cli.path, port: await freePort(), uiPort: 0, ui: false, dbFile: temporalDbFile, ...(options.sqlitePragmas ? { sqlitePragmas: options.sqlitePragmas } : {}) });
      stops.push(() => dev.stop());
      temporalAddress = dev.address;
      const pid = dev.pid ?? (await findPid(temporalDbFile));
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
    const sinkIsOurs = !process.env.SMTP_URL;
    let smtpSink: BenchChild | undefined;
    if (!smtpUrl) {
      const port = await freePort();
      smtpSink = await startChild({
        name: 'smtp sink',
        cwd: REPO,
        args: ['--import', 'tsx', 'bench/smtp-sink-main.ts'],
        env: { ...process.env, DATABASE_URL: databaseUrl, SMTP_SINK_PORT: String(port) },
        readyLine: /smtp sink ready/,
      });
      stops.push(() => smtpSink!.stop());
      smtpUrl = `smtp://127.0.0.1:${port}`;
    }
    const connection = await Connection.connect({ address: temporalAddress });
    stops.push(() => connection.close());
    const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
    const dataConverter = benchDataConverter(process.env, pool);
    const client = new Client({ connection, namespace, dataConverter });
    progress.finish(`Temporal ${temporalAddress}, SMTP ${smtpSink ? `sink process pid ${smtpSink.pid}` : smtpUrl}`);

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
      LEADS_API_KEYS: `ingest:${KEYS.ingest},sales:${KEYS.sales},marketing:${KEYS.marketing}`,
      // The bench is one client sending thousands of requests: the per-key limit would be the bottleneck.
      RATE_LIMIT_MAX: '0',
      WORKER_SHUTDOWN_GRACE_SECONDS: '5',
    };
    const baselineQueue = `bench-${runId}`;
    // Started together with the Leadflow worker and API: each bundles its workflow code.
    const baselineStarting = startChild({
      name: 'baseline worker',
      cwd: REPO,
      args: ['--import', 'tsx', 'bench/baseline-worker.ts'],
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: namespace, BENCH_TASK_QUEUE: baselineQueue },
      readyLine: /baseline worker ready/,
    });
    void baselineStarting.then((child) => stops.push(() => child.stop()), () => undefined);

    const startWorkers = (extraEnv: NodeJS.ProcessEnv) =>
      Promise.all(
        metricsPorts.map((port, i) =>
          startChild({
            name: `worker-${i + 1}`,
            cwd: REPO,
            args: [...(options.cpuProf && i === 0 ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), '--import', 'tsx', 'worker/main.ts'],
            env: { ...appEnv, ...options.workerEnv, ...extraEnv, METRICS_PORT: String(port) },
            readyLine: /Leadflow worker is running/,
          }),
        ),
      );
    let workerChildren: BenchChild[] = [];
    let workerPids: number[];
    let apiPid: number;
    if (cluster) {
      workerPids = cluster.workers.map((w) => w.pid()!);
      apiPid = cluster.apis[0]!.pid()!;
    } else {
      const [workers, apiChild] = await Promise.all([
        startWorkers({}),
        startChild({ name: 'api', cwd: REPO, args: ['--import', 'tsx', 'src/server/main.ts'], env: { ...appEnv, PORT: String(apiPort) }, readyLine: /Leadflow api is running/ }),
      ]);
      workerChildren = workers;
      // Stopped in this order: API, workers (their profile is written on exit), baseline worker.
      stops.push(() => Promise.all(workerChildren.map((c) => c.stop())));
      stops.push(() => apiChild.stop());
      workerPids = workers.map((c) => c.pid);
      apiPid = apiChild.pid;
    }
    const baselineWorker = await baselineStarting;
    progress.finish(`worker pid ${workerPids.join(', ')}, API pid ${apiPid} on :${apiPort}, baseline worker pid ${baselineWorker.pid}`);

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const http = async (method: string, url: string, body?: unknown, key = KEYS.ingest) => {
      const response = await fetch(`${apiUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, json: text ? (JSON.parse(text) as unknown) : null };
    };
    const sum = async (pids: number[]): Promise<ProcSample | undefined> => {
      const samples = (await Promise.all(pids.map((pid) => sampleProc(pid).catch(() => undefined)))).filter((x): x is ProcSample => !!x);
      return samples.length ? { rssBytes: samples.reduce((n, x) => n + x.rssBytes, 0), cpuMs: samples.reduce((n, x) => n + x.cpuMs, 0) } : undefined;
    };
    const fileSize = async (file: string) => (await fs.stat(file).catch(() => undefined))?.size ?? 0;

    return {
      runId,
      dataDir,
      profileDir,
      temporalAddress,
      namespace,
      client,
      pool,
      apiUrl,
      baselineQueue,
      sinkIsOurs,
      setup: {
        temporal: cluster
          ? `cluster: go.temporal.io/server ${readTemporalPin().server}, frontend/history/matching/worker as 4 processes on PostgreSQL`
          : process.env.TEMPORAL_ADDRESS
            ? `TEMPORAL_ADDRESS ${temporalAddress}`
            : `dev server (temporal server start-dev, SQLite file, pragmas ${(options.sqlitePragmas ?? DEV_SERVER_SQLITE_PRAGMAS).join(', ') || "SQLite's own"})`,
        postgres: process.env.DATABASE_URL ? 'DATABASE_URL' : cluster ? 'the cluster\'s PostgreSQL' : 'embedded-postgres',
        smtp: smtpSink ? 'SMTP sink (src/infra/smtp-sink.ts) in its own process, storing into Postgres' : cluster ? 'the cluster\'s SMTP sink' : 'SMTP_URL',
        workerConcurrencyDefaults: 'SDK defaults: maxConcurrentWorkflowTaskExecutions 40, maxConcurrentActivityTaskExecutions 100, maxCachedWorkflows from heap size unless WORKER_MAX_CACHED_WORKFLOWS',
      },
      http,
      async expectStatus(method, url, body, statuses) {
        const answer = await http(method, url, body);
        if (!statuses.includes(answer.status)) throw new Error(`${method} ${url}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
        return answer;
      },
      async cpu() {
        const usage = process.cpuUsage();
        return {
          worker: (await sum(workerPids))?.cpuMs,
          api: (await sum([apiPid]))?.cpuMs,
          baselineWorker: (await sum([baselineWorker.pid]))?.cpuMs,
          temporal: (await sum(temporalPids))?.cpuMs,
          postgres: postgresPid ? (await sampleProcTree(postgresPid).catch(() => undefined))?.cpuMs : undefined,
          smtpSink: smtpSink ? (await sum([smtpSink.pid]))?.cpuMs : undefined,
          bench: (usage.user + usage.system) / 1000,
        };
      },
      async rss() {
        const temporalRss = (await sum(temporalPids))?.rssBytes;
        return { worker: (await sum(workerPids))?.rssBytes ?? Number.NaN, api: (await sum([apiPid]))?.rssBytes ?? Number.NaN, ...(temporalRss !== undefined ? { temporal: temporalRss } : {}) };
      },
      async workerMetric(name) {
        const metrics = await fetch(`http://127.0.0.1:${metricsPorts[0]}/metrics`)
          .then((r) => r.text())
          .catch(() => '');
        const line = metrics.split('\n').find((l) => name.test(l) && !l.startsWith('#'));
        return line ? Number(line.trim().split(/\s+/).pop()) : undefined;
      },
      async temporalDbBytes() {
        if (cluster) {
          return Number((await pool.query<{ n: string }>(`SELECT sum(pg_database_size(datname)) AS n FROM pg_database WHERE datname IN ('temporal', 'temporal_visibility')`)).rows[0]!.n);
        }
        return temporalPids.length ? (await fileSize(temporalDbFile)) + (await fileSize(`${temporalDbFile}-wal`)) : undefined;
      },
      async postgresBytes() {
        return Number((await pool.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n);
      },
      async history(workflowId) {
        const marks: HistoryMark[] = [];
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        for (const e of history.events ?? []) marks.push(await markOf(e, dataConverter.payloadCodecs?.[0]));
        return marks;
      },
      async restartWorkers(env) {
        if (cluster) throw new Error('restarting workers is not supported with --cluster');
        await Promise.all(workerChildren.map((c) => c.stop()));
        workerChildren = await startWorkers(env);
        workerPids = workerChildren.map((c) => c.pid);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** One history event as a mark; a signal's first argument is decoded to find its operation id. */
async function markOf(e: HistoryEvent, codec: { decode(p: Payload[]): Promise<Payload[]> } | undefined): Promise<HistoryMark> {
  const at = epochMs(e.eventTime);
  if (e.workflowExecutionStartedEventAttributes) return { kind: 'started', at };
  if (e.workflowTaskCompletedEventAttributes) return { kind: 'taskCompleted', at };
  if (e.activityTaskCompletedEventAttributes) return { kind: 'activityCompleted', at };
  const signal = e.workflowExecutionSignaledEventAttributes;
  if (signal) {
    let opId: string | undefined;
    const raw = signal.input?.payloads?.[0];
    if (raw) {
      const [payload] = codec ? await codec.decode([raw as Payload]) : [raw as Payload];
      const value = defaultPayloadConverter.fromPayload<unknown>(payload!);
      opId = typeof value === 'string' ? value : typeof value === 'object' && value && 'eventId' in value ? String((value as { eventId: unknown }).eventId) : undefined;
    }
    return { kind: 'signaled', at, name: signal.signalName ?? '', ...(opId !== undefined ? { opId } : {}) };
  }
  const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[LeadStageKey.name];
  if (upsert) {
    const stage = defaultPayloadConverter.fromPayload<unknown>(upsert as Payload);
    return { kind: 'stageUpserted', at, stage: Array.isArray(stage) ? String(stage[0]) : String(stage) };
  }
  return { kind: 'other', at };
}

/** The decoded first argument of a workflow's start (a lead's start input, for the baselines to carry). */
export async function startInputOf(stack: BenchStack, workflowId: string): Promise<unknown> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const raw = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!raw) throw new Error(`${workflowId}: no start input in its history`);
  const [payload] = await benchDataConverter(process.env, stack.pool).payloadCodecs![0]!.decode([raw as Payload]);
  return defaultPayloadConverter.fromPayload<unknown>(payload!);
}

/** Runs `op(i)` for i < total, `concurrency` at a time. */
export async function runLimited(total: number, concurrency: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) await op(i);
    }),
  );
}
