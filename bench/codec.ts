import type { DataConverter } from '@temporalio/common';
import type { Pool } from '../src/infra/db.js';
import { LeadKeyStore } from '../src/infra/lead-keys.js';
import { DEV_PAYLOAD_KEYS, leadDataConverter, parsePayloadKeys } from '../src/infra/payload-codec.js';

/**
 * The Leadflow worker's and API's data converter (AES-GCM payload codec) with the keys they read:
 * PAYLOAD_KEYS, or the development key. Every client and worker of the bench uses it, so the
 * baselines pay for the same encryption as a lead. With the pool, it reads (and writes) the
 * leads' own data keys as the API does; without, it cannot read a lead's payloads.
 */
export function benchDataConverter(env: NodeJS.ProcessEnv = process.env, pool?: Pool): DataConverter {
  const keys = env.PAYLOAD_KEYS ? parsePayloadKeys(env.PAYLOAD_KEYS) : DEV_PAYLOAD_KEYS;
  return leadDataConverter(keys, pool ? new LeadKeyStore(pool, keys) : undefined);
}
