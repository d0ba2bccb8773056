-- Up Migration

-- The version of the qualification rules (fit and conditional scoring) a lead runs under, kept
-- by its workflow with the rest of the read model: the migration route signals the leads whose
-- rules are older than the program's. Null: a program without rules.
ALTER TABLE leads ADD COLUMN rules_version integer;

-- Down Migration
ALTER TABLE leads DROP COLUMN rules_version;
