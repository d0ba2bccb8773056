/**
 * Lookups of names a caller supplies (event types, sequences, templates, reasons, roles) in a
 * table keyed by name. `name in table` and `table[name]` also find what every object inherits
 * (`constructor`, `__proto__`, `toString`, ...): a hostile name then yields a function where a
 * number or a definition was expected. These look at the table's own keys only.
 */

/** Names every plain object inherits: what fuzzing and property tests must try as names. */
export const INHERITED_NAMES: readonly string[] = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype), 'prototype', 'then', 'toJSON']),
].sort();

/** Whether `name` is one of the table's own keys. */
export function hasOwnName(table: object | undefined | null, name: string): boolean {
  return table !== undefined && table !== null && Object.hasOwn(table, name);
}

/** The table's own entry for `name`; undefined for anything else, inherited names included. */
export function ownEntry<T>(table: Readonly<Record<string, T>> | undefined | null, name: string): T | undefined {
  return hasOwnName(table, name) ? table![name] : undefined;
}
