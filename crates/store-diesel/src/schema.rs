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

diesel::table! {
    studies (id) {
        id -> Text,
        owner_id -> Text,
        study_uid -> Text,
        source -> Text,
        first_received_at -> Timestamp,
        last_received_at -> Timestamp,
        modalities -> Text,
        body_part -> Nullable<Text>,
        series_count -> BigInt,
        instance_count -> BigInt,
        status -> Text,
        probability -> Nullable<Double>,
        pathology -> Nullable<Bool>,
        finding -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        job_id -> Nullable<Text>,
        review_label -> Nullable<Text>,
        review_agrees -> Nullable<Bool>,
        review_note -> Nullable<Text>,
        reviewer_id -> Nullable<Text>,
        reviewer_name -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        sort_key -> Text,
    }
}

diesel::table! {
    study_analyses (study_id, job_id) {
        study_id -> Text,
        job_id -> Text,
        received_at -> Timestamp,
        threshold -> Double,
        status -> Text,
        probability -> Nullable<Double>,
        pathology -> Nullable<Bool>,
        finding -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        series -> Text,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    study_reviews (id) {
        id -> Text,
        study_id -> Text,
        label -> Text,
        agrees_with_ai -> Nullable<Bool>,
        note -> Nullable<Text>,
        reviewer_id -> Text,
        reviewer_name -> Text,
        reviewed_at -> Timestamp,
    }
}

diesel::table! {
    audit_entries (id) {
        id -> Text,
        user_id -> Text,
        username -> Text,
        action -> Text,
        study_uid -> Nullable<Text>,
        job_id -> Nullable<Text>,
        at -> Timestamp,
        client_addr -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(studies -> users (owner_id));
diesel::joinable!(study_analyses -> studies (study_id));
diesel::joinable!(study_reviews -> studies (study_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    jobs,
    job_inventories,
    job_queue,
    studies,
    study_analyses,
    study_reviews,
    audit_entries,
    evaluations
);
