-- ConsentDesk schema, version 4: the legal core.

-- The blocking list (§35(3) BDSG, Art. 17(3), Art. 21(3) GDPR; OLG
-- Frankfurt 6 U 54/19): an objection or an erasure leaves one entry per
-- channel, so that a later re-import or a new record of the same person
-- cannot be contacted again. It holds no readable personal data: only a
-- keyed hash (HMAC-SHA256, key in the key file beside the database) of the
-- normalised e-mail address, phone number, or name with postal address.
-- It outlives the erasure on purpose. A fresh explicit consent of the
-- customer lifts an entry (lifted_at), which the ledger records as an
-- "unblock" event.
CREATE TABLE block_list (
    channel    TEXT NOT NULL CHECK (channel IN ('post', 'email', 'sms', 'phone')),
    key_hash   TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('objection', 'erasure')),
    created_at TEXT NOT NULL,
    lifted_at  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (channel, key_hash)
);

-- Restricted processing (§35(3) BDSG, Art. 18): an erased customer's
-- order records kept for §147 AO / §257 HGB are locked until this day
-- (YYYY-MM-DD, the last day kept). A locked order cannot be marked
-- ready, mailed or exported, and only a manager sees it, logged.
ALTER TABLE orders ADD COLUMN restricted_until TEXT NOT NULL DEFAULT '';

-- What an erasure keeps, restricted, until a date (YYYY-MM-DD): the
-- proof of a phone consent (§7a UWG: five years from the grant and from
-- each use), i.e. the number it covered and the signature or scan; and
-- the copies of sent order mails, which are commercial letters (§257(1)
-- Nr. 3 HGB, 6 years). The retention job deletes them after that day.
ALTER TABLE consent_event_details ADD COLUMN retained_until TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN retained_until TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN retained_until TEXT NOT NULL DEFAULT '';

-- The name of the API token that entered an event (actor "api"), hashed
-- into the chain when set (consent.Event.ComputeHash).
ALTER TABLE consent_events ADD COLUMN api_token TEXT NOT NULL DEFAULT '';
