-- Odoo's delivery module: addons/delivery/data/neutralize.sql (16.0 and later).
-- @module delivery

-- @step delivery_carrier: use the carriers' test environment
-- @needs delivery_carrier(prod_environment)
UPDATE delivery_carrier
   SET prod_environment = false
 WHERE prod_environment IS DISTINCT FROM false;

-- @step delivery_carrier: archive the carriers of external providers (all but fixed price and rules)
-- @needs delivery_carrier(active, delivery_type)
UPDATE delivery_carrier
   SET active = false
 WHERE active IS DISTINCT FROM false
   AND delivery_type NOT IN ('fixed', 'base_on_rule');
