import { describe, expect, it } from 'vitest';
import { defaultProgram, sequences } from '../../src/sequences/catalog.js';
import { SequenceSchema } from '../../src/sequences/model.js';
import { previewSequence } from '../../src/sequences/preview.js';
import { templates } from '../../src/sequences/templates.js';

// The preview runs the lead machine on a simulated clock: the frequency cap and the send window
// show in the timeline as a lead would live them.
const lead = { id: 'sample', email: 'ada@example.com', firstName: 'Ada' };
const HOUR = 3_600_000;

describe('sequence preview (the lead machine on a simulated clock)', () => {
  it('shows the frequency cap holding the fourth email of a week until the first ages out', () => {
    const burst = SequenceSchema.parse({
      id: 'burst',
      version: 1,
      description: 'four emails an hour apart',
      steps: ['welcome', 'customer-stories', 'product-tour', 'pricing-guide'].flatMap((template, i) => [{ kind: 'email', template }, ...(i < 3 ? [{ kind: 'wait', duration: '1 hour' }] : [])]),
    });
    const preview = previewSequence(burst, { sequences, templates, lead, program: defaultProgram });
    const emails = preview.path.filter((e) => e.email).map((e) => [e.email!.template, e.atMs! / HOUR]);
    expect(emails).toEqual([
      ['welcome', 0],
      ['customer-stories', 1],
      ['product-tour', 2],
      ['pricing-guide', 7 * 24],
    ]);
  });

  it('shows the send window: an email due at night waits for the morning, in the lead time zone', () => {
    const night = SequenceSchema.parse({
      id: 'night',
      version: 1,
      description: 'a second email 12 hours later',
      steps: [{ kind: 'email', template: 'welcome' }, { kind: 'wait', duration: '12 hours' }, { kind: 'email', template: 'customer-stories' }],
    });
    // Starts at 09:00 UTC: 21:00 is outside 08:00-20:00; the next opening is 08:00 the day after.
    const preview = previewSequence(night, { sequences, templates, lead, program: defaultProgram });
    expect(preview.path.filter((e) => e.email).map((e) => e.atMs! / HOUR)).toEqual([0, 23]);
    const tokyo = previewSequence(night, { sequences, templates, lead: { ...lead, timezone: 'Asia/Tokyo' }, program: defaultProgram });
    // 21:00 UTC is 06:00 in Tokyo: the window opens at 08:00 Tokyo = 23:00 UTC, 14 hours after the start.
    expect(tokyo.path.filter((e) => e.email).map((e) => e.atMs! / HOUR)).toEqual([0, 14]);
  });
});
