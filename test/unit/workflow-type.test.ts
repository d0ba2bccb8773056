import { describe, expect, it } from 'vitest';
import * as workflows from '../../workflows/index.js';
import { IMPORT_WORKFLOW_TYPE, LEAD_WORKFLOW_TYPE } from '../../workflows/messages.js';

// The worker registers each function workflows/index.ts exports under its export name: the
// constant every client, query and script uses must be that name.
describe('LEAD_WORKFLOW_TYPE', () => {
  it('is the name the worker registers the lead workflow under', () => {
    const exported = workflows as Record<string, unknown>;
    expect(typeof exported[LEAD_WORKFLOW_TYPE]).toBe('function');
    expect(exported[LEAD_WORKFLOW_TYPE]).toBe(workflows.leadWorkflow);
  });
});

describe('IMPORT_WORKFLOW_TYPE', () => {
  it('is the name the worker registers the CSV import workflow under', () => {
    expect((workflows as Record<string, unknown>)[IMPORT_WORKFLOW_TYPE]).toBe(workflows.importWorkflow);
  });
});
