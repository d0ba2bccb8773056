import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, configTable, DEV_API_KEYS, DEV_TRACKING_SECRET, loadConfig, SETTINGS } from '../../src/config.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  LEADS_API_KEYS: 'admin:abcdefgh1',
  TEMPORAL_ADDRESS: 'temporal:7233',
  DATABASE_URL: 'postgres://u:p@db:5432/leadflow',
  SMTP_URL: 'smtp://mail:25',
  TRACKING_SECRET: 'tracking-secret-0123456789',
  PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

/** The ConfigError a bad environment gives (fails the test if it loads). */
function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`loaded without complaint: ${JSON.stringify(env)}`);
}

const pemDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-pem-'));
const pem = (name: string, body: string) => {
  const file = path.join(pemDir, name);
  fs.writeFileSync(file, body);
  return file;
};
afterAll(() => fs.rmSync(pemDir, { recursive: true, force: true }));

describe('config', () => {
  it('has development defaults that need no environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: '127.0.0.1', salesInbox: 'sales@example.com', devApiKeys: true, production: false });
    expect(config.temporal).toEqual({ address: undefined, namespace: 'default', port: 7233, uiPort: 8233, uiUrl: 'http://127.0.0.1:8233' });
    expect(config.apiKeys).toEqual(DEV_API_KEYS);
    expect(config.apiKeys.map((k) => k.key)).toEqual(['dev-ingest', 'dev-marketing', 'dev-sales', 'dev-admin']);
    expect(config.rateLimit).toEqual({ max: 1200, ingestMax: 15_000, windowSeconds: 60 });
    // Ingestion takes a sustained 200+ events/s from one key out of the box; other routes keep a tighter budget.
    expect(config.rateLimit.ingestMax / config.rateLimit.windowSeconds).toBeGreaterThanOrEqual(200);
    expect(config.rateLimit.max).toBeLessThan(config.rateLimit.ingestMax);
    // Compose files pass unset variables as empty strings.
    expect(loadConfig({ DATABASE_URL: '', TEMPORAL_ADDRESS: ' ', WEBHOOK_SECRETS: '' })).toMatchObject({ databaseUrl: undefined, temporal: { address: undefined } });
  });

  it('links the console to the dev server UI, to TEMPORAL_UI_URL, or to nothing with a real Temporal', () => {
    expect(loadConfig({ TEMPORAL_UI_PORT: '9001' }).temporal.uiUrl).toBe('http://127.0.0.1:9001');
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }).temporal.uiUrl).toBeUndefined();
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_UI_URL: 'https://cloud.temporal.io/' }).temporal.uiUrl).toBe('https://cloud.temporal.io');
    expect(() => loadConfig({ TEMPORAL_UI_URL: 'temporal-ui:8080' })).toThrow(/^TEMPORAL_UI_URL must be an http\(s\):\/\/ URL/);
  });

  it('parses LEADS_API_KEYS role:key pairs', () => {
    const config = loadConfig({ LEADS_API_KEYS: 'ingest:abcdefgh1, sales:abcdefgh2' });
    expect(config.apiKeys).toEqual([
      { role: 'ingest', key: 'abcdefgh1' },
      { role: 'sales', key: 'abcdefgh2' },
    ]);
    expect(config.devApiKeys).toBe(false);
  });

  it('reads webhook secrets and rate limits', () => {
    const config = loadConfig({ WEBHOOK_SECRETS: 'whsec-a-0123456789, whsec-b-0123456789', RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_SECONDS: '30' });
    expect(config.webhook).toEqual({ secrets: ['whsec-a-0123456789', 'whsec-b-0123456789'], toleranceSeconds: 300 });
    expect(config.rateLimit).toEqual({ max: 10, ingestMax: 15_000, windowSeconds: 30 });
    expect(loadConfig({ RATE_LIMIT_INGEST_MAX: '0' }).rateLimit.ingestMax).toBe(0);
    expect(loadConfig({}).webhook.secrets).toEqual([]);
  });

  it("reads the worker's sticky-cache size, 1,000 by default (chosen from the bench's sweep)", () => {
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '500' }).workerMaxCachedWorkflows).toBe(500);
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0' }).workerMaxCachedWorkflows).toBe(0);
    // The default comes from the bench's sweep (docs/benchmarks.md), not from the SDK's heap-sized one.
    expect(loadConfig({}).workerMaxCachedWorkflows).toBe(1000);
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '' }).workerMaxCachedWorkflows).toBe(1000);
  });

  it('accepts a complete production environment', () => {
    expect(loadConfig(PRODUCTION).production).toBe(true);
  });

  it('signs tracking links with a development secret outside production and refuses production without TRACKING_SECRET', () => {
    expect(loadConfig({}).trackingSecret).toBe(DEV_TRACKING_SECRET);
    expect(loadConfig(PRODUCTION).trackingSecret).toBe('tracking-secret-0123456789');
    expect(refusal({ ...PRODUCTION, TRACKING_SECRET: undefined })).toBe('TRACKING_SECRET must be set in production (embedded defaults are for development)');
    expect(refusal({ TRACKING_SECRET: 'short' })).toBe('TRACKING_SECRET must be a secret of 16+ characters');
  });
});

// One case per kind of bad value: each message must start with the variable's name.
describe('config refuses a bad value with a sentence naming the variable', () => {
  it('not a number', () => {
    expect(refusal({ PORT: 'eighty' })).toBe('PORT must be a port number from 0 to 65535 (got "eighty")');
    expect(refusal({ RATE_LIMIT_MAX: 'lots' })).toMatch(/^RATE_LIMIT_MAX must be an integer from 0 to 1000000/);
  });

  it('a number out of range or not whole', () => {
    expect(refusal({ EMBEDDED_PG_PORT: '70000' })).toBe('EMBEDDED_PG_PORT must be a port number from 0 to 65535 (got "70000")');
    expect(refusal({ TEMPORAL_UI_PORT: '-1' })).toMatch(/^TEMPORAL_UI_PORT must be a port number/);
    expect(refusal({ WEBHOOK_TOLERANCE_SECONDS: '0' })).toMatch(/^WEBHOOK_TOLERANCE_SECONDS must be an integer from 1 to 3600/);
    expect(refusal({ RATE_LIMIT_WINDOW_SECONDS: '1.5' })).toMatch(/^RATE_LIMIT_WINDOW_SECONDS must be/);
    expect(refusal({ WORKER_MAX_CACHED_WORKFLOWS: '-5' })).toBe('WORKER_MAX_CACHED_WORKFLOWS must be an integer from 0 to 1000000 (got "-5")');
  });

  it('a bad URL, or a URL of the wrong kind, without repeating credentials', () => {
    expect(refusal({ DATABASE_URL: 'not a url' })).toBe('DATABASE_URL must be a postgres:// URL');
    expect(refusal({ DATABASE_URL: 'mysql://u:secret@db/leadflow' })).toBe('DATABASE_URL must be a postgres:// URL');
    expect(refusal({ SMTP_URL: 'http://mail:25' })).toBe('SMTP_URL must be an smtp:// or smtps:// URL');
    expect(refusal({ PUBLIC_URL: 'ftp://example.com' })).toBe('PUBLIC_URL must be an http(s):// URL (got "ftp://example.com")');
  });

  it('a value outside an enumeration, a bad email, a bad address', () => {
    expect(refusal({ LOG_LEVEL: 'loud' })).toBe('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")');
    expect(refusal({ SALES_INBOX: 'nobody' })).toBe('SALES_INBOX must be an email address (got "nobody")');
    expect(refusal({ TEMPORAL_ADDRESS: 'temporal' })).toMatch(/^TEMPORAL_ADDRESS must be host:port/);
    expect(refusal({ TEMPORAL_ADDRESS: 'http://temporal:7233' })).toMatch(/^TEMPORAL_ADDRESS must be host:port/);
    expect(refusal({ TEMPORAL_TLS: 'yes', TEMPORAL_ADDRESS: 'temporal:7233' })).toBe('TEMPORAL_TLS must be true or false (got "yes")');
  });

  it('malformed LEADS_API_KEYS or WEBHOOK_SECRETS, never repeating a key', () => {
    expect(refusal({ LEADS_API_KEYS: 'boss:abcdefgh1' })).toMatch(/^LEADS_API_KEYS entry 1 must be role:key/);
    expect(refusal({ LEADS_API_KEYS: 'ingest:abcdefgh1,nocolon' })).toMatch(/^LEADS_API_KEYS entry 2 must be role:key/);
    expect(refusal({ LEADS_API_KEYS: 'sales:short' })).toBe('LEADS_API_KEYS entry 1 (sales) has a key shorter than 8 characters');
    expect(refusal({ LEADS_API_KEYS: ' , ' })).toBe('LEADS_API_KEYS is set but holds no role:key pair');
    expect(refusal({ WEBHOOK_SECRETS: 'whsec-long-enough-1,tiny' })).toBe('WEBHOOK_SECRETS entry 2 is shorter than 16 characters');
    // A Standard Webhooks secret must carry 16+ bytes of base64 after whsec_.
    expect(refusal({ WEBHOOK_SECRETS: 'whsec_not*base64*at*all' })).toBe('WEBHOOK_SECRETS entry 1 starts with whsec_ but is not 16+ bytes of base64 after it');
    expect(refusal({ WEBHOOK_SECRETS: `whsec_${Buffer.from('short-key').toString('base64')}` })).toMatch(/^WEBHOOK_SECRETS entry 1 (is shorter|starts with whsec_)/);
    expect(loadConfig({ WEBHOOK_SECRETS: `whsec_${Buffer.from('a-key-of-24-bytes-000000').toString('base64')}` }).webhook.secrets).toHaveLength(1);
  });

  it('production without a required setting', () => {
    for (const name of ['LEADS_API_KEYS', 'TEMPORAL_ADDRESS', 'DATABASE_URL', 'SMTP_URL', 'PAYLOAD_KEYS'] as const) {
      const { [name]: _missing, ...rest } = PRODUCTION;
      expect(refusal(rest), name).toMatch(new RegExp(`^${name} must be set in production`));
    }
  });

  it('Temporal TLS settings that do not fit together', () => {
    const cert = pem('client.pem', 'CERT');
    const key = pem('client.key', 'KEY');
    const real = { TEMPORAL_ADDRESS: 'my-ns.tmprl.cloud:7233' };
    expect(refusal({ ...real, TEMPORAL_TLS_CLIENT_CERT_PATH: cert })).toBe(
      'TEMPORAL_TLS_CLIENT_KEY_PATH must be set with TEMPORAL_TLS_CLIENT_CERT_PATH: mTLS needs the certificate and its private key',
    );
    expect(refusal({ ...real, TEMPORAL_TLS_CLIENT_KEY_PATH: key })).toMatch(/^TEMPORAL_TLS_CLIENT_CERT_PATH must be set with TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(refusal({ TEMPORAL_API_KEY: 'cloud-key' })).toMatch(/^TEMPORAL_API_KEY needs TEMPORAL_ADDRESS/);
    expect(refusal({ ...real, TEMPORAL_API_KEY: 'cloud-key', TEMPORAL_TLS: 'false' })).toMatch(/^TEMPORAL_TLS cannot turn TLS off together with TEMPORAL_API_KEY/);
    expect(refusal({ ...real, TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(pemDir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: key })).toMatch(
      /^TEMPORAL_TLS_CLIENT_CERT_PATH must be a readable PEM file path: cannot read .*missing\.pem \(ENOENT\)$/,
    );
    // The old names are refused rather than ignored: mTLS silently dropped would fail far from its cause.
    expect(refusal({ ...real, TEMPORAL_TLS_CERT: cert })).toBe('TEMPORAL_TLS_CERT is now TEMPORAL_TLS_CLIENT_CERT_PATH, the name the Temporal CLI and SDK read');
  });

  it('never repeats the value of a secret', () => {
    expect(refusal({ DATABASE_URL: 'postgres ://user:hunter2@db/x' })).toBe('DATABASE_URL must be a postgres:// URL');
    expect(refusal({ SMTP_URL: 'mailto://user:hunter2@mail' })).not.toContain('hunter2');
    expect(refusal({ LEADS_API_KEYS: 'boss:hunter2-key' })).not.toContain('hunter2');
    expect(refusal({ WEBHOOK_SECRETS: 'hunter2' })).not.toContain('hunter2');
  });
});

describe('Temporal connection options', () => {
  it('are plain gRPC without TLS settings, and absent without an address (the dev server)', () => {
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }).temporal.connection).toEqual({ address: 'temporal:7233' });
    expect(loadConfig({}).temporal.connection).toBeUndefined();
    // Trimmed like every other setting before the SDK's loader sees it.
    expect(loadConfig({ TEMPORAL_ADDRESS: ' temporal:7233 ' }).temporal.connection).toEqual({ address: 'temporal:7233' });
  });

  it('carry the client certificate pair, CA and server name for mTLS', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: pem('mtls.pem', '-----BEGIN CERTIFICATE-----\nclient\n'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: pem('mtls.key', '-----BEGIN PRIVATE KEY-----\nkey\n'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pem('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n'),
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    const options = config.temporal.connection!;
    expect(options.address).toBe('my-ns.a1b2c.tmprl.cloud:7233');
    expect(options.apiKey).toBeUndefined();
    const tls = options.tls as Exclude<typeof options.tls, boolean | undefined>;
    expect(Buffer.from(tls.clientCertPair!.crt).toString()).toBe('-----BEGIN CERTIFICATE-----\nclient\n');
    expect(Buffer.from(tls.clientCertPair!.key).toString()).toBe('-----BEGIN PRIVATE KEY-----\nkey\n');
    expect(Buffer.from(tls.serverRootCACertificate!).toString()).toBe('-----BEGIN CERTIFICATE-----\nca\n');
    expect(tls.serverNameOverride).toBe('frontend.internal');
  });

  it('send an API key over TLS for Temporal Cloud', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'cloud-key-123' });
    expect(config.temporal.connection).toEqual({ address: 'us-east-1.aws.api.temporal.io:7233', tls: true, apiKey: 'cloud-key-123' });
  });

  it('use server-side TLS alone with TEMPORAL_TLS=true', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS: 'true' });
    expect(config.temporal.connection).toEqual({ address: 'temporal.internal:7233', tls: {} });
  });
});

describe('Temporal config file (temporal.toml) profiles, as the Temporal CLI reads them', () => {
  const toml = pem(
    'temporal.toml',
    [
      '[profile.default]',
      'address = "default-host:7233"',
      '',
      '[profile.staging]',
      'address = "staging.internal:7233"',
      'namespace = "leads-staging"',
      'api_key = "staging-key"',
      '[profile.staging.grpc_meta]',
      'x-team = "growth"',
      '',
      '[profile.broken]',
      'address = "broken.internal:7233"',
      '[profile.broken.tls]',
      'client_cert_path = "/nonexistent/client.pem"',
      'client_key_path = "/nonexistent/client.key"',
      '',
    ].join('\n'),
  );

  it('take the address, namespace, API key and gRPC metadata of TEMPORAL_PROFILE', () => {
    const { temporal } = loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' });
    expect(temporal).toMatchObject({ address: 'staging.internal:7233', namespace: 'leads-staging' });
    expect(temporal.uiUrl).toBeUndefined();
    expect(temporal.connection).toEqual({ address: 'staging.internal:7233', apiKey: 'staging-key', tls: true, metadata: { 'x-team': 'growth' } });
  });

  it('use the profile `default` without TEMPORAL_PROFILE, and the variables over the profile', () => {
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: toml }).temporal).toMatchObject({ address: 'default-host:7233', namespace: 'default' });
    const overridden = loadConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging', TEMPORAL_NAMESPACE: 'leads-canary', TEMPORAL_ADDRESS: 'canary:7233' });
    expect(overridden.temporal).toMatchObject({ address: 'canary:7233', namespace: 'leads-canary', connection: { address: 'canary:7233', apiKey: 'staging-key' } });
  });

  it('satisfy production with the address from the profile', () => {
    const { TEMPORAL_ADDRESS: _address, ...rest } = PRODUCTION;
    expect(loadConfig({ ...rest, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }).temporal.address).toBe('staging.internal:7233');
  });

  it('refuse a missing file, an unknown profile, and a profile whose certificate cannot be read', () => {
    expect(refusal({ TEMPORAL_CONFIG_FILE: path.join(pemDir, 'none.toml') })).toMatch(/^TEMPORAL_CONFIG_FILE must be a readable temporal.toml path: .*none\.toml does not exist$/);
    expect(refusal({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' })).toMatch(/^TEMPORAL_PROFILE must name a valid profile of .*temporal\.toml: Profile 'prod' not found/);
    expect(refusal({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'broken' })).toMatch(
      /^the profile's tls.client_cert_path must be a readable PEM file path: cannot read \/nonexistent\/client\.pem \(ENOENT\)$/,
    );
  });
});

describe('configuration table (docs/configuration.md)', () => {
  const page = fs.readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('<!-- config-table:start'), page.indexOf('<!-- config-table:end -->'));
  const documented = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);

  it('lists every variable of the schema and no other', () => {
    expect(documented.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it('is the table generated from the schema (run `npm run config:docs` after changing src/config.ts)', () => {
    expect(section.slice(section.indexOf('\n') + 1).trim()).toBe(configTable());
  });
});
