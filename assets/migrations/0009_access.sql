-- ConsentDesk schema, version 9: lockouts per client and per account, and
-- API tokens with a life cycle: a token has a scope, may expire and can be revoked.

-- Wrong PINs are counted per account and client (the client's address,
-- IPv6 by /64). Five wrong PINs lock that client out of that account;
-- the counter tablet, a different client, still signs in. The account as
-- a whole locks only after many more (staff.failed_attempts), and another
-- manager or `consentdesk staff unlock` lifts it.
CREATE TABLE pin_lockouts (
    staff_id        INTEGER NOT NULL REFERENCES staff(id),
    client          TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (staff_id, client)
);

-- Scopes: 'orders' creates and reads orders and reads consents; 'admin'
-- may do everything. Tokens made before scopes existed could do
-- everything, so they become 'admin' (docs/upgrading.md: re-create them as 'orders'
-- where a program only sends orders).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin' CHECK (scope IN ('orders', 'admin'));
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
