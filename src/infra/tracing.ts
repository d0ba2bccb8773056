import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { FastifyOtelInstrumentation } from '@fastify/otel';

/**
 * OpenTelemetry tracing for one process: the API's HTTP server and Fastify routes, the Temporal
 * client's calls, the workflow tasks and the activities, as one trace per request (the SDK's
 * interceptors carry the context in Temporal headers). On only when OTEL_EXPORTER_OTLP_ENDPOINT
 * is set (or a test passes an exporter): otherwise nothing is registered and nothing is paid.
 */
export interface Tracing {
  /** Ends workflow spans (the worker's sink) and every other span into the exporter. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Registered on the Fastify app before any route (src/server/app.ts). */
  fastify: FastifyOtelInstrumentation;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes, then unregisters everything this installed. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` of every span (OTEL_SERVICE_NAME). */
  serviceName: string;
  /** Which part of Leadflow the process runs (`all-in-one`, `api`, `worker`). */
  role?: string;
  /**
   * Where spans go. Default: OTLP over HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT (the
   * exporter reads the OTEL_EXPORTER_OTLP_* variables itself), in batches.
   */
  exporter?: SpanExporter;
}

/** Installs the global tracer provider, the W3C trace-context propagator and the HTTP and Fastify instrumentations. */
export function startTracing(options: TracingOptions): Tracing {
  const resource = new Resource({ 'service.name': options.serviceName, ...(options.role ? { 'leadflow.role': options.role } : {}) });
  // A test's in-memory exporter sees each span as it ends; a real collector gets batches.
  const spanProcessor = options.exporter ? new SimpleSpanProcessor(options.exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Global provider, AsyncLocalStorage context manager, W3C traceparent + baggage propagation.
  provider.register();
  const http = new HttpInstrumentation();
  http.setTracerProvider(provider);
  // The instrumentation patches `http` when it is next required; Fastify loaded it already (we
  // are ES modules, it is CommonJS), so require it once more for the patch to apply.
  createRequire(import.meta.url)('node:http');
  const fastify = new FastifyOtelInstrumentation();
  fastify.setTracerProvider(provider);
  return {
    spanProcessor,
    resource,
    fastify,
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      http.disable();
      fastify.disable();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
