//! Pin notes, let the Anticipation-RNN write around them: a piano roll of a few bars over the
//! model's range (a rest row at the bottom) where a click pins a note (or a rest) at a step, a
//! click on a pin frees it and a drag moves it; "Fill" writes the melody in a fraction of a
//! second (`anticipation_worker`), pins it met drawn green and pins it missed red. Temperature,
//! seed and a hard clamp are controls; filling again keeps the pins.

use std::path::PathBuf;

use egui::{Color32, Rect, RichText, Sense, Ui, pos2, vec2};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::{ScoreAction, theme};
use crate::anticipation_worker::{FillReply, FillRequest, FillWorker};
use crate::data::PitchRange;
use crate::measures::constraints::{ANTICIPATION_STEPS, ConstraintScores, Pins, met};
use crate::models::anticipation::{regular_positions, tokens_to_score};
use crate::music::Score;

/// The view's settings (kept while the app runs).
#[derive(Clone, Debug, PartialEq)]
pub struct FillSettings {
    /// Bars to write.
    pub bars: usize,
    /// Quarter-note beats a bar.
    pub beats: usize,
    /// Sampling temperature.
    pub temperature: f64,
    /// Seed of the sampling.
    pub seed: u64,
    /// Force the pinned steps.
    pub clamp: bool,
}

impl Default for FillSettings {
    fn default() -> Self {
        Self {
            bars: 4,
            beats: 4,
            temperature: 1.0,
            seed: 1,
            clamp: false,
        }
    }
}

/// The view's state.
#[derive(Default)]
pub struct AnticipationView {
    /// Settings.
    pub settings: FillSettings,
    /// The chosen run.
    pub selected: Option<PathBuf>,
    /// The loaded run and its range.
    loaded: Option<(PathBuf, PitchRange)>,
    /// One pin per step.
    pub pins: Pins,
    /// The written melody (tokens), if any.
    pub written: Option<Vec<usize>>,
    /// A pin being dragged: its step.
    dragging: Option<usize>,
    worker: Option<FillWorker>,
    /// A fill is under way.
    pub busy: bool,
    /// Pins to lay ("0:D5,16:A4") once the run is loaded, then fill.
    pending: Option<String>,
    /// Fill at the next frame (after pins came from the command line).
    fill_now: bool,
    /// Status line.
    pub status: String,
    /// The loaded run's constraint measures from its saved evaluation, if it has one.
    pub scores: Option<ConstraintScores>,
}

/// Colour of a pin before a fill.
const PIN: Color32 = Color32::from_rgb(255, 190, 90);
/// Colour of a pin the melody met.
const MET: Color32 = Color32::from_rgb(110, 220, 130);
/// Colour of written notes.
const NOTE: Color32 = Color32::from_rgb(110, 170, 255);

impl AnticipationView {
    /// Steps of the melody.
    pub fn steps(&self) -> usize {
        self.settings.bars.clamp(1, 32) * self.per_bar()
    }

    fn per_bar(&self) -> usize {
        self.settings.beats.clamp(1, 12) * 4
    }

    /// The loaded run's range, once known.
    pub fn range(&self) -> Option<PitchRange> {
        self.loaded
            .as_ref()
            .filter(|(run, _)| Some(run) == self.selected.as_ref())
            .map(|(_, r)| *r)
    }

    fn worker(&mut self, ctx: &egui::Context) -> &FillWorker {
        self.worker.get_or_insert_with(|| {
            let ctx = ctx.clone();
            crate::anticipation_worker::start(move || ctx.request_repaint())
        })
    }

    /// Pins `token` at `step` (a pin already there with that token is freed instead).
    pub fn toggle_pin(&mut self, step: usize, token: usize) {
        let steps = self.steps();
        self.pins.resize(steps, None);
        if let Some(pin) = self.pins.get_mut(step) {
            *pin = if *pin == Some(token) {
                None
            } else {
                Some(token)
            };
        }
    }

    /// Asks the worker to write around the pins.
    pub fn fill(&mut self, ctx: &egui::Context) {
        if self.range().is_none() {
            self.status = "choose an anticipation-rnn run first".into();
            return;
        }
        let steps = self.steps();
        self.pins.resize(steps, None);
        let request = FillRequest::Fill {
            pins: self.pins.clone(),
            positions: regular_positions(steps, self.per_bar()),
            temperature: self.settings.temperature,
            clamp: self.settings.clamp,
            seed: self.settings.seed,
        };
        self.worker(ctx).send(request);
        self.busy = true;
        self.status = "writing…".into();
    }

    /// Reads the worker's replies.
    pub fn poll(&mut self) {
        let Some(worker) = &self.worker else { return };
        let replies: Vec<FillReply> = worker.replies.try_iter().collect();
        for reply in replies {
            match reply {
                FillReply::Loaded(run, range, scores) => {
                    self.scores = scores;
                    self.status = format!(
                        "{} to {}: click the roll to pin notes, then Fill",
                        crate::music::pitch_name(range.low),
                        crate::music::pitch_name(range.high)
                    );
                    self.loaded = Some((run, range));
                    self.written = None;
                    if let Some(text) = self.pending.take() {
                        match crate::models::anticipation::parse_pins(&text, self.steps(), &range) {
                            Ok(pins) => {
                                self.pins = pins;
                                self.fill_now = true;
                            }
                            Err(e) => self.status = format!("pins: {e}"),
                        }
                    }
                }
                FillReply::Written(tokens, took) => {
                    self.busy = false;
                    let (ok, all) = met(&tokens, &self.pins);
                    self.status = format!(
                        "wrote {} steps in {} ms; {ok} of {all} pins met",
                        tokens.len(),
                        took.as_millis()
                    );
                    self.written = Some(tokens);
                }
                FillReply::Error(e) => {
                    self.busy = false;
                    self.status = format!("error: {e}");
                }
            }
        }
    }

    /// The written melody as a score.
    pub fn result(&self) -> Option<Score> {
        let range = self.range()?;
        self.written
            .as_ref()
            .map(|t| tokens_to_score("anticipation-rnn", t, &range))
    }

    /// Draws the view. `runs` are the Anticipation-RNN checkpoints.
    pub fn ui(&mut self, ui: &mut Ui, runs: &[PathBuf]) -> Vec<ScoreAction> {
        self.poll();
        let mut actions = Vec::new();
        let ctx = ui.ctx().clone();
        if std::mem::take(&mut self.fill_now) {
            self.fill(&ctx);
        }
        ui.horizontal_wrapped(|ui| {
            let label = self
                .selected
                .as_deref()
                .map_or_else(|| "choose a run".into(), super::run_label);
            let before = self.selected.clone();
            egui::ComboBox::from_id_salt("anticipation-run")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    for run in runs {
                        let name = super::run_label(run);
                        ui.selectable_value(&mut self.selected, Some(run.clone()), name);
                    }
                });
            if self.selected != before {
                self.load_selected(&ctx);
            }
            let s = &mut self.settings;
            ui.label("bars");
            ui.add(egui::DragValue::new(&mut s.bars).range(1..=32))
                .on_hover_text("Bars of the melody. Valid: 1 to 32");
            let meter = crate::models::crbm::METERS
                .iter()
                .find(|(b, _)| *b == s.beats)
                .map_or("4/4", |(_, name)| *name);
            egui::ComboBox::from_id_salt("anticipation-meter")
                .selected_text(meter)
                .show_ui(ui, |ui| {
                    for (beats, name) in crate::models::crbm::METERS {
                        ui.selectable_value(&mut s.beats, beats, name);
                    }
                })
                .response
                .on_hover_text("The meter: the model reads each step's position in its bar");
            ui.label("temperature");
            ui.add(egui::Slider::new(&mut s.temperature, 0.1..=2.0))
                .on_hover_text("Below 1 the model keeps to its likeliest notes, above 1 it takes more chances. Valid: 0.1 to 2");
            ui.label("seed");
            ui.add(egui::DragValue::new(&mut s.seed))
                .on_hover_text("Seed of the sampling: the same seed and pins write the same melody");
            ui.checkbox(&mut s.clamp, "hard clamp").on_hover_text(
                "Force every pinned step. Off, the model must reach the pins by itself — what it learned",
            );
        });
        ui.horizontal_wrapped(|ui| {
            let ready = self.range().is_some() && !self.busy;
            if ui
                .add_enabled(ready, egui::Button::new("Fill"))
                .on_hover_text("Write a melody around the pins")
                .clicked()
            {
                self.fill(&ctx);
            }
            if ui
                .add_enabled(
                    ready && self.written.is_some(),
                    egui::Button::new("Fill again"),
                )
                .on_hover_text("The next seed, the same pins")
                .clicked()
            {
                self.settings.seed += 1;
                self.fill(&ctx);
            }
            if let Some(score) = self.result() {
                if ui.button("Play").clicked() {
                    actions.push(ScoreAction::Play(score.clone()));
                }
                if super::copy_midi_button(ui) {
                    actions.push(ScoreAction::CopyMidi(score.clone()));
                }
                if ui.button("Open in piano roll").clicked() {
                    actions.push(ScoreAction::Open(score));
                }
            }
            let pinned = self.pins.iter().flatten().count();
            if pinned > 0 && ui.button(format!("Clear {pinned} pins")).clicked() {
                self.pins.clear();
            }
            ui.label(RichText::new(&self.status).weak());
        });
        if runs.is_empty() && self.selected.is_none() {
            ui.label(
                RichText::new(
                    "No Anticipation-RNN runs yet: train one on the Training tab (model anticipation-rnn).",
                )
                .weak(),
            );
        }
        ui.label(
            RichText::new("Click a cell to pin a note (the bottom row pins a rest), click a pin to free it, drag a pin to move it.")
                .weak(),
        );
        self.anticipation_curve(ui);
        let height = (ui.available_height() - 8.0).max(160.0);
        self.roll(ui, height);
        actions
    }

    /// The run's anticipation curve from its saved evaluation: the mean probability of a
    /// pinned pitch k = 8…0 steps before its pin (the held-out tune's own notes fed in), beside
    /// the same network with the pins hidden — the gap is what reading the pins buys.
    fn anticipation_curve(&self, ui: &mut Ui) {
        let Some(scores) = self.scores.as_ref().filter(|_| self.range().is_some()) else {
            if self.range().is_some() {
                ui.label(
                    RichText::new("Evaluate this run (Compare tab or `muselab evaluate`) to see its anticipation curve here.")
                        .weak(),
                );
            }
            return;
        };
        let points = |curve: &[f64]| -> PlotPoints {
            curve
                .iter()
                .enumerate()
                .map(|(i, p)| [i as f64 - ANTICIPATION_STEPS as f64, *p])
                .collect()
        };
        let rate = |s: &crate::measures::constraints::Satisfaction| {
            s.rates
                .get("random")
                .map_or("—".into(), |r| format!("{:.0} %", r * 100.0))
        };
        ui.label(format!(
            "Anticipation (its evaluation, held-out tunes): random pins met sampling freely {}{}",
            rate(&scores.model),
            scores
                .blind
                .as_ref()
                .map_or(String::new(), |b| format!(", pins hidden {}", rate(b)))
        ))
        .on_hover_text("The plot: mean probability of the pinned pitch k steps before its pin (0 = at the pin), the tune's own notes fed in");
        Plot::new("anticipation-curve")
            .height(110.0)
            .legend(Legend::default())
            .x_axis_label("steps before the pin")
            .y_axis_label("p(pinned pitch)")
            .allow_drag(false)
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(
                    Line::new("pins read", points(&scores.model.anticipation)).color(theme::ACCENT),
                );
                if let Some(blind) = &scores.blind {
                    plot.line(Line::new("pins hidden", points(&blind.anticipation)));
                }
            });
    }

    /// Opens a run, lays `pins` ("0:D5,16:A4,32:rest") once it is loaded and fills (the
    /// command line's `--anticipation RUN --pins TEXT`).
    pub fn open(&mut self, ctx: &egui::Context, run: PathBuf, pins: Option<String>) {
        self.selected = Some(run);
        self.pending = pins;
        self.load_selected(ctx);
    }

    /// Loads the selected run on the worker.
    pub fn load_selected(&mut self, ctx: &egui::Context) {
        if let Some(run) = self.selected.clone() {
            self.status = "loading the model…".into();
            self.worker(ctx).send(FillRequest::Load(run));
        }
    }

    /// The roll: steps across, the range's pitches up (rests in the bottom row).
    fn roll(&mut self, ui: &mut Ui, height: f32) {
        let (rect, response) =
            ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::click_and_drag());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, theme::ROW_WHITE);
        let Some(range) = self.range() else {
            return;
        };
        let steps = self.steps();
        self.pins.resize(steps, None);
        let pitches = usize::from(range.high - range.low) + 1;
        let rows = pitches + 1;
        let (w, h) = (rect.width() / steps as f32, rect.height() / rows as f32);
        let cell = |step: usize, row: usize| {
            Rect::from_min_size(
                pos2(
                    rect.left() + step as f32 * w,
                    rect.bottom() - (row + 1) as f32 * h,
                ),
                vec2(w, h),
            )
        };
        // Row 0 is the rest row; row r > 0 is pitch low + r − 1.
        let token_of_row = |row: usize| {
            if row == 0 {
                crate::data::REST
            } else {
                range.token(range.low + (row - 1) as u8)
            }
        };
        let row_of_token = |token: usize| -> Option<usize> {
            if token == crate::data::REST {
                Some(0)
            } else {
                range.pitch(token).map(|p| usize::from(p - range.low) + 1)
            }
        };
        let at = |pos: egui::Pos2| {
            let step = ((pos.x - rect.left()) / w).floor().max(0.0) as usize;
            let row = ((rect.bottom() - pos.y) / h).floor().max(0.0) as usize;
            (step < steps && row < rows).then_some((step, row))
        };
        // Dragging moves a pin; a click pins or frees.
        if response.drag_started()
            && let Some((step, _)) = response.interact_pointer_pos().and_then(at)
            && self.pins[step].is_some()
        {
            self.dragging = Some(step);
        }
        if response.drag_stopped()
            && let Some(from) = self.dragging.take()
            && let Some((step, row)) = response.interact_pointer_pos().and_then(at)
        {
            self.pins[from] = None;
            self.pins[step] = Some(token_of_row(row));
        }
        if response.clicked()
            && let Some((step, row)) = response.interact_pointer_pos().and_then(at)
        {
            if self.pins[step].is_some() {
                self.pins[step] = None;
            } else {
                self.pins[step] = Some(token_of_row(row));
            }
        }
        painter.rect_filled(
            Rect::from_min_max(pos2(rect.left(), rect.bottom() - h), rect.right_bottom()),
            0.0,
            theme::ROW_BLACK,
        );
        for row in 1..rows {
            if (usize::from(range.low) + row - 1) % 12 == 0 {
                let y = rect.bottom() - row as f32 * h;
                painter.hline(rect.x_range(), y, (1.0, theme::OCTAVE_LINE));
            }
        }
        let per_bar = self.per_bar();
        for step in (0..steps).step_by(4) {
            let colour = if step % per_bar == 0 {
                theme::BAR_LINE
            } else {
                theme::BEAT_LINE
            };
            painter.vline(rect.left() + step as f32 * w, rect.y_range(), (1.0, colour));
        }
        if let Some(tokens) = &self.written {
            let mut current: Option<(usize, usize)> = None;
            let draw = |from: usize, to: usize, row: usize| {
                let r = Rect::from_min_max(cell(from, row).min, cell(to - 1, row).max);
                painter.rect_filled(r.shrink(1.0), 2.0, NOTE);
            };
            for (step, &token) in tokens.iter().enumerate() {
                if token == crate::data::HOLD {
                    continue;
                }
                if let Some((start, row)) = current.take() {
                    draw(start, step, row);
                }
                current = range
                    .pitch(token)
                    .map(|p| (step, usize::from(p - range.low) + 1));
            }
            if let Some((start, row)) = current {
                draw(start, tokens.len(), row);
            }
        }
        for (step, pin) in self.pins.iter().enumerate() {
            let Some(token) = *pin else { continue };
            let Some(row) = row_of_token(token) else {
                continue;
            };
            let colour = match &self.written {
                Some(tokens) if tokens.get(step) == Some(&token) => MET,
                Some(_) => theme::ERROR,
                None => PIN,
            };
            let r = cell(step, row).shrink(0.5);
            painter.rect_stroke(r, 2.0, (2.5, colour), egui::StrokeKind::Inside);
            if token == crate::data::REST {
                // A rest pin: a short bar across the cell, as a rest is written.
                let bar = Rect::from_center_size(r.center(), vec2(r.width() * 0.6, 3.0));
                painter.rect_filled(bar, 0.0, colour);
            }
        }
        // What the pointer is over: the step (bar.beat) and the pitch, as a musician reads it.
        if let Some((step, row)) = response.hover_pos().and_then(at) {
            let what = if row == 0 {
                "rest".to_string()
            } else {
                crate::music::pitch_name(range.low + (row - 1) as u8)
            };
            let label = format!(
                "bar {} · 16th {} · {what}",
                step / per_bar + 1,
                step % per_bar + 1
            );
            painter.text(
                rect.left_top() + vec2(6.0, 4.0),
                egui::Align2::LEFT_TOP,
                label,
                egui::FontId::proportional(13.0),
                Color32::LIGHT_GRAY,
            );
        }
        if let (Some(_), Some(pos)) = (self.dragging, response.hover_pos())
            && let Some((step, row)) = at(pos)
        {
            painter.rect_stroke(
                cell(step, row).shrink(0.5),
                2.0,
                (1.5, PIN.gamma_multiply(0.6)),
                egui::StrokeKind::Inside,
            );
        }
    }
}
