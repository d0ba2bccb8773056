import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../../config.js';

/** What both `Connection.connect` (client) and `NativeConnection.connect` (worker) take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * Connection options for a real Temporal (self-hosted with TLS or mTLS, or Temporal Cloud with
 * mTLS or an API key) from the validated config. The client and the worker both connect with
 * these, so neither can forget the credentials.
 */
export function temporalConnectionOptions(address: string, temporal: Pick<Config['temporal'], 'tls' | 'apiKey'>): TemporalConnectionOptions {
  const { tls, apiKey } = temporal;
  if (!tls) return { address };
  return {
    address,
    tls: {
      ...(tls.clientCert && tls.clientKey ? { clientCertPair: { crt: tls.clientCert, key: tls.clientKey } } : {}),
      ...(tls.serverRootCa ? { serverRootCACertificate: tls.serverRootCa } : {}),
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    },
    ...(apiKey ? { apiKey } : {}),
  };
}
