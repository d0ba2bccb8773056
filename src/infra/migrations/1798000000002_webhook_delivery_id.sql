-- Up Migration

-- Inbound signed webhooks follow Standard Webhooks: a delivery is recognised by its webhook-id
-- (part of what is signed), no longer by its signature. Rows of the old scheme expire as before.
ALTER TABLE webhook_deliveries RENAME COLUMN signature TO delivery_id;

-- Down Migration
ALTER TABLE webhook_deliveries RENAME COLUMN delivery_id TO signature;
