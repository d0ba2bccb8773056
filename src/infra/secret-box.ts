import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PayloadKey } from './payload-codec.js';

/**
 * Secrets at rest (webhook signing secrets): AES-256-GCM with the newest payload key
 * (PAYLOAD_KEYS), stored as `<key id>:<iv>:<tag>:<ciphertext>` (base64). Opened with whichever
 * key the id names, so keys rotate like the payload codec's.
 */
export function sealSecret(keys: readonly PayloadKey[], secret: string): string {
  const key = keys[0];
  if (!key) throw new Error('no payload key to seal a secret with');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [key.id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
}

export function openSecret(keys: readonly PayloadKey[], sealed: string): string {
  const [id, iv, tag, data] = sealed.split(':');
  const key = keys.find((k) => k.id === id);
  if (!key || !iv || !tag || data === undefined) throw new Error(`secret sealed with key "${id}", which PAYLOAD_KEYS does not hold`);
  const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
}
