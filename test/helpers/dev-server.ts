import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { freePort } from '../../src/infra/net.js';
import { startDevServer, type DevServer } from '../../src/infra/temporal/dev-server.js';
import { startTestPostgres, type TestPostgres } from './postgres.js';

/** What a suite on the real dev server holds; filled in by its `beforeAll`, so read it inside tests and hooks only. */
export interface DevServerSuite {
  /** The suite's temporary folder (the dev server's SQLite file is in it). */
  dir: string;
  server: DevServer;
  connection: Connection;
  /** For the suite's own workers. */
  nativeConnection: NativeConnection;
  client: Client;
  /** A migrated PostgreSQL of the suite's own, when asked for. */
  pg: TestPostgres;
}

/**
 * A Temporal dev server (its own port and SQLite file), a client and a worker connection for the
 * suite, with a real PostgreSQL when `postgres` is set; all stopped and removed after it. A
 * teardown step that fails (a worker a timed-out test left running holds the connection) does not
 * hide the test's own failure, nor stop the other steps.
 */
export function useDevServer(name: string, options: { postgres?: boolean } = {}): DevServerSuite {
  const suite = {} as DevServerSuite;
  beforeAll(async () => {
    suite.dir = fs.mkdtempSync(path.join(os.tmpdir(), `leadflow-${name}-`));
    // Each one kept as soon as it is up: when the other fails to start, the teardown still stops it.
    const started = await Promise.allSettled([
      startDevServer({ port: await freePort(), uiPort: 0, ui: false, dbFile: path.join(suite.dir, 'temporal.db') }).then((server) => (suite.server = server)),
      options.postgres ? startTestPostgres().then((pg) => (suite.pg = pg)) : Promise.resolve(undefined),
    ]);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const { server } = suite;
    suite.connection = await Connection.connect({ address: server.address });
    suite.nativeConnection = await NativeConnection.connect({ address: server.address });
    suite.client = new Client({ connection: suite.connection, namespace: server.namespace });
  }, 120_000);
  afterAll(async () => {
    const quietly = async (step: (() => Promise<unknown>) | undefined) => {
      await step?.().catch((error: Error) => console.warn(`teardown of ${name}: ${error.message}`));
    };
    await quietly(suite.nativeConnection && (() => suite.nativeConnection.close()));
    await quietly(suite.connection && (() => suite.connection.close()));
    await quietly(suite.pg && (() => suite.pg.stop()));
    await quietly(suite.server && (() => suite.server.stop()));
    if (suite.dir) fs.rmSync(suite.dir, { recursive: true, force: true });
  });
  return suite;
}
