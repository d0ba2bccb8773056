#!/usr/bin/env node
// Installs schemathesis (PyPI, pinned) into a project-local virtualenv under .tools/ (git-ignored):
// no global install, nothing outside the checkout. Idempotent: a marker names the installed
// version, so a second run returns at once. Used by `npm run fuzz` and test/e2e/schemathesis.test.ts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMATHESIS = 'schemathesis==4.32.5';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venv = path.join(root, '.tools', 'schemathesis');
const marker = path.join(venv, 'installed.txt');
export const stBinary = path.join(venv, 'bin', 'st');

export function installSchemathesis({ log = (line) => console.log(`[leadflow] ${line}`) } = {}) {
  if (fs.existsSync(stBinary) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === SCHEMATHESIS) return stBinary;
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!python) throw new Error('schemathesis needs Python 3 (python3) to install into .tools/schemathesis');
  log(`installing ${SCHEMATHESIS} into ${path.relative(root, venv)} (PyPI)`);
  const run = (cmd, args) => {
    const result = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${(result.stderr || result.stdout).slice(-2000)}`);
  };
  fs.rmSync(venv, { recursive: true, force: true });
  run(python, ['-m', 'venv', venv]);
  run(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', SCHEMATHESIS]);
  fs.writeFileSync(marker, `${SCHEMATHESIS}\n`);
  return stBinary;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const started = Date.now();
  installSchemathesis();
  console.log(`[leadflow] schemathesis ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${path.relative(root, stBinary)}`);
}
