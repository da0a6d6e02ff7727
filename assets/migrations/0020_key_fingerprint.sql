-- The fingerprint of the key file the database was first started with
-- (orders/store, keys.go): a server started with another key file (a
-- chain server with another --files, a copy of the database without its
-- key) is refused before it serves, rather than making a new key that
-- cannot read the prescriptions, check the links or match the blocking
-- list. One row.
CREATE TABLE key_fingerprint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sha256 TEXT NOT NULL,
    key_file TEXT NOT NULL,
    created_at TEXT NOT NULL
);
