-- Odoo's website module: addons/website/data/neutralize.sql (16.0 and later).
-- @module website

-- @step website: clear the websites' domains
-- @needs website(domain)
UPDATE website
   SET domain = NULL
 WHERE domain IS NOT NULL;

-- @step ir_ui_view: show the "neutralized website" ribbon (view website.neutralize_ribbon)
-- @needs ir_ui_view(key, active)
UPDATE ir_ui_view
   SET active = true
 WHERE key = 'website.neutralize_ribbon'
   AND active IS DISTINCT FROM true;

-- @step website: turn the CDN off
-- @needs website(cdn_activated)
UPDATE website
   SET cdn_activated = false
 WHERE cdn_activated IS DISTINCT FROM false;

-- @step website: forbid all crawling in robots.txt
-- @needs website(robots_txt)
UPDATE website
   SET robots_txt = E'User-agent: *\nDisallow: /'
 WHERE robots_txt IS DISTINCT FROM E'User-agent: *\nDisallow: /';
