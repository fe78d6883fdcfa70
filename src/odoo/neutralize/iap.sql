-- Odoo's iap module: addons/iap/data/neutralize.sql (16.0 and later). A token that already
-- ends in "+disabled" is left alone, so the suffix is added once.
-- @module iap

-- @step iap_account: disable the IAP account tokens (suffix "+disabled")
-- @needs iap_account(account_token)
UPDATE iap_account
   SET account_token = regexp_replace(account_token, E'(\\+.*)?$', '+disabled')
 WHERE account_token IS DISTINCT FROM regexp_replace(account_token, E'(\\+.*)?$', '+disabled');
