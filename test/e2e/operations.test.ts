import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/infra/net.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { startTracing, type Tracing } from '../../src/infra/tracing.js';
import { leadWorkflowId } from '../../src/domain/lead.js';
import { eventually } from '../helpers/eventually.js';
import { startTestStack, type TestStack } from '../helpers/http-stack.js';

/**
 * The ecosystem's conventions for operations, against the whole stack: the Temporal connection
 * comes from a `temporal.toml` profile as the Temporal CLI reads it, and one lead's enrolment is
 * one OpenTelemetry trace from `POST /v1/leads` to the welcome email's activity.
 */
const NAMESPACE = 'leads-profile';
let dir: string;
let temporal: DevServer;
let connection: Connection;
let exporter: InMemorySpanExporter;
let tracing: Tracing;
let t: TestStack;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-ops-'));
  // "A real Temporal" for Leadflow: a dev server we start, with a namespace that is not `default`.
  temporal = await startDevServer({ port: await freePort(), uiPort: 0, ui: false, dbFile: path.join(dir, 'temporal.db'), namespace: NAMESPACE });
  connection = await Connection.connect({ address: temporal.address });
  const toml = path.join(dir, 'temporal.toml');
  fs.writeFileSync(toml, `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.ops]\naddress = "${temporal.address}"\nnamespace = "${NAMESPACE}"\n`);
  exporter = new InMemorySpanExporter();
  tracing = startTracing({ serviceName: 'leadflow-test', exporter });
  t = await startTestStack({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'ops' }, { tracing });
}, 180_000);

afterAll(async () => {
  await t?.stop();
  await tracing?.shutdown();
  await connection?.close();
  await temporal?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('Temporal connection from a temporal.toml profile', () => {
  it("reaches the profile's address and runs the lead workflows in the profile's namespace", async () => {
    expect(t.stack.temporalAddress).toBe(temporal.address);
    expect(t.stack.temporalPid).toBeUndefined(); // no dev server of its own
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id: 'profile-1', email: 'profile-1@example.com' } })).status).toBe(201);
    const inProfile = new Client({ connection, namespace: NAMESPACE });
    expect((await inProfile.workflow.getHandle(leadWorkflowId('profile-1')).describe()).status.name).toBe('RUNNING');
    const inDefault = new Client({ connection, namespace: 'default' });
    await expect(inDefault.workflow.getHandle(leadWorkflowId('profile-1')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

/** The spans as an indented tree: name, kind, a few attributes (docs/operations.md shows one). */
function spanTree(spans: ReadableSpan[]): string {
  const children = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const lines: string[] = [];
  const show = (span: ReadableSpan, depth: number) => {
    const attrs = ['http.method', 'http.target', 'http.status_code', 'temporalWorkflowId', 'temporalActivityId']
      .filter((k) => span.attributes[k] !== undefined)
      .map((k) => `${k}=${String(span.attributes[k])}`);
    const parentNote = depth === 0 && span.parentSpanId ? ` (parent ${span.parentSpanId} not exported yet)` : '';
    // Fastify's hook spans are named after the whole plugin chain: the hook's name says enough.
    lines.push(`${'  '.repeat(depth)}${span.name.split(' - ')[0]} [${SpanKind[span.kind]}] ${span.spanContext().spanId} ${(span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(1)} ms${attrs.length ? ' ' + attrs.join(' ') : ''}${parentNote}`);
    for (const child of (children.get(span.spanContext().spanId) ?? []).sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])) show(child, depth + 1);
  };
  for (const root of children.get(undefined) ?? []) show(root, 0);
  return lines.join('\n');
}

describe('OpenTelemetry tracing', () => {
  it('follows one enrolment as one trace: HTTP request, Temporal client call, workflow task, the welcome email activity', { timeout: 90_000 }, async () => {
    exporter.reset();
    const id = 'traced-1';
    expect((await t.call('POST', '/v1/leads', { role: 'ingest', body: { id, email: `${id}@example.com` } })).status).toBe(201);
    const ran = (span: ReadableSpan) => span.name === 'RunActivity:sendNurtureEmail' && span.attributes.temporalWorkflowId === leadWorkflowId(id);
    // The workflow's StartActivity span ends with the activity and leaves through the sink at the end of the next workflow task.
    const scheduled = (span: ReadableSpan) => span.name === 'StartActivity:sendNurtureEmail' && exporter.getFinishedSpans().find(ran)?.parentSpanId === span.spanContext().spanId;
    await eventually(() => expect(exporter.getFinishedSpans().some(scheduled)).toBe(true), { timeoutMs: 60_000 });
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const http = spans.find((s) => s.kind === SpanKind.SERVER && s.attributes['http.method'] === 'POST' && s.attributes['http.target'] === '/v1/leads' && !s.parentSpanId);
    expect(http, 'the HTTP server span of POST /v1/leads').toBeDefined();
    const traceId = http!.spanContext().traceId;
    const trace = spans.filter((s) => s.spanContext().traceId === traceId);
    const names = trace.map((s) => s.name);
    // The Fastify request span, the client's start of the lead workflow, the workflow's
    // scheduling of the email, and the activity that sent it: all in the HTTP request's trace.
    expect(names).toContain('request');
    expect(names.some((n) => n === 'StartWorkflow:leadWorkflow' || n === 'SignalWithStartWorkflow:leadWorkflow')).toBe(true);
    expect(names).toContain('StartActivity:sendNurtureEmail');
    expect(trace.filter(ran)).toHaveLength(1);
    // Every span of the trace hangs from the HTTP span, except the workflow's own (RunWorkflow
    // ends with the workflow, months away: its children point at it before it is exported).
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
    const ancestors = (span: ReadableSpan): string[] => (span.parentSpanId && byId.has(span.parentSpanId) ? [byId.get(span.parentSpanId)!.name, ...ancestors(byId.get(span.parentSpanId)!)] : []);
    const activity = trace.find(ran)!;
    expect(ancestors(activity)[0]).toBe('StartActivity:sendNurtureEmail');
    const start = trace.find((s) => s.name === 'StartWorkflow:leadWorkflow' || s.name === 'SignalWithStartWorkflow:leadWorkflow')!;
    expect(ancestors(start)).toContain(http!.name);
    console.log(`trace ${traceId}:\n${spanTree(trace)}`);
  });

  it("continues a caller's trace: the HTTP span takes the traceparent header's trace id", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await t.call('GET', '/v1/leads/traced-1', { role: 'sales', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(answer.status).toBe(200);
    await eventually(() => {
      const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.spanContext().traceId === traceId);
      expect(server?.parentSpanId).toBe('00f067aa0ba902b7');
    });
  });
});
