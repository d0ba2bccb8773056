import { describe, expect, it } from 'vitest';
import type { LeadProfile } from '../../src/domain/lead.js';
import { pinTemplates, programSnapshot } from '../../src/sequences/catalog.js';
import { marketingEmail, renderPinned, templates } from '../../src/sequences/templates.js';

// A lead's snapshot pins the source of its templates: editing or deleting a template file later
// changes none of its emails; a new enrolment picks up the new content. The source is rendered
// when the email is sent, with the lead's profile of that moment.
describe('templates pinned in the snapshot', () => {
  const lead = { id: 'p1', email: 'p1@example.com', firstName: 'Grace', company: 'Navy' };
  const subjectOf = (snapshot: ReturnType<typeof pinTemplates>, id: string, forLead: LeadProfile = lead) => renderPinned(snapshot.templates![id]!, forLead).subject;

  it('pins every template the snapshot sequences name, as source', () => {
    const snapshot = pinTemplates(programSnapshot('webinar-invite'), lead);
    expect(Object.keys(snapshot.templates!).sort()).toEqual(
      ['customer-stories', 'pricing-guide', 'product-tour', 'recycle-checkin', 'recycle-whats-new', 'webinar-deep-dive', 'webinar-invite', 'webinar-reminder', 'welcome'].sort(),
    );
    expect(snapshot.templates!.welcome).toMatchObject({ kind: 'marketing', source: { subject: 'Welcome to Leadflow, {{firstName | there}}' } });
    // The snapshot is data: it survives the JSON of a workflow input.
    expect(subjectOf(JSON.parse(JSON.stringify(snapshot)), 'welcome')).toBe('Welcome to Leadflow, Grace');
  });

  it('renders the pinned source for the profile at send time: a renamed lead, a cleared name', () => {
    const snapshot = pinTemplates(programSnapshot('webinar-invite'), lead);
    expect(subjectOf(snapshot, 'webinar-invite')).toBe('Grace, a live walkthrough for Navy');
    expect(subjectOf(snapshot, 'webinar-invite', { ...lead, firstName: 'Ada', company: 'Engines' })).toBe('Ada, a live walkthrough for Engines');
    const { firstName: _cleared, company: _gone, ...nameless } = lead;
    expect(subjectOf(snapshot, 'webinar-invite', nameless)).toBe('there, a live walkthrough for your team');
    expect(renderPinned(snapshot.templates!.welcome!, { ...lead, firstName: 'Ada' }).text).toMatch(/^Hi Ada,/);
  });

  it('sends content pinned before sources were (recorded leads) as it is', () => {
    const rendered = { kind: 'marketing' as const, subject: 'Welcome to Leadflow, Grace', text: 'Hi Grace,', html: '<p>Hi Grace,</p>' };
    expect(renderPinned(rendered, { ...lead, firstName: 'Ada' })).toEqual(rendered);
  });

  it('keeps the pinned content when the template is edited or deleted; a new snapshot takes the new content', () => {
    const pinned = pinTemplates(programSnapshot('onboarding'), lead);
    const original = templates.welcome!;
    try {
      templates.welcome = marketingEmail('welcome', { subject: 'Edited for {{firstName | you}}', paragraphs: ['edited'] });
      expect(subjectOf(pinned, 'welcome')).toBe('Welcome to Leadflow, Grace');
      expect(subjectOf(pinTemplates(programSnapshot('onboarding'), lead), 'welcome')).toBe('Edited for Grace');
      delete templates.welcome;
      expect(subjectOf(pinned, 'welcome')).toBe('Welcome to Leadflow, Grace');
      expect(Object.keys(pinTemplates(programSnapshot('onboarding'), lead).templates!)).not.toContain('welcome');
    } finally {
      templates.welcome = original;
    }
  });
});
