//! The [`UserStore`] contract, plus what both store suites share: the [`Stores`] fixture and
//! the [`store_contract!`](crate::store_contract) macro that runs the user and job suites.
//!
//! ```ignore
//! async fn sqlite() -> Option<Stores> { /* None skips the backend */ }
//! triage_testkit::store_contract!(sqlite());
//! ```
//!
//! Every case expects an empty database of its own.

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use triage_domain::ports::{AuditStore, EvaluationStore, JobStore, StudyStore, UserStore};
use triage_domain::{ConflictKind, DomainError, NewUser, Role, User, UserChanges, UserId};

use super::jobs::new_job;

/// A `UserStore`, a `JobStore` and an `EvaluationStore` on the same database (jobs and
/// evaluations need owners), and whatever must outlive them (a temp dir, a test database).
/// Fields drop in order: stores first.
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub jobs: Arc<dyn JobStore>,
    pub evaluations: Arc<dyn EvaluationStore>,
    pub studies: Arc<dyn StudyStore>,
    pub audit: Arc<dyn AuditStore>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl Stores {
    pub fn new<S>(store: S, keep: impl Any + Send + Sync) -> Self
    where
        S: UserStore + JobStore + StudyStore + AuditStore + EvaluationStore + Clone,
    {
        Self {
            users: Arc::new(store.clone()),
            evaluations: Arc::new(store.clone()),
            studies: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            jobs: Arc::new(store),
            _keep: Box::new(keep),
        }
    }
}

impl Stores {
    /// The store ports of a running application (HTTP tests seed studies through them).
    pub fn from_ports(ports: &triage_app::Ports) -> Self {
        Self {
            users: ports.users.clone(),
            jobs: ports.jobs.clone(),
            studies: ports.studies.clone(),
            audit: ports.audit.clone(),
            evaluations: ports.evaluations.clone(),
            _keep: Box::new(()),
        }
    }
}

/// Stamps one `#[tokio::test]` per case of the user and job suites. `$factory` is an async
/// expression evaluated once per test, returning `Option<Stores>` on a fresh database; `None`
/// skips the backend (the factory prints the `skipping:` line, or panics under `CI=true`).
/// The calling crate needs `tokio` for `#[tokio::test]`.
#[macro_export]
macro_rules! store_contract {
    ($factory:expr) => {
        $crate::store_contract!(@cases $factory; users;
            user_round_trips_every_field, user_optional_fields_round_trip_empty, user_get_missing_is_none,
            user_find_by_username_ignores_case, user_create_refuses_a_taken_name_in_any_case,
            user_list_is_oldest_first_with_skip_and_limit, user_update_applies_changes_and_touches_updated_at,
            user_update_of_missing_user_is_not_found, user_rename_onto_a_taken_name_conflicts,
            user_demoting_the_last_admin_is_refused, user_delete_removes_the_user,
            user_delete_of_the_last_admin_is_refused, user_delete_cascades_to_jobs_and_queue,
            user_concurrent_admin_removals_keep_one_admin,
        );
        $crate::store_contract!(@cases $factory; jobs;
            job_round_trips_every_field, job_create_queues_the_job, job_without_inventory_has_none,
            job_create_for_unknown_owner_is_not_found, job_create_with_taken_id_conflicts,
            job_sizes_beyond_i64_are_refused_or_kept_exactly, job_update_writes_every_mutable_field,
            job_update_with_stale_version_conflicts, job_update_of_missing_job_is_not_found,
            job_concurrent_updates_of_one_version_let_one_win, job_terminal_update_removes_queue_entry,
            job_requeue_update_recreates_the_entry_and_keeps_a_lease,
            job_delete_returns_the_row_and_cascades, job_list_is_newest_first_with_filters_and_paging,
            job_ids_of_owner_lists_only_theirs, job_count_by_status, ping_answers,
        );
        $crate::store_contract!(@cases $factory; studies;
            study_is_created_once_per_owner_and_uid, study_fan_out_writes_the_current_result,
            study_failed_job_fails_its_studies, study_newest_terminal_analysis_is_current,
            study_concurrent_completions_leave_the_newest_current, study_retry_makes_it_pending_again,
            study_worklist_is_in_priority_order_with_cursors, study_worklist_filters,
            study_review_replaces_keeps_history_and_sinks, study_review_of_unknown_study_is_not_found,
            study_reusable_job_matches_content_profile_and_threshold,
            audit_lists_newest_first_with_filters_and_pages, audit_entries_outlive_their_user,
        );
        // The queue cases live in `jobs::queue` and are re-exported by `jobs`.
        $crate::store_contract!(@cases $factory; jobs;
            queue_claim_leases_oldest_first_up_to_limit,
            queue_claim_takes_only_jobs_in_the_asked_status, queue_claim_skips_entries_not_yet_available,
            queue_unexpired_lease_is_not_reclaimed_expired_is, queue_release_needs_the_lease,
            queue_reschedule_needs_the_lease, queue_release_all_drops_only_that_workers_leases,
            queue_enqueue_moves_the_entry_and_drops_the_lease, queue_enqueue_recreates_a_removed_entry,
            queue_enqueue_of_unknown_job_is_not_found, queue_depth_counts_queued_jobs_only,
            queue_concurrent_claims_never_share_an_entry,
        );
        $crate::store_contract!(@cases $factory; evaluations;
            evaluation_round_trips_every_field, evaluation_get_missing_is_none,
            evaluation_for_unknown_owner_is_not_found, evaluation_with_taken_id_conflicts,
            evaluation_list_is_the_owners_newest_first_with_paging,
            evaluation_delete_removes_it_and_a_second_delete_is_not_found,
            evaluation_deleting_the_owner_deletes_their_evaluations,
        );
    };
    (@cases $factory:expr; $suite:ident; $($case:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            let Some(stores) = $factory.await else { return };
            $crate::contract::$suite::$case(&stores).await;
        }
    )+};
}

/// A fixed instant with microseconds, `secs` seconds after 2030-01-02 03:04:05.123456 UTC.
pub fn at(secs: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap() + Duration::microseconds(123_456);
    base + Duration::seconds(secs)
}

pub fn new_user(username: &str, role: Role, created_at: DateTime<Utc>) -> NewUser {
    NewUser {
        id: UserId::random(),
        username: username.to_owned(),
        email: Some(format!("{}@example.org", username.to_lowercase())),
        full_name: Some("Анна Кузнецова".to_owned()),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        created_at,
    }
}

/// Creates a user (created at `at(0)`).
pub async fn user(stores: &Stores, username: &str, role: Role) -> User {
    stores
        .users
        .create(new_user(username, role, at(0)))
        .await
        .unwrap()
}

fn conflict(kind: ConflictKind) -> DomainError {
    DomainError::Conflict(kind)
}

pub async fn user_round_trips_every_field(stores: &Stores) {
    let new = new_user("Врач_01", Role::Admin, at(1));
    let created = stores.users.create(new.clone()).await.unwrap();
    let expected = User {
        id: new.id,
        username: new.username,
        email: new.email,
        full_name: new.full_name,
        role: Role::Admin,
        password_hash: new.password_hash,
        created_at: at(1),
        updated_at: at(1),
    };
    assert_eq!(created, expected);
    assert_eq!(
        stores.users.get(expected.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        stores.users.find_by_username("Врач_01").await.unwrap(),
        Some(expected)
    );
}

pub async fn user_optional_fields_round_trip_empty(stores: &Stores) {
    let new = NewUser {
        email: None,
        full_name: None,
        ..new_user("plain", Role::User, at(0))
    };
    stores.users.create(new.clone()).await.unwrap();
    let stored = stores.users.get(new.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.email, stored.full_name, stored.role),
        (None, None, Role::User)
    );
}

pub async fn user_get_missing_is_none(stores: &Stores) {
    assert_eq!(stores.users.get(UserId::random()).await.unwrap(), None);
    assert_eq!(stores.users.find_by_username("nobody").await.unwrap(), None);
}

pub async fn user_find_by_username_ignores_case(stores: &Stores) {
    let alice = user(stores, "Alice.Smith", Role::User).await;
    let doctor = user(stores, "Врач_Иванов", Role::User).await;
    for name in ["alice.smith", "ALICE.SMITH", "Alice.Smith"] {
        assert_eq!(
            stores
                .users
                .find_by_username(name)
                .await
                .unwrap()
                .map(|u| u.id),
            Some(alice.id),
            "{name}"
        );
    }
    let found = stores
        .users
        .find_by_username("врач_иванов")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.username.as_str()),
        (doctor.id, "Врач_Иванов"),
        "the stored spelling is kept"
    );
    assert_eq!(
        stores.users.find_by_username("alice.smit").await.unwrap(),
        None
    );
}

pub async fn user_create_refuses_a_taken_name_in_any_case(stores: &Stores) {
    let bob = user(stores, "bob", Role::User).await;
    // Compatibility forms (fullwidth letters) are the same name too.
    for name in ["bob", "BOB", "Bob", "ｂｏｂ", "ＢＯＢ"] {
        let err = stores
            .users
            .create(new_user(name, Role::User, at(5)))
            .await
            .unwrap_err();
        assert_eq!(err, conflict(ConflictKind::UsernameTaken), "{name}");
    }
    let doctor = user(stores, "Врач", Role::User).await;
    let err = stores
        .users
        .create(new_user("ВРАЧ", Role::User, at(5)))
        .await
        .unwrap_err();
    assert_eq!(err, conflict(ConflictKind::UsernameTaken));
    let mut all: Vec<UserId> = stores
        .users
        .list(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    all.sort();
    let mut expected = vec![bob.id, doctor.id];
    expected.sort();
    assert_eq!(all, expected, "nothing else was stored");
}

pub async fn user_list_is_oldest_first_with_skip_and_limit(stores: &Stores) {
    // Inserted out of order; two share a creation time.
    let mut expected = Vec::new();
    for (name, secs) in [("u3", 30), ("u1", 10), ("u4", 40), ("u2", 20), ("u2b", 20)] {
        let created = stores
            .users
            .create(new_user(name, Role::User, at(secs)))
            .await
            .unwrap();
        expected.push(created);
    }
    expected.sort_by_key(|u| (u.created_at, u.id));
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    let all = stores.users.list(0, 100).await.unwrap();
    assert_eq!(all, expected, "oldest first, ties by id, every field");
    assert_eq!(
        ids(stores.users.list(1, 2).await.unwrap()),
        ids(expected[1..3].to_vec())
    );
    assert_eq!(
        ids(stores.users.list(4, 10).await.unwrap()),
        ids(expected[4..].to_vec())
    );
    assert!(stores.users.list(5, 10).await.unwrap().is_empty());
    assert!(stores.users.list(0, 0).await.unwrap().is_empty());
}

pub async fn user_update_applies_changes_and_touches_updated_at(stores: &Stores) {
    let original = user(stores, "carol", Role::User).await;
    let changes = UserChanges {
        username: Some("Carol.K".into()),
        email: Some(Some("carol@example.ru".into())),
        full_name: Some(None),
        role: Some(Role::Admin),
        password_hash: Some("$argon2id$new".into()),
    };
    let updated = stores
        .users
        .update(original.id, changes, at(60))
        .await
        .unwrap();
    let expected = User {
        username: "Carol.K".into(),
        email: Some("carol@example.ru".into()),
        full_name: None,
        role: Role::Admin,
        password_hash: "$argon2id$new".into(),
        updated_at: at(60),
        ..original.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        stores.users.get(original.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        stores
            .users
            .find_by_username("carol.k")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(original.id)
    );
    assert_eq!(
        stores.users.find_by_username("carol").await.unwrap(),
        None,
        "the old name is free"
    );

    // No changes: only updated_at moves.
    let touched = stores
        .users
        .update(original.id, UserChanges::default(), at(90))
        .await
        .unwrap();
    assert_eq!(
        touched,
        User {
            updated_at: at(90),
            ..expected
        }
    );
}

pub async fn user_update_of_missing_user_is_not_found(stores: &Stores) {
    let changes = UserChanges {
        full_name: Some(Some("x".into())),
        ..UserChanges::default()
    };
    let err = stores
        .users
        .update(UserId::random(), changes, at(1))
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::NotFound("user"));
    let demotion = UserChanges {
        role: Some(Role::User),
        ..UserChanges::default()
    };
    let err = stores
        .users
        .update(UserId::random(), demotion, at(1))
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::NotFound("user"));
}

pub async fn user_rename_onto_a_taken_name_conflicts(stores: &Stores) {
    let dave = user(stores, "dave", Role::User).await;
    let erin = user(stores, "erin", Role::User).await;
    for name in ["dave", "DAVE"] {
        let rename = UserChanges {
            username: Some(name.into()),
            ..UserChanges::default()
        };
        let err = stores
            .users
            .update(erin.id, rename, at(5))
            .await
            .unwrap_err();
        assert_eq!(err, conflict(ConflictKind::UsernameTaken), "{name}");
    }
    assert_eq!(
        stores.users.get(erin.id).await.unwrap(),
        Some(erin.clone()),
        "unchanged"
    );
    // Changing only the case of one's own name is no conflict.
    let recase = UserChanges {
        username: Some("DAVE".into()),
        ..UserChanges::default()
    };
    let renamed = stores.users.update(dave.id, recase, at(6)).await.unwrap();
    assert_eq!(renamed.username, "DAVE");
}

pub async fn user_demoting_the_last_admin_is_refused(stores: &Stores) {
    let demote = || UserChanges {
        role: Some(Role::User),
        ..UserChanges::default()
    };
    let root = user(stores, "root", Role::Admin).await;
    let err = stores
        .users
        .update(root.id, demote(), at(5))
        .await
        .unwrap_err();
    assert_eq!(err, conflict(ConflictKind::LastAdmin));
    assert_eq!(
        stores.users.get(root.id).await.unwrap(),
        Some(root.clone()),
        "unchanged"
    );
    // Other changes to the last admin are fine, and so is re-stating the role.
    let keep = UserChanges {
        role: Some(Role::Admin),
        full_name: Some(None),
        ..UserChanges::default()
    };
    stores.users.update(root.id, keep, at(6)).await.unwrap();
    // With a second admin, one of them may go; then the other is the last.
    let second = user(stores, "second", Role::Admin).await;
    assert_eq!(stores.users.count_admins().await.unwrap(), 2);
    let demoted = stores.users.update(root.id, demote(), at(7)).await.unwrap();
    assert_eq!(demoted.role, Role::User);
    let err = stores
        .users
        .update(second.id, demote(), at(8))
        .await
        .unwrap_err();
    assert_eq!(err, conflict(ConflictKind::LastAdmin));
    assert_eq!(stores.users.count_admins().await.unwrap(), 1);
    // Demoting a plain user is a no-op, not a conflict.
    stores.users.update(root.id, demote(), at(9)).await.unwrap();
}

pub async fn user_delete_removes_the_user(stores: &Stores) {
    let frank = user(stores, "frank", Role::User).await;
    let grace = user(stores, "grace", Role::User).await;
    stores.users.delete(frank.id).await.unwrap();
    assert_eq!(stores.users.get(frank.id).await.unwrap(), None);
    assert_eq!(stores.users.find_by_username("frank").await.unwrap(), None);
    assert_eq!(stores.users.get(grace.id).await.unwrap(), Some(grace));
    assert_eq!(
        stores.users.delete(frank.id).await.unwrap_err(),
        DomainError::NotFound("user")
    );
    // The name is free again.
    user(stores, "FRANK", Role::User).await;
}

pub async fn user_delete_of_the_last_admin_is_refused(stores: &Stores) {
    let root = user(stores, "root", Role::Admin).await;
    let plain = user(stores, "plain", Role::User).await;
    assert_eq!(
        stores.users.delete(root.id).await.unwrap_err(),
        conflict(ConflictKind::LastAdmin)
    );
    assert_eq!(stores.users.get(root.id).await.unwrap(), Some(root.clone()));
    stores.users.delete(plain.id).await.unwrap();
    let other = user(stores, "other", Role::Admin).await;
    stores.users.delete(root.id).await.unwrap();
    assert_eq!(
        stores.users.delete(other.id).await.unwrap_err(),
        conflict(ConflictKind::LastAdmin)
    );
    assert_eq!(stores.users.count_admins().await.unwrap(), 1);
}

pub async fn user_delete_cascades_to_jobs_and_queue(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let other = user(stores, "other", Role::User).await;
    let mut theirs = Vec::new();
    for secs in [1, 2] {
        theirs.push(
            stores
                .jobs
                .create(new_job(owner.id, at(secs)))
                .await
                .unwrap(),
        );
    }
    let kept = stores.jobs.create(new_job(other.id, at(3))).await.unwrap();
    assert_eq!(stores.jobs.queue_depth().await.unwrap().0, 3);
    stores.users.delete(owner.id).await.unwrap();
    for job in &theirs {
        assert_eq!(stores.jobs.get(job.id).await.unwrap(), None);
        assert_eq!(stores.jobs.inventory(job.id).await.unwrap(), None);
        assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), None);
    }
    assert!(stores.jobs.ids_of_owner(owner.id).await.unwrap().is_empty());
    assert_eq!(stores.jobs.get(kept.id).await.unwrap(), Some(kept.clone()));
    assert!(stores.jobs.inventory(kept.id).await.unwrap().is_some());
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(3))));
}

pub async fn user_concurrent_admin_removals_keep_one_admin(stores: &Stores) {
    // Four admins, each removed (two deleted, two demoted) at the same moment: without a
    // race-free last-admin rule, all four could see "another admin exists".
    let mut admins = Vec::new();
    for i in 0..4 {
        admins.push(user(stores, &format!("admin{i}"), Role::Admin).await);
    }
    let mut tasks = Vec::new();
    for (i, admin) in admins.iter().enumerate() {
        let (users, id) = (stores.users.clone(), admin.id);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                users.delete(id).await
            } else {
                let demote = UserChanges {
                    role: Some(Role::User),
                    ..UserChanges::default()
                };
                users.update(id, demote, at(10)).await.map(drop)
            }
        }));
    }
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => {}
            Err(err) => {
                assert_eq!(err, conflict(ConflictKind::LastAdmin));
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 1, "exactly one removal must be refused");
    assert_eq!(stores.users.count_admins().await.unwrap(), 1);
}
