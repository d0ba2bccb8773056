import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, ValueError } from '@temporalio/common';
import { loadConfig } from '../../src/config.js';
import { AesGcmPayloadCodec, DEV_PAYLOAD_KEYS, ENCRYPTED_ENCODING, KEY_ID_METADATA, parsePayloadKeys, payloadFromJson, payloadToJson } from '../../src/infra/payload-codec.js';

const key = (id: string, fill: number) => ({ id, key: Buffer.alloc(32, fill) });
const lead = { id: 'ada', email: 'ada.lovelace@example.com', firstName: 'Ada' };
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe('payload codec (AES-256-GCM)', () => {
  it('encrypts a payload so neither the email nor the name is readable, and decrypts it back', async () => {
    const codec = new AesGcmPayloadCodec([key('k1', 1)]);
    const plain = defaultPayloadConverter.toPayload(lead)!;
    const [sealed] = await codec.encode([plain]);
    expect(text(sealed!.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
    const raw = Buffer.from(sealed!.data!).toString('latin1');
    expect(raw).not.toContain('ada.lovelace');
    expect(raw).not.toContain('Ada');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(lead);
    // A fresh nonce each time: the same value never gives the same bytes.
    const [again] = await codec.encode([plain]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
  });

  it('rotates: encrypts with the first key, decrypts what older keys wrote', async () => {
    const old = new AesGcmPayloadCodec([key('2025', 1)]);
    const rotated = new AesGcmPayloadCodec([key('2026', 2), key('2025', 1)]);
    const [byOld] = await old.encode([defaultPayloadConverter.toPayload(lead)!]);
    const [byNew] = await rotated.encode([defaultPayloadConverter.toPayload(lead)!]);
    expect(text(byNew!.metadata![KEY_ID_METADATA])).toBe('2026');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([byOld!]))[0]!)).toEqual(lead);
    // The old-only codec cannot read the new key's payloads, and says which key it lacks.
    await expect(old.decode([byNew!])).rejects.toThrow(/key "2026", which PAYLOAD_KEYS does not hold/);
  });

  it('passes through payloads without its marker, so histories recorded before encryption still replay', async () => {
    const codec = new AesGcmPayloadCodec(DEV_PAYLOAD_KEYS);
    const plain = defaultPayloadConverter.toPayload({ lead })!;
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('refuses a tampered payload or a different key under the same id', async () => {
    const codec = new AesGcmPayloadCodec([key('k1', 1)]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(lead)!]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data: new Uint8Array(flipped) }])).rejects.toThrow(ValueError);
    await expect(new AesGcmPayloadCodec([key('k1', 9)]).decode([sealed!])).rejects.toThrow(/failed authentication/);
  });

  it('survives the codec server wire format (base64 JSON)', async () => {
    const codec = new AesGcmPayloadCodec([key('k1', 1)]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(lead)!]);
    const [opened] = await codec.decode([payloadFromJson(JSON.parse(JSON.stringify(payloadToJson(sealed!))))]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(lead);
  });

  it('reads PAYLOAD_KEYS, naming a bad entry but never its key', () => {
    const k1 = Buffer.alloc(32, 3).toString('base64');
    const k2 = Buffer.alloc(32, 4).toString('base64');
    expect(parsePayloadKeys(`new:${k2}, old:${k1}`).map((k) => k.id)).toEqual(['new', 'old']);
    expect(loadConfig({ PAYLOAD_KEYS: `a:${k1}` }).payloadKeys[0]!.key.equals(Buffer.alloc(32, 3))).toBe(true);
    expect(loadConfig({}).payloadKeys).toEqual(DEV_PAYLOAD_KEYS);
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(() => loadConfig({ PAYLOAD_KEYS: `a:${short}` })).toThrow('PAYLOAD_KEYS entry 1 (a) must hold a base64 key of 32 bytes (openssl rand -base64 32)');
    expect(() => loadConfig({ PAYLOAD_KEYS: `a:${k1},a:${k2}` })).toThrow('PAYLOAD_KEYS key id "a" appears twice');
    expect(() => loadConfig({ PAYLOAD_KEYS: k1 })).toThrow(/^PAYLOAD_KEYS entry 1 must be id:base64key/);
    try {
      loadConfig({ PAYLOAD_KEYS: `a:${short}` });
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});
