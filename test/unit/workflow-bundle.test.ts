import { describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../../src/worker.js';

// Schemas stay at the edges: the workflow bundle every cached lead runs in carries no zod.
describe('workflow bundle', () => {
  it('contains no zod, and the lead machine is in it', { timeout: 120_000 }, async () => {
    const { code } = await bundleWorkflows();
    expect(code).toContain('src/domain/lead/reduce.ts');
    expect(code).not.toMatch(/node_modules\/zod\//);
    expect(code).not.toMatch(/\bZodError\b/);
    console.log(`workflow bundle: ${(code.length / 1024).toFixed(0)} KiB`);
  });
});
