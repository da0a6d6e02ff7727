-- Jobs that run once per period for the whole database: the hourly
-- housekeeping and the nightly backup. Several server processes on a
-- chain's database each ask; the one whose write transaction comes first
-- records the run and does it (orders.OncePer).
CREATE TABLE chain_jobs (
    name     TEXT PRIMARY KEY,
    last_run TEXT NOT NULL
);
