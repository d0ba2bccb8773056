import type { LeadProfile } from './lead.js';

/** Profile fields a caller may change after enrolment (PATCH /v1/leads/{id}, an import row). */
export const EDITABLE_FIELDS = ['email', 'firstName', 'lastName', 'company', 'timezone'] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

/**
 * A change to a lead's profile: a field set to a value replaces it, `null` clears it (the email
 * cannot be cleared), an absent field stays. In a patch (what a caller sends) attributes merge
 * key by key and `null` removes a key; in a change (what the lead's workflow receives, see
 * applyProfilePatch) they are the merged attributes, whole.
 */
export type ProfileChange = { [K in Exclude<EditableField, 'email'>]?: string | null } & {
  email?: string;
  attributes?: Record<string, unknown>;
};
export type ProfilePatch = ProfileChange;

/** Attributes after a patch: keys merge, `null` removes one. */
export function mergeAttributes(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    // defineProperty: a key named like an Object member ("__proto__") stays data.
    else Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

/**
 * Applies a patch to a profile: the new profile and the change to tell the lead's workflow
 * (empty when the patch changes nothing, so nothing needs telling).
 */
export function applyProfilePatch(profile: LeadProfile, patch: ProfilePatch): { profile: LeadProfile; change: ProfileChange } {
  const change: ProfileChange = {};
  for (const field of EDITABLE_FIELDS) {
    const value = patch[field];
    if (value === undefined) continue;
    const normalised = field === 'email' && value !== null ? value.toLowerCase() : value;
    if ((profile[field] ?? null) !== normalised) Object.assign(change, { [field]: normalised });
  }
  if (patch.attributes) {
    const before = profile.attributes ?? {};
    const merged = mergeAttributes(before, patch.attributes);
    if (!sameJson(before, merged)) change.attributes = merged;
  }
  // Postgres and the lead machine apply the change by the same rule.
  return { profile: withProfileChange(profile, change), change };
}

/** A profile with a change applied (the lead machine's side of the same rule). */
export function withProfileChange(profile: LeadProfile, change: ProfileChange): LeadProfile {
  const next: LeadProfile = { ...profile };
  for (const field of EDITABLE_FIELDS) {
    const value = change[field];
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  if (change.attributes !== undefined) {
    if (Object.keys(change.attributes).length > 0) next.attributes = change.attributes;
    else delete next.attributes;
  }
  return next;
}

const sameJson = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && JSON.stringify(a[k]) === JSON.stringify(b[k]));
};
