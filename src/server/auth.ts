import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKey, Role } from '../config.js';
import { HttpError } from './errors.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Bearer-key authentication. Keys are compared as SHA-256 digests with `timingSafeEqual`
 * over every configured key, so timing reveals neither a key nor which one matched.
 */
export class Authenticator {
  private readonly keys: Array<{ role: Role; digest: Buffer }>;

  constructor(keys: ApiKey[]) {
    this.keys = keys.map((k) => ({ role: k.role, digest: digest(k.key) }));
  }

  /** The roles a presented key holds; empty when the key is unknown. */
  rolesFor(key: string): Role[] {
    const presented = digest(key);
    const roles: Role[] = [];
    for (const k of this.keys) if (timingSafeEqual(k.digest, presented)) roles.push(k.role);
    return roles;
  }

  /** Throws 401 without a valid key, 403 when the key's roles are not among `allowed` (admin may do everything). */
  authorize(header: string | undefined, allowed: readonly Role[]): Role[] {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) throw new HttpError(401, 'unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    const roles = this.rolesFor(match[1]!);
    if (roles.length === 0) throw new HttpError(401, 'unauthorized', 'the API key is not valid');
    if (!roles.some((r) => r === 'admin' || allowed.includes(r))) {
      throw new HttpError(403, 'forbidden', `this key's role (${roles.join(', ')}) may not do this; it needs ${allowed.join(' or ')}`);
    }
    return roles;
  }
}
