-- Franchise groups: a setting (the controller's "franchise")
-- makes each store its own controller. Then its customers, their
-- consents, orders and mails are its own, and no store sees another's;
-- each store has its own company details and privacy notice.
--
-- The store a customer belongs to: where they were first recorded.
-- Customers from before are the store's of their first order.
ALTER TABLE customers ADD COLUMN store_id INTEGER NOT NULL DEFAULT 1;
UPDATE customers SET store_id = (SELECT o.store_id FROM orders o WHERE o.customer_id = customers.id ORDER BY o.id LIMIT 1)
WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = customers.id AND o.store_id <> 1);
CREATE INDEX customers_store ON customers(store_id, id);
-- A store's own company (JSON: name, legal form, seat, register, managing
-- directors, VAT id, data protection officer, authority, website), the
-- controller of its customers where each store is its own.
ALTER TABLE stores ADD COLUMN company TEXT NOT NULL DEFAULT '';
-- A store's own privacy notice versions (NULL: the chain's).
ALTER TABLE notice_versions ADD COLUMN store_id INTEGER REFERENCES stores(id);
