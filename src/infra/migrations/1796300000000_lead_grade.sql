-- Up Migration

-- The fit grade (A–D from the program's fit rules; null without rules), kept by the lead's
-- workflow like the rest of the read model, so segments and the review queue can filter on it.
ALTER TABLE leads ADD COLUMN grade text;

-- Down Migration
ALTER TABLE leads DROP COLUMN grade;
