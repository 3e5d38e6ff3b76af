//! Analyses an archive with masks and writes every series' artefacts (key images, NIfTI, DICOM
//! SEG) to OUT/<series uid>/; prints the time of the analysis and of the artefacts. With
//! `--no-visual` only the analysis runs (the engine benchmark's baseline).
//!
//! `cargo run --release -p triage-visual --example artefacts -- [--threads N] [--no-visual]
//! ARCHIVE OUT`

use std::path::PathBuf;
use std::time::Instant;

use triage_engine::{Options, SeriesOutcome, analyse_path};
use triage_visual::{RenderOptions, SegOptions, key_images, nifti_gz, segmentation};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = Options::default();
    let mut visual = true;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => options.threads = args.next().ok_or("--threads N")?.parse()?,
            "--no-visual" => visual = false,
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let [input, out] = paths.as_slice() else {
        return Err("usage: artefacts [--threads N] [--no-visual] ARCHIVE OUT".into());
    };
    options.masks = visual;
    let started = Instant::now();
    let analysis = analyse_path(input, &options)?;
    let analysed = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut files = 0;
    for series in &analysis.series {
        let SeriesOutcome::Success {
            masks: Some(masks), ..
        } = &series.outcome
        else {
            continue;
        };
        let dir = out.join(&series.series_uid);
        std::fs::create_dir_all(&dir)?;
        let mut artefacts = key_images(masks, RenderOptions::default())?;
        artefacts.push(nifti_gz(masks)?);
        artefacts.push(segmentation(masks, &SegOptions::default())?);
        for artefact in artefacts {
            std::fs::write(dir.join(&artefact.name), &artefact.bytes)?;
            files += 1;
        }
    }
    println!(
        "analysis {analysed:.3} s, artefacts {:.3} s ({files} files, {} series, visual {visual})",
        started.elapsed().as_secs_f64(),
        analysis.series.len()
    );
    Ok(())
}
