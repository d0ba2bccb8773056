"""Schemathesis hooks for `npm run fuzz` (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz.ts).

The API refuses NUL (\\u0000) anywhere in a body, keys included, with 400 invalid_text: PostgreSQL
keeps it in neither text nor jsonb (test/e2e/hostile-input.test.ts covers that refusal). The
`generation.allow-x00 = false` setting keeps NUL out of generated strings but not out of generated
object keys, so bodies holding one are dropped here instead of being reported as "valid data
rejected".
"""

import schemathesis


def _has_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


@schemathesis.hook
def filter_body(context, body):
    return not _has_nul(body)
