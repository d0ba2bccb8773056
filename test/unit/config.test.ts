import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_API_KEYS, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('has development defaults that need no environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, host: '127.0.0.1', salesInbox: 'sales@example.com', devApiKeys: true, production: false });
    expect(config.temporal).toEqual({ address: undefined, namespace: 'default', port: 7233, uiPort: 8233 });
    expect(config.apiKeys).toEqual(DEV_API_KEYS);
    expect(config.apiKeys.map((k) => k.key)).toEqual(['dev-ingest', 'dev-marketing', 'dev-sales', 'dev-admin']);
  });

  it('parses LEADS_API_KEYS role:key pairs', () => {
    const config = loadConfig({ LEADS_API_KEYS: 'ingest:abcdefgh1, sales:abcdefgh2' });
    expect(config.apiKeys).toEqual([
      { role: 'ingest', key: 'abcdefgh1' },
      { role: 'sales', key: 'abcdefgh2' },
    ]);
    expect(config.devApiKeys).toBe(false);
  });

  it('names the variable at fault', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/^PORT is invalid/);
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/^DATABASE_URL is invalid/);
    expect(() => loadConfig({ LEADS_API_KEYS: 'boss:abcdefgh1' })).toThrow(/LEADS_API_KEYS entry 1 must be role:key/);
    expect(() => loadConfig({ LEADS_API_KEYS: 'sales:short' })).toThrow(/shorter than 8/);
    expect(() => loadConfig({ SALES_INBOX: 'nobody' })).toThrow(ConfigError);
  });

  it('reads webhook secrets and rate limits, and never repeats a secret in an error', () => {
    const config = loadConfig({ WEBHOOK_SECRETS: 'whsec-a-0123456789, whsec-b-0123456789', RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_SECONDS: '30' });
    expect(config.webhook).toEqual({ secrets: ['whsec-a-0123456789', 'whsec-b-0123456789'], toleranceSeconds: 300 });
    expect(config.rateLimit).toEqual({ max: 10, windowSeconds: 30 });
    expect(loadConfig({}).webhook.secrets).toEqual([]);
    expect(() => loadConfig({ WEBHOOK_SECRETS: 'whsec-long-enough-1,tiny' })).toThrow(/^WEBHOOK_SECRETS entry 2 is shorter than 16 characters$/);
    expect(() => loadConfig({ WEBHOOK_TOLERANCE_SECONDS: '0' })).toThrow(/^WEBHOOK_TOLERANCE_SECONDS is invalid/);
    expect(() => loadConfig({ RATE_LIMIT_MAX: '-1' })).toThrow(/^RATE_LIMIT_MAX is invalid/);
  });

  it('refuses to start in production without keys or real endpoints', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/LEADS_API_KEYS must be set in production/);
    expect(() => loadConfig({ NODE_ENV: 'production', LEADS_API_KEYS: 'admin:abcdefgh1' })).toThrow(/TEMPORAL_ADDRESS must be set in production/);
    const config = loadConfig({
      NODE_ENV: 'production',
      LEADS_API_KEYS: 'admin:abcdefgh1',
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: 'postgres://u:p@db:5432/leadflow',
      SMTP_URL: 'smtp://mail:25',
    });
    expect(config.production).toBe(true);
  });
});
