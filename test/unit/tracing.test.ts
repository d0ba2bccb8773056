import http from 'node:http';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startTracing } from '../../src/infra/tracing.js';

/** A stand-in OpenTelemetry collector: what arrives on 127.0.0.1 at a free port. */
const received: Array<{ method: string; url: string; type: string; body: Buffer }> = [];
const collector = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    received.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
let endpoint: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

describe('tracing settings', () => {
  it('are off unless OTEL_EXPORTER_OTLP_ENDPOINT is set', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' }).tracing).toEqual({ endpoint: 'http://otel:4318', serviceName: 'leadflow' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_SERVICE_NAME: 'leadflow-eu' }).tracing?.serviceName).toBe('leadflow-eu');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4318' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\):\/\/ URL/);
  });
});

describe('tracing over OTLP', () => {
  it('sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces as OTLP protobuf, with the service name', async () => {
    const before = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    const tracing = startTracing({ serviceName: 'leadflow-otlp-test', role: 'worker' });
    try {
      trace.getTracer('probe').startSpan('probe-span').end();
      await tracing.flush();
      const traces = received.filter((r) => r.url === '/v1/traces');
      expect(traces).toHaveLength(1);
      expect(traces[0]).toMatchObject({ method: 'POST', type: 'application/x-protobuf' });
      // Protobuf keeps strings as bytes: the span's and the service's names are in the body.
      expect(traces[0]!.body.includes('probe-span')).toBe(true);
      expect(traces[0]!.body.includes('leadflow-otlp-test')).toBe(true);
    } finally {
      await tracing.shutdown();
      if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = before;
    }
    // Once shut down, nothing is registered: spans go nowhere.
    trace.getTracer('probe').startSpan('after-shutdown').end();
    expect(received.some((r) => r.body.includes('after-shutdown'))).toBe(false);
  });
});
