-- Each store's chain numbers its events 1, 2, 3, … (stores
-- append at the same time). seq stays the ledger-wide number of an event;
-- position is its place in its store's chain, where verify finds a
-- missing event even where seq may leave gaps (a chain's PostgreSQL
-- database numbers seq by a sequence, which a rolled-back transaction
-- skips). Events from before stores keep position NULL: their place is
-- their seq. position is not hashed; the chain's links cover its order.
ALTER TABLE consent_events ADD COLUMN position INTEGER;
DROP TRIGGER consent_events_no_update;
-- Only the chains that have events with a store (none in a database from
-- before stores, where this reads nothing of a large ledger).
UPDATE consent_events SET position = r.p
FROM (SELECT seq, row_number() OVER (PARTITION BY COALESCE(store_id, 1) ORDER BY seq) AS p FROM consent_events
      WHERE COALESCE(store_id, 1) IN (SELECT DISTINCT store_id FROM consent_events WHERE store_id IS NOT NULL)) AS r
WHERE r.seq = consent_events.seq AND consent_events.store_id IS NOT NULL;
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE UNIQUE INDEX consent_events_position ON consent_events (COALESCE(store_id, 1), position) WHERE position IS NOT NULL;
