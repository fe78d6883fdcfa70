-- What oe adds to Odoo's neutralization, whichever rules run: Odoo leaves queued mail in
-- place, and it goes out as soon as someone configures a mail server on the copy.
-- @module mail

-- @step mail_mail: cancel queued outgoing mail (states outgoing and exception)
-- @needs mail_mail(state)
UPDATE mail_mail
   SET state = 'cancel'
 WHERE state IN ('outgoing', 'exception');
