-- Each store's chain numbers its events 1, 2, 3, … (stores
-- append at the same time). seq stays the ledger-wide number of an event,
-- now taken from a sequence, which a rolled-back transaction skips;
-- position is its place in its store's chain, where verify finds a
-- missing event. Events from before stores keep position NULL: their
-- place is their seq. position is not hashed; the chain's links cover its
-- order.
ALTER TABLE consent_events ADD COLUMN position BIGINT;
ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only;
-- Only the chains that have events with a store (none in a database from
-- before stores, where this reads nothing of a large ledger).
UPDATE consent_events e SET position = r.p
FROM (SELECT seq, row_number() OVER (PARTITION BY COALESCE(store_id, 1) ORDER BY seq) AS p FROM consent_events
      WHERE COALESCE(store_id, 1) IN (SELECT DISTINCT store_id FROM consent_events WHERE store_id IS NOT NULL)) AS r
WHERE r.seq = e.seq AND e.store_id IS NOT NULL;
ALTER TABLE consent_events ENABLE TRIGGER consent_events_append_only;
CREATE UNIQUE INDEX consent_events_position ON consent_events ((COALESCE(store_id, 1)), position) WHERE position IS NOT NULL;
CREATE SEQUENCE consent_events_seq;
SELECT setval('consent_events_seq', COALESCE((SELECT MAX(seq) FROM consent_events), 0) + 1, false);
