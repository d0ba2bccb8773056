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

/**
 * Builds the console with Vite when it is not built yet and Vite is installed (a development
 * checkout); a production image ships console/dist/ and has no Vite. Resolves when done;
 * a failed build is reported, not thrown: the API still serves everything else.
 */
export async function ensureConsoleBuilt(announce: (line: string) => void = () => undefined): Promise<boolean> {
  const dir = consoleDistDir();
  if (isConsoleBuilt(dir)) return true;
  const root = projectRoot();
  const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    announce('console not built and Vite not installed: /console/ will say so (run `npm install` in a development checkout)');
    return false;
  }
  announce('building the web console (console/ → console/dist/)');
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', () => resolve(null));
    child.on('close', resolve);
  });
  if (code !== 0) announce(`console build failed (exit ${code}): ${Buffer.concat(output).toString('utf8').trim().slice(-2000)}`);
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
