import { z } from 'zod';
import { isDuration } from './domain/duration.js';

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
  SALES_MANAGER_INBOX: z.email().optional(),
  SALES_OWNERS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.email('a comma-separated list of email addresses'))),
  SALES_REVIEW_SLA: z
    .string()
    .optional()
    .refine((v) => v === undefined || isDuration(v), 'a positive duration such as "2 business days" or "36 hours"'),
  LEADS_API_KEYS: z.string().optional(),
});

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
  /** Gets a review's second SLA expiry; defaults to the sales inbox. */
  salesManagerInbox: string;
  /** Review owners, assigned round-robin; empty: reviews go to the sales inbox. */
  salesOwners: string[];
  /** How long sales has to decide before a reminder (and again before the manager hears). */
  salesReviewSla?: string;
  apiKeys: ApiKey[];
  /** True when the keys are the printed development defaults. */
  devApiKeys: boolean;
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

/** Reads and validates the environment; throws ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0])} is invalid: ${issue.message} (got ${JSON.stringify(env[String(issue.path[0])])})`);
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
    salesManagerInbox: e.SALES_MANAGER_INBOX ?? e.SALES_INBOX,
    salesOwners: e.SALES_OWNERS,
    ...(e.SALES_REVIEW_SLA ? { salesReviewSla: e.SALES_REVIEW_SLA } : {}),
    apiKeys,
    devApiKeys: !e.LEADS_API_KEYS,
  };
}
