//! Study use cases: the worklist, one study, reviews, and the audit trail of who looked at
//! what. Someone else's study is "not found" on every route.

mod export;

pub use export::MAX_EXPORT_STUDIES;

use triage_domain::{
    AuditEntry, AuditFilter, JobId, NewAuditEntry, NewReview, ReviewLabel, Study, StudyCursor,
    StudyDetail, StudyFilter, UserId,
};

use crate::error::{AppError, AppResult};
use crate::{App, Caller};

/// Where a person's request came from, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessContext {
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// GET /studies: the filter as the caller gave it (the owner is decided here).
#[derive(Debug, Clone, Default)]
pub struct StudyQuery {
    pub filter: StudyFilter,
    /// An administrator's `?owner=`; for anyone else it must be absent or their own id.
    pub owner: Option<UserId>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One worklist page and the opaque cursor of the next.
#[derive(Debug, Clone)]
pub struct StudyList {
    pub items: Vec<Study>,
    pub next_cursor: Option<String>,
}

/// POST /studies/{uid}/review.
#[derive(Debug, Clone)]
pub struct ReviewForm {
    pub label: ReviewLabel,
    pub agrees_with_ai: Option<bool>,
    pub note: Option<String>,
}

pub const MAX_STUDY_PAGE: u32 = 500;
const MAX_NOTE: usize = 10_000;

/// The cursor is the last row's sort key and id, hex-encoded: opaque to clients, and any
/// change to its content is caught when decoding.
pub fn encode_cursor(cursor: &StudyCursor) -> String {
    let text = format!("{}\n{}", cursor.sort_key, cursor.id);
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// # Errors
/// `Validation` on `field` for anything `encode_cursor` did not produce.
pub fn decode_cursor(text: &str, field: &str) -> AppResult<StudyCursor> {
    let invalid = || AppError::field(field, "is not a cursor this server gave out");
    if !text.len().is_multiple_of(2) || text.len() > 512 {
        return Err(invalid());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (sort_key, id) = text.split_once('\n').ok_or_else(invalid)?;
    let well_formed = sort_key.len() == 11
        && sort_key.bytes().all(|b| b.is_ascii_digit())
        && uuid::Uuid::parse_str(id).is_ok();
    if !well_formed {
        return Err(invalid());
    }
    Ok(StudyCursor {
        sort_key: sort_key.to_owned(),
        id: id.to_owned(),
    })
}

/// Study UIDs (and prefixes) are digits and dots, at most 64 characters (DICOM UI).
///
/// # Errors
/// `Validation` on `field`.
pub fn check_uid(uid: &str, field: &str, prefix: bool) -> AppResult<()> {
    let ok = (prefix || !uid.is_empty())
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(AppError::field(
            field,
            "must be digits and dots, at most 64",
        ))
    }
}

impl App {
    fn study_owner(&self, caller: &Caller, owner: Option<UserId>) -> AppResult<Option<UserId>> {
        match owner {
            _ if !caller.is_admin() => Ok(Some(caller.id)),
            Some(owner) => Ok(Some(owner)),
            None => Ok(None),
        }
    }

    /// The worklist in triage priority.
    ///
    /// # Errors
    /// `Validation` (limit, cursor), `Unavailable`.
    pub async fn list_studies(&self, caller: &Caller, query: StudyQuery) -> AppResult<StudyList> {
        if !(1..=MAX_STUDY_PAGE).contains(&query.limit) {
            return Err(AppError::field("limit", "must be between 1 and 500"));
        }
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, "cursor"))
            .transpose()?;
        let mut filter = query.filter;
        filter.owner = self.study_owner(caller, query.owner)?;
        let page = self
            .inner
            .ports
            .studies
            .list_studies(&filter, cursor.as_ref(), query.limit)
            .await?;
        Ok(StudyList {
            items: page.items,
            next_cursor: page.next.as_ref().map(encode_cursor),
        })
    }

    /// One study with its analyses and reviews; the access is audited.
    ///
    /// # Errors
    /// `NotFound` (also someone else's study), `Unavailable`.
    pub async fn study(
        &self,
        caller: &Caller,
        uid: &str,
        owner: Option<UserId>,
        ctx: &AccessContext,
    ) -> AppResult<StudyDetail> {
        check_uid(uid, "study_uid", false).map_err(|_| AppError::NotFound("study"))?;
        let owner = self.study_owner(caller, owner)?;
        let detail = self
            .inner
            .ports
            .studies
            .study_detail(owner, uid)
            .await?
            .ok_or(AppError::NotFound("study"))?;
        self.audit_access(caller, "study.detail", Some(uid), None, ctx)
            .await?;
        Ok(detail)
    }

    /// Records a review by the owner or an administrator.
    ///
    /// # Errors
    /// `NotFound` (also someone else's study), `Validation` (note), `Unavailable`.
    pub async fn review_study(
        &self,
        caller: &Caller,
        uid: &str,
        owner: Option<UserId>,
        form: ReviewForm,
        ctx: &AccessContext,
    ) -> AppResult<Study> {
        check_uid(uid, "study_uid", false).map_err(|_| AppError::NotFound("study"))?;
        if form.note.as_ref().is_some_and(|n| n.len() > MAX_NOTE) {
            return Err(AppError::field("note", "must be at most 10000 bytes"));
        }
        let owner = match self.study_owner(caller, owner)? {
            Some(owner) => owner,
            None => {
                // An administrator without `?owner=`: the most recently received study.
                self.inner
                    .ports
                    .studies
                    .study_detail(None, uid)
                    .await?
                    .ok_or(AppError::NotFound("study"))?
                    .study
                    .owner_id
            }
        };
        let review = NewReview {
            label: form.label,
            agrees_with_ai: form.agrees_with_ai,
            note: form.note,
            reviewer_id: caller.id,
            reviewer: caller.username.clone(),
            reviewed_at: self.inner.ports.clock.now(),
        };
        let study = self
            .inner
            .ports
            .studies
            .review_study(owner, uid, review)
            .await
            .map_err(|err| match err {
                triage_domain::DomainError::NotFound(_) => AppError::NotFound("study"),
                other => other.into(),
            })?;
        self.audit_access(caller, "study.review", Some(uid), None, ctx)
            .await?;
        Ok(study)
    }

    /// Appends an audit entry for `caller`'s access.
    ///
    /// # Errors
    /// `Unavailable`: an access that cannot be recorded is refused.
    pub async fn audit_access(
        &self,
        caller: &Caller,
        action: &str,
        study_uid: Option<&str>,
        job: Option<JobId>,
        ctx: &AccessContext,
    ) -> AppResult<()> {
        self.inner
            .ports
            .audit
            .append(NewAuditEntry {
                user_id: caller.id,
                username: caller.username.clone(),
                action: action.to_owned(),
                study_uid: study_uid.map(str::to_owned),
                job_id: job,
                at: self.inner.ports.clock.now(),
                client_addr: ctx.client_addr.clone(),
                request_id: ctx.request_id.clone(),
            })
            .await?;
        Ok(())
    }

    /// The audit trail, newest first (administrators only).
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (limit), `Unavailable`.
    pub async fn audit_entries(
        &self,
        caller: &Caller,
        filter: AuditFilter,
    ) -> AppResult<Vec<AuditEntry>> {
        if !caller.is_admin() {
            return Err(AppError::Forbidden(
                "only administrators may read the audit trail",
            ));
        }
        if !(1..=MAX_STUDY_PAGE).contains(&filter.limit) {
            return Err(AppError::field("limit", "must be between 1 and 500"));
        }
        Ok(self.inner.ports.audit.list_audit(&filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = StudyCursor {
            sort_key: "00123456789".to_owned(),
            id: uuid::Uuid::now_v7().to_string(),
        };
        assert_eq!(
            decode_cursor(&encode_cursor(&cursor), "cursor").unwrap(),
            cursor
        );
        for bad in [
            "",
            "zz",
            "abc",
            "41",
            &encode_cursor(&StudyCursor {
                sort_key: "x".to_owned(),
                id: "y".to_owned(),
            }),
        ] {
            assert!(decode_cursor(bad, "cursor").is_err(), "{bad:?}");
        }
    }
}
