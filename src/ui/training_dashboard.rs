//! The training dashboard: pick a model and a corpus, edit the hyperparameters (tooltips are
//! their doc lines), Train / Pause / Resume / Stop, watch progress and loss curves live, hear the
//! newest sample, compare its metrics with the corpus's, and manage past runs.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use super::live_run::{Applied, LiveRun};
use super::piano_roll::PianoRoll;
use super::theme;
use super::training_plots::{PlotSpec, loss_plot, metric_curves, onset_curves, rule_curves};
use crate::compute::{ComputeDevice, DeviceChoice};
use crate::models::{FieldValue, ModelKind, Sample};
use crate::music::Score;
use crate::training::config::RUN_FIELD_DOCS;
use crate::training::{RunConfig, RunSummary, TrainingRequest};

/// What the dashboard asks the app to do.
#[derive(Clone, Debug)]
pub enum DashboardAction {
    /// Show this score in the piano roll.
    Open(Score),
    /// Play this score.
    Play(Score),
    /// Write this score to a temporary MIDI file and copy its path.
    CopyMidi(Score),
    /// Generate with a checkpoint (off the UI thread), then show the result.
    Generate {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// Use the piece open in the piano roll (harmonize / continue) instead of starting fresh.
        from_open_piece: bool,
        /// Seed.
        seed: u64,
        /// Temperature.
        temperature: f64,
        /// Chord progression (MidiNet).
        chords: Option<String>,
    },
}

/// Dashboard settings kept between runs of the app.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DashboardSettings {
    /// The chosen model.
    pub model: ModelKind,
    /// One run configuration per model, as last edited.
    pub configs: Vec<RunConfig>,
    /// Plot the losses on a log scale.
    pub log_scale: bool,
    /// Exponential smoothing of the curves, 0 (none) to 0.99.
    pub smoothing: f64,
    /// Seed for generation.
    pub generate_seed: u64,
    /// Temperature for generation.
    pub temperature: f64,
    /// Chord progression for MidiNet.
    pub chords: String,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            model: ModelKind::Minibach,
            configs: ModelKind::ALL.iter().map(|&k| RunConfig::new(k)).collect(),
            log_scale: false,
            smoothing: 0.6,
            generate_seed: 1,
            temperature: 0.8,
            chords: "C G Am F C F G C".into(),
        }
    }
}

impl DashboardSettings {
    /// The configuration of the chosen model.
    pub fn config_mut(&mut self) -> &mut RunConfig {
        self.config_for(self.model)
    }

    /// The form's configuration of a model.
    pub fn config_for(&mut self, model: ModelKind) -> &mut RunConfig {
        if let Some(index) = self.configs.iter().position(|c| c.model == model) {
            &mut self.configs[index]
        } else {
            self.configs.push(RunConfig::new(model));
            let last = self.configs.len() - 1;
            &mut self.configs[last]
        }
    }
}

/// The dashboard view.
pub struct TrainingDashboard {
    /// Persisted settings.
    pub settings: DashboardSettings,
    /// The current or last run.
    pub run: Option<LiveRun>,
    /// Saved runs on disk.
    pub runs: Vec<RunSummary>,
    /// The run chosen for generation.
    pub selected: Option<PathBuf>,
    /// Last error or note.
    pub message: Option<String>,
    sample_roll: PianoRoll,
    runs_rx: Option<Receiver<Vec<RunSummary>>>,
    /// Where the user's checkpoints live.
    pub models_dir: PathBuf,
    /// The shipped, read-only runs.
    pub shipped_dir: Option<PathBuf>,
    assets: PathBuf,
    /// Frames that ended their share of event reading with events left (the soak test reads it:
    /// the run's events must not back up).
    pub frames_behind: u64,
}

impl TrainingDashboard {
    /// A dashboard over the user's `models_dir` and the `shipped_dir` runs, with corpora under
    /// `assets`.
    pub fn new(
        settings: DashboardSettings,
        models_dir: PathBuf,
        shipped_dir: Option<PathBuf>,
        assets: PathBuf,
    ) -> Self {
        let mut dashboard = Self {
            settings,
            run: None,
            runs: Vec::new(),
            selected: None,
            message: None,
            sample_roll: PianoRoll::compact(),
            runs_rx: None,
            models_dir,
            shipped_dir,
            assets,
            frames_behind: 0,
        };
        dashboard.refresh_runs(None);
        dashboard
    }

    /// Lists saved runs on a thread (after deleting `delete`, if given).
    pub fn refresh_runs(&mut self, delete: Option<PathBuf>) {
        let (tx, rx) = channel();
        let dir = self.models_dir.clone();
        let shipped = self.shipped_dir.clone();
        let spawned = std::thread::Builder::new()
            .name("list-runs".into())
            .spawn(move || {
                if let Some(run) = delete {
                    let _ = std::fs::remove_dir_all(run);
                }
                let _ = tx.send(crate::training::list_all_runs(&dir, shipped.as_deref()));
            });
        if spawned.is_ok() {
            self.runs_rx = Some(rx);
        }
    }

    /// Starts training with the current settings.
    pub fn start(&mut self, compute: Option<&ComputeDevice>, ctx: &egui::Context) {
        let config = self.settings.config_mut().clone();
        self.launch(config, None, compute, ctx);
    }

    /// Resumes a saved run: on to the epochs it was started for, or, when it reached them, for
    /// as many more as the form's Epochs field says; on the form's device.
    pub fn resume(
        &mut self,
        run: &RunSummary,
        compute: Option<&ComputeDevice>,
        ctx: &egui::Context,
    ) {
        self.settings.model = run.model;
        let form = self.settings.config_for(run.model);
        let mut config = run.config.clone();
        config.device = form.device;
        if config.epochs <= run.epochs {
            config.epochs = run.epochs + form.epochs;
        }
        self.launch(config, Some(run.dir.clone()), compute, ctx);
    }

    fn launch(
        &mut self,
        config: RunConfig,
        resume_from: Option<PathBuf>,
        compute: Option<&ComputeDevice>,
        ctx: &egui::Context,
    ) {
        if self.run.as_ref().is_some_and(LiveRun::is_running) {
            return;
        }
        let ctx = ctx.clone();
        let handle = crate::training::spawn(TrainingRequest {
            config: config.clone(),
            assets: self.assets.clone(),
            models_dir: self.models_dir.clone(),
            shipped_dir: self.shipped_dir.clone(),
            resume_from,
            compute: compute.cloned(),
            notify: Some(Box::new(move || ctx.request_repaint())),
        });
        self.message = None;
        self.run = Some(LiveRun {
            handle: Some(handle),
            model: config.model,
            run_dir: None,
            device: String::new(),
            status: "starting…".into(),
            loss_names: Vec::new(),
            steps: Vec::new(),
            epochs: Vec::new(),
            samples: Vec::new(),
            corpus_metrics: Vec::new(),
            layers: Vec::new(),
            position: (1, 0),
            plan: (1, 1, config.epochs),
            steps_per_second: 0.0,
            finished: None,
            started: Instant::now(),
        });
    }

    /// Drains training events for at most `budget`.
    pub fn poll(&mut self, budget: Duration) {
        if let Some(rx) = &self.runs_rx
            && let Ok(runs) = rx.try_recv()
        {
            self.runs = runs;
            self.runs_rx = None;
        }
        let Some(run) = &mut self.run else {
            return;
        };
        let started = Instant::now();
        let mut ended = false;
        let mut refresh = false;
        while let Some(handle) = &run.handle {
            if started.elapsed() >= budget {
                // Events left for the next frame: the UI is behind the run.
                self.frames_behind += 1;
                break;
            }
            let Ok(event) = handle.events.try_recv() else {
                break;
            };
            match run.apply(event) {
                Applied::Ended(Err(e)) => {
                    self.message = Some(e);
                    ended = true;
                }
                Applied::Ended(Ok(())) => ended = true,
                Applied::Checkpoint => refresh = true,
                Applied::Nothing => {}
            }
        }
        if ended && let Some(run) = &mut self.run {
            run.handle = None;
            self.selected = run.run_dir.clone();
        }
        if (ended || refresh) && self.runs_rx.is_none() {
            self.refresh_runs(None);
        }
    }

    /// Draws the dashboard.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        compute: Option<&ComputeDevice>,
        has_open_piece: bool,
    ) -> Option<DashboardAction> {
        let mut action = None;
        egui::Panel::left("training-form")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.form(ui, compute);
                    ui.separator();
                    action = self.runs_ui(ui, has_open_piece, compute).or(action.take());
                });
            });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                action = self.progress_ui(ui).or(action.take());
            });
        });
        action
    }

    /// The model card: formula, reference and deviations; layers and parameter count once a
    /// run of this model has built its networks.
    fn card_ui(&self, ui: &mut Ui) {
        let kind = self.settings.model;
        let card = kind.card();
        egui::CollapsingHeader::new("Model card")
            .id_salt("model-card")
            .show(ui, |ui| {
                ui.label(RichText::new(card.formula).monospace());
                ui.label(RichText::new(card.reference).weak());
                let layers = self
                    .run
                    .as_ref()
                    .filter(|r| r.model == kind && !r.layers.is_empty())
                    .map(|r| &r.layers);
                match layers {
                    Some(layers) => {
                        let count = crate::models::card::parameter_count(layers);
                        ui.label(format!("{count} parameters"));
                        for layer in layers {
                            ui.label(
                                RichText::new(format!("{}  {:?}", layer.name, layer.shape))
                                    .small()
                                    .monospace(),
                            );
                        }
                    }
                    None => {
                        ui.label(
                            RichText::new(
                                "Layers and parameter count appear when a run builds the network (or: muselab models).",
                            )
                            .weak(),
                        );
                    }
                }
                if !card.deviations.is_empty() {
                    ui.label(RichText::new("Deviations from the reference").strong());
                    for (what, why) in card.deviations {
                        ui.label(format!("- {what}")).on_hover_text(*why);
                        ui.label(RichText::new(*why).weak().small());
                    }
                }
            });
    }

    fn form(&mut self, ui: &mut Ui, compute: Option<&ComputeDevice>) {
        ui.heading("Model");
        let running = self.run.as_ref().is_some_and(LiveRun::is_running);
        ui.add_enabled_ui(!running, |ui| {
            egui::ComboBox::from_id_salt("model")
                .selected_text(self.settings.model.title())
                .width(260.0)
                .show_ui(ui, |ui| {
                    for kind in ModelKind::ALL {
                        ui.selectable_value(&mut self.settings.model, kind, kind.title())
                            .on_hover_text(kind.description());
                    }
                });
            ui.label(RichText::new(self.settings.model.description()).weak());
            let lstm_runs: Vec<std::path::PathBuf> = self
                .runs
                .iter()
                .filter(|r| r.model == ModelKind::Lstm)
                .map(|r| r.dir.clone())
                .collect();
            let tuner = self.settings.model == ModelKind::RlTuner;
            let config = self.settings.config_mut();
            if tuner {
                ui.horizontal(|ui| {
                    ui.label("Start from");
                    let name = |p: &std::path::Path| {
                        p.file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                    };
                    egui::ComboBox::from_id_salt("rl-from")
                        .selected_text(
                            config
                                .from
                                .as_deref()
                                .map_or_else(|| "choose an lstm run".into(), name),
                        )
                        .show_ui(ui, |ui| {
                            for run in &lstm_runs {
                                ui.selectable_value(&mut config.from, Some(run.clone()), name(run));
                            }
                        })
                        .response
                        .on_hover_text("The trained lstm run the tuner copies into its Q-, target and reward networks (its sizes and range come with it)");
                });
                if lstm_runs.is_empty() {
                    ui.label(
                        RichText::new("No lstm runs yet: train one first (model lstm).").weak(),
                    );
                }
            }
            ui.horizontal(|ui| {
                ui.label("Corpus");
                for (id, title) in [("bach", "Bach"), ("celtic", "Celtic")] {
                    ui.selectable_value(&mut config.corpus, id.to_string(), title);
                }
            });
            ui.add(
                egui::TextEdit::singleline(&mut config.corpus)
                    .hint_text("bach, celtic or a folder"),
            )
            .on_hover_text("bach, celtic, or the path of a folder of MIDI files");
            egui::Grid::new("hyperparameters")
                .num_columns(2)
                .show(ui, |ui| {
                    for field in config.hyperparameters.fields() {
                        let tip = format!("{}\nValid: {} to {}.", field.doc, field.min, field.max);
                        ui.label(field.name.replace('_', " ")).on_hover_text(&tip);
                        match field.value {
                            // Each field's own range (see `hyperparameters!`): the form cannot
                            // hold a value a run would refuse.
                            FieldValue::Usize(v) => ui.add(
                                egui::DragValue::new(v)
                                    .range(field.min as usize..=field.max as usize),
                            ),
                            FieldValue::F64(v) => ui.add(
                                egui::DragValue::new(v)
                                    .range(field.min..=field.max)
                                    .speed(0.01),
                            ),
                        }
                        .on_hover_text(tip);
                        ui.end_row();
                    }
                    let doc = |name: &str| {
                        RUN_FIELD_DOCS
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map_or("", |(_, d)| *d)
                    };
                    ui.label("epochs").on_hover_text(doc("epochs"));
                    ui.add(egui::DragValue::new(&mut config.epochs).range(1..=10_000))
                        .on_hover_text(doc("epochs"));
                    ui.end_row();
                    ui.label("batch size").on_hover_text(doc("batch size"));
                    ui.add(egui::DragValue::new(&mut config.batch_size).range(1..=4096))
                        .on_hover_text(doc("batch size"));
                    ui.end_row();
                    ui.label("learning rate")
                        .on_hover_text(doc("learning rate"));
                    ui.add(
                        egui::DragValue::new(&mut config.learning_rate)
                            .range(1e-6..=1.0)
                            .speed(1e-4),
                    )
                    .on_hover_text(doc("learning rate"));
                    ui.end_row();
                    ui.label("seed").on_hover_text(doc("seed"));
                    ui.add(egui::DragValue::new(&mut config.seed))
                        .on_hover_text(doc("seed"));
                    ui.end_row();
                    let mut pieces = config.max_pieces.unwrap_or(0);
                    ui.label("max pieces").on_hover_text(doc("max pieces"));
                    if ui
                        .add(egui::DragValue::new(&mut pieces).range(0..=100_000))
                        .on_hover_text(doc("max pieces"))
                        .changed()
                    {
                        config.max_pieces = (pieces > 0).then_some(pieces);
                    }
                    ui.end_row();
                    ui.label("patience").on_hover_text(doc("patience"));
                    ui.add(egui::DragValue::new(&mut config.patience).range(0..=1000))
                        .on_hover_text(doc("patience"));
                    ui.end_row();
                    ui.label("device")
                        .on_hover_text("Where to train: Auto uses a real GPU when one was found");
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut config.device, DeviceChoice::Auto, "Auto");
                        ui.selectable_value(&mut config.device, DeviceChoice::Cpu, "CPU");
                        ui.selectable_value(&mut config.device, DeviceChoice::Gpu, "GPU");
                    });
                    ui.end_row();
                });
            if ui.button("Reset to defaults").clicked() {
                let model = self.settings.model;
                *self.settings.config_mut() = RunConfig::new(model);
            }
        });
        // Outside the form's disabled state: the card can be read while a run trains.
        self.card_ui(ui);
        ui.horizontal(|ui| {
            let paused = self.run.as_ref().is_some_and(LiveRun::paused);
            if ui
                .add_enabled(!running, egui::Button::new("Train"))
                .clicked()
            {
                let ctx = ui.ctx().clone();
                self.start(compute, &ctx);
            }
            if let Some(handle) = self.run.as_ref().and_then(|r| r.handle.as_ref()) {
                if paused {
                    if ui.button("Resume").clicked() {
                        handle.resume();
                    }
                } else if ui
                    .add_enabled(running, egui::Button::new("Pause"))
                    .clicked()
                {
                    handle.pause();
                }
                if ui.add_enabled(running, egui::Button::new("Stop")).clicked() {
                    handle.stop();
                }
            }
        });
        if let Some(message) = &self.message {
            ui.colored_label(theme::ERROR, message);
        }
    }

    fn runs_ui(
        &mut self,
        ui: &mut Ui,
        has_open_piece: bool,
        compute: Option<&ComputeDevice>,
    ) -> Option<DashboardAction> {
        let mut action = None;
        ui.heading("Runs");
        if self.runs.is_empty() {
            ui.label(
                RichText::new(format!(
                    "No checkpoints in {} yet.",
                    self.models_dir.display()
                ))
                .weak(),
            );
        }
        let mut delete = None;
        let mut resume = None;
        let running = self.run.as_ref().is_some_and(LiveRun::is_running);
        for run in &self.runs {
            let name = run
                .dir
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let loss = run
                .final_loss
                .map_or_else(|| "–".to_string(), |l| format!("{l:.3}"));
            ui.horizontal(|ui| {
                let selected = self.selected.as_ref() == Some(&run.dir);
                let label = if run.shipped {
                    format!("{} · shipped", run.model.id())
                } else {
                    format!("{} · {name}", run.model.id())
                };
                if ui
                    .selectable_label(selected, label)
                    .on_hover_text(format!(
                        "{} epochs, final loss {loss}\n{}",
                        run.epochs,
                        run.dir.display()
                    ))
                    .clicked()
                {
                    self.selected = Some(run.dir.clone());
                }
                ui.label(RichText::new(format!("{} ep, loss {loss}", run.epochs)).weak());
                let more = if run.config.epochs > run.epochs {
                    format!("on to epoch {}", run.config.epochs)
                } else {
                    "for as many more epochs as the Epochs field says".to_string()
                };
                let resume_tip = if run.shipped {
                    format!(
                        "A shipped run is read-only: Resume trains a copy of it in your models folder ({}), {more}, with a fresh optimiser",
                        self.models_dir.display()
                    )
                } else {
                    format!(
                        "Train this run further, {more}, with its saved settings and optimiser state (resumed at an epoch's end, it continues exactly as if it had not stopped)"
                    )
                };
                if ui
                    .add_enabled(!running, egui::Button::new("Resume").small())
                    .on_hover_text(resume_tip)
                    .clicked()
                {
                    resume = Some(run.clone());
                }
                if !run.shipped
                    && ui
                    .small_button("Delete")
                    .on_hover_text("Delete this checkpoint from disk")
                    .clicked()
                {
                    delete = Some(run.dir.clone());
                }
            });
        }
        if let Some(run) = resume {
            let ctx = ui.ctx().clone();
            self.resume(&run, compute, &ctx);
        }
        if let Some(dir) = delete {
            if self.selected.as_ref() == Some(&dir) {
                self.selected = None;
            }
            self.refresh_runs(Some(dir));
        }
        if ui.small_button("Refresh").clicked() {
            self.refresh_runs(None);
        }
        ui.separator();
        ui.heading("Use the model");
        let Some(checkpoint) = self.selected.clone() else {
            ui.label(
                RichText::new("Select a run above (a finished run is selected for you).").weak(),
            );
            return None;
        };
        let kind = self
            .runs
            .iter()
            .find(|r| r.dir == checkpoint)
            .map(|r| r.model);
        ui.horizontal(|ui| {
            ui.label("seed").on_hover_text("Same seed, same result");
            ui.add(egui::DragValue::new(&mut self.settings.generate_seed));
            ui.label("temperature")
                .on_hover_text("0 = always the most likely note; higher = more adventurous");
            ui.add(
                egui::DragValue::new(&mut self.settings.temperature)
                    .range(0.0..=3.0)
                    .speed(0.05),
            );
        });
        let (seed, temperature) = (self.settings.generate_seed, self.settings.temperature);
        if kind == Some(ModelKind::Midinet) {
            ui.horizontal(|ui| {
                ui.label("chords")
                    .on_hover_text("One chord per bar: C, F#m, Bb, …");
                ui.text_edit_singleline(&mut self.settings.chords);
            });
        }
        let chords = (kind == Some(ModelKind::Midinet)).then(|| self.settings.chords.clone());
        let generate = |from_open_piece: bool| DashboardAction::Generate {
            checkpoint: checkpoint.clone(),
            from_open_piece,
            seed,
            temperature,
            // With the open piece, MidiNet follows that piece's chords.
            chords: if from_open_piece {
                None
            } else {
                chords.clone()
            },
        };
        // (label, tooltip, uses the open piece) per model.
        let buttons: &[(&str, &str, bool)] = match kind {
            Some(ModelKind::Minibach) => &[(
                "Harmonize the open piece",
                "Takes the first track (the soprano of a chorale, the tune of a folk song) and writes alto, tenor and bass",
                true,
            )],
            Some(ModelKind::DeepBach) => &[(
                "Harmonize the open piece",
                "Keeps the first track as the soprano, note for note, and samples alto, tenor and bass by pseudo-Gibbs sampling (each voice from the past, the future and the other voices)",
                true,
            )],
            Some(ModelKind::Midinet) => &[
                (
                    "Generate over these chords",
                    "One bar per chord, each conditioned on the bar before",
                    false,
                ),
                (
                    "Use the chords of the open piece",
                    "The chords of each bar of the piece in the piano roll",
                    true,
                ),
            ],
            Some(ModelKind::Lstm) => &[
                ("Generate a tune", "A new tune from the start token", false),
                (
                    "Continue the open piece",
                    "Primes the LSTM with the first two bars of the open piece",
                    true,
                ),
            ],
            Some(_) => &[(
                "Decode a random code",
                "A code drawn uniformly from [-1, 1], decoded",
                false,
            )],
            None => &[],
        };
        ui.horizontal_wrapped(|ui| {
            for &(label, tooltip, from_open_piece) in buttons {
                let enabled = has_open_piece || !from_open_piece;
                if ui
                    .add_enabled(enabled, egui::Button::new(label))
                    .on_hover_text(tooltip)
                    .clicked()
                {
                    action = Some(generate(from_open_piece));
                }
            }
        });
        action
    }

    fn progress_ui(&mut self, ui: &mut Ui) -> Option<DashboardAction> {
        let mut action = None;
        let Some(run) = &self.run else {
            ui.label("Pick a model and a corpus on the left, then press Train.");
            return None;
        };
        let (per_epoch, _, last) = run.plan;
        let elapsed = run.started.elapsed().as_secs_f64();
        let progress = run.progress();
        let left = if progress > 0.01 && run.is_running() {
            let seconds = elapsed / f64::from(progress) * f64::from(1.0 - progress);
            format!(" · {:.0}:{:02} left", seconds / 60.0, seconds as u64 % 60)
        } else {
            String::new()
        };
        let text = format!(
            "epoch {}/{last} · step {}/{per_epoch} · {:.1} steps/s{left}",
            run.position.0.min(last),
            run.position.1,
            run.steps_per_second
        );
        ui.add(
            egui::ProgressBar::new(progress)
                .text(text)
                .animate(run.is_running()),
        );
        ui.horizontal_wrapped(|ui| {
            if !run.device.is_empty() {
                ui.label(format!("device: {}", run.device));
                ui.separator();
            }
            // Measured on an H100: the first ~30 steps compile and autotune GPU kernels at
            // about a second each; say so rather than let the run look stuck.
            if run.device.starts_with("GPU") && run.is_running() && run.steps.len() < GPU_WARM_UP {
                ui.colored_label(
                    theme::PLAYHEAD,
                    "compiling GPU kernels: the first steps are slow, then it speeds up",
                );
                ui.separator();
            }
            ui.label(&run.status);
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.settings.log_scale, "log scale")
                .on_hover_text("Plot log10 of the losses");
            ui.label("smoothing");
            ui.add(egui::Slider::new(&mut self.settings.smoothing, 0.0..=0.99))
                .on_hover_text("Exponential moving average of the step losses");
        });
        let (log, smoothing) = (self.settings.log_scale, self.settings.smoothing);
        if run.model.is_gan() {
            // G and D losses on one plot; D(x) and D(G(z)) — the "Turing test" — on another.
            // Three plots share the height of one so that the health warnings stay in view.
            let plot = |id, indices, log, y_range, height| PlotSpec {
                id,
                indices,
                log,
                y_range,
                height,
            };
            loss_plot(
                ui,
                &plot("gan-losses", &[0, 1], log, None, 150.0),
                run,
                smoothing,
            );
            ui.label(RichText::new("D(x) and D(G(z)): the discriminator's belief that real and generated bars are real").weak());
            let probabilities = plot("gan-probabilities", &[2, 3], false, Some((0.0, 1.0)), 130.0);
            loss_plot(ui, &probabilities, run, smoothing);
            if run.loss_names.len() > 4 {
                ui.label(RichText::new("G gradient: size of the generator's output-layer gradient (log scale); near 0 = G has stopped learning").weak());
                loss_plot(
                    ui,
                    &plot("gan-gradient", &[4], true, None, 100.0),
                    run,
                    smoothing,
                );
            }
            action = self.health_ui(ui).or(action);
        } else {
            let all: Vec<usize> = (0..run.loss_names.len()).collect();
            let spec = PlotSpec {
                id: "losses",
                indices: &all,
                log,
                y_range: None,
                height: 200.0,
            };
            loss_plot(ui, &spec, run, smoothing);
        }
        let Some(run) = &self.run else { return action };
        onset_curves(ui, run);
        rule_curves(ui, run);
        metric_curves(ui, run);
        if let Some(last_epoch) = run.epochs.last() {
            ui.label(RichText::new(format!("After epoch {}", last_epoch.epoch)).strong());
            egui::Grid::new("epoch-table").striped(true).show(ui, |ui| {
                for (name, value) in &last_epoch.validation {
                    ui.label(name);
                    ui.label(format!("{value:.4}"));
                    ui.end_row();
                }
            });
            ui.add_space(6.0);
            egui::Grid::new("metrics")
                .striped(true)
                .num_columns(3)
                .show(ui, |ui| {
                    ui.label(RichText::new("metric").strong());
                    ui.label(RichText::new("sample").strong());
                    ui.label(RichText::new("corpus").strong());
                    ui.end_row();
                    for (name, value) in &last_epoch.sample_metrics {
                        ui.label(name);
                        ui.label(format!("{value:.3}"));
                        let corpus = run
                            .corpus_metrics
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| *v);
                        ui.label(corpus.map_or_else(|| "–".into(), |v| format!("{v:.3}")));
                        ui.end_row();
                    }
                });
        }
        let tiles = if run.model.is_gan() {
            run.samples.len().saturating_sub(1)
        } else {
            0
        };
        if tiles > 0 {
            ui.add_space(6.0);
            ui.label(RichText::new("Gallery: the same noise vectors every epoch").strong());
            let width = (ui.available_width() / 4.0 - 8.0).max(80.0);
            let gallery: Vec<Sample> = run.samples[1..].to_vec();
            egui::Grid::new("gallery").num_columns(4).show(ui, |ui| {
                for (i, sample) in gallery.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.horizontal(|ui| {
                            ui.label(&sample.label);
                            if ui.small_button("Play").clicked() {
                                action = Some(DashboardAction::Play(sample.score.clone()));
                            }
                            if ui
                                .small_button("Copy")
                                .on_hover_text("Copy as MIDI file: write this bar as a .mid file in the temporary folder and copy its path, for your DAW")
                                .clicked()
                            {
                                action = Some(DashboardAction::CopyMidi(sample.score.clone()));
                            }
                        });
                        let size = egui::vec2(width, 90.0);
                        ui.allocate_ui(size, |ui| {
                            ui.set_min_size(size);
                            PianoRoll::compact().ui(ui, &sample.score, None);
                        });
                    });
                    if i % 4 == 3 {
                        ui.end_row();
                    }
                }
            });
        }
        let shown = if tiles > 0 {
            run.samples[..1].to_vec()
        } else {
            run.samples.clone()
        };
        for sample in shown {
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                ui.label(RichText::new(&sample.label).strong());
                if ui.button("Play sample").clicked() {
                    action = Some(DashboardAction::Play(sample.score.clone()));
                }
                if ui.button("Open in piano roll").clicked() {
                    action = Some(DashboardAction::Open(sample.score.clone()));
                }
                if super::copy_midi_button(ui) {
                    action = Some(DashboardAction::CopyMidi(sample.score.clone()));
                }
            });
            let size = egui::vec2(ui.available_width(), 150.0);
            ui.allocate_ui(size, |ui| {
                ui.set_min_size(size);
                self.sample_roll.ui(ui, &sample.score, None);
            });
        }
        action
    }
}

/// Steps during which a GPU run is still compiling kernels (the dashboard says so).
const GPU_WARM_UP: usize = 40;
