import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FAULT_KINDS, chaosFailures, duplicatesInKillWindow, runChaos } from './harness.js';

const HELP = `npm run chaos -- [options]

Fault injection on the real parts (Temporal dev server, embedded PostgreSQL, a worker process,
an SMTP relay): kill -9 the worker, make SMTP refuse connections, drop them (the TCP socket destroyed after the
message is in) or hang (no answer until the mailer's timeout), restart Postgres, restart
Temporal, while leads run a sequence with waits of seconds. Then checks that every lead reached
its expected state, that every expected email arrived, that no send key arrived twice and that
no email arrived under a send key nobody expected.

  --leads N          leads to run (default 300; --quick: 60)
  --seconds S        how long faults are injected (default 120; --quick: 25)
  --every S          average seconds between faults (default 4; --quick: 3)
  --seed N           seed of the fault schedule (default: the time)
  --quick            the short run CI does
  --json             print the report as JSON only
  -h, --help         this text

Exit code 0 when nothing was lost, duplicated, unexpected, stuck or failed; 1 otherwise (the reasons printed).`;

const { values } = parseArgs({
  options: {
    leads: { type: 'string' },
    seconds: { type: 'string' },
    every: { type: 'string' },
    seed: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const number = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`chaos: --${name} must be a positive number (got "${raw}")`);
    process.exit(2);
  }
  return value;
};

Runtime.install({ logger: new DefaultLogger('ERROR') });
const quick = values.quick;
const began = Date.now();
const report = await runChaos({
  leads: number('leads', values.leads, quick ? 60 : 300),
  faultSeconds: number('seconds', values.seconds, quick ? 25 : 120),
  faultEverySeconds: number('every', values.every, quick ? 3 : 4),
  escalateShare: 0.3,
  settleSeconds: 180,
  seed: number('seed', values.seed, Date.now() % 1_000_000),
  log: values.json ? () => undefined : (line) => console.log(`[chaos ${((Date.now() - began) / 1000).toFixed(1).padStart(5)} s] ${line}`),
});

if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const faults = FAULT_KINDS.map((k) => `${k} ${report.faults[k]}`).join(', ');
  console.log(
    [
      '',
      `leads            ${report.leads}`,
      `faults           ${faults}`,
      `emails expected  ${report.emails.expected}`,
      `       delivered ${report.emails.delivered}`,
      `       duplicated ${report.emails.duplicated} (in the kill window: ${duplicatesInKillWindow(report).length})`,
      `       missing   ${report.emails.missing}`,
      `       unexpected ${report.emails.unexpectedKeys.length}`,
      `smtp dropped     ${report.droppedConnections} connections`,
      `leads stuck      ${report.stuck.length}${report.stuck.length ? ` (${report.stuck.slice(0, 5).join(', ')}…)` : ''}`,
      `workflows failed ${report.failedWorkflows}`,
      `failed workflow tasks ${report.failedWorkflowTasks}`,
      `took             ${report.seconds} s`,
    ].join('\n'),
  );
}
const failures = chaosFailures(report);
for (const failure of failures) console.error(`chaos: FAILED: ${failure}`);
process.exit(failures.length === 0 ? 0 : 1);
