-- ConsentDesk schema, version 10: each prescription names the version of
-- the secret it was sealed with, so that the secret can be rotated
-- without losing prescriptions (`consentdesk keys rotate`). Everything
-- sealed before is version 1, the key file's first secret.
ALTER TABLE prescriptions ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
