-- A store joins the chain (consentdesk join-chain): its own
-- database moves into the chain's. Its ledger keeps its hashes: the
-- events are kept as they were in joined_events (a chain of their own,
-- checked by verify against the head recorded at the join), and each is
-- recorded again in the store's chain in the chain's ledger with the
-- chain's numbers, naming the hash of its original (joined_from, hashed).
CREATE TABLE joined_sources (
    id            INTEGER PRIMARY KEY,
    source        TEXT NOT NULL UNIQUE,   -- the hash of the source ledger's first event: which database joined
    store_id      INTEGER NOT NULL REFERENCES stores(id),
    from_file     TEXT NOT NULL,          -- the file's name, for people
    head_seq      INTEGER NOT NULL,
    head_hash     TEXT NOT NULL,          -- the source ledger's head, checked before the move
    events        INTEGER NOT NULL,
    customers     INTEGER NOT NULL,
    merged        INTEGER NOT NULL,
    orders        INTEGER NOT NULL,
    joined_at     TEXT NOT NULL
);
-- Which customer of the joined database became which customer of the
-- chain; merged: an existing customer of the chain (same e-mail or
-- mobile) took them in. Links and QR codes printed by the store name its
-- own numbers, and are honoured through this map.
CREATE TABLE joined_customers (
    join_id     INTEGER NOT NULL REFERENCES joined_sources(id),
    source_id   INTEGER NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    merged      INTEGER NOT NULL DEFAULT 0 CHECK (merged IN (0, 1)),
    PRIMARY KEY (join_id, source_id)
);
CREATE INDEX joined_customers_customer ON joined_customers(customer_id);
-- The source ledger's events as they were, hashed columns only (no
-- personal data beyond the source's customer number; the details moved
-- with the events recorded again).
CREATE TABLE joined_events (
    join_id           INTEGER NOT NULL REFERENCES joined_sources(id),
    seq               INTEGER NOT NULL,
    customer_id       INTEGER NOT NULL,
    channel           TEXT NOT NULL,
    action            TEXT NOT NULL,
    opt_in_level      TEXT NOT NULL,
    legal_basis       TEXT NOT NULL,
    source            TEXT NOT NULL,
    actor             TEXT NOT NULL,
    notice_version_id TEXT NOT NULL,
    notice_sha256     TEXT NOT NULL,
    order_id          INTEGER NOT NULL,
    staff_id          INTEGER NOT NULL,
    evidence_sha256   TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL,
    api_token         TEXT NOT NULL,
    representative    TEXT NOT NULL,
    topic             TEXT NOT NULL,
    store_id          INTEGER NOT NULL,
    position          INTEGER NOT NULL,
    joined_from       TEXT NOT NULL,
    PRIMARY KEY (join_id, seq)
);
CREATE TRIGGER joined_events_no_update BEFORE UPDATE ON joined_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER joined_events_no_delete BEFORE DELETE ON joined_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER joined_sources_no_update BEFORE UPDATE ON joined_sources
BEGIN SELECT RAISE(ABORT, 'a join is recorded once'); END;
CREATE TRIGGER joined_sources_no_delete BEFORE DELETE ON joined_sources
BEGIN SELECT RAISE(ABORT, 'a join is recorded once'); END;

-- An event recorded again from a joined store's ledger names the hash of
-- its original (hashed as the field "joined:<hash>", appended only when
-- set, so every other event hashes as it did).
ALTER TABLE consent_events ADD COLUMN joined_from TEXT NOT NULL DEFAULT '';
CREATE INDEX consent_events_joined ON consent_events(joined_from) WHERE joined_from <> '';
