-- Odoo's web module: addons/web/data/neutralize.sql (16.0 and later). The banner view
-- exists from 16.0 on; on older versions the statement finds no row.
-- @module web

-- @step ir_ui_view: show the "neutralized database" banner (view web.neutralize_banner)
-- @needs ir_ui_view(key, active)
UPDATE ir_ui_view
   SET active = true
 WHERE key = 'web.neutralize_banner'
   AND active IS DISTINCT FROM true;
