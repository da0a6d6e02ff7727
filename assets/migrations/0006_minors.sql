-- ConsentDesk schema, version 6: children and teenagers (Art. 8 GDPR by
-- analogy). A date of birth only where the counter chose to ask for it:
-- asking every adult would collect more than is needed (Art. 5(1)(c)).
ALTER TABLE customers ADD COLUMN under_16 INTEGER NOT NULL DEFAULT 0 CHECK (under_16 IN (0, 1));
ALTER TABLE customers ADD COLUMN birth_date TEXT NOT NULL DEFAULT '';

-- The parent or guardian who decided for a child: the relationship goes
-- into the hashed event (consent_events.representative), the name, which
-- is personal data, beside it, so that an erasure removes it and the
-- chain still verifies.
ALTER TABLE consent_events ADD COLUMN representative TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_event_details ADD COLUMN representative TEXT NOT NULL DEFAULT '';
