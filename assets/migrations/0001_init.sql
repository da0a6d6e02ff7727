-- ConsentDesk schema, version 1.
-- Times are RFC 3339 text in UTC; money is integer cents.

CREATE TABLE store_settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    data       TEXT NOT NULL,          -- JSON of consent.Controller
    logo       BLOB,
    logo_mime  TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);

CREATE TABLE staff (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('counter', 'manager')),
    pin_hash        TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT NOT NULL DEFAULT '',
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,       -- SHA-256 of the cookie value; the value itself is never stored
    staff_id   INTEGER NOT NULL REFERENCES staff(id),
    lang       TEXT NOT NULL DEFAULT 'de',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the token
    created_at TEXT NOT NULL
);

-- Privacy notice versions. A published text never changes (GDPR Art. 7(1):
-- the controller must show which text a consent was given to).
CREATE TABLE notice_versions (
    id           TEXT PRIMARY KEY,     -- "de-3"
    lang         TEXT NOT NULL CHECK (lang IN ('de', 'en')),
    seq          INTEGER NOT NULL,
    template     TEXT NOT NULL,
    text         TEXT NOT NULL,        -- the template with the store's details filled in
    sha256       TEXT NOT NULL,        -- of text
    published_at TEXT NOT NULL,
    published_by INTEGER REFERENCES staff(id),
    UNIQUE (lang, seq)
);
CREATE TRIGGER notice_versions_no_update BEFORE UPDATE ON notice_versions
BEGIN SELECT RAISE(ABORT, 'notice versions are immutable'); END;
CREATE TRIGGER notice_versions_no_delete BEFORE DELETE ON notice_versions
BEGIN SELECT RAISE(ABORT, 'notice versions are immutable'); END;

CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    salutation  TEXT NOT NULL DEFAULT '',
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL,
    street      TEXT NOT NULL DEFAULT '',
    postal_code TEXT NOT NULL DEFAULT '',
    city        TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    mobile      TEXT NOT NULL DEFAULT '',  -- E.164
    phone       TEXT NOT NULL DEFAULT '',  -- E.164
    lang        TEXT NOT NULL DEFAULT 'de',
    search      TEXT NOT NULL DEFAULT '',  -- lower-cased name, e-mail and digits, for the counter's search
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX customers_search ON customers(search);

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,  -- "2026-000042"
    customer_id       INTEGER NOT NULL REFERENCES customers(id),
    staff_id          INTEGER REFERENCES staff(id),
    consent_mode      TEXT NOT NULL CHECK (consent_mode IN ('tablet', 'paper')),
    total_cents       INTEGER NOT NULL,
    deposit_cents     INTEGER NOT NULL,
    pickup_start      TEXT NOT NULL DEFAULT '',
    pickup_end        TEXT NOT NULL DEFAULT '',
    notice_version_id TEXT NOT NULL REFERENCES notice_versions(id),
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'ready', 'collected', 'cancelled')),
    created_at        TEXT NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id);

CREATE TABLE order_items (
    id               INTEGER PRIMARY KEY,
    order_id         INTEGER NOT NULL REFERENCES orders(id),
    position         INTEGER NOT NULL,
    description      TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    vat_rate_percent INTEGER NOT NULL CHECK (vat_rate_percent IN (7, 19)),
    UNIQUE (order_id, position)
);

-- Spectacle prescriptions are health data (GDPR Art. 9): only ciphertext
-- (AES-256-GCM) is stored here; the key lives in a file beside the database.
CREATE TABLE prescriptions (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    legal_basis TEXT NOT NULL,
    nonce       BLOB NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

-- Signatures (flat PNG) and scans of signed paper forms.
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    order_id    INTEGER REFERENCES orders(id),
    kind        TEXT NOT NULL CHECK (kind IN ('signature', 'scan')),
    mime        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    data        BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX documents_order ON documents(order_id, kind);

-- The consent ledger (GDPR Art. 7(1)): append-only and hash-chained. The
-- hashed columns hold no personal data beyond the customer's number, so an
-- erasure (Art. 17) can remove the personal details from
-- consent_event_details without breaking the chain.
CREATE TABLE consent_events (
    seq               INTEGER PRIMARY KEY,
    customer_id       INTEGER NOT NULL,
    channel           TEXT NOT NULL,
    action            TEXT NOT NULL,
    opt_in_level      TEXT NOT NULL DEFAULT '',
    legal_basis       TEXT NOT NULL,
    source            TEXT NOT NULL,
    actor             TEXT NOT NULL,
    notice_version_id TEXT NOT NULL DEFAULT '',
    notice_sha256     TEXT NOT NULL DEFAULT '',
    order_id          INTEGER,
    staff_id          INTEGER,
    evidence_sha256   TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL UNIQUE
);
CREATE INDEX consent_events_customer ON consent_events(customer_id, seq);
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

-- Personal details of an event, outside the hash: the address or number the
-- consent covered, and a free-text note.
CREATE TABLE consent_event_details (
    event_seq INTEGER PRIMARY KEY REFERENCES consent_events(seq),
    contact   TEXT NOT NULL DEFAULT '',
    note      TEXT NOT NULL DEFAULT ''
);
