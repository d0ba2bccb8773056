import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type SerializationContext } from '@temporalio/common';
import { isLeadKeyId, LEAD_KEY_PREFIX, leadErasedEvent, leadIdOfWorkflow } from '../../src/domain/erasure.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, type LeadKeys, type PayloadKey } from '../../src/infra/payload-codec.js';
import { addressHash } from '../../src/infra/suppressions.js';

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const shared = { id: 'k1', key: Buffer.alloc(32, 1) };
const profile = { id: 'ada', email: 'ada.lovelace@example.com', firstName: 'Ada' };
const ofWorkflow = (workflowId: string): SerializationContext => ({ type: 'workflow', namespace: 'default', workflowId });
const ofActivity = (workflowId: string | undefined): SerializationContext => ({ type: 'activity', namespace: 'default', isLocal: true, ...(workflowId ? { workflowId } : {}) });

/** Lead keys in a Map, as the Postgres store keeps them: one per lead, created on first use, destroyable. */
class MapLeadKeys implements LeadKeys {
  readonly keys = new Map<string, PayloadKey | 'erased'>();
  async forLead(leadId: string): Promise<PayloadKey> {
    let key = this.keys.get(leadId);
    if (key === 'erased') throw new Error(`lead ${leadId} is erased`);
    if (!key) this.keys.set(leadId, (key = { id: `${LEAD_KEY_PREFIX}${leadId.padEnd(24, '0')}`, key: Buffer.alloc(32, leadId.length) }));
    return key;
  }
  async byKeyId(keyId: string): Promise<PayloadKey | 'erased' | undefined> {
    for (const [leadId, key] of this.keys) {
      if (key !== 'erased' && key.id === keyId) return key;
      if (key === 'erased' && keyId === `${LEAD_KEY_PREFIX}${leadId.padEnd(24, '0')}`) return 'erased';
    }
    return undefined;
  }
  erase(leadId: string): void {
    this.keys.set(leadId, 'erased');
  }
}

describe('which payloads belong to a lead', () => {
  it('reads the lead id from its workflow id, and only from a lead workflow', () => {
    expect(leadIdOfWorkflow('lead-ada')).toBe('ada');
    expect(leadIdOfWorkflow('lead-a.b:c_d-e')).toBe('a.b:c_d-e');
    for (const other of [undefined, '', 'lead-', 'campaign-spring', 'import-42', 'leads-x', `lead-${'x'.repeat(129)}`, 'lead-bad/id']) {
      expect(leadIdOfWorkflow(other), String(other)).toBeUndefined();
    }
  });

  it('tells lead keys from PAYLOAD_KEYS keys by their prefix (a PAYLOAD_KEYS id holds no colon)', () => {
    expect(isLeadKeyId('lead:0123abcd')).toBe(true);
    expect(isLeadKeyId('lead:')).toBe(false);
    expect(isLeadKeyId('dev')).toBe(false);
    expect(isLeadKeyId('lead-2026')).toBe(false);
  });

  it('builds lead.erased from the id and the time, with nothing personal', () => {
    expect(leadErasedEvent('ada', new Date('2026-12-01T10:00:00Z'))).toEqual({ type: 'lead.erased', leadId: 'ada', at: '2026-12-01T10:00:00.000Z' });
  });
});

describe('payload codec with lead keys (crypto-shredding)', () => {
  it("encrypts a lead workflow's payloads (workflow or activity context) with that lead's key, everything else with PAYLOAD_KEYS", async () => {
    const leadKeys = new MapLeadKeys();
    const codec = new AesGcmPayloadCodec([shared], leadKeys);
    const plain = defaultPayloadConverter.toPayload(profile)!;
    const keyIdOf = async (context?: SerializationContext) => text((await codec.encode([plain], context))[0]!.metadata![KEY_ID_METADATA]);
    expect(await keyIdOf(ofWorkflow('lead-ada'))).toBe(`${LEAD_KEY_PREFIX}${'ada'.padEnd(24, '0')}`);
    expect(await keyIdOf(ofActivity('lead-ada'))).toBe(`${LEAD_KEY_PREFIX}${'ada'.padEnd(24, '0')}`);
    expect(await keyIdOf(ofWorkflow('lead-grace'))).toBe(`${LEAD_KEY_PREFIX}${'grace'.padEnd(24, '0')}`);
    expect(await keyIdOf(ofWorkflow('campaign-spring'))).toBe('k1');
    expect(await keyIdOf(ofActivity(undefined))).toBe('k1');
    expect(await keyIdOf(undefined)).toBe('k1');
    // Without a store (a client with no Postgres) everything goes under PAYLOAD_KEYS, as before.
    expect(text((await new AesGcmPayloadCodec([shared]).encode([plain], ofWorkflow('lead-ada')))[0]!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect([...leadKeys.keys.keys()]).toEqual(['ada', 'grace']);
  });

  it('decrypts a lead payload while its key lives; once destroyed, the payload stays ciphertext for everyone', async () => {
    const leadKeys = new MapLeadKeys();
    const codec = new AesGcmPayloadCodec([shared], leadKeys);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(profile)!], ofWorkflow('lead-ada'));
    expect(Buffer.from(sealed!.data!).toString('latin1')).not.toContain('ada.lovelace');
    expect(defaultPayloadConverter.fromPayload((await codec.decode([sealed!]))[0]!)).toEqual(profile);

    leadKeys.erase('ada');
    const [after] = await codec.decode([sealed!]);
    expect(after).toBe(sealed);
    expect(text(after!.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    // The shared key cannot open it either, and an erased lead gets nothing new encrypted.
    await expect(new AesGcmPayloadCodec([shared]).decode([sealed!])).rejects.toThrow(/lead's data key .* no access to lead keys/);
    await expect(codec.encode([defaultPayloadConverter.toPayload(profile)!], ofWorkflow('lead-ada'))).rejects.toThrow(/cannot encrypt a payload of lead ada/);
    // A lead key no lead ever had is an error, not a silent pass.
    const forged = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: new TextEncoder().encode('lead:ffffffffffffffffffffffff') } };
    await expect(codec.decode([forged])).rejects.toThrow(/which no lead holds/);
  });
});

describe('suppression hash of an erased address', () => {
  it('is the same for the same address in any case, differs per key, and does not contain the address', () => {
    const key = Buffer.from('suppression hash key for tests');
    const hash = addressHash(key, 'Ada.Lovelace@Example.com');
    expect(hash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(addressHash(key, ' ada.lovelace@example.com ')).toBe(hash);
    expect(addressHash(Buffer.from('another key entirely, not the same'), 'ada.lovelace@example.com')).not.toBe(hash);
    expect(hash).not.toContain('ada');
  });
});
