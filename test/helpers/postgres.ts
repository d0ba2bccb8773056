import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPool, migrate, type Pool } from '../../src/infra/db.js';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres.js';
import { freePort } from '../../src/infra/net.js';

export interface TestPostgres {
  url: string;
  pool: Pool;
  stop(): Promise<void>;
}

/** A real, migrated PostgreSQL of the test's own: temp folder, free port, removed on stop. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-pg-'));
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort() });
  await migrate(server.url);
  const pool = createPool(server.url);
  return {
    url: server.url,
    pool,
    async stop() {
      await pool.end();
      await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
