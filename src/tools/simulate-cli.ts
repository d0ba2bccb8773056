import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiFailed, apiRequest } from './api-request.js';

const HELP = `npm run simulate -- [options]

What if the scoring were different? Replays the recorded events and sales decisions of past
leads through the same lead machine the workflows run, with the changes you give, and tells
which leads would have reached sales review earlier, later, newly or not at all, and what sales
actually decided on the newly escalated ones. Nothing changes in the system: it is a report
(POST /v1/simulations, marketing key).

Options:
  --threshold <points>     the sales-review threshold (now 50)
  --points <name>=<n>      new points for a flat-table event type (product.compared=25) or a
                           conditional rule id; repeat it, or separate pairs with commas
  --min-grade <A-D>        the fit grade sales review needs
  --fit <file.json>        fit rules and grades replacing the program's: { "rules": [...], "grades": {...} }
  --since <date>           only leads enrolled since then (2026-11-01 or an ISO-8601 instant)
  --leads <id,id,...>      only these leads (at most 400)
  --json                   print the API's answer as JSON
  --api <url>              the API (default LEADFLOW_API_URL, else http://127.0.0.1:3000)
  --key <key>              a marketing API key (default LEADFLOW_API_KEY, else dev-marketing,
                           the development key \`npm start\` prints when LEADS_API_KEYS is unset)
  -h, --help               this help

With no change at all, every lead must escalate as it did: a check of the replay itself.

Exit status: 0 done, 1 the simulation failed (refused change, API unreachable, wrong key), 2 wrong usage.

Examples:
  npm run simulate -- --points product.compared=25
  npm run simulate -- --threshold 40 --points product.compared=25 --since 2026-10-01`;

class UsageError extends Error {}

export interface SimulateArgs {
  program: { threshold?: number; scoring?: Record<string, number>; minGrade?: string; fit?: unknown };
  fitFile?: string;
  since?: string;
  leads?: string[];
  json: boolean;
  api: string;
  key: string;
  help: boolean;
}

const integer = (text: string, what: string): number => {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${what} takes a whole number (got "${text}")`);
  return Number(text);
};

/** A date (a UTC day) or an ISO-8601 instant, as the API takes it. */
function instantOf(text: string): string {
  const value = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00.000Z` : text;
  if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}(T|$)/.test(value)) throw new UsageError(`--since takes a date such as 2026-11-01 or an ISO-8601 instant (got "${text}")`);
  return new Date(value).toISOString();
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SimulateArgs {
  const args: SimulateArgs = { program: {}, json: false, api: env.LEADFLOW_API_URL ?? 'http://127.0.0.1:3000', key: env.LEADFLOW_API_KEY ?? 'dev-marketing', help: false };
  const value = (i: number, option: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${option} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') args.help = true;
    else if (a === '--threshold') args.program.threshold = integer(value(++i, a), '--threshold');
    else if (a === '--points') {
      for (const pair of value(++i, a).split(',').filter(Boolean)) {
        const at = pair.lastIndexOf('=');
        if (at <= 0) throw new UsageError(`--points takes name=points, e.g. product.compared=25 (got "${pair}")`);
        args.program.scoring = { ...args.program.scoring, [pair.slice(0, at)]: integer(pair.slice(at + 1), `--points ${pair.slice(0, at)}`) };
      }
    } else if (a === '--min-grade') {
      const grade = value(++i, a).toUpperCase();
      if (!['A', 'B', 'C', 'D'].includes(grade)) throw new UsageError(`--min-grade takes A, B, C or D (got "${argv[i]}")`);
      args.program.minGrade = grade;
    } else if (a === '--fit') args.fitFile = value(++i, a);
    else if (a === '--since') args.since = instantOf(value(++i, a));
    else if (a === '--leads') args.leads = value(++i, a).split(',').filter(Boolean);
    else if (a === '--json') args.json = true;
    else if (a === '--api') args.api = value(++i, a);
    else if (a === '--key') args.key = value(++i, a);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (see --help)`);
    else throw new UsageError(`unexpected argument "${a}" (options start with --; see --help)`);
  }
  return args;
}

export interface SimulationAnswer {
  leads: number;
  escalations: { now: number; simulated: number };
  leadsEscalated: { now: number; simulated: number };
  changed: Array<{ leadId: string; change: string; now: string | null; simulated: string | null }>;
  newlyEscalated: number;
  acceptedAmongNew: number;
  rejectedAmongNew: number;
  wonAmongNew: number;
  unreproduced: Array<{ leadId: string; reason: string }>;
}

/** Changed leads the text report lists; --json has them all. */
const CHANGED_SHOWN = 50;
const when = (at: string | null): string => (at ? at.replace('T', ' ').slice(0, 19) : '-');

/** How much earlier (-) or later (+) the simulated first escalation is: "-350 ms", "+2 d 3 h". */
export function shiftOf(now: string | null, simulated: string | null): string {
  if (!now || !simulated) return '';
  const ms = Date.parse(simulated) - Date.parse(now);
  const sign = ms < 0 ? '-' : '+';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${a} ms`;
  if (a < 60_000) return `${sign}${Math.round(a / 100) / 10} s`;
  if (a < 3_600_000) return `${sign}${Math.round(a / 60_000)} min`;
  if (a < 86_400_000) return `${sign}${Math.round(a / 360_000) / 10} h`;
  const days = Math.floor(a / 86_400_000);
  const hours = Math.round((a % 86_400_000) / 3_600_000);
  return `${sign}${days} d${hours ? ` ${hours} h` : ''}`;
}

/** The answer in words, with a table of the changed leads. */
export function summary(args: Pick<SimulateArgs, 'program'>, r: SimulationAnswer): string {
  const what = [
    ...(args.program.threshold !== undefined ? [`threshold ${args.program.threshold}`] : []),
    ...Object.entries(args.program.scoring ?? {}).map(([name, points]) => `${name} = ${points}`),
    ...(args.program.minGrade ? [`min grade ${args.program.minGrade}`] : []),
    ...(args.program.fit ? ['fit rules from file'] : []),
  ];
  const lines = [
    `What if ${what.length ? what.join(', ') : 'nothing changed (a check of the replay)'}: ${r.leads} past leads replayed.`,
    `  escalations (reviews):   ${r.escalations.now} now -> ${r.escalations.simulated} simulated`,
    `  leads escalated:         ${r.leadsEscalated.now} now -> ${r.leadsEscalated.simulated} simulated`,
    `  newly escalated leads:   ${r.newlyEscalated} (earlier than they did, or never did); of them sales actually accepted ${r.acceptedAmongNew}, rejected ${r.rejectedAmongNew}, won ${r.wonAmongNew}`,
  ];
  if (r.changed.length) {
    lines.push('', `Leads that change (${r.changed.length}; first escalation, UTC):`, `  ${'lead'.padEnd(24)}${'change'.padEnd(10)}${'escalated now'.padEnd(22)}${'simulated'.padEnd(22)}shift`);
    for (const c of r.changed.slice(0, CHANGED_SHOWN)) lines.push(`  ${c.leadId.padEnd(24)}${c.change.padEnd(10)}${when(c.now).padEnd(22)}${when(c.simulated).padEnd(22)}${shiftOf(c.now, c.simulated)}`.trimEnd());
    if (r.changed.length > CHANGED_SHOWN) lines.push(`  ... and ${r.changed.length - CHANGED_SHOWN} more (--json lists them all)`);
  } else lines.push('', 'No lead changes.');
  if (r.unreproduced.length) {
    lines.push('', `Warning: ${r.unreproduced.length} lead(s) do not replay into their real escalations under their own program (their results are not to be trusted):`);
    for (const u of r.unreproduced.slice(0, CHANGED_SHOWN)) lines.push(`  ${u.leadId}: ${u.reason}`);
  }
  return lines.join('\n');
}

/** While the API works: a line on a terminal that says how long it has been working. */
function progress(): () => void {
  if (!process.stderr.isTTY) {
    console.error('Replaying past leads (the answer comes when all are done)...');
    return () => undefined;
  }
  const started = Date.now();
  const tick = () => process.stderr.write(`\rreplaying past leads... ${Math.round((Date.now() - started) / 1000)} s`);
  tick();
  const timer = setInterval(tick, 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write('\r\x1b[K');
  };
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  let args: SimulateArgs;
  try {
    args = parseArgs(argv);
    if (args.fitFile) {
      try {
        args.program.fit = JSON.parse(fs.readFileSync(args.fitFile, 'utf8'));
      } catch (error) {
        throw new UsageError(`--fit ${args.fitFile}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`simulate: ${error.message}`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const done = progress();
  try {
    const body = { program: args.program, ...(args.since ? { since: args.since } : {}), ...(args.leads ? { leads: args.leads } : {}) };
    const answer = await apiRequest({ api: args.api, key: args.key, keyHint: 'a marketing key' }, 'v1/simulations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    done();
    console.log(args.json ? JSON.stringify(answer.body, null, 2) : summary(args, answer.body as unknown as SimulationAnswer));
    return 0;
  } catch (error) {
    done();
    if (!(error instanceof ApiFailed)) throw error;
    console.error(`simulate: ${error.message}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
