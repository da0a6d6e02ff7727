-- ConsentDesk schema, version 8: Idempotency-Key on POST /api/v1/orders.
-- The same key from the same API token within 24 hours answers the first
-- order again and creates nothing (a retry after a lost answer, a double
-- send). The key is stored as a hash with the token's name.
CREATE TABLE api_idempotency (
    key_hash   TEXT PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    created_at TEXT NOT NULL
);
