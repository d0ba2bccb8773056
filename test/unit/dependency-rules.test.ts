import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm run deps` (part of `npm run lint`) is what keeps circles and upward imports out in CI:
// prove each rule bites on a small tree that breaks it, and that the project's tree passes.
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const depcruise = path.join(root, 'node_modules/.bin/depcruise');
const config = path.join(root, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** The directories `npm run deps` cruises, read from package.json so the test checks what CI runs. */
const script = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.deps!;
const scriptDirs = script.split(' ').slice(3);

/** The violations (JSON report), and the exit code of the report CI prints (non-zero fails CI). */
async function cruise(cwd: string, dirs: string[]): Promise<{ exitCode: number; violations: Violation[] }> {
  const options = { cwd, maxBuffer: 64 * 1024 * 1024 };
  const { stdout } = await run(depcruise, ['--config', config, '--output-type', 'json', ...dirs], options);
  const violations = (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  const exitCode = await run(depcruise, ['--config', config, ...dirs], options).then(
    () => 0,
    (error: { code: number }) => error.code,
  );
  return { exitCode, violations };
}

const fixture: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  // A circle of types only, like App.tsx ↔ its pages was.
  'src/server/app.ts': "import type { Access } from './routes.js';\nexport type App = { access: Access };\n",
  'src/server/routes.ts': "import type { App } from './app.js';\nexport type Access = 'public';\nexport type R = App;\n",
  // Upward: the domain reaching into the server.
  'src/domain/lead.ts': "import type { App } from '../server/app.js';\nexport type Lead = { app: App };\n",
  // The wiring reaching into the deployment entry points.
  'src/stack.ts': "import { worker } from '../worker/main.js';\nexport const stack = worker;\n",
  'worker/main.ts': 'export const worker = 1;\n',
  // A workflow importing activity code (not its interface), and the leads.
  'workflows/lead.ts': "import { send } from '../activities/index.js';\nimport type { Lead } from '../src/domain/lead.js';\nexport const wf = (l: Lead) => send(l);\n",
  'activities/index.ts': "import type { Lead } from '../src/domain/lead.js';\nimport { leads } from '../src/leads/service.js';\nexport const send = (l: Lead) => [l, leads];\n",
  'src/leads/service.ts': 'export const leads = 1;\n',
  // Allowed: sequences over the domain, infra over sequences.
  'src/sequences/model.ts': "import type { Lead } from '../domain/lead.js';\nexport type Seq = { lead: Lead };\n",
  'src/infra/db.ts': "import type { Seq } from '../sequences/model.js';\nexport type Row = Seq;\n",
};

describe('dependency rules (npm run deps)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leadflow-deps-'));
    for (const [file, text] of Object.entries(fixture)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('fails on a circle, an upward import, src/ into worker/, and workflows or activities out of bounds', async () => {
    const { exitCode, violations } = await cruise(dir, ['src', 'workflows', 'activities', 'worker']);
    expect(exitCode).not.toBe(0);
    const found = violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    expect(found).toEqual(
      [
        'activities-over-infra: activities/index.ts → src/leads/service.ts',
        'domain-is-the-bottom: src/domain/lead.ts → src/server/app.ts',
        'no-circular: src/server/app.ts → src/server/routes.ts',
        'src-never-into-worker: src/stack.ts → worker/main.ts',
        'workflows-activity-types-only: workflows/lead.ts → activities/index.ts',
        'workflows-deterministic: workflows/lead.ts → activities/index.ts',
      ].sort(),
    );
  }, 60_000);

  it('passes on the project itself', async () => {
    expect(script.startsWith('depcruise --config .dependency-cruiser.cjs ')).toBe(true);
    const { exitCode, violations } = await cruise(root, scriptDirs);
    expect(violations).toEqual([]);
    expect(exitCode).toBe(0);
  }, 60_000);
});
