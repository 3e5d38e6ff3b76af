//! UserStore and JobStore on diesel-async: SQLite (embedded) and PostgreSQL
