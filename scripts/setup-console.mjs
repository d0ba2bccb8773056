#!/usr/bin/env node
// Postinstall step (after install-temporal.mjs): builds the web console (console/ → console/dist/,
// served by the API under /console/) and makes sure Debian's Chromium is there for the browser
// tests (test/browser/). Never fails `npm install`: a console that could not be built is built
// again by `npm start` (src/server/console.ts), and the browser tests fail with a message saying
// how to install Chromium.
//
// Env: LEADFLOW_SKIP_CONSOLE_BUILD=1 skips the build; LEADFLOW_SKIP_BROWSER_INSTALL=1 skips
// Chromium. Neither runs in a production install (`npm ci --omit=dev`: no vite, no playwright-core).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => console.log(`[leadflow] ${line}`);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const installed = (pkg) => fs.existsSync(path.join(root, 'node_modules', pkg, 'package.json'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function buildConsole() {
  if (process.env.LEADFLOW_SKIP_CONSOLE_BUILD === '1') return log('LEADFLOW_SKIP_CONSOLE_BUILD=1: not building the console');
  if (!installed('vite')) return log('console: vite is not installed (production install?); not building');
  const started = Date.now();
  log('console: building console/ with vite into console/dist/');
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status === 0) log(`console: built in ${seconds(started)}`);
  else log(`console: build failed (exit ${result.status}); \`npm run console:build\` shows why, \`npm start\` tries again`);
}

function installChromium() {
  if (process.env.LEADFLOW_SKIP_BROWSER_INSTALL === '1') return log('LEADFLOW_SKIP_BROWSER_INSTALL=1: not installing Chromium');
  if (!installed('playwright-core')) return log('browser tests: playwright-core is not installed (production install?); not installing Chromium');
  if (fs.existsSync(CHROMIUM)) return log(`browser tests: Chromium found at ${CHROMIUM}`);
  const how = 'install it with `apt-get update && apt-get install -y chromium` (Debian), or set CHROMIUM_PATH';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return log(`browser tests: no Chromium at ${CHROMIUM} and not root, so not installing it; ${how}`);
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return log(`browser tests: no Chromium at ${CHROMIUM} and no apt-get; ${how}`);
  const started = Date.now();
  // Other installs may hold the dpkg lock: wait for it rather than fail.
  const apt = (...args) =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  log('browser tests: installing Debian chromium for the browser tests (apt-get update, then apt-get install chromium; about a minute)');
  if (!apt('update', '-q')) log('browser tests: apt-get update failed; trying the install with the package lists we have');
  if (apt('install', '-y', '-q', '--no-install-recommends', 'chromium', 'fonts-dejavu-core') && fs.existsSync(CHROMIUM)) {
    log(`browser tests: Chromium installed at ${CHROMIUM} in ${seconds(started)}`);
  } else {
    log(`browser tests: could not install Chromium (the browser tests will fail until it is there); ${how}`);
  }
}

buildConsole();
installChromium();
