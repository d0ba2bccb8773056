import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { LoadPlan, LoadResult } from './loadgen.js';
import { REPO } from './stack.js';

export interface LoadGenerator {
  pid: number;
  /** Runs one plan; resolves with every send's timestamp once the last answer came back. */
  run(plan: LoadPlan, onProgress: (sent: number, answered: number) => void): Promise<LoadResult>;
  stop(): Promise<void>;
}

/** Starts the load generator (bench/loadgen.ts) as a child process, once per run (its start-up stays out of the steps). */
export async function startLoadGenerator(dir: string): Promise<LoadGenerator> {
  await fs.mkdir(dir, { recursive: true });
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/loadgen.ts'], { cwd: REPO, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const errors: string[] = [];
  let exited: number | null | undefined;
  const gone = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  let onLine: (line: string) => void = () => undefined;
  createInterface({ input: child.stdout }).on('line', (line) => onLine(line));
  createInterface({ input: child.stderr }).on('line', (line) => {
    errors.push(line);
    if (errors.length > 40) errors.shift();
  });
  const failed = () => new Error(`the load generator exited with ${exited}:\n${errors.join('\n')}`);
  await new Promise<void>((resolve, reject) => {
    onLine = (line) => line === 'loadgen ready' && resolve();
    void gone.then(() => reject(failed()));
  });
  let count = 0;
  return {
    pid: child.pid!,
    async run(plan, onProgress) {
      const stamp = `${process.pid}-${count++}`;
      const planFile = path.join(dir, `plan-${stamp}.json`);
      const resultFile = path.join(dir, `result-${stamp}.json`);
      await fs.writeFile(planFile, JSON.stringify(plan));
      await new Promise<void>((resolve, reject) => {
        onLine = (line) => {
          const m = /^progress (\d+) (\d+)$/.exec(line);
          if (m) onProgress(Number(m[1]), Number(m[2]));
          else if (line === 'done') resolve();
        };
        void gone.then(() => reject(failed()));
        child.stdin.write(`run ${planFile} ${resultFile}\n`);
      });
      const result = JSON.parse(await fs.readFile(resultFile, 'utf8')) as LoadResult;
      await Promise.all([fs.rm(planFile, { force: true }), fs.rm(resultFile, { force: true })]);
      return result;
    },
    async stop() {
      if (exited !== undefined) return;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
    },
  };
}
