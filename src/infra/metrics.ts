import http from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The application's Prometheus metrics; one registry per process, served at `/metrics`. */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  eventsIngested: Counter<'type' | 'duplicate'>;
  decisions: Counter<'decision'>;
  emailsSent: Counter<'kind'>;
  emailsSuppressed: Counter<'kind'>;
  escalations: Counter;
  slaBreaches: Counter<'level'>;
  /** Email steps skipped because their template does not exist (a sequence the check would refuse). */
  emailsTemplateMissing: Counter<'template'>;
  /** Where the Temporal SDK's own Prometheus exporter serves the worker runtime's metrics, if on. */
  coreMetricsUrl?: string;
}

export function createMetrics(options: { coreMetricsUrl?: string } = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'leadflow_' });
  return {
    registry,
    ...(options.coreMetricsUrl ? { coreMetricsUrl: options.coreMetricsUrl } : {}),
    httpRequests: new Counter({
      name: 'leadflow_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'leadflow_http_request_duration_seconds',
      help: 'HTTP request latency, by route',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: 'leadflow_events_ingested_total',
      help: 'Engagement events accepted by the API, by type and whether the eventId was already known',
      labelNames: ['type', 'duplicate'],
      registers: [registry],
    }),
    decisions: new Counter({ name: 'leadflow_decisions_total', help: 'Sales decisions taken, by decision', labelNames: ['decision'], registers: [registry] }),
    emailsSent: new Counter({ name: 'leadflow_emails_sent_total', help: 'Emails handed to SMTP, by kind (marketing, sales)', labelNames: ['kind'], registers: [registry] }),
    emailsSuppressed: new Counter({
      name: 'leadflow_emails_suppressed_total',
      help: 'Sends refused because the recipient is on the suppression list',
      labelNames: ['kind'],
      registers: [registry],
    }),
    escalations: new Counter({ name: 'leadflow_escalations_total', help: 'Sales notifications sent for leads reaching review', registers: [registry] }),
    slaBreaches: new Counter({
      name: 'leadflow_sla_breaches_total',
      help: 'Sales review SLA expiries acted on (level 1: reminder to sales, level 2: escalation to the manager)',
      labelNames: ['level'],
      registers: [registry],
    }),
    emailsTemplateMissing: new Counter({
      name: 'leadflow_emails_template_missing_total',
      help: 'Email steps skipped because the template they name does not exist (npm run sequences -- check refuses such sequences)',
      labelNames: ['template'],
      registers: [registry],
    }),
  };
}

/**
 * The text a Prometheus scrape gets: our registry, then the Temporal SDK runtime's metrics
 * (workflow and activity task latencies, slots, polls, sticky cache...) from its exporter.
 */
export async function renderMetrics(metrics: Metrics): Promise<string> {
  const own = await metrics.registry.metrics();
  if (!metrics.coreMetricsUrl) return own;
  try {
    const response = await fetch(metrics.coreMetricsUrl, { signal: AbortSignal.timeout(2000) });
    return `${own}\n# Temporal SDK runtime metrics\n${await response.text()}`;
  } catch (error) {
    return `${own}\n# Temporal SDK runtime metrics unavailable: ${(error as Error).message}\n`;
  }
}

/** `/metrics` for a process without the API (a deployed worker). */
export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end('not found: try /metrics\n');
      return;
    }
    renderMetrics(metrics).then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(`metrics failed: ${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { url: `http://${host}:${actual}/metrics`, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
