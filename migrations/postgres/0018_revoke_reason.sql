-- (kept in step with ../sqlite/0018_revoke_reason.sql)
-- Why an app password was revoked, in words for its owner ("your password was changed with a
-- recovery code"): a mail app that stopped syncing says why on the account page.
ALTER TABLE app_passwords ADD COLUMN revoke_reason TEXT;
