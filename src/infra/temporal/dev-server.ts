import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { leadSearchAttributes } from '../../../workflows/search-attributes.js';

export interface DevServerOptions {
  cliPath: string;
  port: number;
  uiPort: number;
  /** SQLite file: the dev server keeps its data there across restarts. */
  dbFile: string;
  namespace?: string;
  ui?: boolean;
  /** How long to wait for the frontend to answer (default 60 s: the first start migrates SQLite). */
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  stop(): Promise<void>;
}

const CLI_TYPE: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

/**
 * Starts `temporal server start-dev` from the given CLI on 127.0.0.1 with a SQLite file and the
 * lead search attributes registered, and waits until its frontend answers. We start the binary
 * ourselves (not the SDK's ephemeral server) because its ~5 s start-up wait is too short on a
 * busy two-core machine.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const namespace = options.namespace ?? 'default';
  const address = `127.0.0.1:${options.port}`;
  await fs.mkdir(path.dirname(path.resolve(options.dbFile)), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--db-filename',
    path.resolve(options.dbFile),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...leadSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE[key.type]}`]),
    ...(options.ui === false ? ['--headless'] : ['--ui-ip', '127.0.0.1', '--ui-port', String(options.uiPort)]),
  ];
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(killed);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      throw new Error(`temporal server start-dev exited (${exited.code ?? exited.signal}) before answering on ${address}:\n${output.trim().split('\n').slice(-15).join('\n')}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
      } finally {
        await connection.close();
      }
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`temporal server start-dev did not answer on ${address} within ${(options.startTimeoutMs ?? 60_000) / 1000} s: ${(error as Error).message}\n${output.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  return {
    address,
    ...(options.ui === false ? {} : { uiUrl: `http://127.0.0.1:${options.uiPort}` }),
    namespace,
    stop,
  };
}
