DROP INDEX evaluations_owner_created_idx;
DROP TABLE evaluations;
