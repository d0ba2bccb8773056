import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/infra/db.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/infra/embedded-postgres.js';
import { freePort } from '../../src/infra/net.js';

describe('migrations at start-up', () => {
  let dir: string | undefined;
  let server: RunningPostgres | undefined;
  afterAll(async () => {
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('let five processes starting at once all start: one applies, the others wait for its lock', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-migrate-'));
    server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort() });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => migrate(server!.url)));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    const applied = results.map((r) => (r as PromiseFulfilledResult<string[]>).value);
    // Each migration applied exactly once, by whichever process held the lock.
    expect(applied.flat().sort()).toEqual([...new Set(applied.flat())].sort());
    expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
  });
});
