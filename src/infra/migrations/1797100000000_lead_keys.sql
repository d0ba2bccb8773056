-- Up Migration

-- Crypto-shredding (DELETE /v1/leads/{id}): every Temporal payload of lead X's workflow is
-- encrypted with X's own data key, kept here wrapped (AES-256-GCM) by the PAYLOAD_KEYS key named
-- in `wrapping_key_id`. Erasure sets `wrapped_key` to NULL and `erased_at`: from then on nothing
-- can decrypt the lead's history, and the row refuses to mint a new key for the erased lead.
-- `key_id` is random (what payload metadata carries), so it tells nothing about the lead.
CREATE TABLE lead_keys (
  lead_id          text PRIMARY KEY,
  key_id           text NOT NULL UNIQUE,
  wrapped_key      bytea,
  wrapping_key_id  text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  erased_at        timestamptz
);

-- An erased lead stays as a tombstone without personal data: the funnel still counts it, GET
-- answers 404, and its id is not reused.
ALTER TABLE leads ADD COLUMN erased_at timestamptz;

-- Down Migration
ALTER TABLE leads DROP COLUMN erased_at;
DROP TABLE lead_keys;
