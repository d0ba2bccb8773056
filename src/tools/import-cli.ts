import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { ApiFailed, apiRequest, type ApiAnswer } from './api-request.js';

const HELP = `npm run import -- <leads.csv> [options]

Imports leads from a CSV file through the API (POST /v1/imports) and follows the import job
until it is done, with a progress bar; then prints the summary and the refused rows.

The header row names the columns: id and email are required; firstName, lastName, company and
timezone are known (any case); every other column is stored in the lead's attributes. New leads
are enrolled in the sequence given; leads that exist get their profile updated.

Options:
  --sequence <id>        sequence new leads are enrolled in (default: the API's, onboarding)
  --api <url>            the API (default LEADFLOW_API_URL, else http://127.0.0.1:3000)
  --key <key>            an ingest or marketing API key (default LEADFLOW_API_KEY, else dev-marketing,
                         the development key \`npm start\` prints when LEADS_API_KEYS is unset)
  --interval <seconds>   how often to ask for progress (default 1)
  -h, --help             this help

Exit status: 0 every row imported, 3 done but some rows were refused, 1 the import failed
(file refused, API unreachable, wrong key), 2 wrong usage.

Examples:
  npm run import -- leads.csv
  npm run import -- trade-show.csv --sequence webinar-invite
  LEADFLOW_API_URL=https://leads.example.com LEADFLOW_API_KEY=... npm run import -- leads.csv`;

class UsageError extends Error {}

interface Args {
  file?: string;
  sequence?: string;
  api: string;
  key: string;
  intervalSeconds: number;
  help: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Args {
  const args: Args = { api: env.LEADFLOW_API_URL ?? 'http://127.0.0.1:3000', key: env.LEADFLOW_API_KEY ?? 'dev-marketing', intervalSeconds: 1, help: false };
  const value = (i: number, option: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${option} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') args.help = true;
    else if (a === '--sequence') args.sequence = value(++i, a);
    else if (a === '--api') args.api = value(++i, a);
    else if (a === '--key') args.key = value(++i, a);
    else if (a === '--interval') {
      args.intervalSeconds = Number(value(++i, a));
      if (!(args.intervalSeconds > 0)) throw new UsageError('--interval takes a number of seconds above 0');
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (see --help)`);
    else if (args.file) throw new UsageError(`one file at a time (got ${args.file} and ${a})`);
    else args.file = a;
  }
  return args;
}

interface ImportStatus {
  id: string;
  status: 'running' | 'completed';
  workflowId: string;
  rows: number;
  created: number;
  updated: number;
  refused: number;
  errors: Array<{ row: number; field: string; message: string }>;
}

/** Errors printed at the end; the API keeps the first 1000, the CLI shows this many. */
const ERRORS_SHOWN = 50;

const request = (args: Args, path: string, init: RequestInit = {}): Promise<ApiAnswer> => apiRequest({ api: args.api, key: args.key, keyHint: 'an ingest or marketing key' }, path, init);

const isTty = (): boolean => Boolean(process.stderr.isTTY);

/** Uploads the file with a byte progress bar (on a terminal), answers the import's id. */
async function upload(args: Args, file: string): Promise<string> {
  const size = fs.statSync(file).size;
  const bar = isTty() ? new cliProgress.SingleBar({ format: 'uploading  [{bar}] {percentage}% | {value}/{total} bytes', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(size, 0);
  const stream = fs.createReadStream(file);
  let sent = 0;
  stream.on('data', (chunk) => bar?.update((sent += chunk.length)));
  try {
    const query = args.sequence ? `?sequence=${encodeURIComponent(args.sequence)}` : '';
    const { body } = await request(args, `v1/imports${query}`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', 'content-length': String(size) },
      body: Readable.toWeb(stream) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    return String(body.id);
  } finally {
    bar?.stop();
  }
}

/** Polls the import until it completes, with a rows progress bar (on a terminal). */
async function follow(args: Args, id: string): Promise<ImportStatus> {
  const bar = isTty() ? new cliProgress.SingleBar({ format: 'importing  [{bar}] {percentage}% | {value}/{total} rows | {created} created, {updated} updated, {refused} refused | {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  try {
    for (;;) {
      const status = (await request(args, `v1/imports/${encodeURIComponent(id)}`)).body as unknown as ImportStatus;
      const accepted = status.rows - status.refused;
      const counts = { created: status.created, updated: status.updated, refused: status.refused };
      if (!started) bar?.start(accepted, 0, counts);
      started = true;
      bar?.update(status.created + status.updated, counts);
      if (status.status === 'completed') return status;
      await new Promise((resolve) => setTimeout(resolve, args.intervalSeconds * 1000));
    }
  } finally {
    bar?.stop();
  }
}

export function summary(status: ImportStatus): string {
  const lines = [`Import ${status.id} ${status.status}: ${status.rows} rows, ${status.created} created, ${status.updated} updated, ${status.refused} refused (workflow ${status.workflowId})`];
  if (status.errors.length) {
    lines.push('', 'Refused rows:', `  ${'row'.padEnd(8)}${'column'.padEnd(16)}problem`);
    for (const e of status.errors.slice(0, ERRORS_SHOWN)) lines.push(`  ${String(e.row).padEnd(8)}${e.field.padEnd(16)}${e.message}`);
    const more = status.errors.length - ERRORS_SHOWN;
    if (more > 0 || status.errors.length < status.refused) lines.push(`  ... and more: GET /v1/imports/${status.id} lists the first 1000`);
  }
  return lines.join('\n');
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(`import: ${(error as Error).message}`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  if (!args.file) {
    console.error('import: which file? npm run import -- leads.csv (see --help)');
    return 2;
  }
  if (!fs.existsSync(args.file) || !fs.statSync(args.file).isFile()) {
    console.error(`import: no such file: ${args.file}`);
    return 1;
  }
  try {
    const id = await upload(args, args.file);
    console.log(`Import ${id} accepted; following it (Ctrl-C stops following, not the import)`);
    const status = await follow(args, id);
    console.log(summary(status));
    return status.refused > 0 ? 3 : 0;
  } catch (error) {
    if (!(error instanceof ApiFailed)) throw error;
    console.error(`import: ${error.message}`);
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
