import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web console (console/, React + Chart.js built by Vite into console/dist/) as the API
 * serves it: same origin, under /console/. `npm install` builds it (scripts/setup-console.mjs);
 * `startStack` builds it when it is missing, so `npm start` and the tests never serve nothing.
 */

/** URL prefix of the console. */
export const CONSOLE_PATH = '/console/';

/** The project root: the nearest folder above this module with a package.json and console/. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!(fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'console')))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** Where the built console lives. */
export function consoleDistDir(): string {
  return path.join(projectRoot(), 'console', 'dist');
}

export const isConsoleBuilt = (dir: string): boolean => fs.existsSync(path.join(dir, 'index.html'));

/** Newest modification time of the console's sources (0 where there are none, as in an image). */
function newestSource(root: string): number {
  const consoleDir = path.join(root, 'console');
  const sources = ['index.html', 'vite.config.ts'].map((f) => path.join(consoleDir, f));
  const srcDir = path.join(consoleDir, 'src');
  if (fs.existsSync(srcDir)) {
    for (const entry of fs.readdirSync(srcDir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) sources.push(path.join(entry.parentPath, entry.name));
    }
  }
  return Math.max(0, ...sources.filter((f) => fs.existsSync(f)).map((f) => fs.statSync(f).mtimeMs));
}

/** Built, and not older than its sources. */
const isConsoleFresh = (root: string, dir: string): boolean => isConsoleBuilt(dir) && fs.statSync(path.join(dir, 'index.html')).mtimeMs >= newestSource(root);

/**
 * Builds the console with Vite when it is not built yet, or older than its sources, and Vite is
 * installed (a development checkout); a production image ships console/dist/ and has neither
 * sources nor Vite. Resolves when done; a failed build is reported, not thrown: the API still
 * serves everything else.
 */
export async function ensureConsoleBuilt(announce: (line: string) => void = () => undefined): Promise<boolean> {
  const dir = consoleDistDir();
  const root = projectRoot();
  if (isConsoleFresh(root, dir)) return true;
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    if (!isConsoleBuilt(dir)) announce('console not built and Vite not installed: /console/ will say so (run `npm install` in a development checkout)');
    return isConsoleBuilt(dir);
  }
  announce(`${isConsoleBuilt(dir) ? 'rebuilding the web console (its sources changed)' : 'building the web console'} (console/ → console/dist/)`);
  // Built beside the old build and swapped in, so that stacks starting at once (parallel test
  // files) never serve a half-written folder.
  const staging = `${dir}.build-${process.pid}-${Date.now()}`;
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn', '--outDir', staging, '--emptyOutDir'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Vite builds for whatever NODE_ENV says (vitest sets "test"): the console is always a production build.
      env: { ...process.env, NODE_ENV: 'production' },
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', () => resolve(null));
    child.on('close', resolve);
  });
  if (code === 0 && isConsoleBuilt(staging)) {
    const old = `${dir}.old-${process.pid}-${Date.now()}`;
    try {
      if (fs.existsSync(dir)) fs.renameSync(dir, old);
      fs.renameSync(staging, dir);
    } catch {
      // Another process swapped its build in at the same moment: it is the same build.
    }
    for (const leftover of [old, staging]) fs.rmSync(leftover, { recursive: true, force: true });
  } else {
    fs.rmSync(staging, { recursive: true, force: true });
    announce(`console build failed (exit ${code}): ${Buffer.concat(output).toString('utf8').trim().slice(-2000)}`);
  }
  return isConsoleBuilt(dir);
}

/** The built files as URL path (under /console/) → file path relative to the dist folder. */
export function consoleFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  if (!isConsoleBuilt(dir)) return files;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const relative = path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    files.set(relative === 'index.html' ? CONSOLE_PATH : `${CONSOLE_PATH}${relative}`, relative);
  }
  return files;
}

/**
 * What the browser may do on console pages: scripts and styles from this origin only (Chart.js
 * sets inline styles on its canvas), images also from data: and https: (emails in the mailbox),
 * no plugins, not framed by others. The mailbox shows email HTML in a sandboxed srcdoc iframe,
 * which inherits this policy and, sandboxed without scripts, cannot run any.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
