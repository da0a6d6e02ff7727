-- ConsentDesk schema, version 11: consent per channel and topic. Each
-- event names its topic: a key of the store's list, "*" for every topic of
-- its channel (withdraw all, objection, erasure, blocking list, double
-- opt-in confirmation), or "" for events from before topics existed,
-- which count as "offers". The topic is hashed into the chain when set
-- (docs/data-and-backups.md, "The ledger's hash").
ALTER TABLE consent_events ADD COLUMN topic TEXT NOT NULL DEFAULT '';
CREATE INDEX consent_events_customer_topic ON consent_events (customer_id, channel, topic);

-- A prescription's measuring date (the eye test recall counts from it);
-- an item's supply period in days (contact lenses).
ALTER TABLE prescriptions ADD COLUMN measured_on TEXT NOT NULL DEFAULT '';
ALTER TABLE order_items ADD COLUMN supply_days INTEGER NOT NULL DEFAULT 0;
