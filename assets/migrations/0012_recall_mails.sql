-- ConsentDesk schema, version 12: recall mails. A recall names its topic;
-- its one-click unsubscribe withdraws that topic on e-mail only. SQLite
-- cannot change a CHECK constraint in place, so the outbox is rebuilt
-- with 'recall' among the kinds, every row and column kept.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('thank_you', 'pickup', 'double_opt_in', 'recall')),
    customer_id     INTEGER NOT NULL REFERENCES customers(id),
    order_id        INTEGER REFERENCES orders(id),
    message_id      TEXT NOT NULL UNIQUE,
    marketing       INTEGER NOT NULL DEFAULT 0 CHECK (marketing IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'held', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL DEFAULT '',
    raw             BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    sent_at         TEXT NOT NULL DEFAULT '',
    retained_until  TEXT NOT NULL DEFAULT '',
    topic           TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox_new (id, kind, customer_id, order_id, message_id, marketing, status, attempts, next_attempt_at, last_error, subject, raw,
    created_at, updated_at, sent_at, retained_until)
  SELECT id, kind, customer_id, order_id, message_id, marketing, status, attempts, next_attempt_at, last_error, subject, raw,
    created_at, updated_at, sent_at, retained_until FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox(customer_id);
