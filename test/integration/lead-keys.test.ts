import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeadErasedError, LeadKeyStore } from '../../src/infra/lead-keys.js';
import { eventually } from '../helpers/eventually.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

/** The lead data keys in a real Postgres: one per lead across processes, wrapped at rest, destroyed by erasure. */
let pg: TestPostgres;
const wrapping = [{ id: 'w1', key: Buffer.alloc(32, 5) }];

beforeAll(async () => {
  pg = await startTestPostgres();
}, 120_000);

afterAll(async () => {
  await pg?.stop();
});

describe('lead key store', () => {
  it('gives every process the same key for a lead, created once, stored only wrapped', async () => {
    // Two stores: two processes racing on a new lead's first payloads.
    const a = new LeadKeyStore(pg.pool, wrapping);
    const b = new LeadKeyStore(pg.pool, wrapping);
    const keys = await Promise.all([a.forLead('ada'), b.forLead('ada'), a.forLead('ada'), b.forLead('ada')]);
    for (const k of keys) expect(k).toEqual(keys[0]);
    expect(keys[0]!.id).toMatch(/^lead:[0-9a-f]{24}$/);
    expect(await b.byKeyId(keys[0]!.id)).toEqual(keys[0]);
    expect((await a.forLead('grace')).key.equals(keys[0]!.key)).toBe(false);
    const { rows } = await pg.pool.query<{ wrapped_key: Buffer; wrapping_key_id: string }>("SELECT wrapped_key, wrapping_key_id FROM lead_keys WHERE lead_id = 'ada'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.wrapping_key_id).toBe('w1');
    expect(rows[0]!.wrapped_key.includes(keys[0]!.key)).toBe(false);
    // Without the wrapping key, the stored key is of no use.
    await expect(new LeadKeyStore(pg.pool, [{ id: 'other', key: Buffer.alloc(32, 6) }]).byKeyId(keys[0]!.id)).rejects.toThrow(/PAYLOAD_KEYS does not hold/);
  });

  it('destroys a key for good: no process reads it again (after forgetting it) or mints a new one', async () => {
    const store = new LeadKeyStore(pg.pool, wrapping);
    const other = new LeadKeyStore(pg.pool, wrapping, { cacheTtlMs: 0 });
    const key = await store.forLead('erin');
    await other.forLead('erin');
    await LeadKeyStore.destroy(pg.pool, 'erin');
    store.forget('erin');
    for (const s of [store, other]) {
      expect(await s.byKeyId(key.id)).toBe('erased');
      await expect(s.forLead('erin')).rejects.toBeInstanceOf(LeadErasedError);
    }
    const { rows } = await pg.pool.query("SELECT wrapped_key, erased_at IS NOT NULL AS erased FROM lead_keys WHERE lead_id = 'erin'");
    expect(rows).toEqual([{ wrapped_key: null, erased: true }]);
    // A lead erased before any payload had a key gets the marker too: no key is minted for it later.
    await LeadKeyStore.destroy(pg.pool, 'never-keyed');
    await expect(store.forLead('never-keyed')).rejects.toBeInstanceOf(LeadErasedError);
    expect(await store.byKeyId('lead:000000000000000000000000')).toBeUndefined();
  });

  it('tells every listening process to forget a key the moment its erasure commits', async () => {
    const elsewhere = new LeadKeyStore(pg.pool, wrapping, { cacheTtlMs: 3_600_000 });
    const stopListening = await elsewhere.listen(pg.url);
    try {
      const key = await elsewhere.forLead('lin');
      // Cached for an hour: only the notification can make it ask Postgres again.
      expect(await elsewhere.byKeyId(key.id)).toEqual(key);
      await LeadKeyStore.destroy(pg.pool, 'lin');
      await eventually(async () => expect(await elsewhere.byKeyId(key.id)).toBe('erased'), { timeoutMs: 5000 });
      // Without listening, the hour-long cache would still answer the key.
      const deaf = new LeadKeyStore(pg.pool, wrapping, { cacheTtlMs: 3_600_000 });
      const other = await deaf.forLead('max');
      await LeadKeyStore.destroy(pg.pool, 'max');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await deaf.byKeyId(other.id)).toEqual(other);
    } finally {
      await stopListening();
    }
  });

  it('waits out a Postgres that does not answer for a moment (a restart) instead of failing, and gives up after its bound', async () => {
    let refusals = 3;
    const flaky = {
      query: ((text: string, values: unknown[]) => {
        if (refusals-- > 0) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
        return pg.pool.query(text, values);
      }) as typeof pg.pool.query,
    };
    // A fresh process (nothing cached) while Postgres restarts: the key arrives once it answers.
    const key = await new LeadKeyStore(flaky, wrapping).forLead('restart');
    expect(refusals).toBeLessThan(0); // all three refusals waited out, then the read and the insert
    expect(key).toEqual(await new LeadKeyStore(pg.pool, wrapping).forLead('restart'));
    // Still away past the bound: the read fails (and the workflow task with it, to be retried).
    const down = { query: (() => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))) as unknown as typeof pg.pool.query };
    const started = Date.now();
    await expect(new LeadKeyStore(down, wrapping, { outageRetryMs: 600 }).forLead('never')).rejects.toThrow('ECONNREFUSED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    // A statement Postgres refused is not an outage: no waiting.
    const refused = { query: (() => Promise.reject(Object.assign(new Error('permission denied'), { code: '42501' }))) as unknown as typeof pg.pool.query };
    const at = Date.now();
    await expect(new LeadKeyStore(refused, wrapping).forLead('nope')).rejects.toThrow('permission denied');
    expect(Date.now() - at).toBeLessThan(200);
  });
});
