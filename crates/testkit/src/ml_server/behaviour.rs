//! What the scripted service does with one `/infer` call: how it answers, when it calls back,
//! and what the report and the completion say.

use std::time::Duration;

use serde_json::Value;
use triage_report::{Cell, ProcessingStatus, SeriesRow};

/// How `/infer` answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `202` with `{"status":"accepted","job_uuid":…}`.
    Accepted,
    /// `200` with `{"status":"accepted","job_uuid":…}`.
    AcceptedOk,
    /// Writes the report as the [`Outcome`] says, then answers `200` with the completion
    /// (`status` `completed`, or `failed` for [`Outcome::Failed`]): the synchronous protocol.
    Completed,
    /// `status` with `{"detail": message}` and, if given, a `Retry-After` header.
    Error {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    /// `status` with this body as is (`application/json` if it parses as JSON, else text).
    Raw { status: u16, body: String },
}

/// When a callback is sent, relative to the `/infer` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackAt {
    /// Sent and answered before `/infer` answers.
    BeforeAnswer,
    /// Sent this long after the handler produced its answer (so, in practice, after the client
    /// got it; 50 ms is plenty on loopback).
    AfterAnswer(Duration),
}

/// What the analysis "found": the report written at `output_object` and the completion's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A valid report with these rows; completion `succeeded` naming it.
    Succeeded(Vec<SeriesRow>),
    /// [`GARBAGE_REPORT`] written at `output_object`; completion `succeeded` naming it.
    Garbage,
    /// Nothing written; completion `succeeded` naming the missing report.
    NoReport,
    /// Nothing written; completion `failed` with this `error`.
    Failed(String),
    /// Nothing written; this JSON sent as the completion (or the synchronous answer) as is.
    Body(Value),
}

impl Outcome {
    /// A valid report of [`sample_rows`].
    pub fn succeeded() -> Self {
        Self::Succeeded(sample_rows())
    }
}

/// The bytes [`Outcome::Garbage`] writes: starts like a zip, is not one.
pub const GARBAGE_REPORT: &[u8] = b"PK\x03\x04 this is not an xlsx workbook \x00\xff\xfe garbage";

/// The rows of [`Outcome::succeeded`]: one study, a pathological series and a normal one.
pub fn sample_rows() -> Vec<SeriesRow> {
    let row = |series: &str, probability: f64, laa: f64| SeriesRow {
        path_to_study: "study1".into(),
        study_uid: "1.2.826.0.1.3680043.8.498.1".into(),
        series_uid: format!("1.2.826.0.1.3680043.8.498.1.{series}"),
        probability_of_pathology: Some(probability),
        pathology: Some(probability >= 0.25),
        processing_status: ProcessingStatus::Success,
        time_of_processing: 1.5,
        most_dangerous_pathology_type: (probability >= 0.25).then(|| "emphysema".to_owned()),
        pathology_localization: None,
        error: None,
        extra: vec![("laa950_percent".into(), Cell::Number(laa))],
    };
    vec![row("1", 0.83, 17.5), row("2", 0.04, 0.6)]
}

/// Everything the service does for one `/infer` call. Build it with the constructors and
/// adjust it with the `with_*`/`call_back*` methods:
///
/// ```ignore
/// Behaviour::accept().call_back()                        // 202, then a valid completion
/// Behaviour::accept()                                    // 202, then silence (ScriptedMl::complete)
/// Behaviour::complete_sync()                             // 200 completed, report written first
/// Behaviour::unavailable().retry_after("1")              // 503 + Retry-After: 1
/// Behaviour::error(422, "unknown profile")               // permanent refusal
/// Behaviour::hang(Duration::from_secs(5))                // answers 202 only after 5 s
/// Behaviour::accept().call_back().call_back()            // calls back twice
/// Behaviour::accept().call_back_before_answer()          // callback first, then 202
/// Behaviour::accept().call_back().with_callback_token("wrong")
/// Behaviour::accept().call_back().with_outcome(Outcome::Garbage)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub reply: Reply,
    /// Waited before anything else (callbacks included): longer than the client's timeout, it
    /// "hangs".
    pub delay: Duration,
    /// One entry per callback, in order.
    pub callbacks: Vec<CallbackAt>,
    pub outcome: Outcome,
    /// The `Authorization` header of the callbacks.
    pub callback_auth: CallbackAuth,
}

/// The `Authorization` header a callback carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallbackAuth {
    /// `Bearer {the service's token}` (no header if that token is empty).
    #[default]
    Service,
    /// `Bearer {token}`.
    Bearer(String),
    /// `{token}` without `Bearer ` (the compat form ml-protocol.md §2 accepts).
    Raw(String),
    /// No header.
    Missing,
}

impl Default for Behaviour {
    /// A well-behaved asynchronous service: `202`, then a valid completion 50 ms later.
    fn default() -> Self {
        Self::accept().call_back()
    }
}

impl Behaviour {
    fn replying(reply: Reply) -> Self {
        Self {
            reply,
            delay: Duration::ZERO,
            callbacks: Vec::new(),
            outcome: Outcome::succeeded(),
            callback_auth: CallbackAuth::Service,
        }
    }

    /// `202`, no callback (send one with `ScriptedMl::complete`, or add `.call_back()`).
    pub fn accept() -> Self {
        Self::replying(Reply::Accepted)
    }

    /// `200 {"status":"accepted"}`, no callback.
    pub fn accept_ok() -> Self {
        Self::replying(Reply::AcceptedOk)
    }

    /// Writes a valid report, then answers `200` with `status: completed`.
    pub fn complete_sync() -> Self {
        Self::replying(Reply::Completed)
    }

    /// `status` with `{"detail": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::replying(Reply::Error {
            status,
            message: message.into(),
            retry_after: None,
        })
    }

    /// `503 {"detail":"model is loading"}`.
    pub fn unavailable() -> Self {
        Self::error(503, "model is loading")
    }

    /// `status` with `body` verbatim.
    pub fn raw(status: u16, body: impl Into<String>) -> Self {
        Self::replying(Reply::Raw {
            status,
            body: body.into(),
        })
    }

    /// Answers `202` after `delay`, no callback: set `delay` past the client's timeout.
    pub fn hang(delay: Duration) -> Self {
        Self::accept().delayed(delay)
    }

    /// Adds a `Retry-After` header (only [`Reply::Error`] answers carry it).
    pub fn retry_after(mut self, value: impl Into<String>) -> Self {
        if let Reply::Error { retry_after, .. } = &mut self.reply {
            *retry_after = Some(value.into());
        }
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// One more callback, 50 ms after the answer.
    pub fn call_back(self) -> Self {
        self.call_back_after(Duration::from_millis(50))
    }

    /// One more callback, `delay` after the answer.
    pub fn call_back_after(mut self, delay: Duration) -> Self {
        self.callbacks.push(CallbackAt::AfterAnswer(delay));
        self
    }

    /// One more callback, sent (and its answer awaited) before `/infer` answers.
    pub fn call_back_before_answer(mut self) -> Self {
        self.callbacks.push(CallbackAt::BeforeAnswer);
        self
    }

    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Callbacks carry `Bearer {token}` instead of the service's token.
    pub fn with_callback_token(self, token: impl Into<String>) -> Self {
        self.with_callback_auth(CallbackAuth::Bearer(token.into()))
    }

    pub fn with_callback_auth(mut self, auth: CallbackAuth) -> Self {
        self.callback_auth = auth;
        self
    }
}
