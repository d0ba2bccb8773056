import { describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../../src/worker.js';

// Schemas stay at the edges: the workflow bundle every cached lead runs in carries no zod.
describe('workflow bundle', () => {
  it('contains no zod, and the lead machine is in it; without tracing, no OpenTelemetry either', { timeout: 120_000 }, async () => {
    const { code } = await bundleWorkflows();
    expect(code).toContain('src/domain/lead/reduce.ts');
    expect(code).not.toMatch(/node_modules\/zod\//);
    expect(code).not.toMatch(/\bZodError\b/);
    // Tracing off costs nothing inside the sandbox: no interceptor, no span, no header.
    expect(code).not.toMatch(/node_modules\/(@temporalio\/interceptors-opentelemetry|@opentelemetry)\//);
    console.log(`workflow bundle: ${(code.length / 1024).toFixed(0)} KiB`);
  });

  it("with tracing, carries the SDK's workflow interceptors and none of the Node-side OpenTelemetry (SDK, exporters, instrumentations)", { timeout: 120_000 }, async () => {
    const { code } = await bundleWorkflows({ tracing: true });
    expect(code).toMatch(/node_modules\/@temporalio\/interceptors-opentelemetry\/lib\/workflow-interceptors/);
    // The SDK's in-sandbox exporter builds on sdk-trace-base (platform-neutral); nothing of Node's side comes along.
    expect(code).not.toMatch(/node_modules\/@opentelemetry\/(sdk-trace-node|exporter-|instrumentation|context-async-hooks|otlp-)/);
    expect(code).not.toMatch(/node_modules\/zod\//);
    console.log(`workflow bundle with tracing: ${(code.length / 1024).toFixed(0)} KiB`);
  });
});
