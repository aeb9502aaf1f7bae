//! The Gibbs chain of a trained Boltzmann machine, animated: the frames written so far on a
//! piano roll, the frame being written shaded by each pitch's probability with the sampled
//! notes on top (and the clamped melody in its own colour when harmonising the open piece), the
//! step count, and the free energy of every step; optionally a heat map of every written
//! frame's probabilities. Cells clicked on the roll are pinned on or off for the next chain.
//! An RNN-RBM continues the open piece's opening bars. For a C-RBM, the whole roll as the
//! constrained chain samples it, the template's self-similarity matrix, key and constraint
//! weights as controls, and the three constraint costs and the annealing temperature per
//! round. The chain runs on its own thread (`gibbs_worker`).

use std::path::PathBuf;
use std::time::Duration;

use egui::{Color32, Rect, RichText, Sense, Ui, pos2, vec2};
use egui_plot::{Line, Plot, PlotPoints};

use super::{ScoreAction, theme};
use crate::gibbs_worker::{ChainEvent, ChainOptions, GibbsChain};
use crate::models::ModelKind;
use crate::music::Score;

/// The chain's settings (kept while the app runs).
#[derive(Clone, Debug, PartialEq)]
pub struct GibbsSettings {
    /// Seed of the chain.
    pub seed: u64,
    /// Frames to write without a melody.
    pub frames: usize,
    /// Gibbs steps per frame.
    pub steps: usize,
    /// A C-RBM's rounds of constrained sampling (the annealing runs over them).
    pub rounds: usize,
    /// Temperature.
    pub temperature: f64,
    /// Steps shown per second.
    pub speed: f64,
    /// Clamp the open piece's melody (harmonise it); for an RNN-RBM, continue its opening; for
    /// a C-RBM, use it as the template.
    pub clamp_melody: bool,
    /// Bars of the open piece that prime an RNN-RBM.
    pub prime_bars: usize,
    /// Shade the written frames by their probabilities.
    pub heat_map: bool,
    /// The C-RBM's key.
    pub key: String,
    /// The C-RBM's constraint weights: self-similarity, key, meter.
    pub weights: [f64; 3],
    /// The C-RBM's meter: quarter-note beats a bar.
    pub beats: usize,
}

impl Default for GibbsSettings {
    fn default() -> Self {
        Self {
            seed: 1,
            frames: 32,
            steps: 25,
            rounds: 300,
            temperature: 1.0,
            speed: 200.0,
            clamp_melody: false,
            prime_bars: 2,
            heat_map: false,
            key: "C".into(),
            weights: [1.0, 1.0, 1.0],
            beats: 4,
        }
    }
}

/// The view's state.
#[derive(Default)]
pub struct GibbsView {
    /// Settings.
    pub settings: GibbsSettings,
    /// The chosen RBM run.
    pub selected: Option<PathBuf>,
    chain: Option<GibbsChain>,
    /// (lowest pitch, pitches, frames planned) of the running chain.
    layout: Option<(u8, usize, usize)>,
    /// Frames written so far.
    pub frames: Vec<Vec<f32>>,
    /// Per written frame, its clamped pitches (drawn in their own colour).
    clamped: Vec<Vec<bool>>,
    /// Per written frame, each pitch's mean probability over the frame's Gibbs steps.
    pub heat: Vec<Vec<f32>>,
    /// Sum of the probabilities of the frame being written, and its steps so far.
    heat_sum: (Vec<f32>, usize),
    /// Cells painted on the roll (per frame, per pitch: pinned on, off, or free), and the
    /// machine's (lowest pitch, pitches) they were painted for.
    pub pins: Vec<Vec<Option<bool>>>,
    pins_layout: Option<(u8, usize)>,
    current: Option<Current>,
    /// Free energy of every step so far.
    pub energies: Vec<f64>,
    /// What some hidden units detect (their weights as frames of `pitches` values).
    pub features: Vec<Vec<f32>>,
    /// The finished piece.
    pub result: Option<Score>,
    /// A C-RBM's chain: its roll now, its template's self-similarity, the constraint costs and
    /// temperature of every round.
    pub constrained: Option<Constrained>,
    /// Status line.
    pub status: String,
}

struct Current {
    frame: usize,
    step: usize,
    probabilities: Vec<f32>,
    state: Vec<f32>,
    clamped: Vec<bool>,
}

/// What a C-RBM's chain shows.
#[derive(Default)]
pub struct Constrained {
    /// The roll as sampled in the last round.
    pub roll: Vec<Vec<f32>>,
    /// The template's bar self-similarity.
    pub similarity: Option<Vec<Vec<f32>>>,
    /// Costs (self-similarity, key, meter) per round.
    pub costs: Vec<[f64; 3]>,
    /// Temperature per round.
    pub temperatures: Vec<f64>,
    /// (round, rounds).
    pub progress: (usize, usize),
}

/// The model of a run (its folder lies under the model's id); an RBM if unknown.
pub fn kind_of(run: &std::path::Path) -> ModelKind {
    run.parent()
        .and_then(|p| p.file_name())
        .and_then(|n| ModelKind::from_id(&n.to_string_lossy()))
        .unwrap_or(ModelKind::Rbm)
}

/// True for a C-RBM run.
fn is_crbm(run: &std::path::Path) -> bool {
    kind_of(run) == ModelKind::Crbm
}

/// Colour of clamped (pinned) cells.
const CLAMPED: Color32 = Color32::from_rgb(255, 190, 90);
/// Colour of written notes and of probability shading.
const WRITTEN: Color32 = Color32::from_rgb(110, 170, 255);
/// Colour of the cross on a cell pinned off.
const PINNED_OFF: Color32 = Color32::from_rgb(230, 80, 80);

impl GibbsView {
    /// True while a chain runs.
    pub fn is_running(&self) -> bool {
        self.chain.is_some()
    }

    /// Starts a chain on the selected run (with the open piece's melody when clamping).
    pub fn start(&mut self, ctx: &egui::Context, melody: Option<&Score>) {
        let Some(run) = self.selected.clone() else {
            self.status = "Choose an RBM run first.".into();
            return;
        };
        let ctx = ctx.clone();
        let options = ChainOptions {
            seed: self.settings.seed,
            frames: self.settings.frames,
            steps: if is_crbm(&run) {
                self.settings.rounds
            } else {
                self.settings.steps
            },
            temperature: self.settings.temperature,
            melody: self
                .settings
                .clamp_melody
                .then(|| melody.cloned())
                .flatten(),
            prime_bars: self.settings.prime_bars,
            pins: self.pins.clone(),
            steps_per_second: self.settings.speed,
            key: self.settings.key.clone(),
            weights: self.settings.weights,
            beats: self.settings.beats,
        };
        self.constrained = is_crbm(&run).then(Constrained::default);
        self.frames.clear();
        self.clamped.clear();
        self.heat.clear();
        self.heat_sum = (Vec::new(), 0);
        self.energies.clear();
        self.current = None;
        self.result = None;
        self.layout = None;
        self.status = "loading the machine…".into();
        self.chain = Some(GibbsChain::start(run, options, move || {
            ctx.request_repaint();
        }));
    }

    /// Reads what the chain reported.
    pub fn poll(&mut self) {
        let Some(chain) = &self.chain else { return };
        let events: Vec<ChainEvent> = chain.events.try_iter().collect();
        let mut ended = false;
        for event in events {
            match event {
                ChainEvent::Started {
                    low,
                    pitches,
                    frames,
                    similarity,
                    features,
                } => {
                    self.features = features;
                    self.layout = Some((low, pitches, frames));
                    if self.pins_layout != Some((low, pitches)) {
                        self.pins.clear();
                        self.pins_layout = Some((low, pitches));
                    }
                    self.status = "running".into();
                    if let Some(c) = &mut self.constrained {
                        c.similarity = similarity;
                    }
                }
                ChainEvent::Constrained {
                    step,
                    steps,
                    temperature,
                    frames,
                    costs,
                } => {
                    let c = self.constrained.get_or_insert_with(Constrained::default);
                    c.roll = frames;
                    c.costs.push(costs);
                    c.temperatures.push(temperature);
                    c.progress = (step, steps);
                }
                ChainEvent::Step {
                    frame,
                    step,
                    probabilities,
                    state,
                    clamped,
                    free_energy,
                } => {
                    self.energies.push(free_energy);
                    let (sum, count) = &mut self.heat_sum;
                    if sum.len() != probabilities.len() {
                        *sum = vec![0.0; probabilities.len()];
                    }
                    sum.iter_mut()
                        .zip(&probabilities)
                        .for_each(|(s, p)| *s += p);
                    *count += 1;
                    self.current = Some(Current {
                        frame,
                        step,
                        probabilities,
                        state,
                        clamped,
                    });
                }
                ChainEvent::Frame(frame) => {
                    let clamped = self
                        .current
                        .as_ref()
                        .map(|c| c.clamped.clone())
                        .unwrap_or_default();
                    self.frames.push(frame);
                    self.clamped.push(clamped);
                    let (sum, count) = std::mem::take(&mut self.heat_sum);
                    let n = count.max(1) as f32;
                    self.heat.push(sum.into_iter().map(|s| s / n).collect());
                }
                ChainEvent::Finished(result) => {
                    ended = true;
                    match result {
                        Ok(score) => {
                            self.status = match &self.constrained {
                                Some(c) => format!(
                                    "wrote {} frames in {} constrained rounds",
                                    c.roll.len(),
                                    c.costs.len()
                                ),
                                None => format!(
                                    "wrote {} frames in {} Gibbs steps",
                                    self.frames.len(),
                                    self.energies.len()
                                ),
                            };
                            self.result = Some(score);
                        }
                        Err(e) => self.status = format!("error: {e}"),
                    }
                }
            }
        }
        if ended {
            self.chain = None;
            self.current = None;
        }
    }

    /// Draws the view. `runs` are the RBM checkpoints; `melody` the open piece.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        runs: &[PathBuf],
        melody: Option<&Score>,
    ) -> Vec<ScoreAction> {
        self.poll();
        let mut actions = Vec::new();
        if self.is_running() {
            ui.ctx().request_repaint_after(Duration::from_millis(30));
        }
        ui.horizontal_wrapped(|ui| {
            let label = self
                .selected
                .as_deref()
                .map_or_else(|| "choose a run".into(), super::run_label);
            egui::ComboBox::from_id_salt("gibbs-run")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    for run in runs {
                        let name = super::run_label(run);
                        ui.selectable_value(&mut self.selected, Some(run.clone()), name);
                    }
                });
            let kind = self.selected.as_deref().map(kind_of);
            let crbm = kind == Some(ModelKind::Crbm);
            let s = &mut self.settings;
            if crbm {
                ui.label("rounds");
                ui.add(egui::DragValue::new(&mut s.rounds).range(1..=10_000))
                    .on_hover_text("Rounds of constrained Gibbs sampling over the whole roll; the temperature falls from 3 to 1 over them. Valid: 1 to 10000");
            } else {
                ui.label("steps/frame");
                ui.add(egui::DragValue::new(&mut s.steps).range(1..=500))
                    .on_hover_text("Gibbs steps per frame (h ~ p(h|v), then v ~ p(v|h)). Valid: 1 to 500");
            }
            ui.label("frames");
            ui.add(egui::DragValue::new(&mut s.frames).range(1..=512))
                .on_hover_text("Frames to write without a melody. Valid: 1 to 512");
            ui.label("temperature");
            ui.add(egui::Slider::new(&mut s.temperature, 0.2..=3.0))
                .on_hover_text("Divides the energies: above 1 the chain wanders, below 1 it settles on its favourite chords. Valid: 0.2 to 3");
            ui.label("steps/s");
            ui.add(egui::DragValue::new(&mut s.speed).range(1.0..=100_000.0))
                .on_hover_text("Pace of the animation. Valid: 1 to 100000");
            ui.label("seed");
            ui.add(egui::DragValue::new(&mut s.seed))
                .on_hover_text("Seed of the chain: the same seed writes the same frames");
            let (label, tip) = if crbm {
                (
                    "the open piece as template",
                    "Impose the open piece's bar-by-bar self-similarity (its repetitions and contrasts) on the chain",
                )
            } else if kind == Some(ModelKind::RnnRbm) {
                (
                    "continue the open piece",
                    "Prime the recurrence with the open piece's opening bars (all voices, moved to C as the model was trained), then write on from there",
                )
            } else {
                (
                    "clamp the open piece's melody",
                    "Boltzmann harmonisation: the melody's pitch is pinned on and every pitch above it off in each frame; the chain writes the voices below",
                )
            };
            ui.add_enabled(melody.is_some(), egui::Checkbox::new(&mut s.clamp_melody, label))
                .on_hover_text(tip);
            if kind == Some(ModelKind::RnnRbm) {
                ui.label("bars");
                ui.add(egui::DragValue::new(&mut s.prime_bars).range(1..=64))
                    .on_hover_text("Bars of the open piece that prime the RNN-RBM. Valid: 1 to 64");
            }
            if !crbm {
                ui.checkbox(&mut s.heat_map, "heat map").on_hover_text(
                    "Shade every written frame by each pitch's mean probability over its Gibbs steps: what the machine expected there, given the frames before",
                );
            }
            if crbm {
                ui.label("key");
                ui.add(egui::TextEdit::singleline(&mut s.key).desired_width(40.0))
                    .on_hover_text("The key the constraint steers toward: C, F#, Bb, Am… (the corpus was moved to C)");
                let meter = crate::models::crbm::METERS
                    .iter()
                    .find(|(b, _)| *b == s.beats)
                    .map_or("4/4", |(_, name)| *name);
                egui::ComboBox::from_id_salt("crbm-meter")
                    .selected_text(meter)
                    .show_ui(ui, |ui| {
                        for (beats, name) in crate::models::crbm::METERS {
                            ui.selectable_value(&mut s.beats, beats, name);
                        }
                    })
                    .response
                    .on_hover_text("The meter the constraint steers toward: onsets weighted by metric position (downbeat strongest); bars of the template are cut at this length too");
                let names = [
                    ("self-similarity", "Weight of the template's self-similarity constraint. Valid: 0 to 5"),
                    ("key", "Weight of the key constraint (the pitch classes of the key's scale). Valid: 0 to 5"),
                    ("meter", "Weight of the meter constraint (onsets on the strong positions of the chosen meter). Valid: 0 to 5"),
                ];
                for (weight, (name, tip)) in s.weights.iter_mut().zip(names) {
                    ui.label(name);
                    ui.add(egui::Slider::new(weight, 0.0..=5.0)).on_hover_text(tip);
                }
            }
        });
        ui.horizontal_wrapped(|ui| {
            if self.is_running() {
                if ui.button("Stop chain").clicked()
                    && let Some(chain) = &self.chain
                {
                    chain.stop();
                }
            } else if ui
                .add_enabled(self.selected.is_some(), egui::Button::new("Run chain"))
                .clicked()
            {
                let ctx = ui.ctx().clone();
                self.start(&ctx, melody);
            }
            if let Some(score) = &self.result {
                if ui.button("Play result").clicked() {
                    actions.push(ScoreAction::Play(score.clone()));
                }
                if ui.button("Open in piano roll").clicked() {
                    actions.push(ScoreAction::Open(score.clone()));
                }
                if super::copy_midi_button(ui) {
                    actions.push(ScoreAction::CopyMidi(score.clone()));
                }
            }
            let progress = match (&self.current, &self.constrained, self.layout) {
                (_, Some(c), Some(_)) if !c.temperatures.is_empty() => format!(
                    "round {}/{} · temperature {:.2}",
                    c.progress.0 + 1,
                    c.progress.1,
                    c.temperatures.last().copied().unwrap_or(1.0)
                ),
                (Some(c), _, Some((_, _, frames))) => format!(
                    "frame {}/{frames} · step {}/{}",
                    c.frame + 1,
                    c.step + 1,
                    self.settings.steps
                ),
                _ => String::new(),
            };
            ui.label(RichText::new(format!("{progress}  {}", self.status)).weak());
            if !self.is_running() && self.constrained.is_none() && self.layout.is_some() {
                ui.label(
                    RichText::new("Click a cell to pin it on, twice to pin it off, three times to free it (right-click frees it); the next chain holds the pins.")
                        .weak(),
                );
            }
            let pinned = self.pins.iter().flatten().filter(|p| p.is_some()).count();
            if pinned > 0 && ui.button(format!("Clear {pinned} pins")).clicked() {
                self.pins.clear();
            }
        });
        if runs.is_empty() && self.selected.is_none() {
            ui.label(
                RichText::new(
                    "No Boltzmann machine runs yet: train one on the Training tab (model rbm, rnn-rbm or crbm).",
                )
                .weak(),
            );
        }
        let height = (ui.available_height() - 170.0).max(160.0);
        self.roll(ui, height);
        match &self.constrained {
            Some(c) => {
                ui.horizontal(|ui| {
                    similarity_map(ui, c.similarity.as_deref(), 150.0);
                    let line = |name: &str, values: Vec<f64>| {
                        let points: PlotPoints = values
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| [i as f64, v])
                            .collect();
                        Line::new(name.to_string(), points)
                    };
                    Plot::new("crbm-constraints")
                        .height(150.0)
                        .legend(egui_plot::Legend::default())
                        .x_axis_label("round")
                        .show(ui, |plot| {
                            for (i, name) in ["self-similarity cost", "key cost", "meter cost"]
                                .iter()
                                .enumerate()
                            {
                                plot.line(line(name, c.costs.iter().map(|k| k[i]).collect()));
                            }
                            plot.line(line(
                                "temperature ÷ 3",
                                c.temperatures.iter().map(|t| t / 3.0).collect(),
                            ));
                        });
                });
            }
            None => {
                ui.horizontal(|ui| {
                    let pitches = self.layout.map_or(0, |l| l.1);
                    feature_tiles(ui, &self.features, pitches, 150.0);
                    let points: PlotPoints = self
                        .energies
                        .iter()
                        .enumerate()
                        .map(|(i, e)| [i as f64, *e])
                        .collect();
                    Plot::new("gibbs-free-energy")
                        .height(150.0)
                        .x_axis_label("Gibbs step")
                        .y_axis_label("free energy")
                        .show(ui, |plot| plot.line(Line::new("free energy", points)));
                });
            }
        }
        actions
    }

    /// The frames written so far and the frame being written, as a piano roll; between chains
    /// (RBM and RNN-RBM) a click pins a cell for the next one.
    fn roll(&mut self, ui: &mut Ui, height: f32) {
        let paintable = !self.is_running() && self.constrained.is_none() && self.layout.is_some();
        let sense = if paintable {
            Sense::click()
        } else {
            Sense::hover()
        };
        let (rect, response) = ui.allocate_exact_size(vec2(ui.available_width(), height), sense);
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, theme::ROW_WHITE);
        let Some((low, pitches, planned)) = self.layout else {
            return;
        };
        let written_len = self
            .constrained
            .as_ref()
            .filter(|c| !c.roll.is_empty())
            .map_or(self.frames.len(), |c| c.roll.len());
        let columns = planned.max(written_len + 1).max(1);
        let (w, h) = (
            rect.width() / columns as f32,
            rect.height() / pitches.max(1) as f32,
        );
        if paintable {
            let clicked = if response.clicked() {
                Some(true)
            } else if response.secondary_clicked() {
                Some(false)
            } else {
                None
            };
            if let (Some(primary), Some(pos)) = (clicked, response.interact_pointer_pos()) {
                let column = ((pos.x - rect.left()) / w).floor().max(0.0) as usize;
                let row = ((rect.bottom() - pos.y) / h).floor().max(0.0) as usize;
                if row < pitches {
                    self.toggle_pin(column, row, pitches, primary);
                }
            }
        }
        let written = self
            .constrained
            .as_ref()
            .filter(|c| !c.roll.is_empty())
            .map_or(&self.frames, |c| &c.roll);
        let cell = |column: usize, row: usize| {
            let x = rect.left() + column as f32 * w;
            let y = rect.bottom() - (row + 1) as f32 * h;
            Rect::from_min_size(pos2(x, y), vec2(w.max(1.0), h.max(1.0)))
        };
        for row in 0..pitches {
            if (usize::from(low) + row) % 12 == 0 {
                let y = rect.bottom() - row as f32 * h;
                painter.hline(rect.x_range(), y, (1.0, theme::OCTAVE_LINE));
            }
        }
        let heat_map = self.settings.heat_map && self.constrained.is_none();
        for (column, frame) in written.iter().enumerate() {
            let clamped = self.clamped.get(column);
            let heat = self.heat.get(column).filter(|_| heat_map);
            for (row, &on) in frame.iter().enumerate() {
                if let Some(p) = heat.and_then(|h| h.get(row)) {
                    painter.rect_filled(cell(column, row), 0.0, heat_colour(*p));
                }
                if on > 0.5 {
                    let pinned = clamped.and_then(|c| c.get(row)).copied().unwrap_or(false);
                    let colour = if pinned { CLAMPED } else { WRITTEN };
                    if heat.is_some() {
                        painter.rect_stroke(
                            cell(column, row).shrink(0.5),
                            1.0,
                            (1.5, colour),
                            egui::StrokeKind::Inside,
                        );
                    } else {
                        painter.rect_filled(cell(column, row).shrink(0.5), 1.0, colour);
                    }
                }
            }
        }
        if let Some(current) = &self.current {
            let column = current.frame;
            for row in 0..pitches {
                let r = cell(column, row);
                let p = current.probabilities.get(row).copied().unwrap_or(0.0);
                painter.rect_filled(r, 0.0, WRITTEN.gamma_multiply(p.clamp(0.0, 1.0) * 0.6));
                let clamped = current.clamped.get(row).copied().unwrap_or(false);
                let on = current.state.get(row).copied().unwrap_or(0.0) > 0.5;
                if clamped && on {
                    painter.rect_filled(r.shrink(0.5), 1.0, CLAMPED);
                } else if on {
                    painter.rect_stroke(
                        r.shrink(1.0),
                        1.0,
                        (1.5, Color32::WHITE),
                        egui::StrokeKind::Inside,
                    );
                }
            }
        }
        for (column, frame) in self.pins.iter().enumerate() {
            for (row, pin) in frame.iter().enumerate() {
                let r = cell(column, row).shrink(1.0);
                match pin {
                    Some(true) => {
                        painter.rect_stroke(r, 1.0, (2.0, CLAMPED), egui::StrokeKind::Inside);
                    }
                    Some(false) => {
                        let stroke = (1.5, PINNED_OFF);
                        painter.line_segment([r.left_top(), r.right_bottom()], stroke);
                        painter.line_segment([r.left_bottom(), r.right_top()], stroke);
                    }
                    None => {}
                }
            }
        }
    }

    /// Cycles the pin of a cell (free → on → off → free), or frees it (`primary` false).
    pub fn toggle_pin(&mut self, column: usize, row: usize, pitches: usize, primary: bool) {
        if self.pins.len() <= column {
            self.pins.resize(column + 1, Vec::new());
        }
        let frame = &mut self.pins[column];
        if frame.len() < pitches {
            frame.resize(pitches, None);
        }
        frame[row] = match (primary, frame[row]) {
            (false, _) => None,
            (true, None) => Some(true),
            (true, Some(true)) => Some(false),
            (true, Some(false)) => None,
        };
    }
}

/// A probability as a heat-map cell: transparent at 0, a warm orange at 1.
fn heat_colour(p: f32) -> Color32 {
    let p = p.clamp(0.0, 1.0);
    Color32::from_rgb(255, (200.0 - 120.0 * p) as u8, 60).gamma_multiply(p.sqrt() * 0.9)
}

/// A template's bar self-similarity as a square heat map (bright = similar bars).
fn similarity_map(ui: &mut Ui, similarity: Option<&[Vec<f32>]>, size: f32) {
    let (rect, _) = ui.allocate_exact_size(vec2(size, size), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, theme::ROW_WHITE);
    let Some(similarity) = similarity.filter(|s| !s.is_empty()) else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "no template",
            egui::FontId::proportional(12.0),
            Color32::GRAY,
        );
        return;
    };
    let n = similarity.len();
    let cell = size / n as f32;
    for (i, row) in similarity.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let r = Rect::from_min_size(
                pos2(rect.left() + j as f32 * cell, rect.top() + i as f32 * cell),
                vec2(cell, cell),
            );
            let level = (v.clamp(0.0, 1.0) * 255.0) as u8;
            painter.rect_filled(r, 0.0, Color32::from_rgb(level / 3, level / 2, level));
        }
    }
}

/// Hidden units' weights as small piano rolls (time across, pitch up; warm = excitatory, cool =
/// inhibitory), each scaled to its own largest weight.
fn feature_tiles(ui: &mut Ui, features: &[Vec<f32>], pitches: usize, height: f32) {
    if features.is_empty() || pitches == 0 {
        return;
    }
    for feature in features {
        let frames = feature.len() / pitches;
        let width = (frames as f32 * 8.0).clamp(24.0, 80.0);
        let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
        response.on_hover_text(
            "A hidden unit's weights: what it detects (warm excites it, cool inhibits it)",
        );
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, theme::ROW_WHITE);
        let largest = feature.iter().fold(1e-9f32, |m, v| m.max(v.abs()));
        let (w, h) = (
            rect.width() / frames.max(1) as f32,
            rect.height() / pitches as f32,
        );
        for t in 0..frames {
            for p in 0..pitches {
                let v = feature[t * pitches + p] / largest;
                let level = (v.abs().clamp(0.0, 1.0) * 255.0) as u8;
                let colour = if v >= 0.0 {
                    Color32::from_rgb(level, level / 2, 0)
                } else {
                    Color32::from_rgb(0, level / 2, level)
                };
                let r = Rect::from_min_size(
                    pos2(
                        rect.left() + t as f32 * w,
                        rect.bottom() - (p + 1) as f32 * h,
                    ),
                    vec2(w, h),
                );
                painter.rect_filled(r, 0.0, colour);
            }
        }
    }
}
