import { defineSequence } from '../define.js';
import { marketingEmail } from '../templates.js';

/**
 * Branches on engagement: invites to a webinar, follows up differently depending on whether
 * the lead clicked or watched, and hands the unengaged to the default onboarding.
 */
export default defineSequence({
  id: 'webinar-invite',
  version: 1,
  description: 'Webinar invitation that branches on engagement: engaged leads get the deep dive, the others a reminder, then onboarding.',
  steps: [
    { kind: 'email', template: 'webinar-invite' },
    { kind: 'waitFor', event: ['email.clicked', 'webinar.viewed'], timeout: '3 days', then: 'engaged', else: 'nudge' },
    { label: 'nudge', kind: 'email', template: 'webinar-reminder' },
    { kind: 'waitFor', event: ['email.clicked', 'webinar.viewed'], timeout: '4 days', then: 'engaged' },
    // Neither the invite nor the reminder moved them: the default nurture takes over.
    { kind: 'goto', sequence: 'onboarding' },
    { label: 'engaged', kind: 'email', template: 'webinar-deep-dive' },
    { kind: 'wait', duration: '2 days' },
    // Hot enough already: sales will hear of it; no more marketing from this sequence.
    { kind: 'exit', when: { scoreAtLeast: 30 } },
    { kind: 'email', template: 'pricing-guide' },
  ],
});

export const templates = [
  marketingEmail('webinar-invite', {
    subject: '{{firstName | there}}, a live walkthrough for {{company | your team}}',
    paragraphs: ['Thirty minutes, live, with questions at the end: how teams turn engagement into pipeline without losing leads at the hand-off.'],
    cta: { text: 'Save your seat', url: 'https://leadflow.example.com/webinar' },
  }),
  marketingEmail('webinar-reminder', {
    subject: 'The walkthrough, recorded',
    paragraphs: ['Missed it? The recording is up, chapters and all.'],
    cta: { text: 'Watch the recording', url: 'https://leadflow.example.com/webinar/recording' },
  }),
  marketingEmail('webinar-deep-dive', {
    subject: 'Going further with Leadflow at {{company | your company}}',
    paragraphs: ['Thanks for watching. Here is the deep dive on scoring rules and sequences as code, with the templates from the session.'],
    cta: { text: 'Open the deep dive', url: 'https://leadflow.example.com/deep-dive' },
  }),
];
