-- Stores: a chain has stores, each with its own address,
-- opening hours and phone for the letterhead; the company (the
-- controller), its data protection officer and the privacy notice are the
-- chain's (store_settings). Empty fields of a store fall back to the
-- company's. Every database has the first store (id 1) from here on; what
-- was recorded before stores belongs to it.
CREATE TABLE stores (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    street        TEXT NOT NULL DEFAULT '',
    postal_code   TEXT NOT NULL DEFAULT '',
    city          TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    opening_hours TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
INSERT INTO stores (id, name, created_at, updated_at)
VALUES (1, COALESCE((SELECT NULLIF(json_extract(data, '$.city'), '') FROM store_settings WHERE id = 1), 'Hauptgeschäft'),
        strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));

-- Staff belong to a store; a manager may be chain-wide (NULL).
ALTER TABLE staff ADD COLUMN store_id INTEGER REFERENCES stores(id);
UPDATE staff SET store_id = 1 WHERE role = 'counter';
-- An API token acts for one store (the ERP of that store).
ALTER TABLE api_tokens ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
-- A signed-in session works in one store: the staff member's, or the one
-- a chain-wide manager chose.
ALTER TABLE sessions ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
-- Where it happened, on every order, mail and access log entry.
ALTER TABLE orders ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
-- And on every consent event, hashed into its chain: each store's events
-- form a chain of their own. NULL for events from before stores, which
-- stay in the first store's chain and hash as they did (docs/data-and-backups.md,
-- "The ledger's hash").
ALTER TABLE consent_events ADD COLUMN store_id INTEGER REFERENCES stores(id);
CREATE INDEX consent_events_store ON consent_events(store_id, seq);
CREATE INDEX orders_store ON orders(store_id, id);
