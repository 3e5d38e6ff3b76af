-- Evaluations against ground truth (crates/evaluation): the computed resource as JSON text.
CREATE TABLE evaluations (
    id         TEXT PRIMARY KEY NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
) STRICT;

-- A user's evaluations, newest first; also serves the foreign key's ON DELETE CASCADE.
CREATE INDEX evaluations_owner_created_idx ON evaluations (owner_id, created_at DESC, id);
