#!/bin/sh
# Creates Temporal's two databases on first start and brings their schemas up to the server
# version of the admin-tools image. Safe to rerun: an existing database is kept, and the schema
# steps only apply what is missing. The password comes from SQL_PASSWORD. `npm run cluster` runs
# this same script with the schema folder of the Go module it built (TEMPORAL_SCHEMA_DIR).
set -eu
schema_dir="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  schema=$([ "$db" = temporal ] && echo temporal || echo visibility)
  echo "temporal schema: $db"
  # Fails when the database exists; a real connection problem fails the next step.
  sql --db "$db" create-database || echo "temporal schema: database $db exists"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$schema_dir/postgresql/v12/$schema/versioned"
done
echo "temporal schema: ready"
