import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { leadSearchAttributes } from '../../../workflows/search-attributes.js';
import { isPortOpen } from '../net.js';
import { describeMissingBinary, resolveTemporalCli, TemporalBinaryNotFoundError } from './binaries.js';
import { ensureLeadSearchAttributes } from './search-attributes.js';

export interface DevServerOptions {
  /** Front-end gRPC port on 127.0.0.1. */
  port: number;
  /** Web UI port (ignored when `ui` is false). */
  uiPort: number;
  /** SQLite file: the dev server keeps its data there across restarts. Its folder is created. */
  dbFile: string;
  namespace?: string;
  /** Serve the Web UI (default true); false passes `--headless`. */
  ui?: boolean;
  /** Every line the server prints (stdout and stderr). */
  onLog?: (line: string) => void;
  /** A CLI already resolved by the caller; resolved here (resolveTemporalCli) when absent. */
  cliPath?: string;
  /** How long to wait for the front end to answer (default 60 s). */
  startTimeoutMs?: number;
  /** A codec server the Web UI asks to decode payloads (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** SQLite pragmas of the data file (`--sqlite-pragma`), default DEV_SERVER_SQLITE_PRAGMAS; [] leaves SQLite's own. */
  sqlitePragmas?: readonly string[];
}

/**
 * The dev server's SQLite file in write-ahead-log mode. SQLite's own default, a rollback journal,
 * creates, syncs and deletes a journal file per transaction: under an import the server spent a
 * quarter of the machine waiting on the disk. With WAL a commit is an append to the log, synced
 * (synchronous=FULL, as before: a committed transaction survives a power cut too). Measured over
 * a 1,500-row import (docs/decisions.md): every lead parked after 89 s instead of 115 s.
 */
export const DEV_SERVER_SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=full'];

export interface DevServer {
  /** host:port of the gRPC front end. */
  address: string;
  /** Web UI, when started with `ui` on. */
  uiUrl: string | undefined;
  namespace: string;
  /** The server's process id (outage tests pause it with SIGSTOP). */
  pid: number | undefined;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

/** A server binary we spawned: its output tail, its exit, and an orderly stop. */
export interface ServerProcess {
  readonly pid: number | undefined;
  /** Set once the process has exited. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the process has exited (or failed to start). */
  readonly exited: Promise<void>;
  /** The last lines it printed, for error messages. */
  outputTail(lines?: number): string;
  /** SIGKILL at once (fault injection); resolves when the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;

/**
 * Spawns a long-running server binary in its own process group, so a Ctrl-C in the terminal
 * reaches only our process and the stack stops the server in its own order (after the worker).
 * A process exit that skips `stop()` still sends it SIGTERM.
 */
export function spawnServerProcess(file: string, args: string[], onLog?: (line: string) => void, env?: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(env ? { env } : {}) });
  const tail: string[] = [];
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
    onLog?.(line);
  };
  createInterface({ input: child.stdout }).on('line', keep);
  createInterface({ input: child.stderr }).on('line', keep);

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      keep(`failed to start ${file}: ${error.message}`);
      exitInfo ??= { code: null, signal: null };
      process.removeListener('exit', killOnExit);
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      process.removeListener('exit', killOnExit);
      resolve();
    });
  });

  return {
    pid: child.pid,
    exit: () => exitInfo,
    exited,
    outputTail: (lines = 20) => tail.slice(-lines).join('\n'),
    async kill() {
      if (exitInfo) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (exitInfo) return;
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(kill);
    },
  };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One attempt to reach the front end and our namespace; a connection that does not answer is closed. */
async function probeFrontEnd(address: string, namespace: string): Promise<Connection> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    await connection.withDeadline(Date.now() + 5_000, async () => {
      await connection.workflowService.getSystemInfo({});
      // Namespaces from --namespace are created during start-up: wait for ours too.
      await connection.workflowService.describeNamespace({ namespace });
    });
    return connection;
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 with a SQLite file and the lead search
 * attributes, and waits until its front end answers. We spawn the CLI ourselves rather than use
 * the SDK's ephemeral server: that one waits only about 5 s and knows no persistent UI port.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const namespace = options.namespace ?? 'default';
  const host = '127.0.0.1';
  const address = `${host}:${options.port}`;
  const timeoutMs = options.startTimeoutMs ?? 60_000;

  let cliPath = options.cliPath;
  if (!cliPath) {
    const resolved = await resolveTemporalCli();
    // The SDK could download a CLI, but not with our data file and ports: refuse, and say how to fix it.
    if (!resolved.path) throw new TemporalBinaryNotFoundError(describeMissingBinary('cli', resolved.tried));
    cliPath = resolved.path;
  }

  const dbFile = path.resolve(options.dbFile);
  await fs.mkdir(path.dirname(dbFile), { recursive: true });
  // Flag names as of CLI 1.9.1 (and 1.5.1, the Go fallback). `--search-attribute` only takes
  // effect on a new db file; ensureLeadSearchAttributes below adds what an older file lacks.
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(options.port),
    '--db-filename',
    dbFile,
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...leadSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`]),
    ...(options.ui === false ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.ui !== false && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.sqlitePragmas ?? DEV_SERVER_SQLITE_PRAGMAS).flatMap((pragma) => ['--sqlite-pragma', pragma]),
  ];
  const server = spawnServerProcess(cliPath, args, options.onLog);
  const failure = (reason: string) =>
    new Error(`temporal server start-dev (${cliPath}) ${reason}. Its last output:\n${server.outputTail() || '(none)'}`);

  const deadline = Date.now() + timeoutMs;
  let connection: Connection | undefined;
  let lastError: unknown;
  try {
    for (;;) {
      const exit = server.exit();
      if (exit) throw failure(`exited (${exit.signal ?? `code ${exit.code}`}) before answering on ${address}`);
      if (Date.now() > deadline) {
        throw failure(`did not answer on ${address} within ${timeoutMs / 1000} s (last error: ${(lastError as Error | undefined)?.message ?? 'port closed'})`);
      }
      // A cheap TCP probe first: Connection.connect on a closed port would hold us for its own timeout.
      if (await isPortOpen(options.port, host)) {
        // Something listens, but it may not be our server (a port taken by another process):
        // race the probe against the process exiting so a dead server never leaves us waiting.
        const probe = probeFrontEnd(address, namespace);
        const outcome = await Promise.race([
          probe.then((conn) => ({ conn }), (error: unknown) => ({ error })),
          server.exited.then(() => ({ gaveUp: 'exited' })),
          delay(Math.max(0, deadline - Date.now())).then(() => ({ gaveUp: 'deadline' })),
        ]);
        if ('conn' in outcome) {
          connection = outcome.conn;
          break;
        }
        if ('error' in outcome) lastError = outcome.error;
        else void probe.then((conn) => conn.close(), () => undefined);
      }
      await delay(200);
    }
    await ensureLeadSearchAttributes(connection, namespace);
  } catch (error) {
    await connection?.close().catch(() => undefined);
    await server.stop();
    throw error;
  }
  await connection.close();

  return {
    address,
    uiUrl: options.ui === false ? undefined : `http://${host}:${options.uiPort}`,
    namespace,
    pid: server.pid,
    stop: () => server.stop(),
  };
}
