import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTestLogNoise } from '../helpers/runtime.js';

describe('test log filter', () => {
  it("drops the time-skipping server's repeated heartbeat-details warning and keeps everything else", () => {
    expect(isTestLogNoise('Temporal Server 1.16.0 or newer is required to guarantee that the latest heartbeat details are preserved when an activity fails; the server did not advertise the activity_failure_include_heartbeat capability, so heartbeat details may be lost on failure')).toBe(true);
    expect(isTestLogNoise('Activity failed')).toBe(false);
    expect(isTestLogNoise('Workflow task failed: TypeError: x is not a function')).toBe(false);
  });
});

describe('test runtime', () => {
  it('is installed through the filtering helper by every test that starts the time-skipping server, and never by hand', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const files = fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, f));
    const byHand = files.filter((f) => !f.endsWith(path.join('helpers', 'runtime.ts')) && /Runtime\.install\(/.test(fs.readFileSync(f, 'utf8')));
    const unfiltered = files.filter((f) => {
      const text = fs.readFileSync(f, 'utf8');
      return /createTimeSkippingTestEnv|TestWorkflowEnvironment\.createTimeSkipping/.test(text) && !f.includes(`${path.sep}helpers${path.sep}`) && !text.includes('installTestRuntime(');
    });
    expect(byHand.map((f) => path.relative(root, f))).toEqual([]);
    expect(unfiltered.map((f) => path.relative(root, f))).toEqual([]);
  });
});
