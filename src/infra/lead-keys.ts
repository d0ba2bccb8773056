import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import pg from 'pg';
import { LEAD_KEY_PREFIX } from '../domain/erasure.js';
import type { LeadKeys, PayloadKey } from './payload-codec.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** The channel erasure notifies on (with the lead id), so every process forgets the key at once. */
const ERASED_CHANNEL = 'lead_key_erased';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A lead's data key was destroyed (the lead is erased): nothing is encrypted for it any more. */
export class LeadErasedError extends Error {
  constructor(leadId: string) {
    super(`lead ${leadId} is erased: its data key is destroyed`);
    this.name = 'LeadErasedError';
  }
}

interface KeyRow {
  lead_id: string;
  key_id: string;
  wrapped_key: Buffer | null;
  wrapping_key_id: string | null;
  erased_at: Date | null;
}

interface Cached {
  leadId: string;
  key: PayloadKey;
  at: number;
}

export interface LeadKeyStoreOptions {
  /**
   * How long a key read keeps asking a Postgres that does not answer (a restart, a failover) before
   * it fails (default 6 s): a workflow task waits that long rather than fail, well inside its own 10 s.
   */
  outageRetryMs?: number;
  /**
   * How long a key read from Postgres is used without asking again. Erasure forgets the key at once
   * in its own process; another process (a second API, a worker) may hold it this long, in memory only.
   */
  cacheTtlMs?: number;
  /** Keys kept in memory per process (least recently used go first). */
  cacheSize?: number;
}

/**
 * Each lead's own data key (crypto-shredding): 32 random bytes per lead, kept in `lead_keys`
 * wrapped (AES-256-GCM, bound to the lead id and key id) by the first PAYLOAD_KEYS key. The payload
 * codec asks for the key of the lead whose workflow a payload belongs to; erasure destroys it.
 */
export class LeadKeyStore implements LeadKeys {
  private readonly byLead = new Map<string, Cached>();
  private readonly byKey = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<PayloadKey>>();
  private readonly ttlMs: number;
  private readonly size: number;
  private readonly outageRetryMs: number;

  constructor(
    private readonly db: Queryable,
    private readonly wrapping: PayloadKey[],
    options: LeadKeyStoreOptions = {},
  ) {
    if (wrapping.length === 0) throw new Error('the lead key store needs a PAYLOAD_KEYS key to wrap lead keys');
    this.ttlMs = options.cacheTtlMs ?? 60_000;
    this.size = options.cacheSize ?? 10_000;
    this.outageRetryMs = options.outageRetryMs ?? 6000;
  }

  /**
   * A statement on the key table, asked again every 250 ms while Postgres fails, for at most
   * `outageRetryMs`. A worker that restarted during a Postgres restart holds no key in memory: its
   * workflow tasks then wait for Postgres instead of failing (seen in a chaos run).
   */
  private async whilePostgresAnswers<R>(statement: () => Promise<R>): Promise<R> {
    const until = Date.now() + this.outageRetryMs;
    for (;;) {
      try {
        return await statement();
      } catch (error) {
        // A statement Postgres refused (not one it never got) fails at once.
        if (typeof (error as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((error as { code: string }).code) && !/^(57P0[1-3]|08...|53300)$/.test((error as { code: string }).code)) throw error;
        if (Date.now() >= until) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** The lead's key, created on first use (any process may race to create it: one wins). Throws LeadErasedError for an erased lead. */
  async forLead(leadId: string): Promise<PayloadKey> {
    const cached = this.fresh(this.byLead, leadId);
    if (cached) return cached;
    const pending = this.inFlight.get(leadId);
    if (pending) return pending;
    // Keys never change (only erasure destroys them): while Postgres is away, a key this process
    // already knew keeps its lead's workflow running instead of failing every workflow task.
    const stale = this.byLead.get(leadId)?.key;
    const loading = this.loadOrCreate(leadId)
      .catch((error: unknown) => {
        if (stale && !(error instanceof LeadErasedError)) return stale;
        throw error;
      })
      .finally(() => this.inFlight.delete(leadId));
    this.inFlight.set(leadId, loading);
    return loading;
  }

  /** The key a payload names: the key, `'erased'` when it was destroyed, undefined when no lead ever had it. */
  async byKeyId(keyId: string): Promise<PayloadKey | 'erased' | undefined> {
    const cached = this.fresh(this.byKey, keyId);
    if (cached) return cached;
    let rows: KeyRow[];
    try {
      ({ rows } = await this.whilePostgresAnswers(() => this.db.query<KeyRow>('SELECT * FROM lead_keys WHERE key_id = $1', [keyId])));
    } catch (error) {
      const stale = this.byKey.get(keyId)?.key;
      if (stale) return stale;
      throw error;
    }
    const row = rows[0];
    if (!row) return undefined;
    if (row.erased_at || !row.wrapped_key) return 'erased';
    return this.remember(row.lead_id, this.unwrap(row));
  }

  /** Drops the lead's key from this process's memory (erasure calls it right after destroying the key). */
  forget(leadId: string): void {
    this.byLead.delete(leadId);
    for (const [keyId, cached] of this.byKey) if (cached.leadId === leadId) this.byKey.delete(keyId);
  }

  /**
   * Destroys the lead's key, on `db` (the erasure's transaction): the wrapped bytes are gone and
   * the row stays as a marker, so no process mints a new key for the erased lead afterwards. On
   * commit, Postgres tells every listening process (listen()) to forget the key.
   */
  static async destroy(db: Queryable, leadId: string): Promise<void> {
    await db.query(
      `INSERT INTO lead_keys (lead_id, key_id, erased_at) VALUES ($1, $2, now())
       ON CONFLICT (lead_id) DO UPDATE SET wrapped_key = NULL, wrapping_key_id = NULL, erased_at = coalesce(lead_keys.erased_at, now())`,
      [leadId, `${LEAD_KEY_PREFIX}${randomBytes(12).toString('hex')}`],
    );
    await db.query('SELECT pg_notify($1, $2)', [ERASED_CHANNEL, leadId]);
  }

  /**
   * Forgets the keys other processes erase, as soon as their erasure commits (LISTEN on a
   * connection of its own). While that connection is lost, the cache's TTL bounds how long an
   * erased key stays in memory; on reconnecting, the whole cache is dropped (notifications may
   * have been missed). Answers the function that stops listening.
   */
  async listen(databaseUrl: string, retryMs = 5000): Promise<() => Promise<void>> {
    let stopped = false;
    let current: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (first: boolean): Promise<void> => {
      const client = new pg.Client({ connectionString: databaseUrl });
      client.on('error', () => undefined);
      client.on('notification', (message) => {
        if (message.channel === ERASED_CHANNEL && message.payload) this.forget(message.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${ERASED_CHANNEL}`);
      } catch (error) {
        await client.end().catch(() => undefined);
        if (first) throw error;
        if (!stopped) retry = setTimeout(() => void connect(false), retryMs);
        return;
      }
      if (stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      current = client;
      if (!first) this.forgetAll();
      client.on('end', () => {
        if (current === client) current = undefined;
        if (!stopped) retry = setTimeout(() => void connect(false), retryMs);
      });
    };
    await connect(true);
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await current?.end().catch(() => undefined);
    };
  }

  private forgetAll(): void {
    this.byLead.clear();
    this.byKey.clear();
  }

  private async loadOrCreate(leadId: string): Promise<PayloadKey> {
    // Read first (the common case: the key exists); insert when missing. A concurrent insert by
    // another process is not visible to this statement's snapshot: the next round reads it.
    for (let round = 0; round < 3; round++) {
      const { rows } = await this.whilePostgresAnswers(() => this.db.query<KeyRow>('SELECT * FROM lead_keys WHERE lead_id = $1', [leadId]));
      let row = rows[0];
      if (!row) {
        const keyId = `${LEAD_KEY_PREFIX}${randomBytes(12).toString('hex')}`;
        const key = randomBytes(32);
        const wrapper = this.wrapping[0]!;
        const wrapped = this.wrap(leadId, keyId, key, wrapper);
        const inserted = await this.whilePostgresAnswers(() =>
          this.db.query<KeyRow>(
            `INSERT INTO lead_keys (lead_id, key_id, wrapped_key, wrapping_key_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (lead_id) DO NOTHING RETURNING *`,
            [leadId, keyId, wrapped, wrapper.id],
          ),
        );
        row = inserted.rows[0];
        if (!row) continue;
      }
      if (row.erased_at || !row.wrapped_key) throw new LeadErasedError(leadId);
      return this.remember(leadId, this.unwrap(row));
    }
    throw new Error(`the data key of lead ${leadId} could not be read or created`);
  }

  private wrap(leadId: string, keyId: string, key: Buffer, wrapper: PayloadKey): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', wrapper.key, nonce);
    cipher.setAAD(Buffer.from(`${leadId}\n${keyId}`));
    return Buffer.concat([nonce, cipher.update(key), cipher.final(), cipher.getAuthTag()]);
  }

  private unwrap(row: KeyRow): PayloadKey {
    const wrapper = this.wrapping.find((k) => k.id === row.wrapping_key_id);
    if (!wrapper) throw new Error(`the data key of lead ${row.lead_id} is wrapped by PAYLOAD_KEYS key "${row.wrapping_key_id}", which PAYLOAD_KEYS does not hold`);
    const data = row.wrapped_key!;
    const decipher = createDecipheriv('aes-256-gcm', wrapper.key, data.subarray(0, NONCE_BYTES));
    decipher.setAAD(Buffer.from(`${row.lead_id}\n${row.key_id}`));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const key = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    return { id: row.key_id, key };
  }

  private fresh(map: Map<string, Cached>, name: string): PayloadKey | undefined {
    const hit = map.get(name);
    if (!hit || Date.now() - hit.at > this.ttlMs) return undefined; // a stale entry stays, for an outage
    map.delete(name);
    map.set(name, hit); // most recently used last
    return hit.key;
  }

  private remember(leadId: string, key: PayloadKey): PayloadKey {
    const entry = { leadId, key, at: Date.now() };
    this.byLead.delete(leadId);
    this.byLead.set(leadId, entry);
    this.byKey.delete(key.id);
    this.byKey.set(key.id, entry);
    for (const map of [this.byLead, this.byKey]) {
      while (map.size > this.size) map.delete(map.keys().next().value!);
    }
    return key;
  }
}
