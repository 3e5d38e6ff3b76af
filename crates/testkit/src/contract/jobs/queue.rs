//! The dispatch-queue part of the `JobStore` contract: claims, leases, release, reschedule,
//! enqueue and depth.

use std::collections::HashSet;

use triage_domain::{DomainError, Job, JobId, JobStatus, QueueEntry, Role};

use super::job_of;
use crate::contract::users::{Stores, at, user};

fn ids(claimed: &[(Job, QueueEntry)]) -> Vec<JobId> {
    claimed.iter().map(|(job, _)| job.id).collect()
}

fn unleased(job: JobId, enqueued: i64, available: i64) -> QueueEntry {
    QueueEntry {
        job_id: job,
        enqueued_at: at(enqueued),
        available_at: at(available),
        lease_owner: None,
        lease_expires_at: None,
    }
}

pub async fn queue_claim_leases_oldest_first_up_to_limit(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let j3 = job_of(stores, owner.id, 3).await;
    let j1 = job_of(stores, owner.id, 1).await;
    let j2 = job_of(stores, owner.id, 2).await;
    assert!(
        stores
            .jobs
            .claim("w0", JobStatus::Queued, at(10), at(70), 0)
            .await
            .unwrap()
            .is_empty(),
        "limit 0"
    );
    assert_eq!(
        stores.jobs.queue_entry(j1.id).await.unwrap(),
        Some(unleased(j1.id, 1, 1))
    );

    let claimed = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(70), 2)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![j1.id, j2.id], "oldest available first");
    for ((job, entry), (original, secs)) in claimed.iter().zip([(&j1, 1), (&j2, 2)]) {
        assert_eq!(job, original, "the job comes whole");
        let leased = QueueEntry {
            lease_owner: Some("w1".to_owned()),
            lease_expires_at: Some(at(70)),
            ..unleased(job.id, secs, secs)
        };
        assert_eq!(entry, &leased);
        assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), Some(leased));
    }
    let rest = stores
        .jobs
        .claim("w2", JobStatus::Queued, at(10), at(70), 10)
        .await
        .unwrap();
    assert_eq!(ids(&rest), vec![j3.id]);
    assert!(
        stores
            .jobs
            .claim("w3", JobStatus::Queued, at(10), at(70), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn queue_claim_takes_only_jobs_in_the_asked_status(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let queued = job_of(stores, owner.id, 1).await;
    let mut running = job_of(stores, owner.id, 2).await;
    running
        .transition(JobStatus::Processing, None, at(3))
        .unwrap();
    let running = stores.jobs.update(&running).await.unwrap();
    let processing = stores
        .jobs
        .claim("w1", JobStatus::Processing, at(10), at(70), 10)
        .await
        .unwrap();
    assert_eq!(ids(&processing), vec![running.id]);
    let waiting = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(70), 10)
        .await
        .unwrap();
    assert_eq!(ids(&waiting), vec![queued.id]);
}

pub async fn queue_claim_skips_entries_not_yet_available(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    stores.jobs.enqueue(job.id, at(50), false).await.unwrap();
    assert!(
        stores
            .jobs
            .claim("w1", JobStatus::Queued, at(49), at(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(50), at(100), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![job.id], "available_at is inclusive");
}

pub async fn queue_unexpired_lease_is_not_reclaimed_expired_is(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    assert_eq!(
        ids(&stores
            .jobs
            .claim("w1", JobStatus::Queued, at(10), at(40), 10)
            .await
            .unwrap()),
        vec![job.id]
    );
    assert!(
        stores
            .jobs
            .claim("w2", JobStatus::Queued, at(39), at(100), 10)
            .await
            .unwrap()
            .is_empty(),
        "lease still running"
    );
    // The lease expired (w1 crashed): w2 takes over.
    let taken = stores
        .jobs
        .claim("w2", JobStatus::Queued, at(40), at(100), 10)
        .await
        .unwrap();
    assert_eq!(ids(&taken), vec![job.id]);
    assert_eq!(taken[0].1.lease_owner.as_deref(), Some("w2"));
    assert_eq!(taken[0].1.lease_expires_at, Some(at(100)));
    // w1 no longer holds it.
    assert!(!stores.jobs.release(job.id, "w1").await.unwrap());
    assert!(!stores.jobs.reschedule(job.id, "w1", at(200)).await.unwrap());
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(taken[0].1.clone())
    );
    assert!(stores.jobs.release(job.id, "w2").await.unwrap());
}

pub async fn queue_release_needs_the_lease(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    assert!(
        !stores.jobs.release(job.id, "w1").await.unwrap(),
        "nobody holds it"
    );
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 1, 1))
    );
    let claimed = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(40), 1)
        .await
        .unwrap();
    assert!(!stores.jobs.release(job.id, "w2").await.unwrap());
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(claimed[0].1.clone())
    );
    assert!(stores.jobs.release(job.id, "w1").await.unwrap());
    assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), None);
    assert!(
        !stores.jobs.release(job.id, "w1").await.unwrap(),
        "already released"
    );
    assert_eq!(
        stores.jobs.get(job.id).await.unwrap(),
        Some(job),
        "the job stays"
    );
    assert!(!stores.jobs.release(JobId::random(), "w1").await.unwrap());
}

pub async fn queue_reschedule_needs_the_lease(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    assert!(
        !stores.jobs.reschedule(job.id, "w1", at(90)).await.unwrap(),
        "nobody holds it"
    );
    let claimed = stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(40), 1)
        .await
        .unwrap();
    assert!(!stores.jobs.reschedule(job.id, "w2", at(90)).await.unwrap());
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(claimed[0].1.clone())
    );
    assert!(stores.jobs.reschedule(job.id, "w1", at(90)).await.unwrap());
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 1, 90)),
        "enqueued_at kept"
    );
    assert!(
        stores
            .jobs
            .claim("w2", JobStatus::Queued, at(89), at(200), 1)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&stores
            .jobs
            .claim("w2", JobStatus::Queued, at(90), at(200), 1)
            .await
            .unwrap()),
        vec![job.id]
    );
    assert!(
        !stores
            .jobs
            .reschedule(JobId::random(), "w1", at(90))
            .await
            .unwrap()
    );
}

pub async fn queue_release_all_drops_only_that_workers_leases(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let j1 = job_of(stores, owner.id, 1).await;
    let j2 = job_of(stores, owner.id, 2).await;
    let j3 = job_of(stores, owner.id, 3).await;
    stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(40), 2)
        .await
        .unwrap();
    let w2 = stores
        .jobs
        .claim("w2", JobStatus::Queued, at(10), at(40), 2)
        .await
        .unwrap();
    assert_eq!(ids(&w2), vec![j3.id]);
    assert_eq!(stores.jobs.release_all("w1").await.unwrap(), 2);
    assert_eq!(
        stores.jobs.queue_entry(j1.id).await.unwrap(),
        Some(unleased(j1.id, 1, 1))
    );
    assert_eq!(
        stores.jobs.queue_entry(j2.id).await.unwrap(),
        Some(unleased(j2.id, 2, 2))
    );
    assert_eq!(
        stores.jobs.queue_entry(j3.id).await.unwrap(),
        Some(w2[0].1.clone())
    );
    assert_eq!(stores.jobs.release_all("w1").await.unwrap(), 0);
    assert_eq!(
        ids(&stores
            .jobs
            .claim("w3", JobStatus::Queued, at(11), at(40), 10)
            .await
            .unwrap()),
        vec![j1.id, j2.id]
    );
}

pub async fn queue_enqueue_moves_the_entry_and_drops_the_lease(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_of(stores, owner.id, 1).await;
    stores
        .jobs
        .claim("w1", JobStatus::Queued, at(10), at(40), 1)
        .await
        .unwrap();
    stores.jobs.enqueue(job.id, at(30), false).await.unwrap();
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 1, 30))
    );
    stores.jobs.enqueue(job.id, at(35), true).await.unwrap();
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 35, 35)),
        "clock restarted"
    );
    // Moving it earlier works too.
    stores.jobs.enqueue(job.id, at(5), false).await.unwrap();
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 35, 5))
    );
}

pub async fn queue_enqueue_recreates_a_removed_entry(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let mut job = job_of(stores, owner.id, 1).await;
    job.transition(JobStatus::Cancelled, None, at(5)).unwrap();
    let mut job = stores.jobs.update(&job).await.unwrap();
    assert_eq!(stores.jobs.queue_entry(job.id).await.unwrap(), None);
    // A retry: queued again, and back in the queue with a fresh clock.
    job.transition(JobStatus::Queued, None, at(50)).unwrap();
    stores.jobs.update(&job).await.unwrap();
    stores.jobs.enqueue(job.id, at(50), false).await.unwrap();
    assert_eq!(
        stores.jobs.queue_entry(job.id).await.unwrap(),
        Some(unleased(job.id, 50, 50))
    );
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(50))));
}

pub async fn queue_enqueue_of_unknown_job_is_not_found(stores: &Stores) {
    let missing = JobId::random();
    for restart in [false, true] {
        assert_eq!(
            stores
                .jobs
                .enqueue(missing, at(1), restart)
                .await
                .unwrap_err(),
            DomainError::NotFound("job")
        );
    }
    assert_eq!(stores.jobs.queue_entry(missing).await.unwrap(), None);
}

pub async fn queue_depth_counts_queued_jobs_only(stores: &Stores) {
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (0, None));
    let owner = user(stores, "owner", Role::User).await;
    let mut j1 = job_of(stores, owner.id, 5).await;
    let mut j2 = job_of(stores, owner.id, 3).await;
    let j3 = job_of(stores, owner.id, 8).await;
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (3, Some(at(3))));
    // Processing jobs keep their entry (their timeout) but are not waiting for dispatch.
    j2.transition(JobStatus::Processing, None, at(10)).unwrap();
    stores.jobs.update(&j2).await.unwrap();
    assert!(stores.jobs.queue_entry(j2.id).await.unwrap().is_some());
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (2, Some(at(5))));
    j1.transition(JobStatus::Cancelled, None, at(11)).unwrap();
    stores.jobs.update(&j1).await.unwrap();
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(8))));
    stores.jobs.enqueue(j3.id, at(20), true).await.unwrap();
    assert_eq!(stores.jobs.queue_depth().await.unwrap(), (1, Some(at(20))));
}

pub async fn queue_concurrent_claims_never_share_an_entry(stores: &Stores) {
    const JOBS: usize = 50;
    const WORKERS: usize = 8;
    let owner = user(stores, "owner", Role::User).await;
    let mut all = HashSet::new();
    for i in 0..JOBS {
        all.insert(job_of(stores, owner.id, i as i64).await.id);
    }
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let jobs = stores.jobs.clone();
            tokio::spawn(async move {
                let worker = format!("worker-{w}");
                let mut mine = Vec::new();
                loop {
                    let batch = jobs
                        .claim(&worker, JobStatus::Queued, at(100), at(1000), 3)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break mine;
                    }
                    for (job, entry) in batch {
                        assert_eq!(entry.lease_owner.as_deref(), Some(worker.as_str()));
                        mine.push((worker.clone(), job.id));
                    }
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let distinct: HashSet<JobId> = claimed.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        claimed.len(),
        distinct.len(),
        "an entry went to two workers"
    );
    assert_eq!(distinct, all, "every entry was claimed");
    for (worker, id) in &claimed {
        let entry = stores.jobs.queue_entry(*id).await.unwrap().unwrap();
        assert_eq!(entry.lease_owner.as_ref(), Some(worker));
    }
    assert!(
        stores
            .jobs
            .claim("late", JobStatus::Queued, at(100), at(1000), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
