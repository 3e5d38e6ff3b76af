//! `just bench-evaluate`: the whole evaluation (ROC, DeLong, stratified bootstrap, operating
//! points, calibration, timing) of generated scored studies, timed. Arguments: studies
//! (default 100000) and bootstrap resamples (default 2000). Prints the time and the load
//! average, which docs/benchmarks.md records with it.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triage_evaluation::{
    BootstrapOptions, EvaluationInput, EvaluationOptions, Label, StudyScore, evaluate,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let studies: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let resamples: u32 = args.next().map_or(Ok(2000), |a| a.parse())?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut scores = Vec::with_capacity(studies);
    let mut labels = Vec::with_capacity(studies);
    for i in 0..studies {
        // 30 % pathology; scores are a logistic of a normal shifted by one for pathology,
        // rounded to 3 decimals as reports write them (so there are ties).
        let pathology = rng.gen_bool(0.3);
        let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let logit = z + if pathology { 1.0 } else { 0.0 } - 0.5;
        let score = (1000.0 / (1.0 + (-logit).exp())).round() / 1000.0;
        let uid = format!("1.2.840.{i}");
        scores.push(StudyScore {
            study_uid: uid.clone(),
            score,
            seconds: Some(rng.gen_range(20.0..700.0)),
        });
        labels.push(Label {
            study_uid: uid,
            pathology,
            finding: None,
        });
    }
    let input = EvaluationInput { scores, labels };
    let options = EvaluationOptions {
        bootstrap: BootstrapOptions { resamples, seed: 7 },
        ..EvaluationOptions::default()
    };
    let started = Instant::now();
    let e = evaluate(&input, options)?;
    let elapsed = started.elapsed();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "evaluate: {studies} studies, {resamples} bootstrap resamples, {} threads: {:.3} s",
        rayon::current_num_threads(),
        elapsed.as_secs_f64()
    );
    println!(
        "auc {:.4} DeLong [{:.4}, {:.4}] bootstrap [{:.4}, {:.4}]",
        e.auc,
        e.auc_ci_delong.low,
        e.auc_ci_delong.high,
        e.auc_ci_bootstrap.low,
        e.auc_ci_bootstrap.high
    );
    println!("load average: {}", load.trim());
    Ok(())
}
