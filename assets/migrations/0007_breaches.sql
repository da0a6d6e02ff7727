-- ConsentDesk schema, version 7: the breach register (GDPR Art. 33(5)).
-- Append-only, like the ledger: a breach is recorded once with its facts;
-- what happens later (the authority told, a customer notified) is an
-- event of its own.
CREATE TABLE breaches (
    id            INTEGER PRIMARY KEY,
    occurred_at   TEXT NOT NULL,          -- when it happened (as far as known)
    noticed_at    TEXT NOT NULL,          -- when the store became aware: the 72 hours run from here (Art. 33(1))
    facts         TEXT NOT NULL,
    categories    TEXT NOT NULL,          -- categories of people and of records concerned
    people        INTEGER NOT NULL CHECK (people >= 0),   -- approximate number of people
    records       INTEGER NOT NULL CHECK (records >= 0),  -- approximate number of records
    health_data   INTEGER NOT NULL CHECK (health_data IN (0, 1)),
    consequences  TEXT NOT NULL,          -- likely consequences (Art. 33(3)(c))
    measures      TEXT NOT NULL,          -- measures taken or proposed (Art. 33(3)(d))
    staff_id      INTEGER REFERENCES staff(id),
    api_token_id  INTEGER REFERENCES api_tokens(id),
    created_at    TEXT NOT NULL
);
CREATE TRIGGER breaches_no_update BEFORE UPDATE ON breaches
BEGIN SELECT RAISE(ABORT, 'the breach register is append-only'); END;
CREATE TRIGGER breaches_no_delete BEFORE DELETE ON breaches
BEGIN SELECT RAISE(ABORT, 'the breach register is append-only'); END;

CREATE TABLE breach_events (
    id          INTEGER PRIMARY KEY,
    breach_id   INTEGER NOT NULL REFERENCES breaches(id),
    kind        TEXT NOT NULL CHECK (kind IN ('authority_notified', 'customer_notified', 'note')),
    at          TEXT NOT NULL,            -- when it happened
    customer_id INTEGER,                  -- for customer_notified: the number only
    detail      TEXT NOT NULL DEFAULT '',
    staff_id    INTEGER REFERENCES staff(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX breach_events_breach ON breach_events(breach_id, id);
CREATE TRIGGER breach_events_no_update BEFORE UPDATE ON breach_events
BEGIN SELECT RAISE(ABORT, 'the breach register is append-only'); END;
CREATE TRIGGER breach_events_no_delete BEFORE DELETE ON breach_events
BEGIN SELECT RAISE(ABORT, 'the breach register is append-only'); END;
