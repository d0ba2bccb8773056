import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LoadPlan, LoadResult } from './loadgen.js';
import { REPO } from './stack.js';

/** Runs the load generator (bench/loadgen.ts) as a child process over `plan`; resolves with its timestamps. */
export async function runLoad(plan: LoadPlan, dir: string, onProgress: (sent: number, answered: number) => void): Promise<LoadResult> {
  await fs.mkdir(dir, { recursive: true });
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const planFile = path.join(dir, `plan-${stamp}.json`);
  const resultFile = path.join(dir, `result-${stamp}.json`);
  await fs.writeFile(planFile, JSON.stringify(plan));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/loadgen.ts', planFile, resultFile], { cwd: REPO, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const errors: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /^progress (\d+) (\d+)$/.exec(line);
    if (m) onProgress(Number(m[1]), Number(m[2]));
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    errors.push(line);
    if (errors.length > 40) errors.shift();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  process.removeListener('exit', killOnExit);
  if (code !== 0) throw new Error(`the load generator exited with ${code}:\n${errors.join('\n')}`);
  const result = JSON.parse(await fs.readFile(resultFile, 'utf8')) as LoadResult;
  await Promise.all([fs.rm(planFile, { force: true }), fs.rm(resultFile, { force: true })]);
  return result;
}
