-- Odoo's auth_oauth module: addons/auth_oauth/data/neutralize.sql (16.0 and later).
-- @module auth_oauth

-- @step auth_oauth_provider: disable the OAuth providers
-- @needs auth_oauth_provider(enabled)
UPDATE auth_oauth_provider
   SET enabled = false
 WHERE enabled IS DISTINCT FROM false;
