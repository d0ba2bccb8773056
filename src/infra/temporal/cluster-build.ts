import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The pinned Temporal server, built from the Go module proxy into a project-local folder
 * (`.tools/`, git-ignored): no Docker, no prebuilt download. deploy/temporal/versions.json is
 * the one pin, read here and checked against docker-compose.yml's image tags by a test.
 */

// src/infra/temporal → project root.
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface TemporalPin {
  /** go.temporal.io/server version, without the v. */
  server: string;
  /** GOTOOLCHAIN for the build (the go command fetches it from the module proxy when older). */
  goToolchain: string;
  /** temporalio/ui version (image tag; the ui-server Go module when it builds). */
  ui: string;
}

export function readTemporalPin(root = PROJECT_ROOT): TemporalPin {
  const pin = JSON.parse(fs.readFileSync(path.join(root, 'deploy', 'temporal', 'versions.json'), 'utf8')) as Partial<TemporalPin>;
  for (const key of ['server', 'goToolchain', 'ui'] as const) {
    if (typeof pin[key] !== 'string' || !pin[key]) throw new Error(`deploy/temporal/versions.json: "${key}" must be a version string`);
  }
  return pin as TemporalPin;
}

export interface ClusterBinaries {
  /** temporal-server (go.temporal.io/server/cmd/server). */
  server: string;
  /** temporal-sql-tool (cmd/tools/sql), also linked under that name in `binDir`. */
  sqlTool: string;
  binDir: string;
  /** schema/ of the server module: postgresql/v12/{temporal,visibility}/versioned. */
  schemaDir: string;
  /** Seconds the build took (this run, or the run that built them). */
  buildSeconds: number;
  /** Whether this call built them (false: found in the cache). */
  built: boolean;
}

export interface BuildOptions {
  root?: string;
  pin?: TemporalPin;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Where to look for the go command (default goCandidates(env)); tests pass folders without one. */
  goCandidates?: string[];
}

/** The Go toolchain could not be had, or the build failed: the message says what was tried. */
export class ClusterBuildError extends Error {
  readonly code = 'cluster_build_failed';
  constructor(message: string) {
    super(message);
    this.name = 'ClusterBuildError';
  }
}

/** Where the go command may be: GO_BINARY, PATH, the usual install folders. */
export function goCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromPath = (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'go'));
  return [...(env.GO_BINARY ? [env.GO_BINARY] : []), ...fromPath, '/usr/local/go/bin/go', '/usr/lib/go/bin/go', path.join(env.HOME ?? '/root', 'go', 'bin', 'go')];
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Folders of the build: everything under `.tools/` (or LEADFLOW_TOOLS_DIR, e.g. a CI cache
 * kept between clean checkouts), so a rebuild reuses the module and build caches.
 */
export function toolsLayout(root: string, pin: TemporalPin, env: NodeJS.ProcessEnv = process.env) {
  const tools = env.LEADFLOW_TOOLS_DIR ? path.resolve(env.LEADFLOW_TOOLS_DIR) : path.join(root, '.tools');
  const goPath = path.join(tools, 'go');
  return {
    tools,
    goPath,
    modCache: path.join(goPath, 'mod'),
    buildCache: path.join(goPath, 'cache'),
    binDir: path.join(tools, `temporal-${pin.server}`, 'bin'),
    stamp: path.join(tools, `temporal-${pin.server}`, 'build.json'),
    schemaDir: path.join(goPath, 'mod', 'go.temporal.io', `server@v${pin.server}`, 'schema'),
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-8000);
      for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (error) => resolve({ code: null, output: `${output}\n${error.message}` }));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/**
 * The pinned temporal-server and temporal-sql-tool: from `.tools/temporal-<version>/bin` when
 * built before, otherwise built there with `go install` (about 5 minutes on 2 cores the first
 * time; the module and build caches stay under `.tools/go`).
 */
export async function ensureClusterBinaries(options: BuildOptions = {}): Promise<ClusterBinaries> {
  const root = options.root ?? PROJECT_ROOT;
  const pin = options.pin ?? readTemporalPin(root);
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const layout = toolsLayout(root, pin, env);
  const server = path.join(layout.binDir, 'server');
  const sqlTool = path.join(layout.binDir, 'sql');
  const linked = path.join(layout.binDir, 'temporal-sql-tool');
  const finish = (buildSeconds: number, built: boolean): ClusterBinaries => {
    // deploy/temporal/setup-schema.sh calls the tool by the name the admin-tools image gives it.
    if (!fs.existsSync(linked)) fs.symlinkSync('sql', linked);
    return { server, sqlTool, binDir: layout.binDir, schemaDir: layout.schemaDir, buildSeconds, built };
  };
  if (isExecutable(server) && isExecutable(sqlTool) && fs.existsSync(path.join(layout.schemaDir, 'postgresql', 'v12'))) {
    const stamp = fs.existsSync(layout.stamp) ? (JSON.parse(fs.readFileSync(layout.stamp, 'utf8')) as { seconds?: number }) : {};
    return finish(stamp.seconds ?? 0, false);
  }

  fs.mkdirSync(layout.binDir, { recursive: true });
  const started = Date.now();
  for (const pkg of ['go.temporal.io/server/cmd/server', 'go.temporal.io/server/cmd/tools/sql']) {
    await goInstall(`${pkg}@v${pin.server}`, layout.binDir, { root, pin, env, log, ...(options.goCandidates ? { candidates: options.goCandidates } : {}) });
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(layout.stamp, `${JSON.stringify({ server: pin.server, goToolchain: pin.goToolchain, seconds, builtAt: new Date().toISOString() }, null, 2)}\n`);
  return finish(seconds, true);
}

/** `go install <target>` into `binDir`, with the pinned toolchain and the caches under `.tools/go`. */
async function goInstall(
  target: string,
  binDir: string,
  { root, pin, env, log, candidates = goCandidates(env) }: { root: string; pin: TemporalPin; env: NodeJS.ProcessEnv; log: (line: string) => void; candidates?: string[] },
): Promise<void> {
  const layout = toolsLayout(root, pin, env);
  const go = candidates.find(isExecutable);
  if (!go) {
    throw new ClusterBuildError(
      [
        `The Go toolchain is needed once to build ${target} (go install from the module proxy). Tried, in order:`,
        ...candidates.map((place) => `  - ${place}`),
        'To fix it, one of:',
        `  - install Go 1.21 or newer (https://go.dev/dl/); it fetches the pinned toolchain ${pin.goToolchain} itself`,
        '  - set GO_BINARY to the go command',
        `  - put prebuilt binaries into ${binDir}`,
      ].join('\n'),
    );
  }
  const goEnv: NodeJS.ProcessEnv = {
    ...env,
    GOTOOLCHAIN: pin.goToolchain,
    GOPATH: layout.goPath,
    GOMODCACHE: layout.modCache,
    GOCACHE: layout.buildCache,
    GOBIN: binDir,
    GOFLAGS: '-buildvcs=false',
  };
  log(`go install ${target} (GOTOOLCHAIN=${pin.goToolchain}, into ${path.relative(root, binDir)})`);
  const result = await run(go, ['install', target], goEnv, log);
  if (result.code !== 0) {
    throw new ClusterBuildError(
      `go install ${target} with ${go} (GOTOOLCHAIN=${pin.goToolchain}, GOPROXY=${env.GOPROXY ?? 'default'}) failed (${result.code === null ? 'could not run' : `exit ${result.code}`}). ` +
        `Its last output:\n${result.output.trim().split('\n').slice(-15).join('\n')}`,
    );
  }
}

export interface UiServerBinary {
  /** The ui-server binary (github.com/temporalio/ui-server/v2/cmd/server; the UI assets are embedded). */
  server: string;
  /** The module folder: its config/docker.yaml reads the same variables as the temporalio/ui image. */
  configRoot: string;
  built: boolean;
  buildSeconds: number;
}

/** The Temporal UI at the pinned version, built like the server (about 2.5 minutes the first time). */
export async function ensureUiServer(options: BuildOptions = {}): Promise<UiServerBinary> {
  const root = options.root ?? PROJECT_ROOT;
  const pin = options.pin ?? readTemporalPin(root);
  const env = options.env ?? process.env;
  const layout = toolsLayout(root, pin, env);
  const binDir = path.join(layout.tools, `temporal-ui-${pin.ui}`, 'bin');
  const server = path.join(binDir, 'server');
  const configRoot = path.join(layout.modCache, 'github.com', 'temporalio', 'ui-server', `v2@v${pin.ui}`);
  if (isExecutable(server) && fs.existsSync(path.join(configRoot, 'config', 'docker.yaml'))) return { server, configRoot, built: false, buildSeconds: 0 };
  fs.mkdirSync(binDir, { recursive: true });
  const started = Date.now();
  await goInstall(`github.com/temporalio/ui-server/v2/cmd/server@v${pin.ui}`, binDir, {
    root,
    pin,
    env,
    log: options.log ?? (() => undefined),
    ...(options.goCandidates ? { candidates: options.goCandidates } : {}),
  });
  return { server, configRoot, built: true, buildSeconds: Math.round((Date.now() - started) / 1000) };
}
