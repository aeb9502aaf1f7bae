//! What each unit of an autoencoder's code stands for: a grid of small piano rolls, one per
//! unit, each the melody decoded from that unit alone switched on; and a "unit keyboard" —
//! click units to switch them on together and hear what the decoder makes of the combination.
//! Meant for the sparse autoencoder, whose units each fire for few melodies. Decoding runs on
//! its own thread (`code_worker`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use egui::{Color32, Rect, RichText, Sense, Ui, pos2, vec2};

use super::{ScoreAction, theme};
use crate::code_worker::{CodeReply, CodeRequest, CodeWorker};
use crate::data::PitchRange;
use crate::models::latent::melody_score;
use crate::music::Score;

/// The view's state.
#[derive(Default)]
pub struct CodeUnitsView {
    /// The chosen run.
    pub selected: Option<PathBuf>,
    /// The loaded run: range, sparse code, each unit's pattern.
    loaded: Option<(PathBuf, PitchRange, bool)>,
    /// Each unit's decoded melody.
    pub patterns: Vec<Vec<usize>>,
    /// Units switched on.
    pub on: BTreeSet<usize>,
    /// The melody of the units switched on.
    pub melody: Option<Vec<usize>>,
    /// Play the melody when it arrives.
    play_next: bool,
    worker: Option<CodeWorker>,
    /// Status line.
    pub status: String,
}

/// Colour of a unit switched on.
const ON: Color32 = Color32::from_rgb(255, 190, 90);
/// Colour of decoded notes.
const NOTE: Color32 = Color32::from_rgb(110, 170, 255);

impl CodeUnitsView {
    fn worker(&mut self, ctx: &egui::Context) -> &CodeWorker {
        self.worker.get_or_insert_with(|| {
            let ctx = ctx.clone();
            crate::code_worker::start(move || ctx.request_repaint())
        })
    }

    /// Loads the selected run (its units' patterns come back).
    pub fn load_selected(&mut self, ctx: &egui::Context) {
        if let Some(run) = self.selected.clone() {
            self.status = "decoding each unit…".into();
            self.on.clear();
            self.melody = None;
            self.worker(ctx).send(CodeRequest::Load(run));
        }
    }

    /// Switches a unit on or off and decodes the combination (playing it when `play`).
    pub fn toggle(&mut self, ctx: &egui::Context, unit: usize, play: bool) {
        if !self.on.remove(&unit) {
            self.on.insert(unit);
        }
        self.decode(ctx, play);
    }

    /// Decodes the units switched on.
    pub fn decode(&mut self, ctx: &egui::Context, play: bool) {
        let Some((_, _, sparse)) = self.loaded else {
            return;
        };
        let (off, on) = if sparse { (0.0, 1.0) } else { (-1.0, 1.0) };
        let code: Vec<f32> = (0..self.patterns.len())
            .map(|j| if self.on.contains(&j) { on } else { off })
            .collect();
        self.play_next = play;
        self.worker(ctx).send(CodeRequest::Decode(code));
    }

    /// Reads the worker's replies; returns a score to play, if one was asked for.
    pub fn poll(&mut self) -> Option<Score> {
        let worker = self.worker.as_ref()?;
        let replies: Vec<CodeReply> = worker.replies.try_iter().collect();
        let mut play = None;
        for reply in replies {
            match reply {
                CodeReply::Loaded {
                    run,
                    range,
                    sparse,
                    patterns,
                } => {
                    let distinct: BTreeSet<&Vec<usize>> = patterns.iter().collect();
                    self.status = format!(
                        "{} units, {} distinct patterns: click units to switch them on and hear them together",
                        patterns.len(),
                        distinct.len()
                    );
                    self.patterns = patterns;
                    self.loaded = Some((run, range, sparse));
                }
                CodeReply::Melody(tokens) => {
                    if std::mem::take(&mut self.play_next) {
                        play = self
                            .range()
                            .map(|r| melody_score("code units", &tokens, &r));
                    }
                    self.melody = Some(tokens);
                }
                CodeReply::Error(e) => self.status = format!("error: {e}"),
            }
        }
        play
    }

    /// The loaded run's range.
    pub fn range(&self) -> Option<PitchRange> {
        self.loaded.as_ref().map(|(_, r, _)| *r)
    }

    /// Draws the view. `runs` are the autoencoder checkpoints.
    pub fn ui(&mut self, ui: &mut Ui, runs: &[PathBuf]) -> Vec<ScoreAction> {
        let mut actions = Vec::new();
        if let Some(score) = self.poll() {
            actions.push(ScoreAction::Play(score));
        }
        let ctx = ui.ctx().clone();
        ui.horizontal_wrapped(|ui| {
            let label = self
                .selected
                .as_deref()
                .map_or_else(|| "choose a run".into(), super::run_label);
            let before = self.selected.clone();
            egui::ComboBox::from_id_salt("code-run")
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
            let melody = self
                .melody
                .as_ref()
                .zip(self.range())
                .map(|(t, r)| melody_score("code units", t, &r));
            if ui
                .add_enabled(!self.on.is_empty(), egui::Button::new("Play"))
                .on_hover_text("Decode the units switched on and play the melody")
                .clicked()
            {
                self.decode(&ctx, true);
            }
            if let Some(score) = melody {
                if ui.button("Open in piano roll").clicked() {
                    actions.push(ScoreAction::Open(score.clone()));
                }
                if super::copy_midi_button(ui) {
                    actions.push(ScoreAction::CopyMidi(score));
                }
            }
            if !self.on.is_empty() && ui.button(format!("All {} off", self.on.len())).clicked() {
                self.on.clear();
                self.melody = None;
            }
            ui.label(RichText::new(&self.status).weak());
        });
        if runs.is_empty() && self.selected.is_none() {
            ui.label(
                RichText::new(
                    "No autoencoder runs yet: train a sparse-autoencoder on the Training tab.",
                )
                .weak(),
            );
        }
        let Some(range) = self.range() else {
            return actions;
        };
        let melody_height = 110.0;
        let grid_height = (ui.available_height() - melody_height - 12.0).max(120.0);
        if let Some(unit) = self.grid(ui, range, grid_height) {
            self.toggle(&ctx, unit, true);
        }
        ui.add_space(6.0);
        let (rect, _) =
            ui.allocate_exact_size(vec2(ui.available_width(), melody_height), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, theme::ROW_WHITE);
        match &self.melody {
            Some(tokens) => draw_melody(&painter, rect, tokens, range, NOTE),
            None => {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "the melody of the units switched on",
                    egui::FontId::proportional(13.0),
                    Color32::GRAY,
                );
            }
        }
        actions
    }

    /// The units' patterns as a grid of tiles; returns the unit clicked.
    fn grid(&self, ui: &mut Ui, range: PitchRange, height: f32) -> Option<usize> {
        let units = self.patterns.len();
        if units == 0 {
            return None;
        }
        let width = ui.available_width();
        // Columns so that tiles are about twice as wide as high.
        let columns =
            ((units as f32 * width / (2.0 * height)).sqrt().ceil() as usize).clamp(1, units);
        let rows = units.div_ceil(columns);
        let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::click());
        let painter = ui.painter_at(rect);
        let (w, h) = (width / columns as f32, height / rows as f32);
        let tile = |unit: usize| {
            Rect::from_min_size(
                pos2(
                    rect.left() + (unit % columns) as f32 * w,
                    rect.top() + (unit / columns) as f32 * h,
                ),
                vec2(w, h),
            )
            .shrink(1.0)
        };
        for (unit, pattern) in self.patterns.iter().enumerate() {
            let r = tile(unit);
            let on = self.on.contains(&unit);
            painter.rect_filled(r, 1.0, theme::ROW_WHITE);
            draw_melody(&painter, r, pattern, range, if on { ON } else { NOTE });
            if on {
                painter.rect_stroke(r, 1.0, (2.0, ON), egui::StrokeKind::Inside);
            }
        }
        let pos = response.interact_pointer_pos()?;
        if !response.clicked() {
            if let Some(hover) = response.hover_pos() {
                let unit = ((hover.y - rect.top()) / h) as usize * columns
                    + ((hover.x - rect.left()) / w) as usize;
                if unit < units {
                    response.on_hover_text(format!("unit {unit}: click to switch it on or off"));
                }
            }
            return None;
        }
        let unit =
            ((pos.y - rect.top()) / h) as usize * columns + ((pos.x - rect.left()) / w) as usize;
        (unit < units).then_some(unit)
    }
}

/// A token melody drawn into `rect`: steps across, the range's pitches up.
fn draw_melody(
    painter: &egui::Painter,
    rect: Rect,
    tokens: &[usize],
    range: PitchRange,
    colour: Color32,
) {
    let pitches = f32::from(range.high - range.low) + 1.0;
    let (w, h) = (
        rect.width() / tokens.len().max(1) as f32,
        rect.height() / pitches,
    );
    let notes = crate::data::encoding::tokens_to_grid_notes(tokens, &range, 90);
    for note in notes {
        let x = rect.left() + note.start as f32 * w;
        let y = rect.bottom() - (f32::from(note.pitch - range.low) + 1.0) * h;
        let r = Rect::from_min_size(
            pos2(x, y),
            vec2((note.duration as f32 * w).max(1.0), h.max(1.5)),
        );
        painter.rect_filled(r, 0.0, colour);
    }
}
