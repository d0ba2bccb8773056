import { describe, expect, it } from 'vitest';
import { calibrate, MIN_SAMPLE, ruleOfEvent, suggestedPoints, type CalibrationLead } from '../../src/domain/calibration.js';
import { defaultProgram } from '../../src/sequences/catalog.js';

const leadsOf = (n: number, lead: Partial<CalibrationLead>): CalibrationLead[] =>
  Array.from({ length: n }, () => ({ rules: [], escalated: false, accepted: false, rejectedFor: [], won: false, ...lead }));

describe('scoring calibration', () => {
  it('suggests the current points scaled by the lift, shrunk towards them for small samples, within the threshold', () => {
    // 40 leads, lift 2: weight 40/70, 20 × (1 + 4/7) = 31.43.
    expect(suggestedPoints(20, 2, 40, 50)).toBe(31);
    // The more leads, the closer to points × lift.
    expect(suggestedPoints(20, 2, 3000, 50)).toBe(40);
    // Lift 1: no change whatever the sample; no lift: no suggestion.
    expect(suggestedPoints(10, 1, 500, 50)).toBe(10);
    expect(suggestedPoints(10, null, 500, 50)).toBeNull();
    // A rule that takes points takes more when its leads do worse.
    expect(suggestedPoints(-10, 0.5, 3000, 50)).toBe(-20);
    // Never above the threshold.
    expect(suggestedPoints(30, 3, 3000, 50)).toBe(50);
  });

  it('counts each rule\'s leads and sales results, and its lift against the leads without it', () => {
    const program = {
      ...defaultProgram,
      rules: { version: 1, scoring: [{ id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 8 }] },
    };
    const leads = [
      // product.compared: 40 leads, 20 accepted (5 of them won), 10 rejected no_budget → 50 %.
      ...leadsOf(20, { rules: ['product.compared'], escalated: true, accepted: true }).map((l, i) => ({ ...l, won: i < 5 })),
      ...leadsOf(10, { rules: ['product.compared'], escalated: true, rejectedFor: ['no_budget'] }),
      ...leadsOf(10, { rules: ['product.compared'] }),
      // Without: 60 leads, 15 accepted → 25 %; lift 2.
      ...leadsOf(15, { rules: ['page.viewed'], escalated: true, accepted: true }),
      ...leadsOf(5, { rules: ['pricing-page'], escalated: true, rejectedFor: ['not_ready', 'no_fit'] }),
      ...leadsOf(40, { rules: ['page.viewed'] }),
    ];
    const report = calibrate(program, leads);
    const compared = report.rules.find((r) => r.rule === 'product.compared')!;
    expect(compared).toEqual({
      rule: 'product.compared',
      eventType: 'product.compared',
      kind: 'flat',
      currentPoints: 20,
      leads: 40,
      escalated: 30,
      accepted: 20,
      rejected: 10,
      rejectedByReason: { no_budget: 10 },
      won: 5,
      acceptedRate: 0.5,
      acceptedRateWithout: 0.25,
      lift: 2,
      suggestedPoints: 31,
      sampleSize: { with: 40, without: 60 },
      warning: null,
    });
    const pricingPage = report.rules.find((r) => r.rule === 'pricing-page')!;
    expect(pricingPage).toMatchObject({ kind: 'conditional', eventType: 'page.viewed', currentPoints: 8, leads: 5, rejected: 5, rejectedByReason: { not_ready: 5, no_fit: 5 }, lift: 0, suggestedPoints: 7 });
    expect(pricingPage.warning).toBe(`only 5 lead(s) had pricing-page (fewer than ${MIN_SAMPLE}): too few to trust its lift`);
    // Nobody viewed a webinar: no lift, said so.
    expect(report.rules.find((r) => r.rule === 'webinar.viewed')).toMatchObject({ leads: 0, lift: null, suggestedPoints: null, warning: 'only 0 lead(s) had webinar.viewed (fewer than 30): too few to trust its lift' });
    expect(report.threshold).toEqual({ points: 50, leads: 100, escalated: 50, accepted: 35, rejected: 15, won: 5, acceptanceRate: 0.7 });
    expect(report.rules.map((r) => r.rule)).toEqual([...Object.keys(defaultProgram.scoring), 'pricing-page']);
  });

  it('warns when no lead without the rule was accepted', () => {
    const leads = [...leadsOf(40, { rules: ['form.submitted'], accepted: true }), ...leadsOf(40, { rules: [] })];
    expect(calibrate(defaultProgram, leads).rules.find((r) => r.rule === 'form.submitted')).toMatchObject({ lift: null, warning: 'no lead without form.submitted was accepted: the lift cannot be computed' });
  });

  it('gives an event to the first conditional rule that matches it, else to its flat-table entry', () => {
    const program = { ...defaultProgram, rules: { version: 1, scoring: [{ id: 'pricing-page', event: 'page.viewed', when: [{ field: 'path', startsWith: '/pricing' }], points: 8 }] } };
    expect(ruleOfEvent(program, { type: 'page.viewed', properties: { path: '/pricing/teams' } })).toBe('pricing-page');
    expect(ruleOfEvent(program, { type: 'page.viewed', properties: { path: '/blog' } })).toBe('page.viewed');
    expect(ruleOfEvent(program, { type: 'constructor' })).toBeUndefined();
  });
});
