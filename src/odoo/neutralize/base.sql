-- Odoo's base module: odoo/addons/base/data/neutralize.sql (16.0 and later), for every
-- version from 12.0 on. Statements only touch rows that still need it, so a second run
-- changes nothing: the dummy mail server is recognised by its name and host.
-- @module base

-- @step ir_mail_server: deactivate every mail server except the dummy one
-- @needs ir_mail_server(active, name, smtp_host)
UPDATE ir_mail_server
   SET active = ((name, smtp_host) IS NOT DISTINCT FROM ('neutralization - disable emails', 'invalid'))
 WHERE active IS DISTINCT FROM ((name, smtp_host) IS NOT DISTINCT FROM ('neutralization - disable emails', 'invalid'));

-- @step ir_mail_server: add an active dummy server (host "invalid", port 1025, no encryption) so the SMTP server of Odoo's configuration file is never used
-- @needs ir_mail_server(name, smtp_port, smtp_host, smtp_encryption, active, smtp_authentication)
INSERT INTO ir_mail_server (name, smtp_port, smtp_host, smtp_encryption, active, smtp_authentication)
SELECT 'neutralization - disable emails', 1025, 'invalid', 'none', true, 'login'
 WHERE NOT EXISTS (SELECT FROM ir_mail_server
                    WHERE name = 'neutralization - disable emails' AND smtp_host = 'invalid');

-- @step ir_mail_server: add an active dummy server (host "invalid", port 1025, no encryption) so the SMTP server of Odoo's configuration file is never used
-- @needs ir_mail_server(name, smtp_port, smtp_host, smtp_encryption, active)
-- @unless ir_mail_server(smtp_authentication)
INSERT INTO ir_mail_server (name, smtp_port, smtp_host, smtp_encryption, active)
SELECT 'neutralization - disable emails', 1025, 'invalid', 'none', true
 WHERE NOT EXISTS (SELECT FROM ir_mail_server
                    WHERE name = 'neutralization - disable emails' AND smtp_host = 'invalid');

-- @step ir_cron: deactivate every scheduled action except base.autovacuum_job
-- @needs ir_cron(active), ir_model_data(module, name, model, res_id)
UPDATE ir_cron
   SET active = false
 WHERE active IS DISTINCT FROM false
   AND id NOT IN (SELECT res_id
                    FROM ir_model_data
                   WHERE module = 'base'
                     AND name = 'autovacuum_job'
                     AND model = 'ir.cron'
                     AND res_id IS NOT NULL);

-- @step ir_config_parameter: set database.is_neutralized to true
-- @needs ir_config_parameter(key, value)
UPDATE ir_config_parameter
   SET value = 'true'
 WHERE key = 'database.is_neutralized'
   AND value IS DISTINCT FROM 'true';

-- @step ir_config_parameter: add database.is_neutralized = true
-- @needs ir_config_parameter(key, value)
INSERT INTO ir_config_parameter (key, value)
SELECT 'database.is_neutralized', 'true'
 WHERE NOT EXISTS (SELECT FROM ir_config_parameter WHERE key = 'database.is_neutralized');

-- @step ir_act_server: point webhook server actions at a dummy URL
-- @needs ir_act_server(state, webhook_url)
UPDATE ir_act_server
   SET webhook_url = 'neutralization - disable webhook'
 WHERE state = 'webhook'
   AND webhook_url IS DISTINCT FROM 'neutralization - disable webhook';
