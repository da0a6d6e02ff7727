-- An Idempotency-Key answers its first order again only for the same
-- token (by id, in its store) and the same body: the key of another body
-- is refused (422), as Stripe does, instead of answering an order that
-- was not sent. The hash of the request body the key first came with.
-- One file for both engines from here on (orders/store, migrationFiles).
ALTER TABLE api_idempotency ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
