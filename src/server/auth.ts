import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKey, Role } from '../config.js';
import { HttpError } from './errors.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Who presented a valid key: its roles and a name for the key that does not reveal it. */
export interface Caller {
  roles: Role[];
  /** Roles plus the first 16 hex digits of the key's SHA-256: a rate-limit bucket and nothing more. */
  keyId: string;
}

/**
 * Bearer-key authentication. Keys are compared as SHA-256 digests with `timingSafeEqual`
 * over every configured key, so timing reveals neither a key nor which one matched.
 * Keys are held only as digests and never put into an error, a log line or a metric.
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

  /** The caller behind an `Authorization` header; undefined without a bearer key or with an unknown one. */
  identify(header: string | undefined): Caller | undefined {
    const key = bearerKey(header);
    if (key === undefined) return undefined;
    const roles = this.rolesFor(key);
    if (roles.length === 0) return undefined;
    return { roles, keyId: `${roles.join('+')}:${digest(key).toString('hex').slice(0, 16)}` };
  }

  /** Throws 401 without a valid key, 403 when the key's roles are not among `allowed` (admin may do everything). */
  authorize(header: string | undefined, allowed: readonly Role[]): Role[] {
    if (bearerKey(header) === undefined) throw new HttpError(401, 'unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    const caller = this.identify(header);
    if (!caller) throw new HttpError(401, 'unauthorized', 'the API key is not valid');
    if (!caller.roles.some((r) => r === 'admin' || allowed.includes(r))) {
      throw new HttpError(403, 'forbidden', `this key's role (${caller.roles.join(', ')}) may not do this; it needs ${allowed.join(' or ')}`);
    }
    return caller.roles;
  }
}

function bearerKey(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}
