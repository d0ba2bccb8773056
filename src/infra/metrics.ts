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
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'leadflow_' });
  return {
    registry,
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
  };
}
