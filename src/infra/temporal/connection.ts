import type { TLSConfig } from '@temporalio/client';

/**
 * What both `Connection.connect` (client) and `NativeConnection.connect` (worker) take to reach
 * a real Temporal (self-hosted with TLS or mTLS, or Temporal Cloud with mTLS or an API key).
 * src/config.ts builds it with `@temporalio/envconfig` from the `TEMPORAL_*` variables and the
 * `temporal.toml` profile; the client and the worker both connect with it, so neither can
 * forget the credentials.
 */
export interface TemporalConnectionOptions {
  address: string;
  /** true: TLS with the system's CAs; an object: mTLS, a CA or a server name. */
  tls?: TLSConfig | boolean;
  apiKey?: string;
  /** gRPC headers from the profile's `grpc_meta` or `TEMPORAL_GRPC_META_*`. */
  metadata?: Record<string, string>;
}

/** The options without the keys the SDK's loader left undefined (they read as "set" to a spread). */
export function withoutUnset<T extends object>(options: T): T {
  const drop = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, drop(v)]),
    );
  };
  return drop(options) as T;
}
