//! `triage analyse`: every study under the given paths through the embedded engine, into one
//! report, offline.
//!
//! Studies run on worker threads (`jobs` cores in all: several studies at once when there are
//! enough of them, the rest of the cores spreading one study's slices). The output is rewritten
//! atomically as studies finish (at most every [`CHECKPOINT_EVERY`]) and once at the end, so an
//! interruption loses only the studies in flight, and `--resume` reads it back and skips what it
//! holds.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use triage_archive::Limits;
use triage_engine::{Options, Profile};
use triage_report::SeriesRow;

use crate::BatchError;
use crate::discover::{Study, discover};
use crate::output::{self, Format};
use crate::progress::Progress;
use crate::rows::{failure_row, unit_key};
use crate::summary::Summary;

/// The shortest time between two rewrites of the output while studies finish.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// What `triage analyse` was asked to do.
#[derive(Debug, Clone)]
pub struct AnalyseOptions {
    pub output: PathBuf,
    pub format: Format,
    pub profile: Profile,
    pub threshold: f64,
    /// Cores to use in all (at least 1).
    pub jobs: usize,
    /// Keep the studies of an existing output and analyse only the others.
    pub resume: bool,
    /// Stop as if interrupted after this many studies (a test hook; hidden on the CLI).
    pub stop_after: Option<usize>,
    pub limits: Limits,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// Every row written, earlier ones (kept by `--resume`) first.
    pub rows: Vec<SeriesRow>,
    pub summary: Summary,
    /// Stopped (Ctrl-C or `stop_after`) before every study was analysed.
    pub interrupted: bool,
    /// Studies and failed inputs found in the existing output and not redone.
    pub skipped: usize,
    /// Studies analysed in this run.
    pub analysed: usize,
}

enum Event {
    Done { index: usize, rows: Vec<SeriesRow> },
    Stop,
}

/// Stops a running [`Analyser`] cleanly from another thread (the Ctrl-C handler): no new study
/// starts, the output is written with every finished study, and `run` returns.
#[derive(Clone)]
pub struct Stopper(Sender<Event>);

impl Stopper {
    pub fn stop(&self) {
        // The run may be over already; then there is nothing to stop.
        let _ = self.0.send(Event::Stop);
    }
}

/// One `triage analyse` run.
pub struct Analyser {
    options: AnalyseOptions,
    sender: Sender<Event>,
    events: Receiver<Event>,
}

impl Analyser {
    pub fn new(options: AnalyseOptions) -> Result<Self, BatchError> {
        if !(0.0..=1.0).contains(&options.threshold) {
            return Err(BatchError::Usage(format!(
                "the threshold must be between 0 and 1, got {}",
                options.threshold
            )));
        }
        let (sender, events) = channel();
        Ok(Self {
            options,
            sender,
            events,
        })
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.sender.clone())
    }

    /// Discovers, analyses and writes. Returns when every study is done or on a stop.
    pub fn run(
        self,
        inputs: &[PathBuf],
        progress: Arc<dyn Progress>,
    ) -> Result<Outcome, BatchError> {
        let opts = &self.options;
        let mut kept = Vec::new();
        if opts.resume && opts.output.exists() {
            kept = output::read(&opts.output, opts.format)?;
        }
        let done: HashSet<String> = kept.iter().map(unit_key).collect();
        let discovery = discover(inputs, &opts.limits);

        let mut skipped = 0;
        let mut failures = Vec::new();
        for failure in &discovery.failures {
            let row = failure_row(&failure.path, "", &failure.reason);
            if done.contains(&unit_key(&row)) {
                skipped += 1;
            } else {
                progress.note(&format!("{}: Failure: {}", failure.path, failure.reason));
                failures.push(row);
            }
        }
        let studies: Vec<Study> = discovery
            .studies
            .into_iter()
            .filter(|s| {
                let seen = done.contains(&format!("study:{}", s.study_uid));
                if seen {
                    skipped += 1;
                    progress.note(&format!(
                        "skipped study {} (already in the output)",
                        s.study_uid
                    ));
                }
                !seen
            })
            .collect();
        progress.start(studies.len(), skipped);

        let mut results: Vec<Option<Vec<SeriesRow>>> = vec![None; studies.len()];
        let write = |results: &[Option<Vec<SeriesRow>>]| -> Result<Vec<SeriesRow>, BatchError> {
            let rows: Vec<SeriesRow> = kept
                .iter()
                .chain(&failures)
                .chain(results.iter().flatten().flatten())
                .cloned()
                .collect();
            output::write(&opts.output, opts.format, &rows, Some(opts.threshold))?;
            Ok(rows)
        };
        write(&results)?;

        let stop = Arc::new(AtomicBool::new(false));
        self.spawn_workers(studies, &stop, &progress);
        let mut analysed = 0;
        let mut interrupted = false;
        let mut last_write = Instant::now();
        while analysed < results.len() {
            match self.events.recv() {
                Ok(Event::Done { index, rows }) => {
                    results[index] = Some(rows);
                    analysed += 1;
                    if opts.stop_after.is_some_and(|n| analysed >= n) && analysed < results.len() {
                        interrupted = true;
                        break;
                    }
                    if last_write.elapsed() >= CHECKPOINT_EVERY {
                        write(&results)?;
                        last_write = Instant::now();
                    }
                }
                Ok(Event::Stop) | Err(_) => {
                    interrupted = true;
                    break;
                }
            }
        }
        // Studies still running are abandoned: their threads end with the process.
        stop.store(true, Ordering::Relaxed);
        let rows = write(&results)?;
        progress.finish();
        if interrupted {
            progress.note(&format!(
                "stopped: {analysed} of {} studies analysed and written to {}; run again with --resume to finish",
                results.len(),
                opts.output.display()
            ));
        }
        Ok(Outcome {
            summary: Summary::of(&rows),
            rows,
            interrupted,
            skipped,
            analysed,
        })
    }

    fn spawn_workers(
        &self,
        studies: Vec<Study>,
        stop: &Arc<AtomicBool>,
        progress: &Arc<dyn Progress>,
    ) {
        let jobs = self.options.jobs.max(1);
        let parallel = jobs.min(studies.len()).max(1);
        let mut engine = Options::new(self.options.profile, self.options.threshold);
        engine.threads = (jobs / parallel).max(1);
        let studies = Arc::new(studies);
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..parallel {
            let (studies, next, stop, progress) = (
                Arc::clone(&studies),
                Arc::clone(&next),
                Arc::clone(stop),
                Arc::clone(progress),
            );
            let (sender, engine) = (self.sender.clone(), engine.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(study) = studies.get(index) else {
                        break;
                    };
                    let label = study.folder();
                    progress.task_started(index, &label, None);
                    let started = Instant::now();
                    let rows = analyse_study(study, &label, &engine);
                    progress.task_finished(
                        index,
                        &label,
                        &crate::rows::describe(&rows, started.elapsed()),
                    );
                    if sender.send(Event::Done { index, rows }).is_err() {
                        break;
                    }
                }
            });
        }
    }
}

/// The engine on one study; whatever goes wrong becomes a `Failure` row, never a crash.
fn analyse_study(study: &Study, label: &str, engine: &Options) -> Vec<SeriesRow> {
    let members = study.members.clone();
    match catch_unwind(AssertUnwindSafe(|| {
        triage_engine::analyse_members(members, engine)
    })) {
        Ok(Ok(analysis)) => {
            let mut rows = analysis.rows();
            // Loose files in the current folder share no folder: name the study as submit does.
            for row in rows.iter_mut().filter(|r| r.path_to_study == ".") {
                row.path_to_study = label.to_owned();
            }
            rows
        }
        Ok(Err(e)) => vec![failure_row(label, &study.study_uid, &e.to_string())],
        Err(_) => vec![failure_row(label, &study.study_uid, "the analysis crashed")],
    }
}
