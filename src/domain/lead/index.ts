/** The lead as a pure state machine (see reduce.ts); the workflow, the preview and the tests use it. */
export * from './state.js';
export * from './effects.js';
export * from './engagement.js';
export * from './sequence.js';
export * from './campaign.js';
export * from './review.js';
export * from './outcome.js';
export * from './send-keys.js';
export * from './views.js';
export * from './reduce.js';
export * from './from-v1.js';
