import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';

export type Pool = pg.Pool;

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** A connection pool; `max` stays small because a worker and the API share one process by default. */
export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Applies pending migrations (versioned SQL files in src/infra/migrations). node-pg-migrate
 * takes an advisory lock, so several processes starting at once apply each file once.
 */
export async function migrate(databaseUrl: string, log: (message: string) => void = () => undefined): Promise<string[]> {
  // Our own connection, closed before we return: node-pg-migrate does not wait for the one it
  // opens to close, and a server stopping meanwhile made it emit an unheard 'error' (57P01).
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await applyMigrations(client, log);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function applyMigrations(dbClient: pg.Client, log: (message: string) => void): Promise<string[]> {
  const applied = await runner({
    dbClient,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    log,
    checkOrder: true,
    // Replicas start at once (npm run cluster, compose): the others wait for the lock holder
    // and then find nothing left to apply, instead of failing their start-up.
    advisoryLockMode: 'wait',
  });
  return applied.map((m) => m.name);
}

/** Runs `fn` in one transaction, committing on success and rolling back on any error. */
export async function inTransaction<T>(pool: Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection lost while we hold the client between queries (Postgres restarting while an
  // email is being handed to SMTP) is emitted as an 'error' event: unheard, it kills the process.
  // The next query on this client fails and the transaction rolls back; that is all it needs.
  const onLost = () => undefined;
  client.on('error', onLost);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onLost);
    client.release();
  }
}
