//! The training dashboard's live plots: step losses (smoothed, optionally log10) with the
//! validation loss, sample metrics relative to the corpus, and held-out onset accuracy against
//! the unigram and Markov baselines' levels.

use egui::{RichText, Ui};
use egui_plot::{HLine, Legend, Line, Plot};

use super::live_run::LiveRun;
use super::theme;

/// Which step series a plot shows, and how.
pub(super) struct PlotSpec<'a> {
    pub(super) id: &'a str,
    /// Positions in the run's loss names.
    pub(super) indices: &'a [usize],
    /// Plot log10 of the values.
    pub(super) log: bool,
    /// Always show at least this range of values.
    pub(super) y_range: Option<(f64, f64)>,
    pub(super) height: f32,
}

/// Plots step series of a run (exponentially smoothed, optionally log10).
pub(super) fn loss_plot(ui: &mut Ui, spec: &PlotSpec<'_>, run: &LiveRun, smoothing: f64) {
    let PlotSpec {
        id,
        indices,
        log,
        y_range,
        height,
    } = *spec;
    let transform = |v: f64| if log { v.max(1e-9).log10() } else { v };
    let mut plot = Plot::new(id.to_string())
        .height(height)
        .legend(Legend::default())
        .x_axis_label("step")
        .y_axis_label(if log { "log10" } else { "value" });
    if let Some((lo, hi)) = y_range {
        plot = plot.include_y(lo).include_y(hi);
    }
    plot.show(ui, |plot| {
        for &i in indices {
            let Some(name) = run.loss_names.get(i) else {
                continue;
            };
            let mut ema = None;
            let points: Vec<[f64; 2]> = run
                .steps
                .iter()
                .filter_map(|s| s.losses.get(i).map(|&l| (s.global_step, l)))
                .map(|(x, l)| {
                    let v = ema.map_or(l, |e: f64| smoothing * e + (1.0 - smoothing) * l);
                    ema = Some(v);
                    [x as f64, transform(v)]
                })
                .collect();
            plot.line(Line::new(name.clone(), points).color(theme::track_color(i)));
        }
        if !run.model.is_gan() {
            let validation: Vec<[f64; 2]> = run
                .epochs
                .iter()
                .filter_map(|e| {
                    let (_, v) = e.validation.iter().find(|(n, _)| n == "validation loss")?;
                    Some([e.global_step as f64, transform(*v)])
                })
                .collect();
            if !validation.is_empty() {
                plot.line(
                    Line::new("validation loss", validation)
                        .color(egui::Color32::WHITE)
                        .width(2.0),
                );
            }
        }
    });
}

/// Each sample metric per epoch as a ratio to the corpus's value (1 = like the corpus).
pub(super) fn metric_curves(ui: &mut Ui, run: &LiveRun) {
    if run.epochs.len() < 2 {
        return;
    }
    ui.label(
        RichText::new("Sample metrics per epoch, relative to the corpus (1.0 = like the corpus)")
            .weak(),
    );
    Plot::new("metric-curves")
        .height(160.0)
        .legend(Legend::default())
        .x_axis_label("epoch")
        .show(ui, |plot| {
            for (i, (name, corpus)) in run.corpus_metrics.iter().enumerate() {
                if corpus.abs() < 1e-9 {
                    continue;
                }
                let points: Vec<[f64; 2]> = run
                    .epochs
                    .iter()
                    .filter_map(|e| {
                        let (_, v) = e.sample_metrics.iter().find(|(n, _)| n == name)?;
                        Some([e.epoch as f64, v / corpus])
                    })
                    .collect();
                plot.line(Line::new(name.clone(), points).color(theme::track_color(i)));
            }
        });
}

/// Held-out onset accuracy per epoch, with the unigram's and the Markov chain's levels on the
/// same validation steps as horizontal lines: "learned something" is the curve above both.
pub(super) fn onset_curves(ui: &mut Ui, run: &LiveRun) {
    let value = |e: &crate::training::EpochRecord, name: &str| {
        e.validation
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    let points: Vec<[f64; 2]> = run
        .epochs
        .iter()
        .filter_map(|e| Some([e.epoch as f64, value(e, "onset accuracy")?]))
        .collect();
    let Some(last) = run.epochs.last() else {
        return;
    };
    if points.is_empty() {
        return;
    }
    ui.label(
        RichText::new(
            "Held-out onset accuracy (steps that start a note) against the baselines' levels",
        )
        .weak(),
    );
    Plot::new("onset-accuracy")
        .height(140.0)
        .legend(Legend::default())
        .x_axis_label("epoch")
        .include_y(0.0)
        .include_x(1.0)
        .show(ui, |plot| {
            plot.line(
                Line::new("onset accuracy", points)
                    .color(egui::Color32::WHITE)
                    .width(2.0),
            );
            for (i, name) in ["unigram onset accuracy", "markov onset accuracy"]
                .iter()
                .enumerate()
            {
                if let Some(level) = value(last, name) {
                    let label = name.trim_end_matches(" onset accuracy");
                    plot.hline(HLine::new(label, level).color(theme::track_color(i + 2)));
                }
            }
        });
}

/// RL-Tuner's Table 1 statistics per epoch (the validation's compositions), each beside its
/// level in the starting network's compositions (dotted): what the rewards moved.
pub(super) fn rule_curves(ui: &mut Ui, run: &LiveRun) {
    const RULES: [&str; 6] = [
        "excessively repeated",
        "not in key",
        "starts with tonic",
        "leaps resolved",
        "in motif",
        "unique max",
    ];
    let Some(last) = run.epochs.last() else {
        return;
    };
    let value = |e: &crate::training::EpochRecord, name: &str| {
        e.validation
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    };
    if value(last, "excessively repeated (start)").is_none() {
        return;
    }
    ui.label(
        RichText::new("The rules' statistics per epoch (shares of notes or compositions); dotted: the starting LSTM's")
            .weak(),
    );
    Plot::new("rule-statistics")
        .height(160.0)
        .legend(Legend::default())
        .x_axis_label("epoch")
        .include_y(0.0)
        .include_y(1.0)
        .include_x(1.0)
        .show(ui, |plot| {
            for (i, name) in RULES.iter().enumerate() {
                let colour = theme::track_color(i);
                let points: Vec<[f64; 2]> = run
                    .epochs
                    .iter()
                    .filter_map(|e| Some([e.epoch as f64, value(e, name)?]))
                    .collect();
                plot.line(Line::new(name.to_string(), points).color(colour).width(2.0));
                if let Some(start) = value(last, &format!("{name} (start)")) {
                    // Unnamed, so that the legend lists each rule once.
                    plot.hline(
                        HLine::new("", start)
                            .color(colour)
                            .style(egui_plot::LineStyle::dotted_loose()),
                    );
                }
            }
        });
}
