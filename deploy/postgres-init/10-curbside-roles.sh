#!/bin/sh
# Two database roles for Curbside (docs/operator-guide.md, "Deployment"):
#   CURBSIDE_DB_MIGRATOR (default curbside_migrator) owns the schema's tables; only
#     `hub db upgrade` logs in as it (compose service "migrate", the chart's hook Job).
#   CURBSIDE_DB_APP (default curbside_app) is what the hub and its workers log in as: SELECT,
#     INSERT, UPDATE, DELETE on those tables and nothing else. It owns nothing, so it cannot
#     ALTER, DROP or TRUNCATE a table, nor DISABLE or DROP the triggers that keep the audit
#     tables append-only (only an owner or a superuser can), nor create objects.
# The postgres image runs this once, on an empty data directory (/docker-entrypoint-initdb.d).
# On a managed PostgreSQL run it once by hand as an admin role:
#   PGHOST=... PGUSER=admin POSTGRES_DB=curbside CURBSIDE_DB_MIGRATOR_PASSWORD=... \
#   CURBSIDE_DB_APP_PASSWORD=... sh deploy/postgres-init/10-curbside-roles.sh
# Passwords come from the environment (\getenv, psql 15+), never from the command line.
set -eu
: "${POSTGRES_DB:?name the database}"
: "${CURBSIDE_DB_MIGRATOR_PASSWORD:?set the migration role's password}"
: "${CURBSIDE_DB_APP_PASSWORD:?set the serving role's password}"
export CURBSIDE_DB_MIGRATOR="${CURBSIDE_DB_MIGRATOR:-curbside_migrator}"
export CURBSIDE_DB_APP="${CURBSIDE_DB_APP:-curbside_app}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "$POSTGRES_DB" <<'SQL'
\getenv db POSTGRES_DB
\getenv migrator CURBSIDE_DB_MIGRATOR
\getenv migrator_password CURBSIDE_DB_MIGRATOR_PASSWORD
\getenv app CURBSIDE_DB_APP
\getenv app_password CURBSIDE_DB_APP_PASSWORD

BEGIN;
-- CREATE ROLE's defaults: NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS.
CREATE ROLE :"migrator" LOGIN PASSWORD :'migrator_password';
CREATE ROLE :"app" LOGIN PASSWORD :'app_password';

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"migrator", :"app";

-- PostgreSQL < 15 let every role create objects in "public"; only the migrator may.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"migrator";
GRANT USAGE ON SCHEMA public TO :"app";

-- Whatever the migrator creates from now on is usable, not owned, by the serving role.
-- No TRUNCATE, REFERENCES or TRIGGER: the hub never needs them. Functions (audit_append)
-- are executable by every role by default and run with the caller's rights.
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
COMMIT;
SQL
