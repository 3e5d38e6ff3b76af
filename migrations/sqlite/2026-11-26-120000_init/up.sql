-- The schema shared with PostgreSQL: one `table!` in crates/store-diesel/src/schema.rs serves
-- both. STRICT tables make SQLite refuse values of the wrong type instead of storing them
-- anyway; STRICT only knows INTEGER/REAL/TEXT/BLOB, so timestamps are TEXT in diesel's
-- `YYYY-MM-DD HH:MM:SS.ffffff` UTC form (which sorts and compares correctly as text), sizes and
-- versions are 64-bit INTEGERs, JSON is TEXT. Foreign keys are enforced because every pooled
-- connection runs `PRAGMA foreign_keys = ON`.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    -- The username lower-cased by the application: SQLite's lower() only folds ASCII, and the
    -- PostgreSQL schema must behave the same. Unique, so names differing only in case collide.
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT,
    full_name     TEXT,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

-- UserStore::list pages oldest first.
CREATE INDEX users_created_idx ON users (created_at, id);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY NOT NULL,
    owner_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    description       TEXT,
    status            TEXT NOT NULL
                      CHECK (status IN ('queued', 'processing', 'succeeded', 'failed', 'cancelled')),
    status_reason     TEXT,
    file_name         TEXT NOT NULL,
    file_size         INTEGER NOT NULL CHECK (file_size >= 0),
    file_type         TEXT NOT NULL CHECK (file_type IN ('zip', 'dicom', 'other')),
    content_type      TEXT NOT NULL,
    sha256            TEXT NOT NULL,
    upload_key        TEXT NOT NULL,
    report_key        TEXT,
    results           TEXT, -- ReportPayload as JSON
    results_parsed_at TEXT,
    profile           TEXT NOT NULL,
    threshold         REAL NOT NULL,
    attempts          INTEGER NOT NULL CHECK (attempts >= 0),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    completed_at      TEXT,
    -- Optimistic concurrency: every write is `WHERE version = <read version>` and bumps it.
    version           INTEGER NOT NULL
) STRICT;

-- A user's jobs, newest first; also serves the foreign key's ON DELETE CASCADE.
CREATE INDEX jobs_owner_created_idx ON jobs (owner_id, created_at DESC, id DESC);
-- Everyone's jobs, newest first (administrators).
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_status_idx ON jobs (status);

-- Kept apart from `jobs` because an inventory can list 20,000 entries and only the inventory
-- endpoints read it.
CREATE TABLE job_inventories (
    job_id TEXT PRIMARY KEY NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    body   TEXT NOT NULL -- ArchiveInventory as JSON
) STRICT;

-- The dispatch queue: one entry per job until the job is terminal. Workers lease entries
-- (lease_owner, lease_expires_at); an expired lease is claimable again.
CREATE TABLE job_queue (
    job_id           TEXT PRIMARY KEY NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    enqueued_at      TEXT NOT NULL,
    available_at     TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;

-- claim() scans by availability, oldest first.
CREATE INDEX job_queue_available_idx ON job_queue (available_at);
