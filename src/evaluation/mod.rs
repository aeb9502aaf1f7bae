//! Proof of learning: a trained run measured on the held-out pieces of its corpus, beside two
//! dumb baselines fitted on the same training pieces — a unigram model (token frequencies) and
//! a Markov chain — so that "the loss fell" becomes "it predicts and writes music better than
//! counting does".
//!
//! - **predictive** (models that give a distribution per step): NLL per step, step accuracy and
//!   onset accuracy (see [`predictive`]; the baselines are in [`ngram`]). VAEs and autoencoders
//!   reconstruct from the posterior mean — a task that sees its own input, so they should beat
//!   the baselines by far.
//! - **samples** (every model): feature overlaps with the held-out pieces after Yang & Lerch
//!   and the share of exact copies of a training window (see [`overlap`]).
//!
//! How each model is measured is said in its own file (`models::Trained::evaluate`), with the
//! pieces of `measures`; this module loads a run, finds its held-out pieces, and reports.
//! Used by `muselab evaluate` and the Compare view.

pub mod worker;

pub use crate::measures::{
    Baselines, EvaluateOptions, MAX_SAMPLES, Progress, SampleScores, Scores, frames, ngram,
    overlap, predictive,
};

use std::path::Path;

use burn::tensor::Device;

use crate::data::SPLIT_RULE;
use crate::inference::LoadedModel;
use crate::measures::HeldOut;
use crate::music::Score;
use crate::music::harmony::Harmony;
use crate::training::RunConfig;
use overlap::FEATURES;

/// The evaluation of one run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The checkpoint folder.
    pub run: String,
    /// Model id.
    pub model: String,
    /// Corpus.
    pub corpus: String,
    /// Pieces held out from training.
    pub held_out_pieces: usize,
    /// How they were chosen.
    pub split: String,
    /// Steps per sample (and per reference excerpt).
    pub sample_steps: usize,
    /// The model's measures: predictive (per step, or per frame for the Boltzmann machines),
    /// samples, part-writing (mini-bach).
    #[serde(flatten)]
    pub measures: crate::measures::Scores,
    /// The same part-writing measures of the corpus's own voices for the same sopranos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_harmony: Option<Harmony>,
    /// RL-Tuner's Table 1 on the held-out melodies' openings (melody models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_rules: Option<crate::measures::rules::RuleStats>,
    /// The baselines, measured the same way.
    pub baselines: Baselines,
    /// Seconds the evaluation took.
    pub seconds: f64,
    /// The model's first sample, to listen to beside the figures (kept in the saved report,
    /// left out of `muselab evaluate --json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Score>,
}

/// The report's file in a checkpoint folder (replaced with the checkpoint when a run goes on).
pub const REPORT_FILE: &str = "evaluation.json";

/// Saves a report beside its checkpoint (written to a temporary name, then renamed).
pub fn save_report(dir: &Path, report: &Report) -> Result<(), String> {
    let path = dir.join(REPORT_FILE);
    let text = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    crate::util::write_atomically(&path, &text)
        .map_err(|e| format!("{}: cannot save the evaluation: {e}", path.display()))
}

/// The saved report of a checkpoint, if there is a readable one.
pub fn read_report(dir: &Path) -> Option<Report> {
    let text = std::fs::read(dir.join(REPORT_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Evaluates the checkpoint in `dir` on `device`.
pub fn evaluate(
    dir: &Path,
    options: &EvaluateOptions,
    device: &Device,
    progress: Progress<'_>,
) -> Result<Report, String> {
    evaluate_with(dir, options, &[], device, progress)
}

/// [`evaluate`] with generation-time hyperparameters changed first (`name=value`, as
/// [`LoadedModel::load_with`] takes them).
pub fn evaluate_with(
    dir: &Path,
    options: &EvaluateOptions,
    set: &[String],
    device: &Device,
    progress: Progress<'_>,
) -> Result<Report, String> {
    let started = std::time::Instant::now();
    if options.samples == 0 || options.samples > MAX_SAMPLES {
        return Err(format!(
            "samples must be between 1 and {MAX_SAMPLES} (got {})",
            options.samples
        ));
    }
    progress(0.0, "loading the checkpoint");
    let (model, config) = LoadedModel::load_with(dir, None, device, set)?;
    progress(0.05, "reading the corpus");
    let corpus = config.corpus_dir(&crate::corpus::assets_dir());
    let (scores, _) = crate::data::load_scores(&corpus, config.max_pieces)?;
    let (train, held) = split(&config, scores);
    if held.is_empty() {
        return Err(format!(
            "{}: no held-out piece ({SPLIT_RULE}): the run saw fewer than 10 pieces",
            config.corpus
        ));
    }
    let data = HeldOut {
        train: &train,
        held: &held,
        training: (config.epochs, config.batch_size, config.seed),
    };
    let evaluated = model.evaluate(&data, options, device, progress)?;
    Ok(Report {
        run: dir.display().to_string(),
        model: config.model.id().into(),
        corpus: config.corpus.clone(),
        held_out_pieces: held.len(),
        split: SPLIT_RULE.into(),
        sample_steps: evaluated.steps,
        measures: evaluated.model,
        corpus_harmony: evaluated.corpus_harmony,
        corpus_rules: evaluated.corpus_rules,
        baselines: evaluated.baselines,
        seconds: started.elapsed().as_secs_f64(),
        example: evaluated
            .example
            .map(|e| e.to_score(&format!("{} sample", config.model.id()))),
    })
}

/// The run's training and held-out pieces: those named in its config, else the split rule's.
fn split(config: &RunConfig, scores: Vec<Score>) -> (Vec<Score>, Vec<Score>) {
    let named: std::collections::HashSet<&str> =
        config.held_out.iter().map(String::as_str).collect();
    scores.into_iter().enumerate().fold(
        (Vec::new(), Vec::new()),
        |(mut train, mut held), (i, score)| {
            let held_out = if named.is_empty() {
                crate::data::datasets::is_validation_piece(i)
            } else {
                named.contains(score.name.as_str())
            };
            if held_out {
                held.push(score);
            } else {
                train.push(score);
            }
            (train, held)
        },
    )
}

/// The report as a small text table: the model beside the baselines.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "{} ({} on {}, {} held-out pieces, samples of {} steps, {:.1} s)\n",
        report.run,
        report.model,
        report.corpus,
        report.held_out_pieces,
        report.sample_steps,
        report.seconds
    );
    out.push_str(&format!(
        "  {:<26}{:>10}{:>10}{:>10}\n",
        "", "model", "unigram", "markov"
    ));
    let all = [
        (report.measures.predictive, report.measures.samples.as_ref()),
        (
            report.baselines.unigram.predictive,
            report.baselines.unigram.samples.as_ref(),
        ),
        (
            report.baselines.markov.predictive,
            report.baselines.markov.samples.as_ref(),
        ),
    ];
    let mut line = |name: &str, value: &dyn Fn(usize) -> Option<f64>| {
        let cells: Vec<String> = (0..3)
            .map(|i| value(i).map_or("—".into(), |v| format!("{v:.3}")))
            .map(|s| format!("{s:>10}"))
            .collect();
        out.push_str(&format!("  {name:<26}{}\n", cells.concat()));
    };
    if all.iter().any(|(p, _)| p.is_some()) {
        line("NLL per step (nats)", &|i| all[i].0.map(|p| p.nll_per_step));
        line("step accuracy", &|i| all[i].0.map(|p| p.accuracy));
        line("onset accuracy", &|i| all[i].0.map(|p| p.onset_accuracy));
    }
    line("overlap mean", &|i| all[i].1.map(|s| s.overlap_mean));
    for feature in FEATURES {
        line(&format!("  {feature}"), &|i| {
            all[i].1.and_then(|s| s.overlap.get(feature).copied())
        });
    }
    line("exact-copy rate", &|i| {
        all[i].1.map(|s| s.nearest_copy_rate)
    });
    if let Some(model) = report.measures.frames {
        let frames_of = |b: &Option<crate::measures::Scores>| b.as_ref().and_then(|b| b.frames);
        let mut columns = vec![("model", Some(model))];
        columns.push(("Bernoulli", frames_of(&report.baselines.bernoulli)));
        if report.baselines.rbm.is_some() {
            columns.push(("RBM", frames_of(&report.baselines.rbm)));
        }
        let cell = |v: Option<f64>| format!("{:>10}", v.map_or("—".into(), |v| format!("{v:.3}")));
        let heads: String = columns.iter().map(|(n, _)| format!("{n:>10}")).collect();
        out.push_str(&format!("  {:<26}{heads}\n", "frames"));
        type Measure = fn(&crate::measures::frame_accuracy::FrameScores) -> Option<f64>;
        let rows: [(&str, Measure); 2] = [
            ("frame accuracy", |f| Some(f.frame_accuracy)),
            ("NLL per frame (nats)", |f| f.nll_per_frame),
        ];
        for (name, value) in rows {
            let cells: String = columns
                .iter()
                .map(|(_, f)| cell(f.as_ref().and_then(value)))
                .collect();
            out.push_str(&format!("  {name:<26}{cells}\n"));
        }
    }
    if let Some(c) = &report.measures.constraints {
        out.push_str(&format!(
            "  {:<26}{:>10}{:>12}{:>8}\n",
            "pins met, sampling", "model", "pins hidden", "pins"
        ));
        for set in crate::measures::constraints::SETS {
            let rate = |s: Option<&crate::measures::constraints::Satisfaction>| {
                s.and_then(|s| s.rates.get(set))
                    .map_or("—".into(), |v| format!("{v:.3}"))
            };
            out.push_str(&format!(
                "  {:<26}{:>10}{:>12}{:>8}\n",
                format!("  {set}"),
                rate(Some(&c.model)),
                rate(c.blind.as_ref()),
                c.model.pins.get(set).copied().unwrap_or(0)
            ));
        }
        if let Some(clamped) = c.clamped {
            out.push_str(&format!(
                "  {:<26}{:>10.3}\n",
                "  with the hard clamp", clamped
            ));
        }
        let curve = |values: &[f64]| {
            values
                .iter()
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if let Some(blind) = &c.blind {
            out.push_str(&format!(
                "  p(pinned pitch), 8 steps before → at the pin: model {} · pins hidden {}\n",
                curve(&c.model.anticipation),
                curve(&blind.anticipation)
            ));
        }
        if let Some(p) = c.constrained_predictive {
            out.push_str(&format!(
                "  with random pins shown: NLL per step {:.3}, onset accuracy {:.3}\n",
                p.nll_per_step, p.onset_accuracy
            ));
        }
    }
    if !report.measures.voices.is_empty() {
        let columns = [
            &report.measures.voices,
            &report.baselines.unigram.voices,
            &report.baselines.markov.voices,
        ];
        out.push_str(&format!(
            "  {:<24}{:>12}{:>12}{:>12}\n",
            "per voice: NLL·accuracy", "model", "unigram", "markov"
        ));
        for (v, name) in ["alto", "tenor", "bass"].iter().enumerate() {
            let cells: String = columns
                .iter()
                .map(|c| {
                    c.get(v).map_or("—".into(), |p| {
                        format!("{:.3}·{:.3}", p.nll_per_step, p.accuracy)
                    })
                })
                .map(|s| format!("{s:>12}"))
                .collect();
            out.push_str(&format!("  {name:<24}{cells}\n"));
        }
    }
    if let Some(model) = report.measures.rules {
        let columns = [
            Some(model),
            report.baselines.unigram.rules,
            report.baselines.markov.rules,
            report.corpus_rules,
        ];
        out.push_str(&format!(
            "  {:<26}{:>10}{:>10}{:>10}{:>10}\n",
            format!("rules ({} × 32 steps)", model.compositions),
            "model",
            "unigram",
            "markov",
            "corpus"
        ));
        type Rule = fn(&crate::measures::rules::RuleStats) -> f64;
        let rows: [(&str, Rule); 11] = [
            ("excessively repeated", |r| r.excessively_repeated),
            ("not in key", |r| r.not_in_key),
            ("autocorrelation lag 1", |r| r.autocorrelation_lag1),
            ("autocorrelation lag 2", |r| r.autocorrelation_lag2),
            ("autocorrelation lag 3", |r| r.autocorrelation_lag3),
            ("starts with tonic", |r| r.starts_with_tonic),
            ("leaps resolved", |r| r.leaps_resolved),
            ("unique max", |r| r.unique_max),
            ("unique min", |r| r.unique_min),
            ("in motif", |r| r.in_motif),
            ("in repeated motif", |r| r.in_repeated_motif),
        ];
        for (name, value) in rows {
            let cells: String = columns
                .iter()
                .map(|c| {
                    c.as_ref()
                        .map_or("—".into(), |r| format!("{:.3}", value(r)))
                })
                .map(|s| format!("{s:>10}"))
                .collect();
            out.push_str(&format!("  {name:<26}{cells}\n"));
        }
        if let (Some(tuned), Some(own)) = (model.log_p_start, model.log_p_start_own) {
            out.push_str(&format!(
                "  log p(a|s) under the starting lstm: {tuned:.3} nats a step (its own compositions: {own:.3})\n"
            ));
        }
    }
    if let Some(code) = report.measures.code {
        out.push_str(&format!(
            "  code: mean activation ρ̂ {:.4} (target ρ {}), dead units {:.1} % of {}\n",
            code.mean_activation,
            code.target,
            100.0 * code.dead_units,
            code.units
        ));
    }
    if let (Some(model), Some(corpus)) = (report.measures.harmony, report.corpus_harmony) {
        let harmonies = [
            Some(model),
            report.baselines.unigram.harmony,
            report.baselines.markov.harmony,
            Some(corpus),
        ];
        out.push_str(&format!(
            "  {:<26}{:>10}{:>10}{:>10}{:>10}\n",
            "part-writing", "model", "unigram", "markov", "corpus"
        ));
        type Measure = Box<dyn Fn(&Harmony) -> String>;
        let number =
            |f: fn(&Harmony) -> f64| -> Measure { Box::new(move |h| format!("{:.3}", f(h))) };
        let mut rows: Vec<(String, Measure)> = [
            ("8th slices: triads/7ths", number(|h| h.slice_chord_rate)),
            (
                "parallels / 100 moving",
                number(|h| h.parallels_per_100_moving),
            ),
            ("slices with crossing", number(|h| h.crossing_share)),
            ("slices spaced > octave", number(|h| h.spacing_share)),
            ("chord rate (beats)", number(|h| h.chord_rate)),
            ("parallel 5ths / 100 beats", number(|h| h.parallel_fifths)),
            ("parallel 8ves / 100 beats", number(|h| h.parallel_octaves)),
            ("crossings / 100 beats", number(|h| h.crossings)),
            ("notes out of range", number(|h| h.out_of_range)),
            (
                "hidden 5ths/8ves S–B/100",
                number(|h| h.hidden_per_100_outer),
            ),
        ]
        .into_iter()
        .map(|(name, f)| (name.to_string(), f))
        .collect();
        for (v, voice) in ["soprano", "alto", "tenor", "bass"].iter().enumerate() {
            rows.push((
                format!("{voice}: range"),
                Box::new(move |h| format!("{}–{}", h.ranges[v].0, h.ranges[v].1)),
            ));
            rows.push((
                format!("{voice}: repeated notes"),
                Box::new(move |h| format!("{:.3}", h.repeated_share[v])),
            ));
            rows.push((
                format!("{voice}: leaps > octave"),
                Box::new(move |h| format!("{:.3}", h.wide_leap_share[v])),
            ));
        }
        for (name, value) in rows {
            let cells: Vec<String> = harmonies
                .iter()
                .map(|h| h.as_ref().map_or("—".into(), &value))
                .map(|s| format!("{s:>10}"))
                .collect();
            out.push_str(&format!("  {name:<26}{}\n", cells.concat()));
        }
    }
    out
}
