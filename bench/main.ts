import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import fs from 'node:fs/promises';
import path from 'node:path';
import { HELP, parseBenchOptions } from './options.js';
import { Progress } from './progress.js';
import { chartOf, report } from './report.js';
import { resultBase, runBench, writeJson } from './run.js';
import { benchFailures } from './verdict.js';

// npm run bench: options checked up front, the phases run, the result and its chart written after
// every step (a late failure keeps the rest), the report printed, the verdict as exit code.

const parsed = parseBenchOptions(process.argv.slice(2), fileURLToPath(new URL('..', import.meta.url)));
if ('help' in parsed) {
  console.log(HELP);
  process.exit(0);
}
if ('error' in parsed) {
  for (const line of parsed.error.split('\n')) console.error(`bench: ${line}`);
  console.error('bench: see npm run bench -- --help');
  process.exit(2);
}
const options = parsed.options;

Runtime.install({ logger: new DefaultLogger('ERROR') });
const progress = new Progress();
let base = '';
const result = await runBench(options, progress, async (r) => {
  base ||= resultBase(r);
  await writeJson(`${base}.json`, r);
  await fs.writeFile(`${base}.svg`, chartOf(r));
});
console.log(report(result));
console.log(`\nresults: ${path.relative(process.cwd(), `${base}.json`)}  chart: ${path.relative(process.cwd(), `${base}.svg`)}`);
const failures = benchFailures(result);
for (const failure of failures) console.error(`bench: FAILED: ${failure}`);
process.exit(failures.length === 0 ? 0 : 1);
