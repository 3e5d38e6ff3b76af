-- Studies (one per owner and StudyInstanceUID), their analysis versions (one per job that
-- carried the study), reviews (history kept) and the append-only audit trail.

CREATE TABLE studies (
    id                TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    study_uid         TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('upload', 'dicom', 'dicomweb')),
    first_received_at TIMESTAMP NOT NULL,
    last_received_at  TIMESTAMP NOT NULL,
    modalities        TEXT NOT NULL, -- JSON array of strings
    body_part         TEXT,
    series_count      BIGINT NOT NULL CHECK (series_count >= 0),
    instance_count    BIGINT NOT NULL CHECK (instance_count >= 0),
    -- The current result: the newest terminal analysis (pending while there is none).
    status            TEXT NOT NULL CHECK (status IN ('pending', 'analysed', 'failed')),
    probability       DOUBLE PRECISION,
    pathology         BOOLEAN,
    finding           TEXT,
    failure_reason    TEXT,
    job_id            TEXT,
    -- The current review (every review is in study_reviews).
    review_label      TEXT CHECK (review_label IN ('normal', 'pathology')),
    review_agrees     BOOLEAN,
    review_note       TEXT,
    reviewer_id       TEXT,
    reviewer_name     TEXT,
    reviewed_at       TIMESTAMP,
    -- Worklist position (triage_domain::priority_key): rank, then probability descending.
    sort_key          TEXT NOT NULL,
    CONSTRAINT studies_owner_uid_unique UNIQUE (owner_id, study_uid)
);

-- The worklist, per owner and for administrators: keyset pages in (sort_key, id) order.
CREATE INDEX studies_owner_sort_idx ON studies (owner_id, sort_key, id);
CREATE INDEX studies_sort_idx ON studies (sort_key, id);

-- Analysis versions. job_id is not a foreign key: the history outlives a deleted job.
CREATE TABLE study_analyses (
    study_id       TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    job_id         TEXT NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    threshold      DOUBLE PRECISION NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'analysed', 'failed')),
    probability    DOUBLE PRECISION,
    pathology      BOOLEAN,
    finding        TEXT,
    failure_reason TEXT,
    series         TEXT NOT NULL, -- JSON array of report rows
    completed_at   TIMESTAMP,
    PRIMARY KEY (study_id, job_id)
);

CREATE INDEX study_analyses_job_idx ON study_analyses (job_id);

CREATE TABLE study_reviews (
    id             TEXT PRIMARY KEY,
    study_id       TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
    label          TEXT NOT NULL CHECK (label IN ('normal', 'pathology')),
    agrees_with_ai BOOLEAN,
    note           TEXT,
    reviewer_id    TEXT NOT NULL,
    reviewer_name  TEXT NOT NULL,
    reviewed_at    TIMESTAMP NOT NULL
);

CREATE INDEX study_reviews_study_idx ON study_reviews (study_id, reviewed_at);

-- Append-only. user_id is not a foreign key: a deleted user's entries stay.
CREATE TABLE audit_entries (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    action      TEXT NOT NULL,
    study_uid   TEXT,
    job_id      TEXT,
    at          TIMESTAMP NOT NULL,
    client_addr TEXT,
    request_id  TEXT
);

CREATE INDEX audit_entries_at_idx ON audit_entries (at, id);
CREATE INDEX audit_entries_user_idx ON audit_entries (user_id, at, id);
CREATE INDEX audit_entries_study_idx ON audit_entries (study_uid, at);
CREATE INDEX audit_entries_job_idx ON audit_entries (job_id, at);

-- Deduplication looks up an owner's uploads by content.
CREATE INDEX jobs_owner_sha256_idx ON jobs (owner_id, sha256);
