//! The [`StudyStore`](triage_domain::ports::StudyStore) and
//! [`AuditStore`](triage_domain::ports::AuditStore) contract, run by
//! [`store_contract!`](crate::store_contract). Studies are written by `JobStore::create` and
//! `JobStore::update`, so these cases drive jobs and read studies.

use std::collections::HashSet;

use triage_domain::{
    AnalysisStatus, DomainError, Job, JobId, JobStatus, NewAuditEntry, NewReview, ReportPayload,
    ReportRow, ReportSummary, ReviewLabel, Role, SeriesSummary, Study, StudyFilter, StudySource,
    StudySummary, UserId,
};

use super::jobs::{inventory, new_job};
use super::users::{Stores, at, user};

/// A job of `owner` created at `at(secs)` carrying the studies `uids` (two series each).
pub async fn job_with(stores: &Stores, owner: UserId, secs: i64, uids: &[&str]) -> Job {
    let mut new = new_job(owner, at(secs));
    let mut inv = inventory();
    inv.dicom.studies = uids
        .iter()
        .map(|uid| StudySummary {
            study_uid: (*uid).to_owned(),
            series: (1..=2)
                .map(|n| SeriesSummary {
                    series_uid: format!("{uid}.{n}"),
                    modality: Some(if n == 1 { "CT" } else { "SR" }.to_owned()),
                    body_part: Some("CHEST".to_owned()),
                    slices: 10 * n,
                })
                .collect(),
        })
        .collect();
    new.inventory = Some(inv);
    new.threshold = 0.5;
    stores.jobs.create(new).await.unwrap()
}

/// Report rows: for each `(uid, probabilities)`, one row per series.
pub fn rows(studies: &[(&str, &[f64])]) -> Vec<ReportRow> {
    studies
        .iter()
        .flat_map(|(uid, probabilities)| {
            probabilities
                .iter()
                .enumerate()
                .map(move |(n, p)| ReportRow {
                    study_uid: Some((*uid).to_owned()),
                    series_uid: Some(format!("{uid}.{}", n + 1)),
                    probability_of_pathology: Some(*p),
                    pathology: Some(*p >= 0.5),
                    most_dangerous_pathology_type: Some(format!("finding {n}")),
                    processing_status: Some("Success".to_owned()),
                    ..ReportRow::default()
                })
        })
        .collect()
}

/// Takes `job` through processing to succeeded at `at(secs)` with `rows`.
pub async fn succeed(stores: &Stores, job: Job, secs: i64, rows: Vec<ReportRow>) -> Job {
    let mut job = processing(stores, job, secs).await;
    job.transition(JobStatus::Succeeded, None, at(secs))
        .unwrap();
    job.results = Some(ReportPayload {
        parsed_at: at(secs),
        summary: ReportSummary::of(&rows, Some(job.threshold)),
        rows,
    });
    stores.jobs.update(&job).await.unwrap()
}

async fn processing(stores: &Stores, mut job: Job, secs: i64) -> Job {
    job.transition(JobStatus::Processing, None, at(secs))
        .unwrap();
    stores.jobs.update(&job).await.unwrap()
}

async fn fail(stores: &Stores, job: Job, secs: i64, reason: &str) -> Job {
    let mut job = processing(stores, job, secs).await;
    job.transition(JobStatus::Failed, Some(reason.to_owned()), at(secs))
        .unwrap();
    stores.jobs.update(&job).await.unwrap()
}

async fn study(stores: &Stores, owner: UserId, uid: &str) -> Study {
    stores
        .studies
        .study_detail(Some(owner), uid)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("study {uid} missing"))
        .study
}

fn of(owner: UserId) -> StudyFilter {
    StudyFilter {
        owner: Some(owner),
        ..StudyFilter::default()
    }
}

async fn uids(stores: &Stores, filter: StudyFilter) -> Vec<String> {
    let page = stores
        .studies
        .list_studies(&filter, None, 500)
        .await
        .unwrap();
    page.items.into_iter().map(|s| s.study_uid).collect()
}

fn review(reviewer: UserId, label: ReviewLabel, secs: i64) -> NewReview {
    NewReview {
        label,
        agrees_with_ai: Some(label == ReviewLabel::Pathology),
        note: Some("осмотрено".to_owned()),
        reviewer_id: reviewer,
        reviewer: "doctor".to_owned(),
        reviewed_at: at(secs),
    }
}

pub async fn study_is_created_once_per_owner_and_uid(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let other = user(stores, "other", Role::User).await;
    let first = job_with(stores, owner.id, 1, &["1.2.3", "1.2.4"]).await;
    let second = job_with(stores, owner.id, 5, &["1.2.3"]).await;
    job_with(stores, other.id, 6, &["1.2.3"]).await;

    let detail = stores
        .studies
        .study_detail(Some(owner.id), "1.2.3")
        .await
        .unwrap()
        .unwrap();
    let s = &detail.study;
    assert_eq!(s.owner_id, owner.id);
    assert_eq!(s.source, StudySource::Upload);
    assert_eq!((s.first_received_at, s.last_received_at), (at(1), at(5)));
    assert_eq!(s.modalities, vec!["CT".to_owned(), "SR".to_owned()]);
    assert_eq!(s.body_part.as_deref(), Some("CHEST"));
    assert_eq!((s.series_count, s.instance_count), (2, 30));
    assert_eq!(s.result.status, AnalysisStatus::Pending);
    assert_eq!(s.job_id, Some(second.id), "pending on its newest analysis");
    assert!(s.review.is_none());
    let jobs: Vec<JobId> = detail.analyses.iter().map(|a| a.job_id).collect();
    assert_eq!(jobs, vec![second.id, first.id], "newest first");
    assert!(detail.analyses.iter().all(|a| a.completed_at.is_none()));

    assert_eq!(uids(stores, of(owner.id)).await.len(), 2);
    assert_eq!(uids(stores, of(other.id)).await, vec!["1.2.3".to_owned()]);
    assert_eq!(uids(stores, StudyFilter::default()).await.len(), 3);
    let mut owners = stores.studies.studies_of_job(first.id).await.unwrap();
    owners.sort();
    assert_eq!(
        owners,
        vec![
            (owner.id, "1.2.3".to_owned()),
            (owner.id, "1.2.4".to_owned())
        ]
    );
}

pub async fn study_fan_out_writes_the_current_result(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_with(stores, owner.id, 1, &["1.2.3", "1.2.4", "1.2.5"]).await;
    let mut report = rows(&[("1.2.3", &[0.2, 0.75]), ("1.2.4", &[0.1, 0.3])]);
    report.push(ReportRow {
        study_uid: Some("1.2.5".to_owned()),
        processing_status: Some("Failure".to_owned()),
        error: Some("нет срезов".to_owned()),
        ..ReportRow::default()
    });
    let job = succeed(stores, job, 10, report).await;

    let s = study(stores, owner.id, "1.2.3").await;
    assert_eq!(s.result.status, AnalysisStatus::Analysed);
    assert_eq!(s.result.probability_of_pathology, Some(0.75));
    assert_eq!(s.result.pathology, Some(true));
    assert_eq!(
        s.result.most_dangerous_pathology_type.as_deref(),
        Some("finding 1")
    );
    assert_eq!(s.job_id, Some(job.id));
    let normal = study(stores, owner.id, "1.2.4").await;
    assert_eq!(normal.result.pathology, Some(false));
    assert_eq!(normal.result.probability_of_pathology, Some(0.3));
    let failed = study(stores, owner.id, "1.2.5").await;
    assert_eq!(failed.result.status, AnalysisStatus::Failed);
    assert_eq!(failed.result.failure_reason.as_deref(), Some("нет срезов"));

    let detail = stores
        .studies
        .study_detail(Some(owner.id), "1.2.3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.analyses.len(), 1);
    assert_eq!(detail.analyses[0].series.len(), 2);
    assert_eq!(detail.analyses[0].completed_at, Some(at(10)));
    assert_eq!(detail.analyses[0].threshold, 0.5);
}

pub async fn study_failed_job_fails_its_studies(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_with(stores, owner.id, 1, &["1.2.3"]).await;
    fail(stores, job, 2, "сервис отказал").await;
    let s = study(stores, owner.id, "1.2.3").await;
    assert_eq!(s.result.status, AnalysisStatus::Failed);
    assert!(
        s.result
            .failure_reason
            .as_deref()
            .is_some_and(|r| r.contains("сервис отказал")),
        "{:?}",
        s.result.failure_reason
    );
}

pub async fn study_newest_terminal_analysis_is_current(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let old = job_with(stores, owner.id, 1, &["1.2.3"]).await;
    let new = job_with(stores, owner.id, 2, &["1.2.3"]).await;
    let new = succeed(stores, new, 3, rows(&[("1.2.3", &[0.9])])).await;
    // The older upload finishes later: it is history, not the current result.
    succeed(stores, old, 4, rows(&[("1.2.3", &[0.1])])).await;
    let s = study(stores, owner.id, "1.2.3").await;
    assert_eq!(s.job_id, Some(new.id));
    assert_eq!(s.result.probability_of_pathology, Some(0.9));
}

pub async fn study_concurrent_completions_leave_the_newest_current(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    for round in 0..5 {
        let uid = format!("1.2.{round}");
        let old = job_with(stores, owner.id, 10 * round, &[&uid]).await;
        let new = job_with(stores, owner.id, 10 * round + 1, &[&uid]).await;
        let (old, new) = (
            processing(stores, old, 10 * round + 2).await,
            processing(stores, new, 10 * round + 2).await,
        );
        let finish = |mut job: Job, p: f64| {
            let report = rows(&[(uid.as_str(), &[p])]);
            async move {
                job.transition(JobStatus::Succeeded, None, at(10 * round + 3))
                    .unwrap();
                job.results = Some(ReportPayload {
                    parsed_at: at(10 * round + 3),
                    summary: ReportSummary::of(&report, Some(0.5)),
                    rows: report,
                });
                stores.jobs.update(&job).await.unwrap()
            }
        };
        let (_, new) = tokio::join!(finish(old, 0.1), finish(new, 0.9));
        let detail = stores
            .studies
            .study_detail(Some(owner.id), &uid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(detail.study.job_id, Some(new.id), "round {round}");
        assert_eq!(detail.study.result.probability_of_pathology, Some(0.9));
        assert!(detail.analyses.iter().all(|a| a.completed_at.is_some()));
    }
}

pub async fn study_retry_makes_it_pending_again(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let job = job_with(stores, owner.id, 1, &["1.2.3"]).await;
    let mut job = fail(stores, job, 2, "нет ответа").await;
    job.transition(JobStatus::Queued, None, at(3)).unwrap();
    stores.jobs.update(&job).await.unwrap();
    let s = study(stores, owner.id, "1.2.3").await;
    assert_eq!(s.result.status, AnalysisStatus::Pending);
    assert_eq!(s.result.failure_reason, None);
}

/// Studies of every worklist rank, in the order the worklist must give them.
async fn mixed_worklist(stores: &Stores, owner: UserId) -> Vec<String> {
    let all = [
        "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9",
    ];
    let job = job_with(stores, owner, 1, &all[..8]).await;
    let mut report = rows(&[
        ("1.1", &[0.6]),
        ("1.2", &[0.95]),
        ("1.3", &[0.2]),
        ("1.4", &[0.45]),
        ("1.6", &[0.7]),
        ("1.7", &[0.7]),
        ("1.8", &[0.99]),
    ]);
    report.push(ReportRow {
        study_uid: Some("1.5".to_owned()),
        error: Some("broken".to_owned()),
        ..ReportRow::default()
    });
    succeed(stores, job, 2, report).await;
    job_with(stores, owner, 3, &["1.9"]).await; // pending
    stores
        .studies
        .review_study(owner, "1.8", review(owner, ReviewLabel::Pathology, 4))
        .await
        .unwrap();
    // Pathology by probability (ties by id: creation order), failed, normals, pending, reviewed.
    [
        "1.2", "1.6", "1.7", "1.1", "1.5", "1.4", "1.3", "1.9", "1.8",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub async fn study_worklist_is_in_priority_order_with_cursors(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let expected = mixed_worklist(stores, owner.id).await;
    assert_eq!(uids(stores, of(owner.id)).await, expected);

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = stores
            .studies
            .list_studies(&of(owner.id), cursor.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|s| s.study_uid.clone()));
        // A study arriving mid-way lands in its place without shifting the pages.
        if seen.len() == 4 {
            job_with(stores, owner.id, 9, &["1.0"]).await;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut with_new = expected.clone();
    with_new.insert(8, "1.0".to_owned()); // pending, after 1.9 (older ids first)
    assert_eq!(seen, with_new);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

pub async fn study_worklist_filters(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    mixed_worklist(stores, owner.id).await;
    let with = |f: fn(&mut StudyFilter)| {
        let mut filter = of(owner.id);
        f(&mut filter);
        filter
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        uids(stores, with(|f| f.status = Some(AnalysisStatus::Failed))).await,
        s(&["1.5"])
    );
    assert_eq!(
        uids(stores, with(|f| f.status = Some(AnalysisStatus::Pending))).await,
        s(&["1.9"])
    );
    assert_eq!(
        uids(stores, with(|f| f.pathology = Some(true))).await,
        s(&["1.2", "1.6", "1.7", "1.1", "1.8"])
    );
    assert_eq!(
        uids(stores, with(|f| f.reviewed = Some(true))).await,
        s(&["1.8"])
    );
    assert_eq!(
        uids(stores, with(|f| f.reviewed = Some(false))).await.len(),
        8
    );
    assert_eq!(
        uids(stores, with(|f| f.finding = Some("finding 0".to_owned())))
            .await
            .len(),
        7
    );
    assert_eq!(
        uids(stores, with(|f| f.received_from = Some(at(3)))).await,
        s(&["1.9"])
    );
    assert_eq!(
        uids(stores, with(|f| f.received_to = Some(at(2))))
            .await
            .len(),
        8
    );
    assert_eq!(
        uids(stores, with(|f| f.source = Some(StudySource::Dicom))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        uids(stores, with(|f| f.uid_prefix = Some("1.".to_owned())))
            .await
            .len(),
        9
    );
    assert_eq!(
        uids(stores, with(|f| f.uid_prefix = Some("1.3".to_owned()))).await,
        s(&["1.3"])
    );
}

pub async fn study_review_replaces_keeps_history_and_sinks(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let admin = user(stores, "admin", Role::Admin).await;
    let job = job_with(stores, owner.id, 1, &["1.2.3", "1.2.4"]).await;
    succeed(
        stores,
        job,
        2,
        rows(&[("1.2.3", &[0.9]), ("1.2.4", &[0.1])]),
    )
    .await;
    assert_eq!(uids(stores, of(owner.id)).await, vec!["1.2.3", "1.2.4"]);

    let first = stores
        .studies
        .review_study(owner.id, "1.2.3", review(owner.id, ReviewLabel::Normal, 3))
        .await
        .unwrap();
    assert_eq!(first.review.as_ref().unwrap().label, ReviewLabel::Normal);
    assert_eq!(uids(stores, of(owner.id)).await, vec!["1.2.4", "1.2.3"]);
    let second = stores
        .studies
        .review_study(
            owner.id,
            "1.2.3",
            review(admin.id, ReviewLabel::Pathology, 4),
        )
        .await
        .unwrap();
    let current = second.review.unwrap();
    assert_eq!(
        (current.label, current.reviewer_id, current.reviewed_at),
        (ReviewLabel::Pathology, admin.id, at(4))
    );
    assert_eq!(current.agrees_with_ai, Some(true));
    assert_eq!(current.note.as_deref(), Some("осмотрено"));
    let detail = stores
        .studies
        .study_detail(Some(owner.id), "1.2.3")
        .await
        .unwrap()
        .unwrap();
    let history: Vec<ReviewLabel> = detail.reviews.iter().map(|r| r.label).collect();
    assert_eq!(history, vec![ReviewLabel::Pathology, ReviewLabel::Normal]);
    assert_eq!(detail.study.review, Some(current));
    // A new analysis keeps the review and the study stays sunk.
    let again = job_with(stores, owner.id, 5, &["1.2.3"]).await;
    succeed(stores, again, 6, rows(&[("1.2.3", &[0.99])])).await;
    assert_eq!(uids(stores, of(owner.id)).await, vec!["1.2.4", "1.2.3"]);
}

pub async fn study_review_of_unknown_study_is_not_found(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let other = user(stores, "other", Role::User).await;
    job_with(stores, other.id, 1, &["1.2.3"]).await;
    let err = stores
        .studies
        .review_study(owner.id, "1.2.3", review(owner.id, ReviewLabel::Normal, 2))
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::NotFound("study"));
    assert!(
        stores
            .studies
            .study_detail(Some(owner.id), "1.2.3")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn study_reusable_job_matches_content_profile_and_threshold(stores: &Stores) {
    let owner = user(stores, "owner", Role::User).await;
    let other = user(stores, "other", Role::User).await;
    let job = job_with(stores, owner.id, 1, &["1.2.3"]).await;
    let (sha, profile) = (job.sha256.clone(), job.profile.clone());
    let find = |owner: UserId, threshold: f64, profile: String| {
        let sha = sha.clone();
        async move {
            stores
                .studies
                .reusable_job(owner, &sha, &profile, threshold)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        find(owner.id, 0.5, profile.clone()).await,
        None,
        "not succeeded yet"
    );
    let job = succeed(stores, job, 2, rows(&[("1.2.3", &[0.9])])).await;
    assert_eq!(find(owner.id, 0.5, profile.clone()).await, Some(job.id));
    assert_eq!(find(owner.id, 0.25, profile.clone()).await, None);
    assert_eq!(find(owner.id, 0.5, "other".to_owned()).await, None);
    assert_eq!(find(other.id, 0.5, profile).await, None);
}

fn entry(
    user: UserId,
    action: &str,
    study: Option<&str>,
    job: Option<JobId>,
    secs: i64,
) -> NewAuditEntry {
    NewAuditEntry {
        user_id: user,
        username: "reader".to_owned(),
        action: action.to_owned(),
        study_uid: study.map(str::to_owned),
        job_id: job,
        at: at(secs),
        client_addr: Some("192.0.2.7".to_owned()),
        request_id: Some(format!("req-{secs}")),
    }
}

pub async fn audit_lists_newest_first_with_filters_and_pages(stores: &Stores) {
    let reader = user(stores, "reader", Role::User).await;
    let other = user(stores, "other", Role::User).await;
    let job = JobId::random();
    let first = stores
        .audit
        .append(entry(reader.id, "study.detail", Some("1.2.3"), None, 1))
        .await
        .unwrap();
    assert_eq!(first.request_id.as_deref(), Some("req-1"));
    assert!(!first.user_deleted);
    stores
        .audit
        .append(entry(reader.id, "job.report", None, Some(job), 2))
        .await
        .unwrap();
    stores
        .audit
        .append(entry(other.id, "study.review", Some("1.2.3"), None, 3))
        .await
        .unwrap();
    stores
        .audit
        .append(entry(reader.id, "study.detail", Some("1.2.4"), None, 3))
        .await
        .unwrap();

    let list = |filter: triage_domain::AuditFilter| async move {
        stores.audit.list_audit(&filter).await.unwrap()
    };
    let all = list(triage_domain::AuditFilter {
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(all.len(), 4);
    assert!(
        all.windows(2)
            .all(|w| (w[0].at, &w[0].id) > (w[1].at, &w[1].id))
    );
    assert_eq!(all[3], first);
    let f = |f: fn(&mut triage_domain::AuditFilter)| {
        let mut filter = triage_domain::AuditFilter {
            limit: 10,
            ..Default::default()
        };
        f(&mut filter);
        filter
    };
    let by_user = list(triage_domain::AuditFilter {
        user: Some(other.id),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(by_user.len(), 1);
    assert_eq!(
        list(f(|f| f.study_uid = Some("1.2.3".to_owned())))
            .await
            .len(),
        2
    );
    let by_job = list(triage_domain::AuditFilter {
        job: Some(job),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(by_job.len(), 1);
    assert_eq!(
        list(f(|f| f.action = Some("study.detail".to_owned())))
            .await
            .len(),
        2
    );
    assert_eq!(list(f(|f| f.since = Some(at(2)))).await.len(), 3);
    assert_eq!(list(f(|f| f.until = Some(at(2)))).await.len(), 2);

    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = list(triage_domain::AuditFilter {
            before: before.clone(),
            limit: 3,
            ..Default::default()
        })
        .await;
        if page.is_empty() {
            break;
        }
        before = page.last().map(|e| (e.at, e.id.clone()));
        pages.extend(page);
    }
    assert_eq!(pages, all);
}

pub async fn audit_entries_outlive_their_user(stores: &Stores) {
    let _admin = user(stores, "admin", Role::Admin).await;
    let reader = user(stores, "reader", Role::User).await;
    stores
        .audit
        .append(entry(reader.id, "study.detail", Some("1.2.3"), None, 1))
        .await
        .unwrap();
    stores.users.delete(reader.id).await.unwrap();
    let all = stores
        .audit
        .list_audit(&triage_domain::AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].user_id, reader.id);
    assert!(all[0].user_deleted);
}

/// For the backend tests that sabotage the analysis write: completing `job` must fail and
/// leave both the job and its study as they were.
pub async fn completion_failing_half_way_changes_nothing(stores: &Stores, job: Job) {
    let before = study(stores, job.owner_id, "1.2.3").await;
    let mut job = processing(stores, job, 2).await;
    job.transition(JobStatus::Succeeded, None, at(3)).unwrap();
    job.results = Some(ReportPayload {
        parsed_at: at(3),
        summary: ReportSummary::of(&[], Some(0.5)),
        rows: rows(&[("1.2.3", &[0.9])]),
    });
    stores.jobs.update(&job).await.unwrap_err();
    let stored = stores.jobs.get(job.id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Processing);
    assert!(stores.jobs.queue_entry(job.id).await.unwrap().is_some());
    assert_eq!(study(stores, job.owner_id, "1.2.3").await, before);
}
