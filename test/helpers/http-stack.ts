import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { installTestRuntime } from './runtime.js';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../src/infra/net.js';
import { EmbeddedPostgresError } from '../../src/infra/embedded-postgres.js';
import { startStack, type RunningStack, type StackOptions } from '../../src/stack.js';

export const TEST_KEYS = { ingest: 'ingest-key-0001', marketing: 'marketing-key-0001', sales: 'sales-key-0001', admin: 'admin-key-0001' };
export type TestRole = keyof typeof TEST_KEYS;

export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface CallOptions {
  /** Whose key to send (default admin); null sends none. */
  role?: TestRole | null;
  key?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TestStack {
  stack: RunningStack;
  dataDir: string;
  call(method: string, url: string, options?: CallOptions): Promise<Answer>;
  /** What the embedded SMTP sink received for one address. */
  mailbox(to: string): Promise<Array<{ to: string[]; subject: string; text: string; headers: Record<string, string> }>>;
  stop(): Promise<void>;
}

/**
 * The whole system as `npm start` runs it (Temporal dev server, embedded PostgreSQL, SMTP sink,
 * worker, API) on free ports in a temporary data folder, with the test keys and `env` on top.
 */
export async function startTestStack(env: Record<string, string> = {}, options: StackOptions = {}): Promise<TestStack> {
  // As the entry points do: the SDK's runtime metrics on a private port, folded into /metrics.
  const coreMetricsPort = await freePort();
  installTestRuntime({ telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${coreMetricsPort}` } } } });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-e2e-'));
  const stack = await startOnFreePorts(async () => {
    const [port, temporalPort, uiPort, pgPort, smtpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const config = loadConfig({
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMBEDDED_PG_PORT: String(pgPort),
      SMTP_SINK_PORT: String(smtpPort),
      DATA_DIR: dataDir,
      LEADS_API_KEYS: Object.entries(TEST_KEYS)
        .map(([role, key]) => `${role}:${key}`)
        .join(','),
      ...env,
    });
    return startStack(config, { ui: false, coreMetricsUrl: `http://127.0.0.1:${coreMetricsPort}/metrics`, ...options });
  });

  async function call(method: string, url: string, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key ?? (options.role === null ? undefined : TEST_KEYS[options.role ?? 'admin']);
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (options.rawBody !== undefined || options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = options.rawBody ?? JSON.stringify(options.body);
    }
    const response = await fetch(`${stack.apiUrl}${url}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    const json = response.headers.get('content-type')?.startsWith('application/json');
    return { status: response.status, headers: response.headers, body: json && text ? JSON.parse(text) : text };
  }

  return {
    stack,
    dataDir,
    call,
    mailbox: async (to) => (await call('GET', `/v1/dev/mailbox?to=${encodeURIComponent(to)}`)).body.messages,
    async stop() {
      await stack.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A port that was free when picked may be taken by a parallel suite before Postgres binds it:
 * then pick fresh ports and start again (the stack stops what it had started). Any other
 * failure is the test's to report.
 */
async function startOnFreePorts(start: () => Promise<RunningStack>, attempts = 3): Promise<RunningStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof EmbeddedPostgresError && error.portTaken) || attempt >= attempts) throw error;
    }
  }
}
