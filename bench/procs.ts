import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import { createInterface } from 'node:readline';

// Processes the bench starts (the Leadflow worker, the API, the baseline worker) and what
// /proc says about them: resident memory and CPU time.

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

export interface ProcSample {
  rssBytes: number;
  cpuMs: number;
}

/** RSS (VmRSS) and user+system CPU of a process, from /proc. */
export async function sampleProc(pid: number): Promise<ProcSample> {
  const [status, stat] = await Promise.all([fs.readFile(`/proc/${pid}/status`, 'utf8'), fs.readFile(`/proc/${pid}/stat`, 'utf8')]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { rssBytes: rssKb * 1024, cpuMs: ((utime + stime) * 1000) / USER_HZ };
}

/**
 * CPU of a process and its children (Postgres: the postmaster and its backends), including
 * children that already exited (cutime/cstime of the parent).
 */
export async function sampleProcTree(rootPid: number): Promise<ProcSample> {
  let cpuTicks = 0;
  let rssBytes = 0;
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    if (pid !== rootPid && Number(fields[1]) !== rootPid) continue;
    cpuTicks += Number(fields[11]) + Number(fields[12]);
    if (pid === rootPid) cpuTicks += Number(fields[13]) + Number(fields[14]);
    rssBytes += Number(fields[21]) * 4096;
  }
  return { rssBytes, cpuMs: (cpuTicks * 1000) / USER_HZ };
}

/** The pid of a running process whose command line contains `needle` (e.g. a unique data path). */
export async function findPid(needle: string): Promise<number | undefined> {
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.includes(needle))) return Number(entry);
  }
  return undefined;
}

export interface ChildOptions {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** A line on stdout that means "ready". */
  readyLine: RegExp;
  readyTimeoutMs?: number;
  cwd: string;
}

export interface BenchChild {
  name: string;
  pid: number;
  sample(): Promise<ProcSample>;
  /** Last lines of its output (for error messages). */
  tail(): string;
  /** SIGTERM, SIGKILL after 20 s. Resolves when gone. */
  stop(): Promise<void>;
}

/** Spawns `node <args>` and waits for its ready line. */
export async function startChild(options: ChildOptions): Promise<BenchChild> {
  const child: ChildProcess = spawn(process.execPath, options.args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 60) lines.shift();
  };
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name} not ready within ${(options.readyTimeoutMs ?? 120_000) / 1000} s:\n${lines.join('\n')}`)), options.readyTimeoutMs ?? 120_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(line);
      if (options.readyLine.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    createInterface({ input: child.stderr! }).on('line', keep);
    void gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited before it was ready:\n${lines.join('\n')}`));
    });
  });
  await ready;
  const pid = child.pid!;
  return {
    name: options.name,
    pid,
    sample: () => sampleProc(pid),
    tail: () => lines.join('\n'),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
    },
  };
}

export interface MachineDescription {
  cpuModel: string;
  cores: number;
  ramMiB: number;
  node: string;
  platform: string;
  kernel: string;
}

export function describeMachine(): MachineDescription {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    ramMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
  };
}

/** Samples the 1-minute load average while the bench runs. */
type LoadSummary = { start: number[]; end: number[]; oneMinute: { min: number; mean: number; max: number; samples: number } };
export function watchLoad(everyMs = 5_000): { stop(): LoadSummary; peek(): LoadSummary } {
  const start = os.loadavg();
  const samples: number[] = [start[0]!];
  const timer = setInterval(() => samples.push(os.loadavg()[0]!), everyMs);
  timer.unref();
  const summary = (): LoadSummary => {
    const end = os.loadavg();
    const all = [...samples, end[0]!];
    const round = (v: number) => Math.round(v * 100) / 100;
    return {
      start: start.map(round),
      end: end.map(round),
      oneMinute: { min: round(Math.min(...all)), mean: round(all.reduce((a, b) => a + b, 0) / all.length), max: round(Math.max(...all)), samples: all.length },
    };
  };
  return {
    peek: summary,
    stop() {
      clearInterval(timer);
      return summary();
    },
  };
}
