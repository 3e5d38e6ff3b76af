//! Analyses archives from the command line and prints one line per series; a quick benchmark.
//!
//! `cargo run --release -p triage-engine --example analyse -- [--profile P] [--threads N]
//! [--threshold T] [--masks] [--xlsx OUT] ARCHIVE...` (`--masks`: keep the label volume and key
//! slices too, to measure what that costs).

use std::path::PathBuf;
use std::process::ExitCode;

use triage_engine::{Options, Profile, SeriesOutcome, analyse_path, write_report};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = Options::default();
    let mut xlsx = None;
    let mut inputs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--profile" => options.profile = value()?.parse::<Profile>()?,
            "--threads" => options.threads = value()?.parse()?,
            "--threshold" => options.threshold = value()?.parse()?,
            "--masks" => options.masks = true,
            "--xlsx" => xlsx = Some(PathBuf::from(value()?)),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    for input in &inputs {
        let analysis = analyse_path(input, &options)?;
        println!(
            "{} ({} series, {:.3} s, profile {}, {} threads)",
            input.display(),
            analysis.series.len(),
            analysis.duration.as_secs_f64(),
            analysis.profile,
            options.threads
        );
        for series in &analysis.series {
            match &series.outcome {
                SeriesOutcome::Success {
                    metrics: m,
                    probability: p,
                    pathology,
                    ..
                } => println!(
                    "  {} LAA-950 {:.2} %  HAA {:.2} %  MLD {:.1} HU  volume {:.1} ml  \
                     slices {}/{}  p {:.3} (emph {:.3}, haa {:.3})  pathology {}  {:.3} s",
                    series.series_uid,
                    m.laa950_percent,
                    m.haa_percent,
                    m.mean_lung_hu,
                    m.lung_volume_ml.unwrap_or(f64::NAN),
                    m.slices_analysed,
                    m.slices_in_series,
                    p.overall,
                    p.emphysema,
                    p.high_attenuation,
                    pathology,
                    series.duration.as_secs_f64()
                ),
                SeriesOutcome::Failure { reason } => {
                    println!("  {} FAILURE: {reason}", series.series_uid)
                }
            }
        }
        if let Some(out) = &xlsx {
            std::fs::write(out, write_report(&analysis)?)?;
        }
    }
    Ok(())
}
