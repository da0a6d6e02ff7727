-- Franchise groups: a setting (the controller's "franchise")
-- makes each store its own controller. Then its customers, their
-- consents, orders and mails are its own, and no store sees another's;
-- each store has its own company details and privacy notice.
--
-- The store a customer belongs to: where they were first recorded.
-- Customers from before are the store's of their first order.
ALTER TABLE customers ADD COLUMN store_id BIGINT NOT NULL DEFAULT 1 REFERENCES stores(id);
UPDATE customers c SET store_id = f.store_id
FROM (SELECT DISTINCT ON (customer_id) customer_id, store_id FROM orders ORDER BY customer_id, id) AS f
WHERE f.customer_id = c.id AND f.store_id <> 1;
CREATE INDEX customers_store ON customers(store_id, id);
-- A store's own company (JSON: name, legal form, seat, register, managing
-- directors, VAT id, data protection officer, authority, website), the
-- controller of its customers where each store is its own.
ALTER TABLE stores ADD COLUMN company TEXT NOT NULL DEFAULT '';
-- A store's own privacy notice versions (NULL: the chain's).
ALTER TABLE notice_versions ADD COLUMN store_id BIGINT REFERENCES stores(id);
