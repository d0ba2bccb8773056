import type { DataConverter } from '@temporalio/common';
import { DEV_PAYLOAD_KEYS, leadDataConverter, parsePayloadKeys } from '../src/infra/payload-codec.js';

/**
 * The Leadflow worker's and API's data converter (AES-GCM payload codec) with the keys they read:
 * PAYLOAD_KEYS, or the development key. Every client and worker of the bench uses it, so the
 * baselines pay for the same encryption as a lead.
 */
export function benchDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  return leadDataConverter(env.PAYLOAD_KEYS ? parsePayloadKeys(env.PAYLOAD_KEYS) : DEV_PAYLOAD_KEYS);
}
