import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

/**
 * Encrypts every payload Temporal stores (workflow input, signals, queries, updates, activity
 * arguments and results, memos) with AES-256-GCM, so the server never holds a lead's email or
 * name in plain text. The format is the one Temporal's encryption samples use, so their codec
 * servers and ours read each other's payloads: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, data = 12-byte nonce ‖ ciphertext ‖ 16-byte tag over the
 * serialized original Payload (its own metadata included).
 */

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const NONCE_BYTES = 12;
// A CommonJS module: its namespace comes as the default export under Node's ESM.
const ProtoPayload = proto.temporal.api.common.v1.Payload;
const TAG_BYTES = 16;

/** One key of PAYLOAD_KEYS: a short id stored with each payload, and 32 bytes of key. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/**
 * The development key outside production (`npm start`, tests): payloads are encrypted by
 * default, and a restart can still read what an earlier run wrote. It is public, so it
 * protects nothing; production must set PAYLOAD_KEYS.
 */
export const DEV_PAYLOAD_KEYS: PayloadKey[] = [{ id: 'dev', key: createHash('sha256').update('leadflow development payload key').digest() }];

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined): string | undefined => (bytes ? new TextDecoder().decode(bytes) : undefined);

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  /** `keys[0]` encrypts; every key decrypts (rotation: put the new key first, keep the old ones). */
  constructor(keys: PayloadKey[]) {
    if (keys.length === 0) throw new Error('the payload codec needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`payload key "${k.id}" must be 32 bytes (AES-256), got ${k.key.length}`);
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
      const plain = ProtoPayload.encode(payload).finish();
      const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: utf8(this.current.id),
          [CIPHER_METADATA]: utf8(CIPHER),
        },
        data: new Uint8Array(sealed),
      };
    });
  }

  /** Payloads without our encoding marker pass through untouched: histories written before encryption still replay. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!keyId) throw new ValueError('an encrypted payload carries no encryption-key-id');
      const key = this.byId.get(keyId);
      if (!key) throw new ValueError(`payload encrypted with key "${keyId}", which PAYLOAD_KEYS does not hold`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new ValueError('encrypted payload too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(`payload failed authentication with key "${keyId}" (tampered, or a different key under the same id)`);
      }
      return ProtoPayload.decode(plain) as Payload;
    });
  }
}

/** The data converter for every client and worker of the lead workflows. */
export function leadDataConverter(keys: PayloadKey[]): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(keys)] };
}

/** Parses `id:base64key,id:base64key`; errors name the entry, never the key. First entry encrypts. */
export function parsePayloadKeys(raw: string): PayloadKey[] {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('holds no id:key pair');
  const keys = entries.map((entry, index) => {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    if (colon < 1 || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error(`entry ${index + 1} must be id:base64key with an id of letters, digits, . _ -`);
    const b64 = entry.slice(colon + 1);
    const key = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== 32) throw new Error(`entry ${index + 1} (${id}) must hold a base64 key of 32 bytes (openssl rand -base64 32)`);
    return { id, key };
  });
  const ids = keys.map((k) => k.id);
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated) throw new Error(`key id "${repeated}" appears twice`);
  return keys;
}

/** The JSON shape of payloads on the codec server's wire (Temporal UI, `temporal --codec-endpoint`). */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(json: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(json.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(json.data ?? '', 'base64')),
  };
}

export function payloadToJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}
