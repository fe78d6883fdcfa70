-- A restored copy, beyond what Odoo's Duplicate regenerates (duplicate.sql, run first):
-- click-odoo-contrib's removal of the enterprise subscription code.
DELETE FROM ir_config_parameter WHERE key = 'database.enterprise_code';
