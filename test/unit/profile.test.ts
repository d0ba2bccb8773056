import { describe, expect, it } from 'vitest';
import { applyProfilePatch, mergeAttributes, withProfileChange } from '../../src/domain/profile.js';

describe('profile patches (PATCH /v1/leads/{id}, import rows)', () => {
  const lead = { id: 'p', email: 'ada@example.com', firstName: 'Ada', company: 'Engines', attributes: { plan: 'trial', seats: 3 } };

  it('merges attributes key by key; null removes a key; a key named like an Object member stays data', () => {
    const merged = mergeAttributes({ plan: 'trial', seats: 3 }, { plan: null, role: 'cto', __proto__: 'x' } as Record<string, unknown>);
    expect(merged).toEqual({ seats: 3, role: 'cto' });
    const poisoned = mergeAttributes({}, JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(Object.keys(poisoned)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('tells the workflow only what changed: fields, null for a cleared one, attributes whole', () => {
    const { profile, change } = applyProfilePatch(lead, { firstName: 'Grace', company: null, email: 'ADA@example.com', attributes: { seats: 4 } });
    expect(change).toEqual({ firstName: 'Grace', company: null, attributes: { plan: 'trial', seats: 4 } });
    expect(profile).toEqual({ id: 'p', email: 'ada@example.com', firstName: 'Grace', attributes: { plan: 'trial', seats: 4 } });
  });

  it('a patch that changes nothing is an empty change', () => {
    expect(applyProfilePatch(lead, { firstName: 'Ada', lastName: null, attributes: { plan: 'trial' } }).change).toEqual({});
  });

  it('the lead machine applies a change the same way, removing the last attribute too', () => {
    const { change } = applyProfilePatch(lead, { company: null, attributes: { plan: null, seats: null } });
    expect(withProfileChange(lead, change)).toEqual({ id: 'p', email: 'ada@example.com', firstName: 'Ada' });
  });
});
