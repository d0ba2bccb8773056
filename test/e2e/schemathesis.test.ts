import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../scripts/fuzz.js';

// The short schemathesis run CI does, against /openapi.json of the whole stack: the admin key
// (reaches every operation) and the ingest key (what tracking systems hold), a few examples per
// operation and phase. `npm run fuzz` is the long run, with every role's key; the access matrix
// of the other roles is test/e2e/ingest.test.ts's. Installs schemathesis into .tools/ on first
// use (about 15 s from PyPI).
describe('schemathesis against /openapi.json (bounded)', () => {
  it('finds no server error and no answer that departs from the document', { timeout: 300_000 }, async () => {
    const report = await runFuzz({ maxExamples: 3, seed: 20261125, roles: ['admin', 'ingest'] });
    console.info(`schemathesis: ${report.cases} cases, ${report.failures} failures (${report.results.map((r) => `${r.role} ${r.cases}`).join(', ')}) in ${report.seconds} s`);
    const failed = report.results.filter((r) => r.failures !== 0 || r.exitCode !== 0);
    expect(failed.map((r) => `${r.role}: ${r.failures} failures (exit ${r.exitCode})\n${r.output.slice(-6000)}`)).toEqual([]);
    for (const r of report.results) expect(r.cases, r.role).toBeGreaterThan(100);
    // Inherited names through every route that takes one, then the invariant over every lead the run made.
    expect(report.inheritedNameFailures).toEqual([]);
    expect(report.failedWorkflowTasks).toBe(0);
  });
});
