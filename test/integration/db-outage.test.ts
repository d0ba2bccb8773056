import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/infra/db.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

// A worker must survive its database connection dying under a transaction it holds (Postgres
// restarted while an email was being handed to SMTP): the transaction fails, the process lives.
let pg: TestPostgres;

beforeAll(async () => {
  pg = await startTestPostgres();
});

afterAll(async () => {
  await pg?.stop();
});

describe('a lost connection inside a transaction', () => {
  it('rejects the transaction and does not crash the process with an unhandled error event', async () => {
    const crashes: unknown[] = [];
    const onUncaught = (error: unknown) => crashes.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = inTransaction(pg.pool, async (db) => {
        const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Between two queries (where sendOnce waits for SMTP), the server ends this connection.
        await pg.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await db.query('SELECT 1');
      });
      await expect(outcome).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(crashes).toEqual([]);
      // The pool recovers: the next transaction works.
      expect(await inTransaction(pg.pool, async (db) => (await db.query('SELECT 1 AS one')).rows[0].one)).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
