-- Sharding by tenant needs every tenant table keyed by tenant_id first (the
-- README's "Growing past one primary"): with tenant_id as Citus's
-- distribution column, or with tenants spread over several databases,
-- every primary key, unique constraint and foreign key between tenant
-- tables must hold within one tenant. Run by tests/sql/run.sh as a
-- superuser after the migrations; fails on the first table that breaks the
-- rule, naming it.
--
-- The platform tables are the exceptions, listed here with what sharding
-- does with them: tenants (the tenant list: a reference table, or the
-- routing table), principals (looked up by certificate subject before any
-- tenant is known: a reference table, or the routing table's subject ->
-- tenant), schema_migrations (one per database). A new table outside this
-- list must carry tenant_id, be forced under row-level security and keep
-- tenant_id first in all its keys.
--
-- Global lookup keys are the other exception: a web-intake token is
-- resolved before any tenant is known (it names the tenant), so its hash is
-- unique across the platform; sharding keeps those keys in the routing
-- table, as it does principals' subjects.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TEMP TABLE platform_tables (name text PRIMARY KEY);
INSERT INTO platform_tables VALUES ('tenants'), ('principals'), ('schema_migrations');
CREATE TEMP TABLE global_keys (name text PRIMARY KEY);
INSERT INTO global_keys VALUES ('channel_sources_token_hash_key'), ('channel_sources_old_token_hash_key');

CREATE TEMP VIEW tenant_tables AS
SELECT c.oid, c.relname FROM pg_class c
 WHERE c.relnamespace = 'branchline'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.relname NOT IN (SELECT name FROM platform_tables);

-- The first column of a constraint or index, by name.
CREATE FUNCTION pg_temp.first_column(p_rel oid, p_attnum smallint) RETURNS name
LANGUAGE sql STABLE AS $$ SELECT attname FROM pg_attribute WHERE attrelid = p_rel AND attnum = p_attnum $$;

DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(t.relname, ', ') INTO bad FROM tenant_tables t
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = t.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
        OR NOT (SELECT relforcerowsecurity FROM pg_class WHERE oid = t.oid);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tables without tenant_id or forced row-level security: %', bad;
    END IF;

    -- primary keys and unique constraints
    SELECT string_agg(format('%s.%s', t.relname, c.conname), ', ') INTO bad
      FROM tenant_tables t JOIN pg_constraint c ON c.conrelid = t.oid
     WHERE c.contype IN ('p', 'u') AND pg_temp.first_column(t.oid, c.conkey[1]) <> 'tenant_id'
       AND c.conname NOT IN (SELECT name FROM global_keys);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'keys that do not start with tenant_id: %', bad;
    END IF;
    SELECT string_agg(t.relname, ', ') INTO bad FROM tenant_tables t
     WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = t.oid AND c.contype = 'p');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'tenant tables without a primary key: %', bad;
    END IF;

    -- unique indexes that are not constraints (partial ones, say)
    SELECT string_agg(i.indexrelid::regclass::text, ', ') INTO bad
      FROM tenant_tables t JOIN pg_index i ON i.indrelid = t.oid
     WHERE i.indisunique AND pg_temp.first_column(t.oid, i.indkey[0]) IS DISTINCT FROM 'tenant_id'
       AND (SELECT relname FROM pg_class WHERE oid = i.indexrelid) NOT IN (SELECT name FROM global_keys);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unique indexes that do not start with tenant_id: %', bad;
    END IF;

    -- foreign keys between tenant tables hold within one tenant
    SELECT string_agg(format('%s.%s', t.relname, c.conname), ', ') INTO bad
      FROM tenant_tables t JOIN pg_constraint c ON c.conrelid = t.oid
     WHERE c.contype = 'f' AND c.confrelid IN (SELECT oid FROM tenant_tables)
       AND (pg_temp.first_column(t.oid, c.conkey[1]) <> 'tenant_id'
            OR pg_temp.first_column(c.confrelid, c.confkey[1]) <> 'tenant_id');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'foreign keys between tenant tables that do not start with tenant_id: %', bad;
    END IF;
END
$$;
