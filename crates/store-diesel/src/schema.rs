//! The one schema both backends share (migrations/{sqlite,postgres}/ create it). Only portable
//! SQL types: `Text` for UUIDs and JSON, `Timestamp` for UTC instants, `BigInt` for sizes.
//! Column order matters: rows are read by position (`Queryable`).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        username_key -> Text,
        email -> Nullable<Text>,
        full_name -> Nullable<Text>,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        owner_id -> Text,
        title -> Text,
        description -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        file_name -> Text,
        file_size -> BigInt,
        file_type -> Text,
        content_type -> Text,
        sha256 -> Text,
        upload_key -> Text,
        report_key -> Nullable<Text>,
        results -> Nullable<Text>,
        results_parsed_at -> Nullable<Timestamp>,
        profile -> Text,
        threshold -> Double,
        attempts -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        version -> BigInt,
    }
}

diesel::table! {
    job_inventories (job_id) {
        job_id -> Text,
        body -> Text,
    }
}

diesel::table! {
    job_queue (job_id) {
        job_id -> Text,
        enqueued_at -> Timestamp,
        available_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    evaluations (id) {
        id -> Text,
        owner_id -> Text,
        name -> Text,
        created_at -> Timestamp,
        body -> Text,
    }
}

diesel::joinable!(jobs -> users (owner_id));
diesel::joinable!(evaluations -> users (owner_id));
diesel::joinable!(job_inventories -> jobs (job_id));
diesel::joinable!(job_queue -> jobs (job_id));
diesel::allow_tables_to_appear_in_same_query!(users, jobs, job_inventories, job_queue, evaluations);
