import type { Role } from '../config.js';

/** Who may call a route: anyone, an API key with a role, a signed webhook, or a signed link token (tracking, unsubscribe). */
export type RouteAccess = { kind: 'public' } | { kind: 'key'; roles: readonly Role[] } | { kind: 'signature' } | { kind: 'token' };
