DROP INDEX jobs_owner_sha256_idx;
DROP TABLE audit_entries;
DROP TABLE study_reviews;
DROP TABLE study_analyses;
DROP TABLE studies;
