import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A Leadflow process of the cluster (an API or a worker, the deployment entry points), in a
 * process group of its own so a Ctrl-C in the terminal reaches only the orchestrator, which
 * stops the parts in order.
 */
export interface AppProcess {
  readonly name: string;
  pid(): number | undefined;
  /** Starts it (again) and waits for its ready line. */
  start(): Promise<void>;
  /** SIGKILL, as a crashed machine would (fault injection). */
  kill(): Promise<void>;
  /** SIGTERM (a worker drains its activities first), SIGKILL after `graceMs`. */
  stop(): Promise<void>;
  running(): boolean;
  outputTail(lines?: number): string;
}

export interface AppProcessOptions {
  name: string;
  cwd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  readyLine: RegExp;
  readyTimeoutMs?: number;
  graceMs?: number;
  onLine?: (line: string) => void;
}

export function appProcess(options: AppProcessOptions): AppProcess {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 100) tail.shift();
    options.onLine?.(line);
  };
  const alive = () => !!child && child.exitCode === null && child.signalCode === null;
  const killOnExit = () => {
    if (alive()) child!.kill('SIGKILL');
  };

  return {
    name: options.name,
    pid: () => child?.pid,
    running: alive,
    outputTail: (lines = 20) => tail.slice(-lines).join('\n'),
    start() {
      const current = spawn(process.execPath, options.args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child = current;
      process.once('exit', killOnExit);
      exited = new Promise<void>((resolve) =>
        current.once('exit', () => {
          process.removeListener('exit', killOnExit);
          resolve();
        }),
      );
      const timeoutMs = options.readyTimeoutMs ?? 180_000;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${options.name} not ready within ${timeoutMs / 1000} s:\n${tail.join('\n')}`)), timeoutMs);
        createInterface({ input: current.stdout! }).on('line', (line) => {
          keep(line);
          if (options.readyLine.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
        createInterface({ input: current.stderr! }).on('line', keep);
        current.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before it was ready:\n${tail.slice(-20).join('\n')}`));
        });
      });
    },
    async kill() {
      if (!alive()) return;
      child!.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!alive()) return;
      child!.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), options.graceMs ?? 40_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
