-- ConsentDesk schema, version 3: the customer's rights and the back office.

-- An erased customer (GDPR Art. 17) keeps a row with the number only, so
-- that the ledger's pseudonymous events still name somebody; every
-- personal field is emptied and erased_at is set.
ALTER TABLE customers ADD COLUMN erased_at TEXT NOT NULL DEFAULT '';

-- Rectification (GDPR Art. 16): every change of a customer's details, who
-- made it and when. The values are personal data and go with an erasure.
CREATE TABLE customer_changes (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    staff_id    INTEGER REFERENCES staff(id),
    field       TEXT NOT NULL,
    old_value   TEXT NOT NULL,
    new_value   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX customer_changes_customer ON customer_changes(customer_id, id);

-- Who looked at or exported whose data (GDPR Art. 5(2), Art. 32; health
-- data access is logged). Holds numbers only, never names or addresses,
-- so it survives an erasure as a pseudonymous trace.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    staff_id     INTEGER REFERENCES staff(id),
    api_token_id INTEGER REFERENCES api_tokens(id),
    action       TEXT NOT NULL,
    customer_id  INTEGER,
    detail       TEXT NOT NULL DEFAULT '',  -- a channel or an order number
    created_at   TEXT NOT NULL
);
CREATE INDEX audit_log_customer ON audit_log(customer_id, id);

-- What an erased customer's order keeps for §147 AO / §257 HGB: the
-- invoice recipient's name and address, only where an invoice must name
-- them (over 250 euros, §14(4) UStG, §33 UStDV).
ALTER TABLE orders ADD COLUMN billing_name TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN billing_address TEXT NOT NULL DEFAULT '';
