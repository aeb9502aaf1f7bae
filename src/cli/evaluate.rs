//! `muselab evaluate`: each run on its held-out pieces beside the baselines.

use std::path::PathBuf;

use crate::compute::{self, DeviceChoice};
use crate::evaluation::{EvaluateOptions, Report, evaluate as evaluate_run, save_report, table};

/// Evaluates each run; prints a table (or a JSON line) per run and saves the report beside the
/// checkpoint (the Compare view reads it). Exit code 1 when any failed.
pub fn evaluate(
    runs: &[PathBuf],
    json: bool,
    samples: usize,
    seed: u64,
    device: DeviceChoice,
) -> i32 {
    // Evaluation is many small forward passes: the CPU answers them faster than a GPU's launch
    // cost unless the user asks for the GPU.
    let compute = match device {
        DeviceChoice::Gpu => compute::probe_with_timeout(device, compute::PROBE_LIMIT),
        _ => compute::ComputeDevice::cpu("evaluation runs on the CPU"),
    };
    let options = EvaluateOptions { samples, seed };
    let mut failed = false;
    for run in runs {
        let mut progress = |_: f32, what: &str| log::info!("{}: {what}", run.display());
        let result = evaluate_run(run, &options, compute.device(), &mut progress);
        if let Ok(report) = &result
            && let Err(e) = save_report(run, report)
        {
            eprintln!("muselab evaluate: {e}");
        }
        match result.map(|report| Report {
            example: None,
            ..report
        }) {
            Ok(report) if json => match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    failed = true;
                    eprintln!("muselab evaluate: {}: {e}", run.display());
                }
            },
            Ok(report) => println!("{}", table(&report)),
            Err(e) => {
                failed = true;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"run": run.display().to_string(), "error": e})
                    );
                } else {
                    eprintln!("muselab evaluate: {}: {e}", run.display());
                }
            }
        }
    }
    i32::from(failed)
}
