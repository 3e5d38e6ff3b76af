//! The [`JobStore`](triage_domain::ports::JobStore) contract: jobs and inventories here, the
//! dispatch queue in [`queue`]. Run by [`store_contract!`](crate::store_contract) together
//! with the user suite (jobs need owners); see [`Stores`].

pub mod fixtures;
pub mod queue;

use std::collections::{HashMap, HashSet};

use triage_domain::{
    BlobKey, ConflictKind, DomainError, FileType, Job, JobFilter, JobId, JobStatus, NewJob,
    QueueEntry, Role, UserId,
};

pub use fixtures::{GIB, expected_job, inventory, new_job, report};
pub use queue::*;

use super::users::{Stores, at, user};

/// One job of `owner`, created at `at(secs)`.
pub async fn job_of(stores: &Stores, owner: UserId, secs: i64) -> Job {
    stores.jobs.create(new_job(owner, at(secs))).await.unwrap()
}

fn all_jobs(limit: u64) -> JobFilter {
    JobFilter {
        limit,
        ..JobFilter::default()
    }
}

fn newest_first(jobs: &mut [Job]) {
    jobs.sort_by_key(|job| std::cmp::Reverse((job.created_at, job.id)));
}

pub async fn job_round_trips_every_field(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let new = new_job(owner.id, at(1));
    let created = stores.jobs.create(new.clone()).await.unwrap();
    assert_eq!(created, expected_job(&new));
    assert_eq!(
        stores.jobs.get(new.id).await.unwrap(),
        Some(expected_job(&new))
    );
    assert_eq!(
        stores.jobs.inventory(new.id).await.unwrap(),
        Some(inventory())
    );
}

pub async fn job_create_queues_the_job(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 7).await;
    let entry = QueueEntry {
        job_id: job.id,
        enqueued_at: at(7),
        available_at: at(7),
        lease_owner: None,
        lease_expires_at: None,
    };
    assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), Some(entry));
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(7))));
}

pub async fn job_without_inventory_has_none(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let new = NewJob {
        inventory: None,
        file_type: FileType::Dicom,
        file_size: 12_345,
        ..new_job(owner.id, at(1))
    };
    assert_eq!(
        stores.jobs.create(new.clone()).await.unwrap(),
        expected_job(&new)
    );
    assert_eq!(stores.jobs.inventory(new.id).await.unwrap(), None);
    assert_eq!(
        stores.jobs.inventory(JobId::random()).await.unwrap(),
        None,
        "missing job"
    );
    assert_eq!(stores.jobs.get(JobId::random()).await.unwrap(), None);
}

pub async fn job_create_for_unknown_owner_is_not_found(stores: &Stores) {
    let new = new_job(UserId::random(), at(1));
    assert_eq!(
        stores.jobs.create(new.clone()).await.unwrap_err(),
        DomainError::NotFound("user")
    );
    assert_eq!(stores.jobs.get(new.id).await.unwrap(), None);
    assert_eq!(stores.jobs.inventory(new.id).await.unwrap(), None);
    assert_eq!(stores.jobs.queue_entry(new.id).await.unwrap(), None);
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (0, None));
}

pub async fn job_create_with_taken_id_conflicts(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let first = new_job(owner.id, at(1));
    stores.jobs.create(first.clone()).await.unwrap();
    let again = NewJob {
        title: "другой".to_owned(),
        inventory: None,
        created_at: at(2),
        ..first.clone()
    };
    assert_eq!(
        stores.jobs.create(again).await.unwrap_err(),
        DomainError::Conflict(ConflictKind::AlreadyExists)
    );
    assert_eq!(
        stores.jobs.get(first.id).await.unwrap(),
        Some(expected_job(&first))
    );
    assert_eq!(
        stores.jobs.inventory(first.id).await.unwrap(),
        Some(inventory())
    );
    assert_eq!(
        stores
            .jobs
            .queue_entry(first.id)
            .await
            .unwrap()
            .map(|e| e.enqueued_at),
        Some(at(1))
    );
}

/// Sizes are `u64`; a store may refuse what it cannot hold (`Invalid`), but never store a
/// different number.
pub async fn job_sizes_beyond_i64_are_refused_or_kept_exactly(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let largest = NewJob {
        file_size: i64::MAX as u64,
        ..new_job(owner.id, at(1))
    };
    assert_eq!(
        stores.jobs.create(largest.clone()).await.unwrap().file_size,
        i64::MAX as u64
    );
    for size in [i64::MAX as u64 + 1, u64::MAX] {
        let new = NewJob {
            file_size: size,
            ..new_job(owner.id, at(2))
        };
        match stores.jobs.create(new.clone()).await {
            Ok(job) => assert_eq!(
                stores.jobs.get(job.id).await.unwrap().unwrap().file_size,
                size
            ),
            Err(err) => {
                assert!(matches!(err, DomainError::Invalid { .. }), "{err:?}");
                assert_eq!(stores.jobs.get(new.id).await.unwrap(), None);
            }
        }
        let mut job = stores.jobs.get(largest.id).await.unwrap().unwrap();
        job.file_size = size;
        match stores.jobs.update(&job).await {
            Ok(written) => assert_eq!(written.file_size, size),
            Err(err) => assert!(matches!(err, DomainError::Invalid { .. }), "{err:?}"),
        }
    }
}

pub async fn job_update_writes_every_mutable_field(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let mut job = job_of(stores, owner.id, 1).await;
    job.transition(
        JobStatus::Processing,
        Some("передано в анализ".to_owned()),
        at(10),
    )
    .unwrap();
    job.attempts = 1;
    let written = stores.jobs.update(&job).await.unwrap();
    assert_eq!(
        written,
        Job {
            version: 2,
            ..job.clone()
        }
    );
    assert_eq!(
        stores.jobs.get(job.id).await.unwrap(),
        Some(written.clone())
    );

    let mut job = written;
    job.transition(JobStatus::Succeeded, None, at(20)).unwrap();
    job.title = "новое название".to_owned();
    job.description = None;
    job.file_name = "renamed.zip".to_owned();
    job.file_size = 6 * GIB;
    job.file_type = FileType::Other;
    job.content_type = "application/octet-stream".to_owned();
    job.sha256 = "0".repeat(64);
    job.upload_key = BlobKey::parse("jobs/другое место.bin").unwrap();
    job.report_key = Some(BlobKey::report(job.id));
    job.results = Some(report());
    job.results_parsed_at = Some(at(19));
    job.profile = "профиль-2".to_owned();
    job.threshold = 1.0 / 3.0;
    job.attempts = 7;
    let written = stores.jobs.update(&job).await.unwrap();
    assert_eq!(
        written,
        Job {
            version: 3,
            ..job.clone()
        }
    );
    assert_eq!(
        stores.jobs.get(job.id).await.unwrap(),
        Some(written.clone())
    );
    assert_eq!(written.created_at, at(1), "creation time never changes");

    // Clearing goes through as well. (The store writes what it is given: the state machine
    // is the caller's business.)
    let mut job = written;
    job.status = JobStatus::Queued;
    job.updated_at = at(30);
    (
        job.report_key,
        job.results,
        job.results_parsed_at,
        job.completed_at,
    ) = (None, None, None, None);
    let written = stores.jobs.update(&job).await.unwrap();
    assert_eq!(written, Job { version: 4, ..job });
    assert_eq!(stores.jobs.get(written.id).await.unwrap(), Some(written));
}

pub async fn job_update_with_stale_version_conflicts(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let mut mine = job_of(stores, owner.id, 1).await;
    let mut theirs = mine.clone();
    mine.title = "mine".to_owned();
    let written = stores.jobs.update(&mine).await.unwrap();
    theirs.title = "theirs".to_owned();
    let err = stores.jobs.update(&theirs).await.unwrap_err();
    assert_eq!(err, DomainError::Conflict(ConflictKind::StaleVersion));
    assert_eq!(
        stores.jobs.get(mine.id).await.unwrap(),
        Some(written.clone())
    );
    // Re-read and retry works.
    let mut retried = written;
    retried.title = "theirs".to_owned();
    assert_eq!(stores.jobs.update(&retried).await.unwrap().version, 3);
}

pub async fn job_update_of_missing_job_is_not_found(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    stores.jobs.delete(job.id).await.unwrap();
    assert_eq!(
        stores.jobs.update(&job).await.unwrap_err(),
        DomainError::NotFound("job")
    );
    let never = expected_job(&new_job(owner.id, at(2)));
    assert_eq!(
        stores.jobs.update(&never).await.unwrap_err(),
        DomainError::NotFound("job")
    );
    assert_eq!(
        stores.jobs.get(never.id).await.unwrap(),
        None,
        "update never inserts"
    );
}

pub async fn job_concurrent_updates_of_one_version_let_one_win(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (jobs, mut job) = (stores.jobs.clone(), job.clone());
            job.title = format!("writer {i}");
            tokio::spawn(async move { jobs.update(&job).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(written) => winners.push(written),
            Err(err) => assert_eq!(err, DomainError::Conflict(ConflictKind::StaleVersion)),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer of version 1 may win");
    assert_eq!(
        stores.jobs.get(job.id).await.unwrap(),
        Some(winners[0].clone())
    );
    assert_eq!(winners[0].version, 2);
}

pub async fn job_terminal_update_removes_queue_entry(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    for (secs, path) in [
        (1, &[JobStatus::Processing, JobStatus::Succeeded][..]),
        (2, &[JobStatus::Processing, JobStatus::Failed][..]),
        (3, &[JobStatus::Failed][..]),
        (4, &[JobStatus::Cancelled][..]),
    ] {
        let mut job = job_of(stores, owner.id, secs).await;
        for &status in path {
            job.transition(status, None, at(50)).unwrap();
            job = stores.jobs.update(&job).await.unwrap();
            let entry = stores.jobs.queue_entry(job.id).await.unwrap();
            assert_eq!(
                entry.is_some(),
                !status.is_terminal(),
                "{status}: entry {entry:?}"
            );
        }
    }
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (0, None));
}

pub async fn job_requeue_update_recreates_the_entry_and_keeps_a_lease(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let mut job = job_of(stores, owner.id, 1).await;
    job.transition(JobStatus::Failed, Some("boom".into()), at(50))
        .unwrap();
    job = stores.jobs.update(&job).await.unwrap();
    assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), None);

    job.transition(JobStatus::Queued, Some("retry".into()), at(60))
        .unwrap();
    job = stores.jobs.update(&job).await.unwrap();
    let entry = stores
        .jobs
        .queue_entry(job.id)
        .await
        .unwrap()
        .expect("entry again");
    assert_eq!((entry.enqueued_at, entry.available_at), (at(60), at(60)));
    assert_eq!(entry.lease_owner, None);

    // An edit of a queued job that is being dispatched must not steal its lease.
    let claimed = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(61), at(120), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    job.title = "renamed".into();
    job.updated_at = at(62);
    stores.jobs.update(&job).await.unwrap();
    let entry = stores
        .jobs
        .queue_entry(job.id)
        .await
        .unwrap()
        .expect("entry kept");
    assert_eq!(entry.lease_owner.as_deref(), Some("w1"));
    assert_eq!(entry.available_at, at(60));
}

pub async fn job_delete_returns_the_row_and_cascades(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let mut job = job_of(stores, owner.id, 1).await;
    let other = job_of(stores, owner.id, 2).await;
    job.title = "изменено".to_owned();
    let job = stores.jobs.update(&job).await.unwrap();
    assert_eq!(stores.jobs.delete(job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(stores.jobs.get(job.id).await.unwrap(), None);
    assert_eq!(stores.jobs.inventory(job.id).await.unwrap(), None);
    assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), None);
    assert_eq!(stores.jobs.delete(job.id).await.unwrap(), None);
    assert_eq!(
        stores.jobs.ids_of_owner(owner.id).await.unwrap(),
        vec![other.id]
    );
    assert_eq!(
        stores.jobs.get(other.id).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        stores.jobs.inventory(other.id).await.unwrap(),
        Some(inventory())
    );
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(2))));
}

pub async fn job_list_is_newest_first_with_filters_and_paging(stores: &Stores) {
    let alice = user(stores, "alice", Role::User).await;
    let bob = user(stores, "bob", Role::User).await;
    let mut jobs = Vec::new();
    // (owner, created, status); two of alice's share a creation time (ties go by id).
    for (owner, secs, status) in [
        (alice.id, 1, JobStatus::Queued),
        (alice.id, 2, JobStatus::Processing),
        (bob.id, 2, JobStatus::Queued),
        (alice.id, 3, JobStatus::Queued),
        (alice.id, 3, JobStatus::Queued),
        (bob.id, 4, JobStatus::Failed),
    ] {
        let mut job = job_of(stores, owner, secs).await;
        if status != JobStatus::Queued {
            job.transition(status, None, at(secs + 1)).unwrap();
            job = stores.jobs.update(&job).await.unwrap();
        }
        jobs.push(job);
    }
    newest_first(&mut jobs);
    let select =
        |pred: &dyn Fn(&Job) -> bool| jobs.iter().filter(|j| pred(j)).cloned().collect::<Vec<_>>();

    assert_eq!(
        stores.jobs.list(&all_jobs(100)).await.unwrap(),
        jobs,
        "everyone's, every field"
    );
    let of_alice = JobFilter {
        owner: Some(alice.id),
        ..all_jobs(100)
    };
    assert_eq!(
        stores.jobs.list(&of_alice).await.unwrap(),
        select(&|j| j.owner_id == alice.id)
    );
    let queued = JobFilter {
        status: Some(JobStatus::Queued),
        ..all_jobs(100)
    };
    assert_eq!(
        stores.jobs.list(&queued).await.unwrap(),
        select(&|j| j.status == JobStatus::Queued)
    );
    let bobs_failed = JobFilter {
        owner: Some(bob.id),
        status: Some(JobStatus::Failed),
        ..all_jobs(100)
    };
    assert_eq!(
        stores.jobs.list(&bobs_failed).await.unwrap(),
        select(&|j| j.owner_id == bob.id && j.status == JobStatus::Failed)
    );
    let bobs_processing = JobFilter {
        owner: Some(bob.id),
        status: Some(JobStatus::Processing),
        ..all_jobs(100)
    };
    assert!(stores.jobs.list(&bobs_processing).await.unwrap().is_empty());

    let page = JobFilter {
        skip: 1,
        limit: 2,
        ..all_jobs(0)
    };
    assert_eq!(stores.jobs.list(&page).await.unwrap(), jobs[1..3].to_vec());
    let alices_page = JobFilter {
        skip: 2,
        limit: 5,
        ..of_alice.clone()
    };
    assert_eq!(
        stores.jobs.list(&alices_page).await.unwrap(),
        select(&|j| j.owner_id == alice.id)[2..].to_vec()
    );
    let past_the_end = JobFilter {
        skip: 6,
        limit: 5,
        ..all_jobs(0)
    };
    assert!(stores.jobs.list(&past_the_end).await.unwrap().is_empty());
    assert!(
        stores.jobs.list(&all_jobs(0)).await.unwrap().is_empty(),
        "limit 0"
    );
    let nobody = JobFilter {
        owner: Some(UserId::random()),
        ..all_jobs(100)
    };
    assert!(stores.jobs.list(&nobody).await.unwrap().is_empty());
}

pub async fn job_ids_of_owner_lists_only_theirs(stores: &Stores) {
    let alice = user(stores, "alice", Role::User).await;
    let bob = user(stores, "bob", Role::User).await;
    let mut alices = HashSet::new();
    for secs in 0..3 {
        alices.insert(job_of(stores, alice.id, secs).await.id);
    }
    let bobs = job_of(stores, bob.id, 5).await.id;
    let listed: Vec<JobId> = stores.jobs.ids_of_owner(alice.id).await.unwrap();
    assert_eq!(listed.len(), 3, "no duplicates");
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), alices);
    assert_eq!(stores.jobs.ids_of_owner(bob.id).await.unwrap(), vec![bobs]);
    assert!(
        stores
            .jobs
            .ids_of_owner(UserId::random())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn job_count_by_status(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let paths: [&[JobStatus]; 5] = [
        &[],
        &[],
        &[JobStatus::Processing],
        &[JobStatus::Failed],
        &[JobStatus::Processing, JobStatus::Cancelled],
    ];
    for (secs, path) in paths.into_iter().enumerate() {
        let mut job = job_of(stores, owner.id, secs as i64).await;
        for &status in path {
            job.transition(status, None, at(60)).unwrap();
            job = stores.jobs.update(&job).await.unwrap();
        }
    }
    let counts = stores.jobs.count_by_status().await.unwrap();
    let mut seen = HashMap::new();
    for (status, count) in counts {
        assert!(
            seen.insert(status, count).is_none(),
            "{status} listed twice"
        );
    }
    let expected = [
        (JobStatus::Queued, 2),
        (JobStatus::Processing, 1),
        (JobStatus::Failed, 1),
        (JobStatus::Cancelled, 1),
    ];
    for status in JobStatus::ALL {
        let want = expected
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        assert_eq!(seen.get(&status).copied().unwrap_or(0), want, "{status}");
    }
}

pub async fn ping_answers(stores: &Stores) {
    stores.jobs.ping().await.unwrap();
}
