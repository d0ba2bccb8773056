import { describe, expect, it } from 'vitest';
import { pinTemplates, programSnapshot } from '../../src/sequences/catalog.js';
import { templates } from '../../src/sequences/templates.js';

// A lead's snapshot pins the content of its templates: editing or deleting a template file later
// changes none of its emails; a new enrolment picks up the new content.
describe('templates pinned in the snapshot', () => {
  const lead = { id: 'p1', email: 'p1@example.com', firstName: 'Grace', company: 'Navy' };

  it('pins every template the snapshot sequences name, rendered for the lead', () => {
    const snapshot = pinTemplates(programSnapshot('webinar-invite'), lead);
    expect(Object.keys(snapshot.templates!).sort()).toEqual(
      ['customer-stories', 'pricing-guide', 'product-tour', 'recycle-checkin', 'recycle-whats-new', 'webinar-deep-dive', 'webinar-invite', 'webinar-reminder', 'welcome'].sort(),
    );
    expect(snapshot.templates!.welcome).toMatchObject({ kind: 'marketing', subject: 'Welcome to Leadflow, Grace' });
    // The snapshot is data: it survives the JSON of a workflow input.
    expect(JSON.parse(JSON.stringify(snapshot)).templates.welcome.subject).toBe('Welcome to Leadflow, Grace');
  });

  it('keeps the pinned content when the template is edited or deleted; a new snapshot takes the new content', () => {
    const pinned = pinTemplates(programSnapshot('onboarding'), lead);
    const original = templates.welcome!;
    try {
      templates.welcome = { ...original, render: () => ({ subject: 'Edited', text: 'edited', html: 'edited' }) };
      expect(pinned.templates!.welcome!.subject).toBe('Welcome to Leadflow, Grace');
      expect(pinTemplates(programSnapshot('onboarding'), lead).templates!.welcome!.subject).toBe('Edited');
      delete templates.welcome;
      expect(pinned.templates!.welcome!.subject).toBe('Welcome to Leadflow, Grace');
      expect(Object.keys(pinTemplates(programSnapshot('onboarding'), lead).templates!)).not.toContain('welcome');
    } finally {
      templates.welcome = original;
    }
  });
});
