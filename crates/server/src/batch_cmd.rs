//! `triage analyse` and `triage submit`: argument parsing and the process around the
//! `triage-batch` library (Ctrl-C, the summary table, the exit status).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use triage_archive::Limits;
use triage_batch::{AnalyseOptions, Analyser, Format, Summary};
use triage_engine::Profile;

/// Exit status when some study failed (0 means every study succeeded).
const SOME_FAILED: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct AnalyseArgs {
    /// ZIP archives, folders (any depth, any file names) and DICOM files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The report to write.
    #[arg(short, long)]
    output: PathBuf,
    /// xlsx, csv or json; by default from the output's extension (xlsx otherwise).
    #[arg(long)]
    format: Option<Format>,
    /// fast_debug, production or research.
    #[arg(long, default_value = "production")]
    profile: Profile,
    /// pathology = probability_of_pathology >= threshold.
    #[arg(long, default_value_t = 0.25)]
    threshold: f64,
    /// Cores to use (default: all).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Keep the studies already in the output and analyse only the others.
    #[arg(long)]
    resume: bool,
    /// Test hook: stop as on Ctrl-C after this many studies.
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
}

fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub async fn analyse(args: AnalyseArgs) -> ExitCode {
    let format = Format::for_output(args.format, &args.output);
    let options = AnalyseOptions {
        format,
        output: args.output,
        profile: args.profile,
        threshold: args.threshold,
        jobs: args.jobs.unwrap_or_else(all_cores).max(1),
        resume: args.resume,
        stop_after: args.stop_after,
        limits: Limits::default(),
    };
    let analyser = match Analyser::new(options) {
        Ok(analyser) => analyser,
        Err(e) => return fail(&e),
    };
    let stopper = analyser.stopper();
    // Registered before any work starts, so an early Ctrl-C is never the default (a kill).
    let interrupt = match interrupt_signal() {
        Ok(interrupt) => interrupt,
        Err(e) => return fail(&e),
    };
    let ctrl_c = tokio::spawn(async move {
        if interrupt.await.is_ok() {
            eprintln!("stopping: writing the studies analysed so far");
            stopper.stop();
        }
    });
    let progress: Arc<dyn triage_batch::Progress> = triage_batch::progress::for_stderr().into();
    let inputs = args.inputs;
    let outcome = tokio::task::spawn_blocking(move || analyser.run(&inputs, progress)).await;
    ctrl_c.abort();
    match outcome {
        Ok(Ok(outcome)) => finish(&outcome.summary, outcome.interrupted),
        Ok(Err(e)) => fail(&e),
        Err(e) => fail(&e),
    }
}

/// A future of the next Ctrl-C (SIGINT), with the handler installed now rather than when the
/// future is first polled.
fn interrupt_signal()
-> std::io::Result<impl std::future::Future<Output = std::io::Result<()>> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            interrupt.recv().await;
            Ok(())
        })
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::signal::ctrl_c())
    }
}

/// Prints the summary table and picks the exit status.
fn finish(summary: &Summary, interrupted: bool) -> ExitCode {
    println!("{summary}");
    if interrupted {
        ExitCode::from(INTERRUPTED)
    } else if summary.all_succeeded() {
        ExitCode::SUCCESS
    } else {
        println!("{} of {} studies failed", summary.failed, summary.studies);
        ExitCode::from(SOME_FAILED)
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("triage: {e}");
    ExitCode::FAILURE
}

#[derive(Args)]
pub struct SubmitArgs {
    /// ZIP archives, folders (any depth, any file names) and DICOM files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The triage server, e.g. http://127.0.0.1:8000.
    #[arg(long, env = "TRIAGE_SERVER")]
    server: String,
    /// An access token; without one, a username and password are asked for.
    #[arg(long, env = "TRIAGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The username to log in with (asked for when missing).
    #[arg(long)]
    username: Option<String>,
    /// The combined report to write.
    #[arg(short, long)]
    output: PathBuf,
    /// xlsx, csv or json; by default from the output's extension (xlsx otherwise).
    #[arg(long)]
    format: Option<Format>,
    /// fast_debug, production or research.
    #[arg(long, default_value = "production")]
    profile: Profile,
    /// pathology = probability_of_pathology >= threshold.
    #[arg(long, default_value_t = 0.25)]
    threshold: f64,
    /// Uploads at a time.
    #[arg(short, long, default_value_t = 4)]
    jobs: usize,
}

pub async fn submit(args: SubmitArgs) -> ExitCode {
    use triage_batch::submit::{self, Client, SubmitOptions};
    if !(0.0..=1.0).contains(&args.threshold) {
        return fail(&"the threshold must be between 0 and 1");
    }
    let client = match args.token {
        Some(token) => Client::new(&args.server, token),
        None => match ask_credentials(args.username) {
            Ok((username, password)) => Client::login(&args.server, &username, &password).await,
            Err(e) => return fail(&e),
        },
    };
    let client = match client {
        Ok(client) => client,
        Err(e) => return fail(&e),
    };
    let options = SubmitOptions {
        format: Format::for_output(args.format, &args.output),
        output: args.output,
        profile: args.profile.as_str().to_owned(),
        threshold: args.threshold,
        jobs: args.jobs.max(1),
        limits: Limits::default(),
    };
    let progress: Arc<dyn triage_batch::Progress> = triage_batch::progress::for_stderr().into();
    tokio::select! {
        outcome = submit::submit(client, args.inputs, options, progress) => match outcome {
            Ok(outcome) => finish(&outcome.summary, false),
            Err(e) => fail(&e),
        },
        _ = tokio::signal::ctrl_c() => {
            // The output is rewritten after every finished study: it holds them all.
            eprintln!("stopped: the report holds the studies finished so far");
            ExitCode::from(INTERRUPTED)
        }
    }
}

/// The username (from `--username` or a prompt) and the password (hidden on a terminal; one
/// line of standard input otherwise, for scripts).
fn ask_credentials(username: Option<String>) -> std::io::Result<(String, String)> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    let line = || -> std::io::Result<String> {
        let mut text = String::new();
        stdin.lock().read_line(&mut text)?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    };
    let username = match username {
        Some(name) => name,
        None => {
            eprint!("username: ");
            std::io::stderr().flush()?;
            line()?
        }
    };
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("password: ")?
    } else {
        line()?
    };
    Ok((username, password))
}
