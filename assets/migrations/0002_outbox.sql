-- ConsentDesk schema, version 2: the mail outbox.

-- Every mail the store sends goes through this table. A row is written in
-- the same transaction as the event that causes it (an order, an order
-- marked ready, an e-mail consent waiting for confirmation), so that an
-- acknowledged order never loses its mail, and a rolled-back one never
-- sends one. The Message-ID is fixed here, so that a retry is recognisably
-- the same mail.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('thank_you', 'pickup', 'double_opt_in')),
    customer_id     INTEGER NOT NULL REFERENCES customers(id),
    order_id        INTEGER REFERENCES orders(id),
    message_id      TEXT NOT NULL UNIQUE,
    -- 1 when the mail carries advertising; checked again at send time
    -- (§7 UWG, GDPR Art. 21(3)).
    marketing       INTEGER NOT NULL DEFAULT 0 CHECK (marketing IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'held', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',  -- the SMTP server's answer; never personal data of ours
    subject         TEXT NOT NULL DEFAULT '',
    raw             BLOB,                      -- the message as sent or held (RFC 5322)
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    sent_at         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox(customer_id);

ALTER TABLE orders ADD COLUMN ready_at TEXT NOT NULL DEFAULT '';
