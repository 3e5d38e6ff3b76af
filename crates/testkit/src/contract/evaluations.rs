//! The [`EvaluationStore`](triage_domain::ports::EvaluationStore) contract. Run by
//! [`store_contract!`](crate::store_contract) with the user and job suites (evaluations need
//! owners); see [`Stores`].

use serde_json::json;
use triage_domain::{ConflictKind, DomainError, EvaluationId, Role, StoredEvaluation, UserId};

use super::users::{Stores, at, user};

/// An evaluation of `owner` created at `at(secs)`, with a body holding what the API stores:
/// nested objects, arrays, nulls, non-ASCII text and floats that must come back exactly.
pub fn new_evaluation(owner: UserId, secs: i64) -> StoredEvaluation {
    StoredEvaluation {
        id: EvaluationId::random(),
        owner_id: owner,
        name: format!("оценка {secs}"),
        created_at: at(secs),
        body: json!({
            "n": 109, "auc": 0.893_171_061_528_060_3, "auc_ci_delong": [0.8329, 0.9534],
            "ppv": null, "confusion": {"tp": 44, "fp": 13, "tn": 45, "fn": 7},
            "studies": [{"study_uid": "1.2.840.1", "score": 0.25, "pathology": true}],
        }),
    }
}

pub async fn evaluation_round_trips_every_field(stores: &Stores) {
    let owner = user(stores, "eval_owner", Role::User).await;
    let new = new_evaluation(owner.id, 5);
    let created = stores
        .evaluations
        .create_evaluation(new.clone())
        .await
        .unwrap();
    assert_eq!(created, new);
    assert_eq!(
        stores.evaluations.get_evaluation(new.id).await.unwrap(),
        Some(new)
    );
}

pub async fn evaluation_get_missing_is_none(stores: &Stores) {
    assert_eq!(
        stores
            .evaluations
            .get_evaluation(EvaluationId::random())
            .await
            .unwrap(),
        None
    );
}

pub async fn evaluation_for_unknown_owner_is_not_found(stores: &Stores) {
    let err = stores
        .evaluations
        .create_evaluation(new_evaluation(UserId::random(), 1))
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::NotFound("user"));
}

pub async fn evaluation_with_taken_id_conflicts(stores: &Stores) {
    let owner = user(stores, "eval_twice", Role::User).await;
    let first = new_evaluation(owner.id, 1);
    stores
        .evaluations
        .create_evaluation(first.clone())
        .await
        .unwrap();
    let again = StoredEvaluation {
        name: "other".into(),
        ..first.clone()
    };
    let err = stores
        .evaluations
        .create_evaluation(again)
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::Conflict(ConflictKind::AlreadyExists));
    assert_eq!(
        stores.evaluations.get_evaluation(first.id).await.unwrap(),
        Some(first)
    );
}

pub async fn evaluation_list_is_the_owners_newest_first_with_paging(stores: &Stores) {
    let owner = user(stores, "eval_lister", Role::User).await;
    let other = user(stores, "eval_other", Role::User).await;
    let mut created = Vec::new();
    for secs in [3, 1, 2] {
        created.push(
            stores
                .evaluations
                .create_evaluation(new_evaluation(owner.id, secs))
                .await
                .unwrap(),
        );
    }
    stores
        .evaluations
        .create_evaluation(new_evaluation(other.id, 9))
        .await
        .unwrap();
    let all = stores
        .evaluations
        .list_evaluations(owner.id, 0, 100)
        .await
        .unwrap();
    let times: Vec<_> = all.iter().map(|e| e.created_at).collect();
    assert_eq!(times, [at(3), at(2), at(1)]);
    assert!(all.iter().all(|e| e.owner_id == owner.id));
    let page = stores
        .evaluations
        .list_evaluations(owner.id, 1, 1)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].created_at, at(2));
    assert!(
        stores
            .evaluations
            .list_evaluations(UserId::random(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn evaluation_delete_removes_it_and_a_second_delete_is_not_found(stores: &Stores) {
    let owner = user(stores, "eval_deleter", Role::User).await;
    let e = stores
        .evaluations
        .create_evaluation(new_evaluation(owner.id, 1))
        .await
        .unwrap();
    stores.evaluations.delete_evaluation(e.id).await.unwrap();
    assert_eq!(stores.evaluations.get_evaluation(e.id).await.unwrap(), None);
    assert_eq!(
        stores
            .evaluations
            .delete_evaluation(e.id)
            .await
            .unwrap_err(),
        DomainError::NotFound("evaluation")
    );
}

pub async fn evaluation_deleting_the_owner_deletes_their_evaluations(stores: &Stores) {
    let owner = user(stores, "eval_leaver", Role::User).await;
    let e = stores
        .evaluations
        .create_evaluation(new_evaluation(owner.id, 1))
        .await
        .unwrap();
    stores.users.delete(owner.id).await.unwrap();
    assert_eq!(stores.evaluations.get_evaluation(e.id).await.unwrap(), None);
}
