// Workflow bundle entry point: every workflow the worker registers.
export { leadWorkflow } from './lead.js';
export { importWorkflow } from './import.js';
