import { defineSequence } from '../define.js';

/** Default nurture for new leads (DESIGN.md): the welcome at once, then days apart. */
export default defineSequence({
  id: 'onboarding',
  version: 1,
  description: 'Default nurture for new leads: welcome at once, then proof, tour and pricing days apart.',
  steps: [
    { kind: 'email', template: 'welcome' },
    { kind: 'wait', duration: '2 days' },
    { kind: 'email', template: 'customer-stories' },
    { kind: 'wait', duration: '3 days' },
    { kind: 'email', template: 'product-tour' },
    { kind: 'wait', duration: '5 days' },
    { kind: 'email', template: 'pricing-guide' },
  ],
});
