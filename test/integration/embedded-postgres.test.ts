import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../src/infra/embedded-postgres.js';

describe('embedded PostgreSQL', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });

  it('says the port is taken, with what postgres said, when another process holds it', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'leadflow-pg-taken-'));
    dirs.push(dir);
    try {
      const failure = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(EmbeddedPostgresError);
      expect((failure as EmbeddedPostgresError).portTaken).toBe(true);
      expect((failure as Error).message).toContain(`127.0.0.1:${port}`);
      expect((failure as Error).message).toMatch(/the port is taken[\s\S]*postgres said:[\s\S]*already in use/i);
    } finally {
      holder.close();
    }
  });
});
