-- What Odoo regenerates in a database that is a copy: ir.config_parameter's
-- init(force=True), which both a restore "as a copy" and the database manager's Duplicate
-- (service/db.py exp_duplicate_database) run. UUIDs are built from md5 so PostgreSQL < 13
-- works too.
WITH fresh AS (
    SELECT key, value FROM (VALUES
        ('database.secret', uuid_in(overlay(overlay(md5(random()::text || clock_timestamp()::text) placing '4' from 13) placing '8' from 17)::cstring)::text),
        ('database.uuid', uuid_in(overlay(overlay(md5(random()::text || clock_timestamp()::text) placing '1' from 13) placing '8' from 17)::cstring)::text),
        ('database.create_date', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')),
        ('web.base.url', 'http://localhost:8069'),
        ('base.login_cooldown_after', '10'),
        ('base.login_cooldown_duration', '60')
    ) AS v (key, value)
)
INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)
SELECT key, value, 1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC' FROM fresh
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date;
