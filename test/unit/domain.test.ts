import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/domain/duration.js';
import { LeadIdSchema } from '../../src/domain/lead-id.js';
import { defaultProgram, onboarding, programSnapshot, recycle } from '../../src/sequences/catalog.js';
import { SequenceSchema } from '../../src/sequences/model.js';
import { renderTemplate, templates } from '../../src/sequences/templates.js';
import { Authenticator } from '../../src/server/auth.js';

describe('durations', () => {
  it('reads durations with units and refuses bare numbers', () => {
    expect(parseDuration('2 days')).toBe(2 * 86_400_000);
    expect(parseDuration('1 day')).toBe(86_400_000);
    expect(parseDuration('36 hours')).toBe(36 * 3_600_000);
    expect(parseDuration('1 week')).toBe(7 * 86_400_000);
    expect(parseDuration('90 minutes')).toBe(90 * 60_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('500 ms')).toBe(500);
    expect(parseDuration('2 ms')).toBe(2);
    expect(parseDuration('5 mins')).toBe(300_000);
    expect(parseDuration('3000')).toBeUndefined();
    expect(parseDuration('3 fortnights')).toBeUndefined();
  });
});

describe('lead ids', () => {
  it('accepts 1–128 characters of A-Za-z0-9._:-', () => {
    expect(LeadIdSchema.safeParse('crm:42.a_b-c').success).toBe(true);
    expect(LeadIdSchema.safeParse('x'.repeat(128)).success).toBe(true);
    expect(LeadIdSchema.safeParse('x'.repeat(129)).success).toBe(false);
    expect(LeadIdSchema.safeParse('').success).toBe(false);
    expect(LeadIdSchema.safeParse('a/b').success).toBe(false);
  });
});

describe('default program', () => {
  it('has the DESIGN.md numbers', () => {
    expect(defaultProgram.threshold).toBe(50);
    expect(defaultProgram.scoring).toEqual({
      'webinar.viewed': 5,
      'product.compared': 20,
      'pricing.viewed': 10,
      'form.submitted': 10,
      'email.clicked': 3,
      'email.opened': 1,
      'page.viewed': 1,
    });
  });

  it('starts the onboarding sequence with an email and uses only known templates', () => {
    expect(onboarding.steps[0]).toEqual({ kind: 'email', template: 'welcome' });
    for (const sequence of [onboarding, recycle]) {
      for (const step of sequence.steps) if (step.kind === 'email') expect(templates[step.template], step.template).toBeDefined();
    }
    expect(programSnapshot('onboarding').enrolSequence).toBe(onboarding);
    expect(() => programSnapshot('nope')).toThrow('unknown sequence "nope"');
  });

  it('refuses a wait without units', () => {
    const result = SequenceSchema.safeParse({ id: 'x', version: 1, description: '', steps: [{ kind: 'wait', duration: '3000' }] });
    expect(result.success).toBe(false);
  });

  it('renders templates from the lead, escaping HTML', () => {
    const email = renderTemplate('welcome', { lead: { id: 'l1', email: 'a@example.com', firstName: '<Ada>', company: 'Acme & Co' } });
    expect(email.subject).toBe('Welcome to Leadflow, <Ada>');
    expect(email.html).toContain('&lt;Ada&gt;');
    expect(email.html).toContain('Acme &amp; Co');
    expect(email.kind).toBe('marketing');
    expect(renderTemplate('welcome', { lead: { id: 'l2', email: 'b@example.com' } }).text).toContain('Hi there,');
    expect(() => renderTemplate('missing', { lead: { id: 'l3', email: 'c@example.com' } })).toThrow('unknown email template "missing"');
  });
});

describe('API key authentication', () => {
  const auth = new Authenticator([
    { role: 'ingest', key: 'ingest-key-1' },
    { role: 'admin', key: 'admin-key-1' },
  ]);

  it('gives 401 without a valid key and 403 for the wrong role', () => {
    expect(() => auth.authorize(undefined, ['sales'])).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => auth.authorize('Bearer wrong', ['sales'])).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => auth.authorize('Basic ingest-key-1', ['ingest'])).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => auth.authorize('Bearer ingest-key-1', ['sales'])).toThrow(expect.objectContaining({ status: 403 }));
  });

  it('names a valid key by its roles and a digest prefix, never by the key', () => {
    const caller = auth.identify('Bearer ingest-key-1');
    expect(caller).toEqual({ roles: ['ingest'], keyId: expect.stringMatching(/^ingest:[0-9a-f]{16}$/) });
    expect(caller!.keyId).not.toContain('ingest-key-1');
    expect(auth.identify('Bearer admin-key-1')!.keyId).not.toBe(caller!.keyId);
    expect(auth.identify('Bearer nope')).toBeUndefined();
    expect(auth.identify(undefined)).toBeUndefined();
  });

  it('lets a matching role and admin through', () => {
    expect(auth.authorize('Bearer ingest-key-1', ['ingest', 'marketing'])).toEqual(['ingest']);
    expect(auth.authorize('Bearer admin-key-1', ['sales'])).toEqual(['admin']);
  });
});
