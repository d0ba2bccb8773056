import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { isPortOpen } from '../net.js';
import { PROJECT_ROOT, type ClusterBinaries } from './cluster-build.js';
import { spawnServerProcess, type ServerProcess } from './dev-server.js';
import { ensureLeadSearchAttributes } from './search-attributes.js';

/**
 * A Temporal cluster as production runs it: frontend, history, matching and the internal worker
 * as four processes of the pinned server binary, each with its own ports, on PostgreSQL
 * (persistence and SQL visibility), configured by the server's own embedded config template
 * from environment variables: the same variables docker-compose.yml gives the official image.
 */

export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalServiceName = (typeof TEMPORAL_SERVICES)[number];

export interface TemporalDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The ports of every service: each process binds only its own, but all know the frontend's. */
export interface ClusterPorts {
  frontendGrpc: number;
  frontendHttp: number;
  frontendMembership: number;
  historyGrpc: number;
  historyMembership: number;
  matchingGrpc: number;
  matchingMembership: number;
  workerGrpc: number;
  workerMembership: number;
}

export const DYNAMIC_CONFIG_FILE = path.join(PROJECT_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');

/**
 * The environment of one Temporal service process, read by the server's embedded config
 * template (docker/config_template.yaml of go.temporal.io/server). docker-compose.yml's
 * temporal-* services set the same names (a test compares them).
 */
export function temporalServiceEnv(service: TemporalServiceName, db: TemporalDatabase, ports: ClusterPorts, logLevel = 'warn'): Record<string, string> {
  return {
    TEMPORAL_SERVICES: service,
    // No authorizer: the cluster listens on 127.0.0.1 only (compose: its own network).
    TEMPORAL_ALLOW_NO_AUTH: 'true',
    DB: 'postgres12',
    DB_PORT: String(db.port),
    POSTGRES_SEEDS: db.host,
    POSTGRES_USER: db.user,
    POSTGRES_PWD: db.password,
    BIND_ON_IP: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: DYNAMIC_CONFIG_FILE,
    LOG_LEVEL: logLevel,
    FRONTEND_GRPC_PORT: String(ports.frontendGrpc),
    FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    HISTORY_GRPC_PORT: String(ports.historyGrpc),
    HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    MATCHING_GRPC_PORT: String(ports.matchingGrpc),
    MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    WORKER_GRPC_PORT: String(ports.workerGrpc),
    WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
  };
}

/**
 * A port free on 127.0.0.1 below 32768: the cluster_membership table keeps a service's port
 * in a smallint, so the kernel's ephemeral ports (32768 and up) make a service fail to start.
 */
export async function freeLowPort(taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    if (await canBind(port)) return port;
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Nine free ports below 32768; `frontendGrpc` may be asked for (7233 for `npm run cluster`). */
export async function pickClusterPorts(preferred: Partial<ClusterPorts> = {}): Promise<ClusterPorts> {
  const names: Array<keyof ClusterPorts> = [
    'frontendGrpc',
    'frontendHttp',
    'frontendMembership',
    'historyGrpc',
    'historyMembership',
    'matchingGrpc',
    'matchingMembership',
    'workerGrpc',
    'workerMembership',
  ];
  const ports = {} as ClusterPorts;
  const taken = new Set(Object.values(preferred));
  for (const name of names) {
    ports[name] = preferred[name] ?? (await freeLowPort(taken));
    taken.add(ports[name]);
  }
  return ports;
}

/**
 * Creates Temporal's databases when missing and applies the schema versions the pinned server
 * ships, with the same script docker-compose.yml runs in the admin-tools image
 * (deploy/temporal/setup-schema.sh): a moved pin upgrades the schema on the next start.
 */
export async function setupTemporalSchema(binaries: ClusterBinaries, db: TemporalDatabase, log: (line: string) => void = () => undefined): Promise<void> {
  const script = path.join(PROJECT_ROOT, 'deploy', 'temporal', 'setup-schema.sh');
  const env = {
    ...process.env,
    PATH: `${binaries.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
    POSTGRES_SEEDS: db.host,
    DB_PORT: String(db.port),
    POSTGRES_USER: db.user,
    SQL_PASSWORD: db.password,
    TEMPORAL_SCHEMA_DIR: binaries.schemaDir,
  };
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('sh', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        output.push(line);
        log(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', () => resolve(null));
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`Temporal schema setup (${script}) failed (exit ${code}):\n${output.slice(-20).join('\n')}`);
}

export interface TemporalClusterOptions {
  binaries: ClusterBinaries;
  db: TemporalDatabase;
  ports: ClusterPorts;
  namespace?: string;
  /** How long to wait for the frontend, the namespace and the search attributes (default 120 s). */
  startTimeoutMs?: number;
  /** Every line a service prints, prefixed with its name. */
  onLog?: (service: TemporalServiceName, line: string) => void;
  logLevel?: string;
}

export interface TemporalClusterService {
  name: TemporalServiceName;
  pid(): number | undefined;
  /** SIGKILL (fault injection); resolves when the process is gone. */
  kill(): Promise<void>;
  /** Starts it again with the same ports and environment. */
  start(): void;
  stop(): Promise<void>;
  outputTail(lines?: number): string;
}

export interface TemporalCluster {
  /** host:port of the frontend's gRPC API. */
  address: string;
  namespace: string;
  services: Record<TemporalServiceName, TemporalClusterService>;
  ports: ClusterPorts;
  /** Each service's pid and what it listens on, for the start-up summary. */
  describe(): Array<{ name: TemporalServiceName; pid: number | undefined; listens: string }>;
  /** Resolves once the frontend answers a health check and a namespace call again. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Frontend, internal worker, matching, history: requests stop first, shard owners last. */
  stop(): Promise<void>;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GRPC_ALREADY_EXISTS = 6;
// A lead's history must outlive the lead's own life (months): the namespace keeps closed runs 30 days.
const RETENTION = '30 days';

/**
 * Starts the four services, waits until the frontend is SERVING, registers the namespace and
 * the lead search attributes (as the dev server start does), and waits until the namespace answers.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const namespace = options.namespace ?? 'default';
  const address = `127.0.0.1:${options.ports.frontendGrpc}`;
  const processes = new Map<TemporalServiceName, ServerProcess>();
  const launch = (name: TemporalServiceName) => {
    const env = { ...process.env, ...temporalServiceEnv(name, options.db, options.ports, options.logLevel) };
    processes.set(name, spawnServerProcess(options.binaries.server, ['start'], (line) => options.onLog?.(name, line), env));
  };
  const services = Object.fromEntries(
    TEMPORAL_SERVICES.map((name) => [
      name,
      {
        name,
        pid: () => processes.get(name)?.pid,
        kill: async () => processes.get(name)?.kill(),
        start: () => launch(name),
        stop: async () => processes.get(name)?.stop(),
        outputTail: (lines?: number) => processes.get(name)?.outputTail(lines) ?? '',
      } satisfies TemporalClusterService,
    ]),
  ) as Record<TemporalServiceName, TemporalClusterService>;
  const stopAll = async () => {
    for (const name of ['frontend', 'worker', 'matching', 'history'] as const) await services[name].stop();
  };

  const failure = (reason: string) =>
    new Error(
      `the Temporal cluster ${reason}. The services' last output:\n` +
        TEMPORAL_SERVICES.map((name) => `[${name}]\n${summariseServerLog(services[name].outputTail(6)) || '(none)'}`).join('\n'),
    );
  const waitHealthy = async (timeoutMs = options.startTimeoutMs ?? 120_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      for (const [name, child] of processes) {
        const exit = child.exit();
        if (exit) throw failure(`service ${name} exited (${exit.signal ?? `code ${exit.code}`})`);
      }
      if (Date.now() > deadline) throw failure(`did not answer on ${address} within ${timeoutMs / 1000} s (last error: ${(lastError as Error | undefined)?.message ?? 'none'})`);
      try {
        await withConnection(address, async (connection) => {
          const health = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
          if (health.status !== 1) throw new Error(`frontend health: ${health.status}`);
          await connection.workflowService.describeNamespace({ namespace });
        });
        return;
      } catch (error) {
        lastError = error;
      }
      await delay(500);
    }
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
    // History first: the first service to start writes the cluster metadata record, and two
    // starting at once race on it (a duplicate key, and the loser exits).
    launch('history');
    while (!(await isPortOpen(options.ports.historyGrpc))) {
      const exit = processes.get('history')!.exit();
      if (exit) throw failure(`service history exited (${exit.signal ?? `code ${exit.code}`}) while starting`);
      if (Date.now() > deadline) throw failure(`service history did not listen on :${options.ports.historyGrpc}`);
      await delay(250);
    }
    for (const name of ['matching', 'frontend', 'worker'] as const) launch(name);
    // Register the namespace once the frontend serves; it reaches the namespace cache of every
    // service within its refresh interval, which waitHealthy then waits out.
    for (;;) {
      for (const [name, child] of processes) {
        const exit = child.exit();
        if (exit) throw failure(`service ${name} exited (${exit.signal ?? `code ${exit.code}`}) while starting`);
      }
      if (Date.now() > deadline) throw failure(`did not accept the namespace ${namespace} on ${address}`);
      const registered = await withConnection(address, async (connection) => {
        try {
          await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION) });
        } catch (error) {
          if (!(isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS)) throw error;
        }
        return true;
      }).catch(() => false);
      if (registered) break;
      await delay(500);
    }
    await waitHealthy(Math.max(10_000, deadline - Date.now()));
    // Search attributes, as for the dev server: a workflow upserting an unknown one fails its task.
    for (;;) {
      const added = await withConnection(address, (connection) => ensureLeadSearchAttributes(connection, namespace)).then(
        () => true,
        (error: unknown) => {
          if (Date.now() > deadline) throw failure(`refused the lead search attributes: ${(error as Error).message}`);
          return false;
        },
      );
      if (added) break;
      await delay(1000);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  const { ports } = options;
  const listens: Record<TemporalServiceName, string> = {
    frontend: `gRPC 127.0.0.1:${ports.frontendGrpc}, HTTP :${ports.frontendHttp}, membership :${ports.frontendMembership}`,
    history: `gRPC :${ports.historyGrpc}, membership :${ports.historyMembership}`,
    matching: `gRPC :${ports.matchingGrpc}, membership :${ports.matchingMembership}`,
    worker: `gRPC :${ports.workerGrpc}, membership :${ports.workerMembership}`,
  };
  const describe = () => TEMPORAL_SERVICES.map((name) => ({ name, pid: services[name].pid(), listens: listens[name] }));
  return { address, namespace, services, ports, describe, waitHealthy, stop: stopAll };
}

async function withConnection<T>(address: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 3_000 });
  try {
    return await connection.withDeadline(Date.now() + 5_000, () => use(connection));
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The server logs JSON lines with stack traces: keep level, message and error. */
export function summariseServerLog(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
        return `${entry.level ?? '?'}: ${entry.msg ?? ''}${entry.error ? ` (${entry.error})` : ''}`;
      } catch {
        return line;
      }
    })
    .join('\n');
}
