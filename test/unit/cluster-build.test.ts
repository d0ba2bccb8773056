import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClusterBuildError, ensureClusterBinaries, goCandidates, readTemporalPin } from '../../src/infra/temporal/cluster-build.js';
import { freeLowPort, pickClusterPorts, summariseServerLog } from '../../src/infra/temporal/cluster.js';

describe('the cluster build', () => {
  it('looks for Go in GO_BINARY, on PATH and in the usual install folders', () => {
    expect(goCandidates({ GO_BINARY: '/opt/go/bin/go', PATH: '/a:/b', HOME: '/home/x' })).toEqual([
      '/opt/go/bin/go',
      '/a/go',
      '/b/go',
      '/usr/local/go/bin/go',
      '/usr/lib/go/bin/go',
      '/home/x/go/bin/go',
    ]);
  });

  it('says where it looked for Go, and how to fix it, when there is none', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-nogo-'));
    try {
      // Places without a go command (this machine has one in /usr/local/go: it must not be found).
      const places = [path.join(root, 'bin', 'go'), path.join(root, 'usr', 'local', 'go', 'bin', 'go')];
      const failure = await ensureClusterBinaries({ root, pin: readTemporalPin(), env: { PATH: path.join(root, 'bin'), HOME: root }, goCandidates: places }).catch(
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(ClusterBuildError);
      const message = (failure as Error).message;
      expect(message).toContain(`go.temporal.io/server/cmd/server@v${readTemporalPin().server}`);
      expect(message).toContain(path.join(root, 'bin', 'go'));
      expect(message).toContain(places[1]);
      expect(message).toMatch(/GO_BINARY/);
      expect(message).toContain(readTemporalPin().goToolchain);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('finds binaries built before without running go at all', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-built-'));
    try {
      const pin = readTemporalPin();
      const bin = path.join(root, '.tools', `temporal-${pin.server}`, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      for (const name of ['server', 'sql']) fs.writeFileSync(path.join(bin, name), '#!/bin/sh\n', { mode: 0o755 });
      fs.mkdirSync(path.join(root, '.tools', 'go', 'mod', 'go.temporal.io', `server@v${pin.server}`, 'schema', 'postgresql', 'v12'), { recursive: true });
      const found = await ensureClusterBinaries({ root, pin, env: { PATH: '' } });
      expect(found).toMatchObject({ built: false, server: path.join(bin, 'server'), sqlTool: path.join(bin, 'sql') });
      // setup-schema.sh calls the tool by the admin-tools image's name.
      expect(fs.readlinkSync(path.join(bin, 'temporal-sql-tool'))).toBe('sql');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('picks cluster ports below 32768 (the membership table keeps them in a smallint), all different', async () => {
    const ports = Object.values(await pickClusterPorts({ frontendGrpc: 7233 }));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect(port).toBeLessThan(32768);
    expect(await freeLowPort(new Set([1]))).toBeGreaterThanOrEqual(20000);
  });

  it("keeps level, message and error of the server's JSON log lines for error messages", () => {
    const line = JSON.stringify({ level: 'fatal', msg: 'unable to initialize membership heartbeats', error: 'out of range', stacktrace: 'a\nb' });
    expect(summariseServerLog(`${line}\nplain line`)).toBe('fatal: unable to initialize membership heartbeats (out of range)\nplain line');
  });
});
