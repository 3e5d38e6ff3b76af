//! Progress reporting: bars (indicatif) on a terminal, one plain line per event otherwise (logs,
//! CI, tests). A "task" is one study being analysed, or one upload being sent and analysed.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the batch commands report while they run. Implementations must be cheap: they are called
/// from worker threads.
pub trait Progress: Send + Sync {
    /// The work is known: `total` tasks to do now, `skipped` already in the output.
    fn start(&self, total: usize, skipped: usize);
    /// A task began; `bytes` is its size when it is an upload.
    fn task_started(&self, id: usize, label: &str, bytes: Option<u64>);
    /// Bytes of an upload sent so far.
    fn task_bytes(&self, id: usize, done: u64);
    /// The task moved on to another phase (e.g. waiting for the analysis).
    fn task_phase(&self, id: usize, phase: &str);
    /// The task ended; `outcome` is a short human summary.
    fn task_finished(&self, id: usize, label: &str, outcome: &str);
    /// A line outside any task (a skipped study, an input failure).
    fn note(&self, line: &str);
    /// Everything is done (or stopped); bars are cleared.
    fn finish(&self);
}

/// Bars on a terminal (standard error), plain lines otherwise.
pub fn for_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::default())
    }
}

/// One line per event on standard error.
#[derive(Default)]
pub struct Lines {
    counts: Mutex<(usize, usize)>,
}

impl Progress for Lines {
    fn start(&self, total: usize, skipped: usize) {
        if let Ok(mut c) = self.counts.lock() {
            c.1 = total;
        }
        eprintln!("{total} to do, {skipped} already in the output (skipped)");
    }
    fn task_started(&self, _id: usize, label: &str, bytes: Option<u64>) {
        match bytes {
            Some(bytes) => eprintln!("started {label} ({bytes} bytes)"),
            None => eprintln!("started {label}"),
        }
    }
    fn task_bytes(&self, _id: usize, _done: u64) {}
    fn task_phase(&self, _id: usize, phase: &str) {
        eprintln!("  {phase}");
    }
    fn task_finished(&self, _id: usize, label: &str, outcome: &str) {
        let (done, total) = self
            .counts
            .lock()
            .map(|mut c| {
                c.0 += 1;
                *c
            })
            .unwrap_or_default();
        eprintln!("[{done}/{total}] {label}: {outcome}");
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
    fn finish(&self) {}
}

/// An overall bar with ETA and one bar per running task.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    tasks: Mutex<HashMap<usize, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(style(
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} studies  {elapsed} elapsed, ETA {eta}",
        ));
        overall.set_prefix("overall");
        Self {
            multi,
            overall,
            tasks: Mutex::new(HashMap::new()),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for Bars {
    fn start(&self, total: usize, skipped: usize) {
        self.overall.set_length(total as u64);
        if skipped > 0 {
            self.note(&format!("{skipped} already in the output (skipped)"));
        }
    }
    fn task_started(&self, id: usize, label: &str, bytes: Option<u64>) {
        let bar = match bytes {
            Some(total) => {
                let bar = ProgressBar::new(total);
                bar.set_style(style(
                    "  {msg} [{bar:20}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
                ));
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(style("  {spinner} {msg} {elapsed}"));
                bar.enable_steady_tick(Duration::from_millis(200));
                bar
            }
        };
        bar.set_message(label.to_owned());
        let bar = self.multi.insert_before(&self.overall, bar);
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(id, bar);
        }
    }
    fn task_bytes(&self, id: usize, done: u64) {
        if let Some(bar) = self.tasks.lock().ok().and_then(|t| t.get(&id).cloned()) {
            bar.set_position(done);
        }
    }
    fn task_phase(&self, id: usize, phase: &str) {
        if let Some(bar) = self.tasks.lock().ok().and_then(|t| t.get(&id).cloned()) {
            bar.set_style(style("  {spinner} {msg} {elapsed}"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar.set_message(phase.to_owned());
        }
    }
    fn task_finished(&self, id: usize, label: &str, outcome: &str) {
        if let Some(bar) = self.tasks.lock().ok().and_then(|mut t| t.remove(&id)) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.overall.inc(1);
        self.note(&format!("{label}: {outcome}"));
    }
    fn note(&self, line: &str) {
        let _ = self.multi.println(line);
    }
    fn finish(&self) {
        // Cleared, so the summary table that follows starts on a line of its own.
        self.overall.finish_and_clear();
    }
}
