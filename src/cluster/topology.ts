import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { createPool, migrate, type Pool } from '../infra/db.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../infra/embedded-postgres.js';
import { freePort, isPortOpen } from '../infra/net.js';
import { startSmtpSink, type SmtpSink } from '../infra/smtp-sink.js';
import { ensureClusterBinaries, ensureUiServer, PROJECT_ROOT, type ClusterBinaries } from '../infra/temporal/cluster-build.js';
import { spawnServerProcess } from '../infra/temporal/dev-server.js';
import { pickClusterPorts, setupTemporalSchema, startTemporalCluster, type TemporalCluster, type TemporalDatabase } from '../infra/temporal/cluster.js';
import { appProcess, type AppProcess } from './processes.js';

/**
 * The production topology on one machine: PostgreSQL, the four Temporal services, N API
 * processes and M workers, each a process of its own. `npm run cluster`, the cluster fault test
 * and `npm run bench -- --cluster` all start it with this function.
 */
export interface LeadflowClusterOptions {
  /** Postgres data (embedded) and anything else the parts keep. */
  dataDir: string;
  /** A real PostgreSQL for Leadflow and Temporal's two databases; embedded when absent. */
  databaseUrl?: string;
  apis?: number;
  workers?: number;
  /** Ports asked for when free (npm run cluster: 7233 and 3000); free ports otherwise. */
  preferredPorts?: { temporal?: number; api?: number };
  /** A relay the workers send through; absent: an SMTP sink here, storing into Postgres. */
  smtpUrl?: string;
  /** Extra environment for the API and worker processes (keys, grace time). */
  appEnv?: NodeJS.ProcessEnv;
  /** Extra environment for worker `index` (0-based), e.g. its own METRICS_PORT. */
  workerEnv?: (index: number) => NodeJS.ProcessEnv;
  namespace?: string;
  /** Start-up progress. */
  log?: (line: string) => void;
  /** Every line a part prints, with its name (quiet by default). */
  onPartLog?: (part: string, line: string) => void;
  binaries?: ClusterBinaries;
  /** Build (once) and run the Temporal UI (ui-server at the pinned version) pointed at the cluster. */
  ui?: boolean;
}

export interface LeadflowCluster {
  binaries: ClusterBinaries;
  temporal: TemporalCluster;
  apis: Array<AppProcess & { url: string }>;
  workers: AppProcess[];
  /** Leadflow's database (credentials included). */
  databaseUrl: string;
  db: TemporalDatabase;
  smtpUrl: string;
  pool: Pool;
  /** The Temporal UI, when asked for and it could be built; otherwise why not. */
  ui?: { url: string; pid: number | undefined } | { unavailable: string };
  /** Postgres started here (restartable), absent with `databaseUrl`. */
  postgres?: RunningPostgres;
  /** APIs, workers (drained), Temporal services, SMTP sink, Postgres: in that order. */
  stop(): Promise<void>;
}

// Temporal's own role in the embedded Postgres, as docker-compose.yml's temporal-postgres has it.
const TEMPORAL_ROLE = { user: 'temporal', password: 'temporal' };
// DDL takes no parameters: the statement is a constant (the role above, spelt out).
const CREATE_TEMPORAL_ROLE = "CREATE ROLE temporal LOGIN CREATEDB PASSWORD 'temporal'";

async function portOrFree(preferred: number | undefined): Promise<number> {
  if (preferred !== undefined && !(await isPortOpen(preferred))) return preferred;
  return freePort();
}

export async function startLeadflowCluster(options: LeadflowClusterOptions): Promise<LeadflowCluster> {
  const log = options.log ?? (() => undefined);
  // Every process we spawn stops on our exit (one 'exit' listener each): a dozen is expected.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 64));
  const partLog = options.onPartLog ?? (() => undefined);
  const stops: Array<{ what: string; stop: () => Promise<unknown> }> = [];
  const onStop = (what: string, stop: () => Promise<unknown>) => stops.push({ what, stop });
  const stopAll = async () => {
    for (const { what, stop } of stops.reverse()) {
      const started = Date.now();
      await stop().catch(() => undefined);
      log(`stopped ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    stops.length = 0;
  };
  try {
    const binaries = options.binaries ?? (await ensureClusterBinaries({ log: (line) => log(`  ${line}`) }));
    if (binaries.built) log(`built the Temporal server in ${binaries.buildSeconds} s`);
    await fs.mkdir(options.dataDir, { recursive: true });

    // PostgreSQL: Leadflow's database and Temporal's two, on one server here (two in compose).
    let databaseUrl = options.databaseUrl;
    let db: TemporalDatabase;
    let postgres: RunningPostgres | undefined;
    if (databaseUrl) {
      const url = new URL(databaseUrl);
      db = { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    } else {
      log('starting PostgreSQL (embedded)');
      const port = await freePort();
      postgres = await startEmbeddedPostgres({ dataDir: path.join(options.dataDir, 'pg'), port, onLog: (line) => partLog('postgres', line) });
      onStop('PostgreSQL', () => postgres!.stop());
      databaseUrl = postgres.url;
      await ensureTemporalRole(databaseUrl);
      db = { host: '127.0.0.1', port, ...TEMPORAL_ROLE };
    }
    log('Temporal schema: databases temporal and temporal_visibility (deploy/temporal/setup-schema.sh)');
    await setupTemporalSchema(binaries, db, (line) => partLog('schema', line));
    const applied = await migrate(databaseUrl);
    if (applied.length) log(`Leadflow migrations: ${applied.join(', ')}`);
    const pool = createPool(databaseUrl);
    onStop('the database pool', () => pool.end());

    let smtpUrl = options.smtpUrl;
    if (!smtpUrl) {
      const sink: SmtpSink = await startSmtpSink({ pool, port: await freePort() });
      onStop('the SMTP sink', () => sink.stop());
      smtpUrl = sink.url;
    }

    log('starting Temporal: history, matching, frontend, worker (one process each)');
    const ports = await pickClusterPorts({ frontendGrpc: await portOrFree(options.preferredPorts?.temporal) });
    const temporal = await startTemporalCluster({
      binaries,
      db,
      ports,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      onLog: (service, line) => partLog(`temporal-${service}`, line),
    });
    onStop('the Temporal services (frontend, worker, matching, history)', () => temporal.stop());

    // The UI's browser calls the first API's codec endpoint: the APIs must allow its origin.
    const uiPort = options.ui ? await portOrFree(8080) : undefined;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...(uiPort ? { CODEC_CORS_ORIGINS: `http://127.0.0.1:${uiPort},http://localhost:${uiPort}` } : {}),
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      DATABASE_URL: databaseUrl,
      DATA_DIR: options.dataDir,
      ...options.appEnv,
    };
    const workers = Array.from({ length: options.workers ?? 3 }, (_, i) =>
      appProcess({
        name: `worker-${i + 1}`,
        cwd: PROJECT_ROOT,
        args: ['--import', 'tsx', 'worker/main.ts'],
        env: { ...env, SMTP_URL: smtpUrl, METRICS_PORT: '0', ...options.workerEnv?.(i) },
        readyLine: /Leadflow worker is running/,
        onLine: (line) => partLog(`worker-${i + 1}`, line),
      }),
    );
    // The worker processes drain on SIGTERM: they stop after the APIs, before Temporal.
    onStop('the workers (drained)', async () => Promise.all(workers.map((w) => w.stop())));
    log(`starting ${workers.length} workers and ${options.apis ?? 2} APIs`);
    const apis: Array<AppProcess & { url: string }> = [];
    for (let i = 0; i < (options.apis ?? 2); i++) {
      const port = await portOrFree(options.preferredPorts?.api === undefined ? undefined : options.preferredPorts.api + i);
      const api = appProcess({
        name: `api-${i + 1}`,
        cwd: PROJECT_ROOT,
        args: ['--import', 'tsx', 'src/server/main.ts'],
        // Without SMTP_URL an API serves /v1/dev/mailbox: it reads the mail the sink stored in Postgres.
        env: { ...env, PORT: String(port), SMTP_SINK_PORT: String(await freePort()), ...(options.smtpUrl ? { SMTP_URL: smtpUrl } : {}) },
        readyLine: /Leadflow api is running/,
        onLine: (line) => partLog(`api-${i + 1}`, line),
      });
      apis.push(Object.assign(api, { url: `http://127.0.0.1:${port}` }));
    }
    onStop('the APIs', async () => Promise.all(apis.map((a) => a.stop())));
    // Bundling workflow code is CPU-heavy: the workers one after another, the APIs beside them.
    const apisReady = Promise.all(apis.map((a) => a.start()));
    // Settled below; a worker failing first must not leave it unhandled.
    apisReady.catch(() => undefined);
    for (const worker of workers) await worker.start();
    await apisReady;

    let ui: LeadflowCluster['ui'];
    if (uiPort) {
      try {
        const built = await ensureUiServer({ log: (line) => log(`  ${line}`) });
        if (built.built) log(`built the Temporal UI in ${built.buildSeconds} s`);
        // The variables of docker-compose.yml's temporal-ui (the image renders the same config/docker.yaml).
        const admin = /(?:^|,)admin:([^,]+)/.exec(env.LEADS_API_KEYS ?? '')?.[1] ?? 'dev-admin';
        const uiEnv = {
          ...process.env,
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_UI_PORT: String(uiPort),
          TEMPORAL_DEFAULT_NAMESPACE: temporal.namespace,
          TEMPORAL_CODEC_ENDPOINT: `${apis[0]!.url}/codec/${encodeURIComponent(admin)}`,
          TEMPORAL_CORS_ORIGINS: `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`,
        };
        const server = spawnServerProcess(built.server, ['--root', built.configRoot, '--config', 'config', '--env', 'docker', 'start'], (line) => partLog('temporal-ui', line), uiEnv);
        onStop('the Temporal UI', () => server.stop());
        const deadline = Date.now() + 30_000;
        while (!(await isPortOpen(uiPort))) {
          if (server.exit() || Date.now() > deadline) throw new Error(`ui-server did not listen on :${uiPort}: ${server.outputTail(5)}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        ui = { url: `http://127.0.0.1:${uiPort}`, pid: server.pid };
      } catch (error) {
        ui = { unavailable: (error as Error).message.split('\n')[0]! };
        log(`Temporal UI unavailable: ${ui.unavailable}`);
      }
    }

    return { binaries, temporal, apis, workers, databaseUrl, db, smtpUrl, pool, ...(ui ? { ui } : {}), ...(postgres ? { postgres } : {}), stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Creates Temporal's login role (it may create databases), unless it exists. */
async function ensureTemporalRole(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [TEMPORAL_ROLE.user]);
    if (exists.rowCount === 0) await client.query(CREATE_TEMPORAL_ROLE);
  } finally {
    await client.end();
  }
}
