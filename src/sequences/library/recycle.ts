import { defineSequence } from '../define.js';

/** For leads sales rejected: room first (more of it for some reasons), then two check-ins. */
export default defineSequence({
  id: 'recycle',
  version: 1,
  description: 'For leads sales rejected: give them room, then check in twice.',
  steps: [
    // Give the lead room, more of it when sales said it was not ready or not a fit.
    { kind: 'wait', duration: '3 days', byRejectReason: { not_ready: '30 days', no_budget: '14 days', no_fit: '60 days' } },
    { kind: 'email', template: 'recycle-checkin' },
    { kind: 'wait', duration: '14 days' },
    { kind: 'email', template: 'recycle-whats-new' },
  ],
});
