-- Up Migration

-- The development mailbox keeps every delivery the SMTP sink received, as a real relay's
-- mailbox (Mailpit) would: a resend of the same Message-ID is a second row, shown as a repeat,
-- so a duplicate email can be seen and counted instead of being folded into the first.
ALTER TABLE mailbox DROP CONSTRAINT mailbox_message_id_key;
CREATE INDEX mailbox_message_id_idx ON mailbox (message_id, id);

-- Down Migration
DROP INDEX mailbox_message_id_idx;
DELETE FROM mailbox m WHERE EXISTS (SELECT 1 FROM mailbox e WHERE e.message_id = m.message_id AND e.id < m.id);
ALTER TABLE mailbox ADD CONSTRAINT mailbox_message_id_key UNIQUE (message_id);
