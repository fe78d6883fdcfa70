-- Odoo's mail module: addons/mail/data/neutralize.sql (16.0 and later). Incoming mail
-- servers belong to the fetchmail module up to 15.0; web push lives in mail_enterprise in
-- 16.0 (mail_partner_device, mail_notification_web_push), in mail from 17.0, and its tables
-- are mail_push_device and mail_push from 18.0. Odoo truncates the push tables; deleting
-- instead counts the rows and takes no exclusive lock.
-- @module mail

-- @step mail_template: stop templates from forcing a mail server
-- @needs mail_template(mail_server_id)
UPDATE mail_template
   SET mail_server_id = NULL
 WHERE mail_server_id IS NOT NULL;

-- @step fetchmail_server: deactivate incoming mail servers
-- @module mail fetchmail
-- @needs fetchmail_server(active)
UPDATE fetchmail_server
   SET active = false
 WHERE active IS DISTINCT FROM false;

-- @step ir_config_parameter: delete the web push (VAPID) keys and the SFU server key
-- @needs ir_config_parameter(key)
DELETE FROM ir_config_parameter
 WHERE key IN ('mail.web_push_vapid_private_key',
               'mail.web_push_vapid_public_key',
               'mail.sfu_server_key',
               'mail_enterprise.web_push_vapid_private_key',
               'mail_enterprise.web_push_vapid_public_key');

-- @step mail_push: delete queued web push notifications
-- @needs mail_push(id)
-- @unless mail_notification_web_push(id)
DELETE FROM mail_push;

-- @step mail_push_device: delete the devices registered for web push
-- @needs mail_push_device(id)
-- @unless mail_partner_device(id)
DELETE FROM mail_push_device;

-- @step mail_notification_web_push: delete queued web push notifications
-- @needs mail_notification_web_push(id)
-- @unless mail_push(id)
DELETE FROM mail_notification_web_push;

-- @step mail_partner_device: delete the devices registered for web push
-- @needs mail_partner_device(id)
-- @unless mail_push_device(id)
DELETE FROM mail_partner_device;
