import { HttpError } from './errors.js';

/** A UTF-16 half of a pair standing alone: no UTF-8 spells it, so Postgres refuses the text. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not a Unicode character)';
  return undefined;
}

/**
 * Refuses text no store can keep: NUL and lone surrogates, anywhere in a parsed body or query,
 * keys included (JSON allows both; PostgreSQL text and jsonb refuse both, which would be a 500).
 * Throws a 400 `invalid_text` naming the first such field; nothing has been done yet.
 */
export function refuseUnstorableText(value: unknown, where: string): void {
  const walk = (node: unknown, path: string[]): void => {
    if (typeof node === 'string') {
      const why = problem(node);
      if (why) fail(path, why);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, [...path, String(index)]));
      return;
    }
    if (node && typeof node === 'object' && !Buffer.isBuffer(node)) {
      for (const [key, child] of Object.entries(node)) {
        const why = problem(key);
        if (why) fail(path, `has a key that ${why}`);
        walk(child, [...path, key]);
      }
    }
  };
  const fail = (path: string[], why: string): never => {
    const at = [where, ...path].join('.');
    throw new HttpError(400, 'invalid_text', `${at} ${why}`, [{ path: at, message: why }]);
  };
  walk(value, []);
}
