DROP TABLE job_queue;
DROP TABLE job_inventories;
DROP TABLE jobs;
DROP TABLE users;
