import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type DataConverter, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import proto from '@temporalio/proto';
import { isLeadKeyId, leadIdOfWorkflow } from '../domain/erasure.js';

/**
 * Encrypts every payload Temporal stores (workflow input, signals, queries, updates, activity
 * arguments and results, memos) with AES-256-GCM, so the server never holds a lead's email or
 * name in plain text. The format is the one Temporal's encryption samples use, so their codec
 * servers and ours read each other's payloads: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, data = 12-byte nonce ‖ ciphertext ‖ 16-byte tag over the
 * serialized original Payload (its own metadata included).
 *
 * With a lead key store (crypto-shredding, docs/privacy.md), a payload of lead X's workflow (the
 * SDK's serialization context names the workflow: start, signals, updates, queries, activity
 * arguments and results, commands) is encrypted with X's own data key instead, named
 * `lead:<random id>` in `encryption-key-id`. Destroying that key leaves the lead's whole history
 * unreadable, by anyone, for good.
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

/** Where lead data keys come from (src/infra/lead-keys.ts; a Map in unit tests). */
export interface LeadKeys {
  /** The lead's key, created on first use; throws for an erased lead. */
  forLead(leadId: string): Promise<PayloadKey>;
  /** The key a payload names; `'erased'` once destroyed; undefined if no lead ever had it. */
  byKeyId(keyId: string): Promise<PayloadKey | 'erased' | undefined>;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined): string | undefined => (bytes ? new TextDecoder().decode(bytes) : undefined);

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  /**
   * `keys[0]` encrypts; every key decrypts (rotation: put the new key first, keep the old ones).
   * With `leadKeys`, payloads of a lead's workflow use that lead's own key.
   */
  constructor(
    keys: PayloadKey[],
    private readonly leadKeys?: LeadKeys,
  ) {
    if (keys.length === 0) throw new Error('the payload codec needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`payload key "${k.id}" must be 32 bytes (AES-256), got ${k.key.length}`);
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    if (payloads.length === 0) return payloads;
    const leadId = this.leadKeys ? leadIdOfWorkflow(context?.workflowId) : undefined;
    let current = this.current;
    if (leadId) {
      try {
        current = await this.leadKeys!.forLead(leadId);
      } catch (error) {
        throw new ValueError(`cannot encrypt a payload of lead ${leadId}: ${(error as Error).message}`);
      }
    }
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, nonce);
      const plain = ProtoPayload.encode(payload).finish();
      const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: utf8(current.id),
          [CIPHER_METADATA]: utf8(CIPHER),
        },
        data: new Uint8Array(sealed),
      };
    });
  }

  /**
   * Payloads without our encoding marker pass through untouched: histories written before
   * encryption still replay. A payload under an erased lead's destroyed key also comes back as it
   * is, still encrypted: the codec server shows ciphertext for it, and nothing can do more.
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    const out: Payload[] = [];
    for (const payload of payloads) {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) {
        out.push(payload);
        continue;
      }
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!keyId) throw new ValueError('an encrypted payload carries no encryption-key-id');
      let key = this.byId.get(keyId);
      if (!key && isLeadKeyId(keyId)) {
        if (!this.leadKeys) throw new ValueError(`payload encrypted with a lead's data key ("${keyId}"): this codec has no access to lead keys`);
        const found = await this.leadKeys.byKeyId(keyId);
        if (found === 'erased') {
          out.push(payload);
          continue;
        }
        key = found?.key;
      }
      if (!key) throw new ValueError(`payload encrypted with key "${keyId}", which ${isLeadKeyId(keyId) ? 'no lead holds' : 'PAYLOAD_KEYS does not hold'}`);
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
      out.push(ProtoPayload.decode(plain) as Payload);
    }
    return out;
  }
}

/**
 * The data converter for every client and worker of the lead workflows. Without `leadKeys`
 * (a client with no Postgres), it writes under PAYLOAD_KEYS only and cannot read a lead's payloads.
 */
export function leadDataConverter(keys: PayloadKey[], leadKeys?: LeadKeys): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(keys, leadKeys)] };
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
