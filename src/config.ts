import { z } from 'zod';

/**
 * The one place environment variables are read (by worker/ and the server only). Fails fast
 * with a sentence naming the variable. Workflows never see this: they get values as input.
 */

export const ROLES = ['ingest', 'marketing', 'sales', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export interface ApiKey {
  role: Role;
  key: string;
}

/** Keys used outside production when LEADS_API_KEYS is unset; start-up prints them. */
export const DEV_API_KEYS: ApiKey[] = ROLES.map((role) => ({ role, key: `dev-${role}` }));

const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();

const EnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  PUBLIC_URL: optionalUrl,
  DATA_DIR: z.string().default('.data'),
  TEMPORAL_ADDRESS: z.string().trim().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATABASE_URL: optionalUrl,
  EMBEDDED_PG_PORT: port.default(54329),
  SMTP_URL: optionalUrl,
  SMTP_SINK_PORT: port.default(2525),
  MAIL_FROM: z.string().default('Leadflow <marketing@example.com>'),
  SALES_INBOX: z.email().default('sales@example.com'),
  LEADS_API_KEYS: z.string().optional(),
  WEBHOOK_SECRETS: z.string().optional(),
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(1200),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
});

/** Variables whose values are secrets: an error about them never repeats the value. */
const SECRET_VARIABLES = new Set(['LEADS_API_KEYS', 'WEBHOOK_SECRETS']);

export interface Config {
  production: boolean;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  temporal: { address?: string; namespace: string; port: number; uiPort: number };
  databaseUrl?: string;
  embeddedPgPort: number;
  smtpUrl?: string;
  smtpSinkPort: number;
  mailFrom: string;
  salesInbox: string;
  apiKeys: ApiKey[];
  /** True when the keys are the printed development defaults. */
  devApiKeys: boolean;
  /** Signed-webhook ingestion; no secrets means the webhook route is off. */
  webhook: { secrets: string[]; toleranceSeconds: number };
  /** Requests per window per API key (per client address without one); max 0 turns the limit off. */
  rateLimit: { max: number; windowSeconds: number };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses `role:key,role:key`; a bad entry names its position and what is wrong. */
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
  });
  return secrets;
}

/** Reads and validates the environment; throws ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const got = SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(env[name])})`;
    throw new ConfigError(`${name} is invalid: ${issue.message}${got}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.LEADS_API_KEYS) {
    throw new ConfigError('LEADS_API_KEYS must be set in production (comma-separated role:key pairs, e.g. "ingest:…,sales:…")');
  }
  if (production) {
    for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'SMTP_URL'] as const) {
      if (!e[name]) throw new ConfigError(`${name} must be set in production (embedded defaults are for development)`);
    }
  }
  const apiKeys = e.LEADS_API_KEYS ? parseApiKeys(e.LEADS_API_KEYS) : DEV_API_KEYS;
  return {
    production,
    logLevel: e.LOG_LEVEL,
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL ?? `http://${e.HOST === '0.0.0.0' ? '127.0.0.1' : e.HOST}:${e.PORT}`,
    dataDir: e.DATA_DIR,
    temporal: { address: e.TEMPORAL_ADDRESS || undefined, namespace: e.TEMPORAL_NAMESPACE, port: e.TEMPORAL_PORT, uiPort: e.TEMPORAL_UI_PORT },
    databaseUrl: e.DATABASE_URL,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    smtpUrl: e.SMTP_URL,
    smtpSinkPort: e.SMTP_SINK_PORT,
    mailFrom: e.MAIL_FROM,
    salesInbox: e.SALES_INBOX,
    apiKeys,
    devApiKeys: !e.LEADS_API_KEYS,
    webhook: { secrets: parseWebhookSecrets(e.WEBHOOK_SECRETS), toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS },
    rateLimit: { max: e.RATE_LIMIT_MAX, windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS },
  };
}
