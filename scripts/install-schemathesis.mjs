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
const dir = path.join(root, '.tools', 'schemathesis');
const marker = path.join(dir, 'installed.json');

/**
 * Returns how to run `st`: `{ command, args, env }` (prefix `args` to schemathesis's own).
 * A venv first; where Python has no venv module (Debian without python3-venv), pip --target into
 * the same folder, run through the interpreter with PYTHONPATH, as the Temporal wheels are.
 */
export function installSchemathesis({ log = (line) => console.log(`[leadflow] ${line}`) } = {}) {
  const installed = fs.existsSync(marker) ? JSON.parse(fs.readFileSync(marker, 'utf8')) : undefined;
  if (installed?.package === SCHEMATHESIS && fs.existsSync(installed.run.command)) return installed.run;
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!python) throw new Error('schemathesis needs Python 3 (python3) to install into .tools/schemathesis');
  log(`installing ${SCHEMATHESIS} into ${path.relative(root, dir)} (PyPI)`);
  const run = (cmd, args) => {
    const result = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${(result.stderr || result.stdout).slice(-2000)}`);
  };
  const pipArgs = ['install', '--quiet', '--disable-pip-version-check', SCHEMATHESIS];
  fs.rmSync(dir, { recursive: true, force: true });
  let how;
  if (spawnSync(python, ['-m', 'venv', dir], { stdio: 'ignore' }).status === 0 && fs.existsSync(path.join(dir, 'bin', 'pip'))) {
    run(path.join(dir, 'bin', 'pip'), pipArgs);
    how = { command: path.join(dir, 'bin', 'st'), args: [], env: {} };
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
    const lib = path.join(dir, 'lib');
    run(python, ['-m', 'pip', ...pipArgs, '--target', lib]);
    how = { command: python, args: ['-c', 'import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())'], env: { PYTHONPATH: lib } };
  }
  fs.writeFileSync(marker, JSON.stringify({ package: SCHEMATHESIS, run: how }, null, 2));
  return how;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const started = Date.now();
  const how = installSchemathesis();
  console.log(`[leadflow] schemathesis ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${how.command} ${how.args.join(' ')}`);
}
