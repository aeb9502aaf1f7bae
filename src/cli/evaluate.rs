//! `muselab evaluate`: each run on its held-out pieces beside the baselines.

use std::path::PathBuf;

use crate::compute::{self, DeviceChoice};
use crate::evaluation::{EvaluateOptions, Report, evaluate_with, save_report, table};

/// How `muselab evaluate` prints its reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A text table per run.
    Table,
    /// A JSON object per line.
    Json,
    /// One markdown table, a row per run.
    Markdown,
}

/// Evaluates each run; prints its report and saves it beside the checkpoint (the Compare view
/// reads it; a shipped run's only with `save_shipped`). Exit code 1 when any failed.
pub fn evaluate(
    runs: &[PathBuf],
    format: Format,
    samples: usize,
    seed: u64,
    save_shipped: bool,
    set: &[String],
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
    if format == Format::Markdown {
        println!("{}", markdown_header());
    }
    for run in runs {
        let mut progress = |_: f32, what: &str| log::info!("{}: {what}", run.display());
        let result = evaluate_with(run, &options, set, compute.device(), &mut progress);
        // A report made with changed hyperparameters is not the run's own: printed, not saved.
        let writable =
            set.is_empty() && (save_shipped || !crate::training::shipped::is_shipped(run));
        if let Ok(report) = &result
            && writable
            && let Err(e) = save_report(run, report)
        {
            eprintln!("muselab evaluate: {e}");
        }
        let report = match result {
            Ok(report) => Report {
                example: None,
                ..report
            },
            Err(e) => {
                failed = true;
                if format == Format::Json {
                    let error = serde_json::json!({"run": run.display().to_string(), "error": e});
                    println!("{error}");
                } else {
                    eprintln!("muselab evaluate: {}: {e}", run.display());
                }
                continue;
            }
        };
        match format {
            Format::Table => println!("{}", table(&report)),
            Format::Markdown => println!("{}", markdown_row(&report)),
            Format::Json => match serde_json::to_string(&report) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    failed = true;
                    eprintln!("muselab evaluate: {}: {e}", run.display());
                }
            },
        }
    }
    i32::from(failed)
}

fn markdown_header() -> String {
    "| model | corpus | NLL/step: model · unigram · Markov | onset accuracy: model · unigram · Markov | \
     step accuracy: model · Markov | overlap: model · unigram · Markov | copies |\n\
     | --- | --- | --- | --- | --- | --- | --- |"
        .into()
}

/// One row: each measure as model · unigram · Markov, the model's in bold where it beats both.
fn markdown_row(report: &Report) -> String {
    let baselines = &report.baselines;
    let trio = |values: [Option<f64>; 3], higher_is_better: bool| -> String {
        let Some(model) = values[0] else {
            return "—".into();
        };
        let beats = values[1..].iter().flatten().all(|&b| {
            if higher_is_better {
                model > b
            } else {
                model < b
            }
        });
        let cells: Vec<String> = values
            .iter()
            .map(|v| v.map_or("—".into(), |v| format!("{v:.3}")))
            .collect();
        let first = if beats {
            format!("**{}**", cells[0])
        } else {
            cells[0].clone()
        };
        format!("{first} · {} · {}", cells[1], cells[2])
    };
    let p = [
        report.measures.predictive,
        baselines.unigram.predictive,
        baselines.markov.predictive,
    ];
    let s = [
        report.measures.samples.as_ref(),
        baselines.unigram.samples.as_ref(),
        baselines.markov.samples.as_ref(),
    ];
    let accuracy = match (p[0], p[2]) {
        (Some(m), Some(k)) => format!("{:.3} · {:.3}", m.accuracy, k.accuracy),
        _ => "—".into(),
    };
    format!(
        "| `{}` | {} | {} | {} | {} | {} | {} |",
        report.model,
        report.corpus,
        trio(p.map(|p| p.map(|p| p.nll_per_step)), false),
        trio(p.map(|p| p.map(|p| p.onset_accuracy)), true),
        accuracy,
        trio(s.map(|s| s.map(|s| s.overlap_mean)), true),
        s[0].map_or("—".into(), |s| format!("{:.2}", s.nearest_copy_rate)),
    )
}
