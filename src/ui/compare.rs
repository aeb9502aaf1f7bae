//! The Compare view: every run of a corpus side by side with the dumb baselines fitted on the
//! same training pieces — held-out NLL, step and onset accuracy, feature overlaps with the
//! held-out music, exact copies — sortable by column, a bar chart of overlap per feature and
//! run, and one sample per run to hear. Evaluation runs on its own thread with a progress bar;
//! reports are saved beside their checkpoints, so the table is there at the next start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

use egui::{RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, Plot};

use super::theme;
use crate::evaluation::overlap::FEATURES;
use crate::evaluation::worker::{EvaluationEvent, EvaluationHandle, spawn};
use crate::evaluation::{EvaluateOptions, Report, read_report};
use crate::music::Score;
use crate::training::RunSummary;

/// What the view asks the app to do.
#[derive(Clone, Debug)]
pub enum CompareAction {
    /// Play this score.
    Play(Score),
    /// Show this score in the piano roll.
    Open(Score),
}

/// The columns the table can be sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Column {
    /// Run name.
    #[default]
    Run,
    /// Held-out NLL per step.
    Nll,
    /// Onset accuracy.
    Onset,
    /// Mean feature overlap.
    Overlap,
    /// Exact-copy rate.
    Copies,
}

/// Settings kept between sessions.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CompareSettings {
    /// The corpus whose runs are listed.
    pub corpus: String,
    /// Sort column.
    pub sort: Column,
    /// Largest first.
    pub descending: bool,
    /// Samples per evaluation.
    pub samples: usize,
}

impl Default for CompareSettings {
    fn default() -> Self {
        Self {
            corpus: "bach".into(),
            sort: Column::Run,
            descending: false,
            samples: EvaluateOptions::default().samples,
        }
    }
}

/// An evaluation in progress.
struct Running {
    handle: EvaluationHandle,
    run: Option<PathBuf>,
    fraction: f32,
    what: String,
    done: usize,
    total: usize,
}

/// The view.
#[derive(Default)]
pub struct CompareView {
    /// Persisted settings.
    pub settings: CompareSettings,
    /// Reports by checkpoint folder.
    pub reports: BTreeMap<PathBuf, Report>,
    /// Last error or note.
    pub message: Option<String>,
    running: Option<Running>,
    loader: Option<Receiver<Vec<(PathBuf, Report)>>>,
    /// The runs whose saved reports were last read.
    read_for: Vec<PathBuf>,
}

impl CompareView {
    /// A view with these settings (reports are read when it is first shown).
    pub fn new(settings: CompareSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// True while an evaluation runs.
    pub fn is_evaluating(&self) -> bool {
        self.running.is_some()
    }

    /// Starts evaluating `runs` on a background thread.
    pub fn evaluate(&mut self, runs: Vec<PathBuf>, ctx: &egui::Context) {
        if self.running.is_some() || runs.is_empty() {
            return;
        }
        let ctx = ctx.clone();
        let options = EvaluateOptions {
            samples: self
                .settings
                .samples
                .clamp(1, crate::evaluation::MAX_SAMPLES),
            ..EvaluateOptions::default()
        };
        self.message = None;
        self.running = Some(Running {
            total: runs.len(),
            handle: spawn(runs, options, Some(Box::new(move || ctx.request_repaint()))),
            run: None,
            fraction: 0.0,
            what: "starting…".into(),
            done: 0,
        });
    }

    /// Takes in what the evaluation thread and the report reader sent (every frame, whichever
    /// view is shown, so an evaluation finishes while the user looks elsewhere).
    pub fn poll(&mut self) {
        if let Some(rx) = &self.loader
            && let Ok(reports) = rx.try_recv()
        {
            self.reports.extend(reports);
            self.loader = None;
        }
        let Some(running) = &mut self.running else {
            return;
        };
        let mut finished = false;
        while let Ok(event) = running.handle.events.try_recv() {
            match event {
                EvaluationEvent::Progress {
                    run,
                    fraction,
                    what,
                } => {
                    running.run = Some(run);
                    running.fraction = fraction;
                    running.what = what;
                }
                EvaluationEvent::Done { run, result } => {
                    running.done += 1;
                    match *result {
                        Ok(report) => {
                            self.reports.insert(run, report);
                        }
                        Err(e) => self.message = Some(format!("{}: {e}", run.display())),
                    }
                }
                EvaluationEvent::Finished => finished = true,
            }
        }
        if finished {
            self.running = None;
        }
    }

    /// Reads the saved reports of runs not read yet, on a thread.
    fn read_saved(&mut self, runs: &[PathBuf]) {
        if self.loader.is_some() || runs == self.read_for.as_slice() {
            return;
        }
        self.read_for = runs.to_vec();
        let wanted: Vec<PathBuf> = runs
            .iter()
            .filter(|r| !self.reports.contains_key(*r))
            .cloned()
            .collect();
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("read-reports".into())
            .spawn(move || {
                let found = wanted
                    .into_iter()
                    .filter_map(|run| read_report(&run).map(|r| (run, r)))
                    .collect();
                let _ = tx.send(found);
            });
        if spawned.is_ok() {
            self.loader = Some(rx);
        }
    }

    /// Draws the view over the saved runs.
    pub fn ui(&mut self, ui: &mut Ui, runs: &[RunSummary]) -> Option<CompareAction> {
        let all: Vec<PathBuf> = runs.iter().map(|r| r.dir.clone()).collect();
        self.read_saved(&all);
        let mut action = None;
        let listed: Vec<&RunSummary> = runs
            .iter()
            .filter(|r| r.corpus == self.settings.corpus)
            .collect();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Compare runs").heading());
            ui.label("corpus");
            for corpus in crate::corpus::BUNDLED {
                ui.selectable_value(&mut self.settings.corpus, corpus.id.to_string(), corpus.title)
                    .on_hover_text("List the runs trained on this corpus");
            }
            ui.separator();
            ui.label("samples");
            ui.add(egui::DragValue::new(&mut self.settings.samples).range(10..=2000))
                .on_hover_text("Samples drawn from each model and baseline for the sample measures (more: steadier figures, slower)");
            let missing: Vec<PathBuf> = listed
                .iter()
                .filter(|r| !self.reports.contains_key(&r.dir))
                .map(|r| r.dir.clone())
                .collect();
            let button = ui
                .add_enabled(
                    !self.is_evaluating() && !missing.is_empty(),
                    egui::Button::new(format!("Evaluate {} new", missing.len())),
                )
                .on_hover_text("Measure the runs without a report on their held-out pieces, beside the baselines (in the background)");
            if button.clicked() {
                self.evaluate(missing, ui.ctx());
            }
        });
        if let Some(running) = &self.running {
            let name = running.run.as_deref().map_or_else(String::new, run_name);
            ui.add(
                egui::ProgressBar::new(
                    (running.done as f32 + running.fraction) / running.total.max(1) as f32,
                )
                .text(format!(
                    "evaluating {name} ({} of {}): {}",
                    running.done + 1,
                    running.total,
                    running.what
                )),
            );
        }
        if let Some(message) = &self.message {
            ui.colored_label(theme::ERROR, message);
        }
        ui.label(RichText::new(
            "Measured on the pieces each run never saw. Baselines: token frequencies (unigram) and a Markov chain over the last 3 steps, fitted on the same training pieces. Onset accuracy counts only steps that start a note, which always predicting HOLD cannot win. Overlap (Yang & Lerch): 1 = the samples sit among the held-out music as its own pieces do.",
        ).weak());
        if listed.is_empty() {
            ui.label("No run of this corpus yet: train one on the Training tab.");
            return None;
        }
        let mut rows: Vec<(&RunSummary, Option<&Report>)> = listed
            .iter()
            .map(|r| (*r, self.reports.get(&r.dir)))
            .collect();
        let key = |report: Option<&Report>, column: Column| -> f64 {
            let Some(report) = report else {
                return f64::NEG_INFINITY;
            };
            match column {
                Column::Run => 0.0,
                Column::Nll => report
                    .measures
                    .predictive
                    .map_or(f64::NEG_INFINITY, |p| -p.nll_per_step),
                Column::Onset => report
                    .measures
                    .predictive
                    .map_or(f64::NEG_INFINITY, |p| p.onset_accuracy),
                Column::Overlap => report
                    .measures
                    .samples
                    .as_ref()
                    .map_or(f64::NEG_INFINITY, |s| s.overlap_mean),
                Column::Copies => report
                    .measures
                    .samples
                    .as_ref()
                    .map_or(f64::NEG_INFINITY, |s| -s.nearest_copy_rate),
            }
        };
        let (sort, descending) = (self.settings.sort, self.settings.descending);
        rows.sort_by(|a, b| {
            let order = if sort == Column::Run {
                a.0.dir.cmp(&b.0.dir)
            } else {
                key(b.1, sort).total_cmp(&key(a.1, sort))
            };
            if descending { order.reverse() } else { order }
        });
        let evaluating = self.is_evaluating();
        let mut evaluate = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            (action, evaluate) = table(ui, &mut self.settings, evaluating, &rows);
            ui.add_space(8.0);
            overlap_chart(ui, &rows);
        });
        if let Some(run) = evaluate {
            self.evaluate(vec![run], ui.ctx());
        }
        action
    }
}

fn header(ui: &mut Ui, settings: &mut CompareSettings, label: &str, column: Column, tip: &str) {
    let marker = if settings.sort == column {
        if settings.descending {
            " (reversed)"
        } else {
            " (sorted)"
        }
    } else {
        ""
    };
    if ui
        .button(RichText::new(format!("{label}{marker}")).strong())
        .on_hover_text(format!("{tip} (click to sort)"))
        .clicked()
    {
        if settings.sort == column {
            settings.descending = !settings.descending;
        } else {
            settings.sort = column;
            settings.descending = false;
        }
    }
}

/// The table; returns what to play or open, and a run to evaluate.
fn table(
    ui: &mut Ui,
    settings: &mut CompareSettings,
    evaluating: bool,
    rows: &[(&RunSummary, Option<&Report>)],
) -> (Option<CompareAction>, Option<PathBuf>) {
    let mut action = None;
    let mut evaluate = None;
    egui::Grid::new("compare-table")
            .striped(true)
            .num_columns(9)
            .show(ui, |ui| {
                header(ui, settings, "run", Column::Run, "The checkpoint");
                ui.label(RichText::new("model").strong());
                header(ui, settings, "NLL / step", Column::Nll, "Negative log-likelihood of the held-out steps, in nats: model · unigram · Markov (lower is better)");
                header(ui, settings, "onset accuracy", Column::Onset, "Share of held-out note onsets predicted: model · unigram · Markov");
                ui.label(RichText::new("step accuracy").strong())
                    .on_hover_text("Share of all held-out steps predicted (HOLD alone scores 0.6–0.8 here): model · unigram · Markov");
                header(ui, settings, "overlap", Column::Overlap, "Mean feature overlap of samples with the held-out music: model · unigram · Markov");
                header(ui, settings, "copies", Column::Copies, "Share of samples that copy a training window exactly");
                ui.label(RichText::new("part-writing").strong())
                    .on_hover_text("Harmonizers only, on the held-out sopranos (8th-note slices): triads/7ths · parallels per 100 moving pairs (crossings and spacing on hover); below, Bach's own voices on the same windows");
                ui.label("");
                ui.end_row();
                for (run, report) in rows {
                    let held_out = report.map_or(String::new(), |r| {
                        format!("\n{} held-out pieces, samples of {} steps", r.held_out_pieces, r.sample_steps)
                    });
                    ui.label(run_name(&run.dir))
                        .on_hover_text(format!("{}{held_out}", run.dir.display()));
                    ui.label(run.model.id());
                    match report {
                        Some(report) => {
                            let p = [
                                report.measures.predictive,
                                report.baselines.unigram.predictive,
                                report.baselines.markov.predictive,
                            ];
                            let s = [
                                report.measures.samples.as_ref(),
                                report.baselines.unigram.samples.as_ref(),
                                report.baselines.markov.samples.as_ref(),
                            ];
                            trio(ui, p.map(|p| p.map(|p| p.nll_per_step)), false);
                            trio(ui, p.map(|p| p.map(|p| p.onset_accuracy)), true);
                            trio(ui, p.map(|p| p.map(|p| p.accuracy)), true);
                            trio(ui, s.map(|s| s.map(|s| s.overlap_mean)), true);
                            ui.label(s[0].map_or("—".into(), |s| format!("{:.2}", s.nearest_copy_rate)));
                            part_writing(ui, report);
                            ui.horizontal(|ui| {
                                if let Some(example) = &report.example {
                                    if ui.small_button("Hear").on_hover_text("Hear the model's first evaluation sample").clicked() {
                                        action = Some(CompareAction::Play(example.clone()));
                                    }
                                    if ui.small_button("Open").on_hover_text("Show it in the piano roll").clicked() {
                                        action = Some(CompareAction::Open(example.clone()));
                                    }
                                }
                                if ui.add_enabled(!evaluating, egui::Button::new("Re-evaluate").small()).clicked() {
                                    evaluate = Some(run.dir.clone());
                                }
                            });
                        }
                        None => {
                            for _ in 0..6 {
                                ui.label("—");
                            }
                            if ui
                                .add_enabled(!evaluating, egui::Button::new("Evaluate").small())
                                .on_hover_text("Measure this run on its held-out pieces (in the background)")
                                .clicked()
                            {
                                evaluate = Some(run.dir.clone());
                            }
                        }
                    }
                    ui.end_row();
                }
            });
    (action, evaluate)
}

/// The part-writing cell of a harmonizer's report: the model's triads and parallels over
/// Bach's (short enough for the grid), all four measures on hover.
fn part_writing(ui: &mut Ui, report: &Report) {
    let full = |h: &crate::music::harmony::Harmony| {
        format!(
            "triads/7ths {:.2} · parallels {:.2} per 100 moving pairs · crossings {:.1} % · spacing {:.1} %",
            h.slice_chord_rate,
            h.parallels_per_100_moving,
            100.0 * h.crossing_share,
            100.0 * h.spacing_share
        )
    };
    match (report.measures.harmony, report.corpus_harmony) {
        (Some(model), Some(bach)) => {
            ui.vertical(|ui| {
                ui.label(format!(
                    "{:.2} · {:.2}",
                    model.slice_chord_rate, model.parallels_per_100_moving
                ));
                ui.label(
                    RichText::new(format!(
                        "Bach {:.2} · {:.2}",
                        bach.slice_chord_rate, bach.parallels_per_100_moving
                    ))
                    .weak(),
                );
            })
            .response
            .on_hover_text(format!("{}\nBach: {}", full(&model), full(&bach)));
        }
        _ => {
            ui.label("—");
        }
    }
}

/// The folder name of a run ("run-…").
fn run_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The model's value, then the unigram's and the Markov chain's, the model's coloured by
/// whether it beats both (green) or not (red).
fn trio(ui: &mut Ui, values: [Option<f64>; 3], higher_is_better: bool) {
    let Some(model) = values[0] else {
        ui.label("—");
        return;
    };
    let beats = values[1..].iter().flatten().all(|&b| {
        if higher_is_better {
            model > b
        } else {
            model < b
        }
    });
    let colour = if beats { theme::GOOD } else { theme::ERROR };
    let rest: Vec<String> = values[1..]
        .iter()
        .map(|v| v.map_or("—".into(), |v| format!("{v:.3}")))
        .collect();
    ui.horizontal(|ui| {
        ui.colored_label(colour, format!("{model:.3}"));
        ui.label(
            RichText::new(format!("· {}", rest.join(" · ")))
                .weak()
                .small(),
        );
    });
}

/// Overlap per feature, one bar group per feature, one colour per run.
fn overlap_chart(ui: &mut Ui, rows: &[(&RunSummary, Option<&Report>)]) {
    let measured: Vec<(&RunSummary, &Report)> = rows
        .iter()
        .filter_map(|(run, report)| report.map(|r| (*run, r)))
        .filter(|(_, r)| r.measures.samples.is_some())
        .collect();
    if measured.is_empty() {
        return;
    }
    ui.label(
        RichText::new("Overlap with the held-out music, per feature (1 = like the corpus)")
            .strong(),
    );
    let width = 0.8 / measured.len() as f64;
    Plot::new("compare-overlap")
        .height(260.0)
        .legend(Legend::default())
        .include_y(0.0)
        .include_y(1.75)
        .x_axis_formatter(|mark, _| {
            FEATURES
                .get(mark.value.round() as usize)
                .filter(|_| (mark.value - mark.value.round()).abs() < 1e-6)
                .map_or_else(String::new, |f| f.replace('_', " "))
        })
        .show(ui, |plot| {
            for (i, (run, report)) in measured.iter().enumerate() {
                let Some(samples) = &report.measures.samples else {
                    continue;
                };
                // Melody models have no polyphony overlap: no bar there.
                let bars: Vec<Bar> = FEATURES
                    .iter()
                    .enumerate()
                    .filter_map(|(f, name)| {
                        let x = f as f64 - 0.4 + width * (i as f64 + 0.5);
                        let value = samples.overlap.get(*name)?;
                        Some(
                            Bar::new(x, *value)
                                .width(width * 0.9)
                                .name(name.replace('_', " ")),
                        )
                    })
                    .collect();
                plot.bar_chart(
                    BarChart::new(format!("{} {}", run.model.id(), run_name(&run.dir)), bars)
                        .color(theme::track_color(i)),
                );
            }
        });
}
