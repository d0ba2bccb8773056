// Workflow bundle entry point: every workflow the worker registers.
export { leadWorkflow } from './lead.js';
export { campaignWorkflow } from './campaign.js';
export { importWorkflow } from './import.js';
export { webhookDeliveryWorkflow } from './webhook-delivery.js';
