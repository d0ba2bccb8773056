import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig, ROLES, type Role } from '../src/config.js';
import { freePort } from '../src/infra/net.js';
import { INHERITED_NAMES } from '../src/domain/own-key.js';
import { findFailedWorkflowTasks } from '../src/infra/temporal/invariants.js';
import { startStack } from '../src/stack.js';
// @ts-expect-error: a plain .mjs script without types
import { installSchemathesis } from './install-schemathesis.mjs';

/**
 * Schemathesis (PyPI, installed into .tools/) against `/openapi.json` of the whole stack, once
 * per role with that role's key: every check (no 5xx, status codes, content types and bodies
 * as documented, negative data refused, undeclared methods 405, auth not ignored), generated
 * positive and negative data, and stateful sequences. `npm run fuzz` is the long run; CI runs
 * a bounded one in test/e2e/schemathesis.test.ts.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How to run schemathesis's `st` (scripts/install-schemathesis.mjs). */
interface Schemathesis {
  command: string;
  args: string[];
  env: { PYTHONPATH?: string };
}
const KEYS: Record<Role, string> = { ingest: 'fuzz-ingest-key-01', marketing: 'fuzz-marketing-key-01', sales: 'fuzz-sales-key-01', admin: 'fuzz-admin-key-01' };

export interface FuzzOptions {
  /** Test cases per operation and phase (schemathesis --max-examples). */
  maxExamples: number;
  seed: number;
  roles?: Role[];
  log?: (line: string) => void;
}

export interface RoleResult {
  role: Role;
  cases: number;
  failures: number;
  exitCode: number | null;
  /** schemathesis's own report (failures with curl lines to reproduce them). */
  output: string;
}

export interface FuzzReport {
  results: RoleResult[];
  cases: number;
  failures: number;
  /** Inherited names (constructor, __proto__, ...) a route did not refuse with a 4xx: must be empty. */
  inheritedNameFailures: string[];
  /** Lead workflow runs with failed workflow tasks after the run (the invariant): must be 0. */
  failedWorkflowTasks: number;
  seconds: number;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const st: Schemathesis = installSchemathesis({ log });
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-fuzz-'));
  const [port, temporalPort, uiPort, pgPort, smtpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = loadConfig({
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    EMBEDDED_PG_PORT: String(pgPort),
    SMTP_SINK_PORT: String(smtpPort),
    DATA_DIR: dataDir,
    LEADS_API_KEYS: Object.entries(KEYS).map(([role, key]) => `${role}:${key}`).join(','),
    WEBHOOK_SECRETS: `whsec_${Buffer.from('fuzz-webhook-secret-0001').toString('base64')}`,
    RATE_LIMIT_MAX: '0',
  });
  log('starting the stack (dev server, PostgreSQL, SMTP sink, worker, API)');
  const stack = await startStack(config, { ui: false });
  const results: RoleResult[] = [];
  let inheritedNameFailures: string[] = [];
  let failedWorkflowTasks = Number.NaN;
  try {
    for (const role of options.roles ?? [...ROLES]) {
      log(`schemathesis as ${role} (max ${options.maxExamples} examples per operation, seed ${options.seed})`);
      const result = await runSchemathesis(st, `${stack.apiUrl}/openapi.json`, role, options);
      log(`  ${role}: ${result.cases} cases, ${result.failures} failures`);
      results.push(result);
    }
    // Schemathesis draws names from the documented enums; the names every object inherits come
    // from us, through every route that takes a name. Then the invariant: no lead's workflow threw.
    log(`inherited names (${INHERITED_NAMES.length}) through every route that takes a name`);
    inheritedNameFailures = await probeInheritedNames(stack.apiUrl);
    const failedTasks = await findFailedWorkflowTasks(stack.client);
    failedWorkflowTasks = failedTasks.length;
    log(`  ${inheritedNameFailures.length} not refused; ${failedWorkflowTasks} lead workflow(s) with failed workflow tasks${failedTasks.length ? `: ${failedTasks.slice(0, 5).map((f) => `${f.workflowId} (${f.firstMessage})`).join(', ')}` : ''}`);
  } finally {
    await stack.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  return {
    results,
    cases: results.reduce((n, r) => n + r.cases, 0),
    failures: results.reduce((n, r) => n + r.failures, 0),
    inheritedNameFailures,
    failedWorkflowTasks,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/** Sends every inherited name where a route takes a name; returns the answers that were not a refusal naming the field. */
async function probeInheritedNames(apiUrl: string): Promise<string[]> {
  const call = async (role: Role, method: string, url: string, body: unknown) => {
    const response = await fetch(`${apiUrl}${url}`, { method, headers: { authorization: `Bearer ${KEYS[role]}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, text: await response.text() };
  };
  await call('ingest', 'POST', '/v1/leads', { id: 'fuzz-names', email: 'fuzz-names@example.com' });
  const failures: string[] = [];
  const expectRefusal = (what: string, answer: { status: number; text: string }, field: string) => {
    if (answer.status < 400 || answer.status >= 500 || !answer.text.includes(field)) failures.push(`${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
  };
  for (const name of INHERITED_NAMES) {
    expectRefusal(`event type ${name}`, await call('ingest', 'POST', '/v1/leads/fuzz-names/events', { eventId: `fuzz-${name}`, type: name }), 'body.type');
    expectRefusal(`sequence ${name}`, await call('ingest', 'POST', '/v1/leads', { id: 'fuzz-names-2', email: 'fuzz2@example.com', sequence: name }), 'body.sequence');
    expectRefusal(`reject reason ${name}`, await call('sales', 'POST', '/v1/leads/fuzz-names/reject', { by: 'fuzz', reason: name }), 'body.reason');
    expectRefusal(`migrate ${name}`, await call('marketing', 'POST', `/v1/sequences/${encodeURIComponent(name)}/migrate`, {}), 'params.id');
    const batch = await call('ingest', 'POST', '/v1/events', { events: [{ leadId: 'fuzz-names', eventId: `fuzz-b-${name}`, type: name }] });
    if (batch.status !== 202 || !batch.text.includes('events.0.type')) failures.push(`batch event type ${name}: ${batch.status} ${batch.text.slice(0, 200)}`);
  }
  return failures;
}

function runSchemathesis(st: Schemathesis, schemaUrl: string, role: Role, options: FuzzOptions): Promise<RoleResult> {
  const args = [
    ...st.args,
    '--config-file',
    path.join(ROOT, 'scripts', 'schemathesis.toml'),
    'run',
    schemaUrl,
    '--header',
    `Authorization: Bearer ${KEYS[role]}`,
    // Every check is on by default; scripts/schemathesis.toml turns one off for two operations
    // (a --checks flag here would override that file).
    '--max-examples',
    String(options.maxExamples),
    '--seed',
    String(options.seed),
    '--generation-database',
    'none',
    '--request-timeout',
    '20',
    // One worker: with two, schemathesis 4.32 itself crashed now and then compiling its strategies.
    '--workers',
    '1',
    '--no-color',
    '--output-truncate',
    'false',
  ];
  return new Promise((resolve, reject) => {
    const hooks = path.join(ROOT, 'scripts');
    const env = { ...process.env, SCHEMATHESIS_HOOKS: 'schemathesis_hooks', PYTHONPATH: st.env.PYTHONPATH ? `${st.env.PYTHONPATH}${path.delimiter}${hooks}` : hooks };
    const child = spawn(st.command, args, { cwd: os.tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      const cases = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
      const found = /found (\d+) unique failures?/.exec(output);
      const failures = found ? Number(found[1]) : exitCode === 0 ? 0 : Number.NaN;
      resolve({ role, cases, failures, exitCode, output });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: { examples: { type: 'string', default: '100' }, seed: { type: 'string' }, role: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log('npm run fuzz -- [--examples N (default 100)] [--seed N] [--role ingest|marketing|sales|admin ...]');
    process.exit(0);
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const report = await runFuzz({
    maxExamples: Number(values.examples),
    seed: values.seed ? Number(values.seed) : Date.now() % 1_000_000,
    ...(values.role ? { roles: values.role as Role[] } : {}),
    log: (line) => console.log(`[fuzz] ${line}`),
  });
  for (const r of report.results) if (r.failures !== 0) console.log(`\n===== ${r.role} =====\n${r.output}`);
  console.log(`\nschemathesis: ${report.cases} cases, ${report.failures} failures (${report.results.map((r) => `${r.role} ${r.cases}/${r.failures}`).join(', ')}) in ${report.seconds} s`);
  console.log(`inherited names not refused: ${report.inheritedNameFailures.length}${report.inheritedNameFailures.length ? `\n  ${report.inheritedNameFailures.join('\n  ')}` : ''}; lead workflows with failed workflow tasks: ${report.failedWorkflowTasks}`);
  process.exit(report.failures === 0 && report.inheritedNameFailures.length === 0 && report.failedWorkflowTasks === 0 ? 0 : 1);
}
