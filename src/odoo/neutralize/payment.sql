-- Odoo's payment module: addons/payment/data/neutralize.sql (16.0 and later). The table is
-- payment_acquirer up to 15.0; 12.0 has an environment (test or prod) instead of a state.
-- The credentials of each provider module are cleared from a table in neutralize.rs.
-- @module payment

-- @step payment_provider: disable every provider that is neither disabled nor in test mode
-- @needs payment_provider(state)
UPDATE payment_provider
   SET state = 'disabled'
 WHERE state NOT IN ('test', 'disabled');

-- @step payment_acquirer: disable every acquirer that is neither disabled nor in test mode
-- @needs payment_acquirer(state)
-- @unless payment_provider(state)
UPDATE payment_acquirer
   SET state = 'disabled'
 WHERE state NOT IN ('test', 'disabled');

-- @step payment_acquirer: put production acquirers in test mode
-- @needs payment_acquirer(environment)
-- @unless payment_acquirer(state)
-- @unless payment_provider(state)
UPDATE payment_acquirer
   SET environment = 'test'
 WHERE environment = 'prod';
