//! The Benchmarks view: pick a standard polyphonic benchmark file (JSB Chorales, Nottingham, or
//! any file of their structure: MuseData, Piano-midi.de) and a benchmark model, train it with the
//! validation NLL drawn live, and read every saved report in a table beside the published
//! figures — the table of the README, made by the same code ([`crate::benchmarks::results`]).
//! The run is `muselab benchmark` on its own thread; its report is saved in the user's
//! `models/benchmarks/` folder, the shipped reports are read from the install's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

use egui::{RichText, Ui};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints};

use super::theme;
use crate::benchmarks::protocol::published;
use crate::benchmarks::results::{self, Row};
use crate::benchmarks::{BenchModel, Benchmark, BenchmarkOptions, BenchmarkReport, Progress};
use crate::compute::ComputeDevice;

/// Settings kept between sessions.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BenchmarkSettings {
    /// The benchmark file.
    pub dataset: PathBuf,
    /// The model.
    pub model: BenchModel,
    /// Training epochs (0: the model's default).
    pub epochs: usize,
    /// Seed.
    pub seed: u64,
    /// Validations without improvement before stopping (0: never).
    pub patience: usize,
    /// Hidden units.
    pub hidden: usize,
}

impl Default for BenchmarkSettings {
    fn default() -> Self {
        let defaults = BenchmarkOptions::new(BenchModel::Lstm);
        Self {
            dataset: crate::corpus::assets_dir()
                .join("benchmarks")
                .join("JSB Chorales.pickle"),
            model: BenchModel::Lstm,
            epochs: 0,
            seed: 1,
            patience: defaults.patience,
            hidden: defaults.hidden,
        }
    }
}

impl BenchmarkSettings {
    /// The options of a run with these settings.
    pub fn options(&self) -> BenchmarkOptions {
        let mut options = BenchmarkOptions::new(self.model);
        if self.epochs > 0 {
            options.epochs = self.epochs;
        }
        options.seed = self.seed;
        options.patience = self.patience;
        options.hidden = self.hidden.max(1);
        options
    }
}

/// What the benchmark thread says.
enum Event {
    /// The file was read: its name and split sizes in words.
    Read(String),
    /// Progress of the run.
    Progress(Progress),
    /// The run ended (the report, saved where the path says) or failed.
    Done(Box<Result<(BenchmarkReport, Option<PathBuf>), String>>),
}

/// Training loss and validation NLL per epoch, as plot points.
type Curves = (Vec<[f64; 2]>, Vec<[f64; 2]>);
/// Saved reports (shipped or not) and the files that were not reports.
type Loaded = (Vec<(BenchmarkReport, bool)>, Vec<String>);

/// A run in progress.
struct Running {
    events: Receiver<Event>,
    stop: Arc<AtomicBool>,
    model: BenchModel,
    dataset: String,
    epochs: usize,
    epoch: usize,
    eta: f64,
    phase: Option<(String, f64)>,
    train_curve: Vec<[f64; 2]>,
    valid_curve: Vec<[f64; 2]>,
}

/// The view.
pub struct BenchmarksView {
    /// Persisted settings.
    pub settings: BenchmarkSettings,
    /// Saved reports, shipped first, then the user's (marked by the flag).
    pub reports: Vec<(BenchmarkReport, bool)>,
    /// Last error or note.
    pub message: Option<String>,
    /// The last finished run's curves (kept on screen after it ends).
    last_curves: Option<Curves>,
    running: Option<Running>,
    loader: Option<Receiver<Loaded>>,
    loaded: bool,
    /// Where the user's reports are saved.
    save_dir: PathBuf,
    /// Where the shipped reports lie.
    shipped_dir: Option<PathBuf>,
    /// Benchmark files found beside the assets.
    bundled: Vec<PathBuf>,
    /// The path being typed.
    path_field: String,
}

impl BenchmarksView {
    /// A view saving reports under `models_dir/benchmarks` and showing those of
    /// `shipped_dir/benchmarks` too.
    pub fn new(
        settings: BenchmarkSettings,
        models_dir: &Path,
        shipped_dir: Option<&Path>,
        assets: &Path,
    ) -> Self {
        let bundled = ["JSB Chorales.pickle", "Nottingham.mat"]
            .iter()
            .map(|f| assets.join("benchmarks").join(f))
            .collect();
        Self {
            path_field: settings.dataset.display().to_string(),
            settings,
            reports: Vec::new(),
            message: None,
            last_curves: None,
            running: None,
            loader: None,
            loaded: false,
            save_dir: models_dir.join("benchmarks"),
            shipped_dir: shipped_dir.map(|d| d.join("benchmarks")),
            bundled,
        }
    }

    /// True while a benchmark trains.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts the run of the current settings on `compute`, on its own thread.
    pub fn start(&mut self, ctx: &egui::Context, compute: ComputeDevice) {
        if self.running.is_some() {
            return;
        }
        let options = self.settings.options();
        let epochs = options.epochs;
        let path = self.settings.dataset.clone();
        let save_dir = self.save_dir.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let (thread_stop, ctx) = (stop.clone(), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("benchmark".into())
            .spawn(move || {
                crate::compute::lower_thread_priority();
                let send = |e: Event| {
                    let _ = tx.send(e);
                    ctx.request_repaint();
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let data = Benchmark::read(&path).map_err(|e| e.to_string())?;
                    send(Event::Read(format!(
                        "{}: {} / {} / {} pieces",
                        data.name,
                        data.train.len(),
                        data.valid.len(),
                        data.test.len()
                    )));
                    let mut progress = |p: Progress| send(Event::Progress(p));
                    let report = crate::benchmarks::run::run(
                        &data,
                        &options,
                        compute.device(),
                        &compute.label(),
                        &mut progress,
                        &thread_stop,
                    )?;
                    // A report that cannot be saved is still shown; the message says why.
                    let saved = results::save(&save_dir, &report);
                    Ok((report, saved))
                }));
                let result = match outcome {
                    Ok(Ok((report, Ok(path)))) => Ok((report, Some(path))),
                    Ok(Ok((report, Err(e)))) => {
                        send(Event::Read(format!("not saved: {e}")));
                        Ok((report, None))
                    }
                    Ok(Err(e)) => Err(e),
                    Err(panic) => Err(format!(
                        "the run stopped: {}",
                        crate::util::panic_text(&panic)
                    )),
                };
                send(Event::Done(Box::new(result)));
            });
        match spawned {
            Ok(_) => {
                self.message = None;
                self.running = Some(Running {
                    events: rx,
                    stop,
                    model: self.settings.model,
                    dataset: self.settings.dataset.display().to_string(),
                    epochs,
                    epoch: 0,
                    eta: 0.0,
                    phase: Some(("reading the file".into(), 0.0)),
                    train_curve: Vec::new(),
                    valid_curve: Vec::new(),
                });
            }
            Err(e) => self.message = Some(format!("cannot start the run: {e}")),
        }
    }

    /// Asks the run to stop after the step it is in (it then scores the best epoch so far).
    pub fn stop(&self) {
        if let Some(r) = &self.running {
            r.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Takes in what the threads sent (every frame, whichever view is shown).
    pub fn poll(&mut self) {
        if let Some(rx) = &self.loader
            && let Ok((reports, errors)) = rx.try_recv()
        {
            self.reports = reports;
            if !errors.is_empty() {
                self.message = Some(errors.join("; "));
            }
            self.loader = None;
        }
        let Some(running) = &mut self.running else {
            return;
        };
        let mut done = None;
        while let Ok(event) = running.events.try_recv() {
            match event {
                Event::Read(text) => self.message = Some(text),
                Event::Progress(Progress::Phase(what, fraction)) => {
                    running.phase = Some((what, fraction));
                }
                Event::Progress(Progress::Epoch {
                    epoch,
                    epochs,
                    train_loss,
                    valid_nll,
                    eta,
                    ..
                }) => {
                    running.phase = None;
                    running.epoch = epoch;
                    running.epochs = epochs;
                    running.eta = eta;
                    running.train_curve.push([epoch as f64, train_loss]);
                    if let Some(v) = valid_nll {
                        running.valid_curve.push([epoch as f64, v]);
                    }
                }
                Event::Done(result) => done = Some(*result),
            }
        }
        if let Some(result) = done {
            let running = self.running.take().expect("a run was polled");
            self.last_curves = Some((running.train_curve, running.valid_curve));
            match result {
                Ok((report, saved)) => {
                    let r = results::row(&report);
                    self.message = Some(format!(
                        "{} on {}: test NLL {} (published {}), ACC {}{}",
                        r.model,
                        r.dataset,
                        r.nll,
                        r.published,
                        r.accuracy,
                        saved.map_or(String::new(), |p| format!(" — saved to {}", p.display()))
                    ));
                    self.reports.retain(|(old, shipped)| {
                        *shipped || results::file_name(old) != results::file_name(&report)
                    });
                    self.reports.push((report, false));
                }
                Err(e) => self.message = Some(format!("the benchmark failed: {e}")),
            }
        }
    }

    /// Reads the saved reports on a thread (once, and again on "Reload").
    fn read_saved(&mut self) {
        if self.loader.is_some() {
            return;
        }
        self.loaded = true;
        let dirs: Vec<(PathBuf, bool)> = self
            .shipped_dir
            .iter()
            .map(|d| (d.clone(), true))
            .chain(std::iter::once((self.save_dir.clone(), false)))
            .collect();
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("read-benchmarks".into())
            .spawn(move || {
                let (mut all, mut errors) = (Vec::new(), Vec::new());
                for (dir, shipped) in dirs {
                    let (reports, e) = results::read_all(&dir);
                    all.extend(reports.into_iter().map(|r| (r, shipped)));
                    errors.extend(e);
                }
                let _ = tx.send((all, errors));
            });
        if spawned.is_ok() {
            self.loader = Some(rx);
        }
    }

    /// Draws the view; true when the user asked to start a run (the app supplies the device).
    pub fn ui(&mut self, ui: &mut Ui) -> bool {
        if !self.loaded {
            self.read_saved();
        }
        ui.heading("Benchmarks");
        ui.label(
            "The polyphonic benchmarks of Boulanger-Lewandowski et al. (2012): train on the train split, keep the epoch with the best validation NLL, report the test split's NLL per step (nats) and frame accuracy beside the published figures.",
        );
        ui.add_space(4.0);
        let start = self.controls(ui);
        if let Some(message) = &self.message {
            ui.label(message);
        }
        ui.separator();
        self.progress(ui);
        self.curves(ui);
        ui.separator();
        self.table(ui);
        start
    }

    fn controls(&mut self, ui: &mut Ui) -> bool {
        let running = self.running.is_some();
        let mut start = false;
        ui.add_enabled_ui(!running, |ui| {
            egui::Grid::new("benchmark-controls")
                .num_columns(2)
                .spacing([12.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Dataset").on_hover_text(
                        "A benchmark file: the dataset's pickle, its JSON form or the .mat copy ({\"train\",\"valid\",\"test\"} → pieces → steps → MIDI pitches 21–108). MuseData and Piano-midi.de files of the same structure work too.",
                    );
                    ui.horizontal(|ui| {
                        for file in self.bundled.clone() {
                            let name = file
                                .file_stem()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            let selected = self.settings.dataset == file;
                            if ui.selectable_label(selected, name).clicked() {
                                self.path_field = file.display().to_string();
                                self.settings.dataset = file;
                            }
                        }
                        let field = ui.add(
                            egui::TextEdit::singleline(&mut self.path_field)
                                .desired_width(320.0)
                                .hint_text("path to a .pickle, .json or .mat"),
                        );
                        if field.changed() {
                            self.settings.dataset = PathBuf::from(self.path_field.trim());
                        }
                        if ui
                            .button("Browse…")
                            .on_hover_text("Pick a benchmark file")
                            .clicked()
                            && let Some(file) = rfd::FileDialog::new()
                                .add_filter("benchmark", &["pickle", "pkl", "json", "mat"])
                                .pick_file()
                        {
                            self.path_field = file.display().to_string();
                            self.settings.dataset = file;
                        }
                    });
                    ui.end_row();
                    ui.label("Model").on_hover_text("What to train and measure");
                    ui.horizontal(|ui| {
                        for model in BenchModel::ALL {
                            let before = self.settings.model;
                            ui.selectable_value(&mut self.settings.model, model, model.id())
                                .on_hover_text(model_tooltip(model));
                            if before != self.settings.model {
                                let defaults = BenchmarkOptions::new(model);
                                self.settings.patience = defaults.patience;
                                self.settings.hidden = defaults.hidden;
                            }
                        }
                    });
                    ui.end_row();
                    let defaults = BenchmarkOptions::new(self.settings.model);
                    ui.label("Epochs").on_hover_text(format!(
                        "Passes over the train split (0: the model's default, {}). The epoch with the best validation NLL is kept.",
                        defaults.epochs
                    ));
                    ui.add(egui::DragValue::new(&mut self.settings.epochs).range(0..=1000));
                    ui.end_row();
                    ui.label("Patience").on_hover_text(
                        "Stop after this many validations without a better NLL (0: never)",
                    );
                    ui.add(egui::DragValue::new(&mut self.settings.patience).range(0..=100));
                    ui.end_row();
                    ui.label("Hidden units").on_hover_text(
                        "Units of the RBM / NADE / LSTM layer (the paper: 150)",
                    );
                    ui.add(egui::DragValue::new(&mut self.settings.hidden).range(1..=1024));
                    ui.end_row();
                    ui.label("Seed")
                        .on_hover_text("Seed of the initial weights, the batch order and the samplers: the same seed gives the same run");
                    ui.add(egui::DragValue::new(&mut self.settings.seed));
                    ui.end_row();
                });
        });
        ui.horizontal(|ui| {
            if running {
                if ui
                    .button("Stop")
                    .on_hover_text("Stop training now and score the best epoch so far on the test split")
                    .clicked()
                {
                    self.stop();
                }
            } else if ui
                .button(RichText::new("Train and measure").strong())
                .on_hover_text("Train on the train split and measure on the test split (on its own thread: the app stays usable)")
                .clicked()
            {
                if self.settings.dataset.as_os_str().is_empty() {
                    self.message = Some("pick a benchmark file first".into());
                } else {
                    start = true;
                }
            }
            if ui
                .button("Reload reports")
                .on_hover_text("Read the saved reports again")
                .clicked()
            {
                self.read_saved();
            }
        });
        start
    }

    fn progress(&self, ui: &mut Ui) {
        let Some(r) = &self.running else {
            return;
        };
        ui.label(format!("{} on {}", r.model.id(), r.dataset));
        match &r.phase {
            Some((what, fraction)) => {
                ui.add(
                    egui::ProgressBar::new(*fraction as f32)
                        .text(format!("{what} {:.0} %", fraction * 100.0)),
                );
            }
            None => {
                let fraction = r.epoch as f32 / r.epochs.max(1) as f32;
                ui.add(egui::ProgressBar::new(fraction).text(format!(
                    "epoch {} of {} · about {} left",
                    r.epoch,
                    r.epochs,
                    duration_text(r.eta)
                )));
            }
        }
    }

    fn curves(&self, ui: &mut Ui) {
        let (train, valid) = match (&self.running, &self.last_curves) {
            (Some(r), _) => (&r.train_curve, &r.valid_curve),
            (None, Some((t, v))) => (t, v),
            (None, None) => return,
        };
        if train.is_empty() && valid.is_empty() {
            return;
        }
        let paper = published(
            self.settings.model.id(),
            &self
                .settings
                .dataset
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        Plot::new("benchmark-curves")
            .height(200.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("nats per step")
            .show(ui, |plot| {
                plot.line(Line::new("training loss", PlotPoints::from(train.clone())));
                plot.line(
                    Line::new("validation NLL", PlotPoints::from(valid.clone()))
                        .color(theme::ACCENT),
                );
                if let Some(p) = paper {
                    plot.hline(HLine::new(format!("published {:.2}", p.nll), p.nll));
                }
            });
    }

    fn table(&self, ui: &mut Ui) {
        ui.label(RichText::new("Our figures beside the published ones").strong());
        if self.reports.is_empty() {
            ui.label(if self.loader.is_some() {
                "reading the saved reports…"
            } else {
                "no reports yet: train a model above, or run scripts/benchmarks.sh"
            });
            return;
        }
        let rows: Vec<(Row, bool)> = self
            .reports
            .iter()
            .map(|(r, shipped)| (results::row(r), *shipped))
            .collect();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("benchmark-table")
                .striped(true)
                .num_columns(9)
                .show(ui, |ui| {
                    for head in [
                        "dataset",
                        "model",
                        "test NLL",
                        "ACC",
                        "published NLL (ACC)",
                        "epochs (best)",
                        "flags",
                        "time",
                        "machine",
                    ] {
                        ui.label(RichText::new(head).strong());
                    }
                    ui.end_row();
                    for (row, shipped) in rows {
                        ui.label(&row.dataset);
                        ui.label(&row.model).on_hover_text(if shipped {
                            "shipped with muselab (models/benchmarks)"
                        } else {
                            "your run (saved in your models folder)"
                        });
                        let nll = RichText::new(&row.nll);
                        ui.label(if row.at_or_below {
                            nll.color(theme::GOOD).strong()
                        } else {
                            nll
                        })
                        .on_hover_text("test NLL per time step in nats (± half the range over the AIS groups of chains where estimated)");
                        ui.label(&row.accuracy);
                        ui.label(&row.published);
                        ui.label(&row.epochs);
                        ui.label(if row.flags.is_empty() {
                            "defaults".to_string()
                        } else {
                            row.flags.clone()
                        });
                        ui.label(&row.time);
                        ui.label(&row.machine);
                        ui.end_row();
                    }
                });
        });
    }
}

/// What each model is, for its tooltip.
fn model_tooltip(model: BenchModel) -> &'static str {
    match model {
        BenchModel::Bernoulli => {
            "88 independent keys, each on with its frequency in the training frames: the baseline"
        }
        BenchModel::Rbm => {
            "An RBM over one frame, frames independent (no recurrence); NLL by annealed importance sampling"
        }
        BenchModel::RnnRbm => {
            "The RNN-RBM: a recurrence sets each frame RBM's biases; CD-15; NLL by annealed importance sampling"
        }
        BenchModel::RnnNade => {
            "The RNN-NADE, the paper's best model: a NADE per frame under the recurrence; exact likelihood"
        }
        BenchModel::Lstm => "An LSTM with 88 independent outputs (the LSTM row of later papers)",
    }
}

/// "3 min", "45 s".
fn duration_text(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}
