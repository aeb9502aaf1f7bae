//! The piano roll: notes as coloured bars (one colour per track) over time and pitch, with a
//! keyboard on the pitch axis, bar lines and numbers, zoom, scrolling, a playhead, hover details
//! and click-to-hear.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, Vec2};

use super::theme;
use crate::music::{Note, Score, pitch_name};

/// What the user did in the piano roll this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PianoRollAction {
    /// A note was clicked: play it.
    NoteClicked {
        /// Index of the note's track.
        track: usize,
        /// The note.
        note: Note,
    },
}

/// View state of a piano roll: zoom and scroll position.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PianoRoll {
    /// Horizontal zoom: pixels per quarter note.
    pub px_per_quarter: f32,
    /// Vertical zoom: pixels per semitone.
    pub key_height: f32,
    /// Left edge of the view, in quarter notes.
    pub scroll_quarters: f32,
    /// Pitch at the top edge of the view (fractional while scrolling).
    pub top_pitch: f32,
    /// Name of the score the vertical position was fitted to (refit when it changes).
    #[serde(skip)]
    fitted_to: Option<String>,
    /// The bars selected by dragging along the ruler: from one bar line to another, in ticks.
    #[serde(skip)]
    pub selection: Option<(u64, u64)>,
    /// The tick where a drag along the ruler began.
    #[serde(skip)]
    selecting_from: Option<u64>,
}

impl Default for PianoRoll {
    fn default() -> Self {
        Self {
            px_per_quarter: 48.0,
            key_height: 10.0,
            scroll_quarters: 0.0,
            top_pitch: 84.0,
            fitted_to: None,
            selection: None,
            selecting_from: None,
        }
    }
}

/// Is this pitch class a black key?
fn is_black(pitch: u8) -> bool {
    matches!(pitch % 12, 1 | 3 | 6 | 8 | 10)
}

/// Maps between ticks/pitches and screen positions for one frame.
struct Layout {
    notes_rect: Rect,
    px_per_tick: f32,
    scroll_ticks: f32,
    key_height: f32,
    top_pitch: f32,
}

impl Layout {
    fn x(&self, tick: u64) -> f32 {
        self.notes_rect.left() + (tick as f32 - self.scroll_ticks) * self.px_per_tick
    }
    fn y_top(&self, pitch: u8) -> f32 {
        self.notes_rect.top() + (self.top_pitch - f32::from(pitch)) * self.key_height
    }
    fn note_rect(&self, note: &Note) -> Rect {
        let x0 = self.x(note.start);
        let x1 = self.x(note.end()).max(x0 + 2.0);
        let y0 = self.y_top(note.pitch);
        Rect::from_min_max(
            Pos2::new(x0, y0),
            Pos2::new(x1 - 1.0, y0 + self.key_height - 1.0),
        )
    }
}

impl PianoRoll {
    /// A small roll for previews (samples on the dashboard).
    pub fn compact() -> Self {
        Self {
            key_height: 4.0,
            px_per_quarter: 24.0,
            ..Self::default()
        }
    }

    /// Centres the pitch axis on the score's range (once per score).
    fn fit_pitch(&mut self, score: &Score, visible_height: f32) {
        if self.fitted_to.as_deref() == Some(score.name.as_str()) {
            return;
        }
        self.fitted_to = Some(score.name.clone());
        self.scroll_quarters = 0.0;
        self.selection = None;
        if let Some((lo, hi)) = score.pitch_range() {
            let rows = (visible_height / self.key_height).max(1.0);
            let needed = f32::from(hi - lo) + 4.0;
            if needed > rows {
                self.key_height = (visible_height / needed).clamp(3.0, 30.0);
            }
            let rows = (visible_height / self.key_height).max(1.0);
            let middle = (f32::from(lo) + f32::from(hi)) / 2.0;
            self.top_pitch = (middle + rows / 2.0).clamp(rows, 127.0);
        }
    }

    /// Horizontal and vertical zoom controls and a legend of the tracks, each with its General
    /// MIDI instrument; returns a track whose instrument the user changed, with the new program.
    pub fn toolbar(&mut self, ui: &mut Ui, score: &Score) -> Option<(usize, u8)> {
        let mut changed = None;
        ui.horizontal_wrapped(|ui| {
            ui.label("Time zoom");
            ui.add(egui::Slider::new(&mut self.px_per_quarter, 4.0..=240.0).logarithmic(true))
                .on_hover_text("Pixels per quarter note (Ctrl + mouse wheel over the roll)");
            ui.label("Pitch zoom");
            ui.add(egui::Slider::new(&mut self.key_height, 3.0..=30.0))
                .on_hover_text("Pixels per semitone");
            if ui
                .button("Fit")
                .on_hover_text("Show the whole piece")
                .clicked()
            {
                self.fitted_to = None;
                let quarters = score.end_tick() as f32 / f32::from(score.ticks_per_quarter);
                let width = (ui.available_width() + 300.0).max(200.0);
                self.px_per_quarter = (width / quarters.max(1.0)).clamp(4.0, 240.0);
            }
            ui.separator();
            for (index, track) in score.tracks.iter().enumerate() {
                let (rect, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
                ui.painter()
                    .rect_filled(rect, 2.0, theme::track_color(index));
                ui.label(&track.name);
                let mut program = track.program;
                egui::ComboBox::from_id_salt(("program", index))
                    .selected_text(crate::music::instruments::name(program))
                    .width(120.0)
                    .show_ui(ui, |ui| {
                        for (p, name) in crate::music::instruments::GM_NAMES.iter().enumerate() {
                            ui.selectable_value(&mut program, p as u8, *name);
                        }
                    })
                    .response
                    .on_hover_text(
                        "General MIDI instrument of this track: what a SoundFont or a MIDI port plays it with, saved in exported MIDI files as a program change",
                    );
                if program != track.program {
                    changed = Some((index, program));
                }
            }
        });
        changed
    }

    /// Draws the roll into the remaining space. `playhead` is the tick being played, if any.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        score: &Score,
        playhead: Option<u64>,
    ) -> Option<PianoRollAction> {
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        let notes_rect = Rect::from_min_max(
            rect.min + Vec2::new(theme::KEYBOARD_WIDTH, theme::RULER_HEIGHT),
            rect.max,
        );
        self.fit_pitch(score, notes_rect.height());
        let tpq = f32::from(score.ticks_per_quarter.max(1));

        let selecting = self.select_bars(ui, &response, notes_rect, score, tpq);
        if !selecting {
            self.handle_input(ui, &response, notes_rect, score, playhead, tpq);
        }

        let layout = Layout {
            notes_rect,
            px_per_tick: self.px_per_quarter / tpq,
            scroll_ticks: self.scroll_quarters * tpq,
            key_height: self.key_height,
            top_pitch: self.top_pitch,
        };
        let painter = ui.painter_at(rect);
        self.draw_rows(&painter, &layout);
        let end = score.end_tick().max(1);
        self.draw_bars(&painter, &layout, score, end, rect);
        let hovered = self.draw_notes(&painter, &layout, score, response.hover_pos());
        if let Some((from, to)) = self.selection {
            let (x0, x1) = (
                layout.x(from).max(rect.left() + theme::KEYBOARD_WIDTH),
                layout.x(to).min(rect.right()),
            );
            if x1 > x0 {
                let band = Rect::from_x_y_ranges(x0..=x1, rect.y_range());
                painter.rect_filled(band, 0.0, theme::SELECTION);
                painter.rect_stroke(
                    band,
                    0.0,
                    Stroke::new(1.0, theme::PLAYHEAD),
                    StrokeKind::Inside,
                );
            }
        }
        if let Some(tick) = playhead {
            let x = layout.x(tick);
            if x >= notes_rect.left() {
                painter.vline(x, rect.y_range(), Stroke::new(2.0, theme::PLAYHEAD));
            }
        }
        self.draw_keyboard(&painter, &layout, rect);

        if let Some((track, note)) = hovered {
            let track_name = score.tracks.get(track).map_or("", |t| t.name.as_str());
            let text = format!(
                "{track_name}: {} ({})\nstart: bar {} · {:.2} quarters (tick {})\nduration: {:.2} quarters ({} ticks) · velocity {}",
                pitch_name(note.pitch),
                note.pitch,
                bar_number(score, note.start),
                note.start as f32 / tpq,
                note.start,
                note.duration as f32 / tpq,
                note.duration,
                note.velocity
            );
            let response = response.clone().on_hover_text_at_pointer(text);
            if response.clicked() {
                return Some(PianoRollAction::NoteClicked { track, note });
            }
        }
        None
    }

    /// A drag that starts on the ruler selects whole bars (from the bar line at or before the
    /// press to the one at or after the pointer); a click on the ruler clears the selection.
    /// True while such a drag goes on (the roll then does not scroll).
    fn select_bars(
        &mut self,
        ui: &Ui,
        response: &egui::Response,
        notes_rect: Rect,
        score: &Score,
        tpq: f32,
    ) -> bool {
        let tick_at = |x: f32| -> u64 {
            let quarters = self.scroll_quarters + (x - notes_rect.left()) / self.px_per_quarter;
            (quarters.max(0.0) * tpq) as u64
        };
        let on_ruler = |p: Pos2| p.y < notes_rect.top() && p.x >= notes_rect.left();
        if response.drag_started()
            && let Some(origin) = ui.input(|i| i.pointer.press_origin())
            && on_ruler(origin)
        {
            self.selecting_from = Some(tick_at(origin.x));
        }
        if response.clicked() && response.interact_pointer_pos().is_some_and(on_ruler) {
            self.selection = None;
        }
        let Some(from) = self.selecting_from else {
            return false;
        };
        if let Some(pointer) = response.interact_pointer_pos() {
            let here = tick_at(pointer.x);
            let (lo, hi) = (from.min(here), from.max(here));
            let end = score.end_tick().max(1);
            let mut lines = score.bar_lines(end);
            lines.push(end);
            let start = lines
                .iter()
                .copied()
                .filter(|&l| l <= lo)
                .max()
                .unwrap_or(0);
            let stop = lines
                .iter()
                .copied()
                .filter(|&l| l > hi)
                .min()
                .unwrap_or(end);
            self.selection = Some((start, stop.max(start + 1)));
        }
        if response.drag_stopped() {
            self.selecting_from = None;
        }
        true
    }

    fn handle_input(
        &mut self,
        ui: &Ui,
        response: &egui::Response,
        notes_rect: Rect,
        score: &Score,
        playhead: Option<u64>,
        tpq: f32,
    ) {
        let visible_quarters = notes_rect.width() / self.px_per_quarter;
        let visible_rows = notes_rect.height() / self.key_height;
        if response.hovered() {
            let (scroll, zoom, shift) =
                ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta(), i.modifiers.shift));
            if zoom != 1.0 {
                self.px_per_quarter = (self.px_per_quarter * zoom).clamp(4.0, 240.0);
            } else if shift {
                self.scroll_quarters -= (scroll.x + scroll.y) / self.px_per_quarter;
            } else {
                self.scroll_quarters -= scroll.x / self.px_per_quarter;
                self.top_pitch += scroll.y / self.key_height;
            }
        }
        if response.dragged() {
            let delta = response.drag_delta();
            self.scroll_quarters -= delta.x / self.px_per_quarter;
            self.top_pitch += delta.y / self.key_height;
        }
        // Follow the playhead when it leaves the view.
        if let Some(tick) = playhead {
            let q = tick as f32 / tpq;
            if q < self.scroll_quarters || q > self.scroll_quarters + visible_quarters * 0.95 {
                self.scroll_quarters = q - visible_quarters * 0.1;
            }
        }
        let total_quarters = score.end_tick() as f32 / tpq;
        self.scroll_quarters = self
            .scroll_quarters
            .clamp(0.0, (total_quarters - visible_quarters * 0.5).max(0.0));
        self.top_pitch = self.top_pitch.clamp(visible_rows.min(127.0), 127.0);
    }

    fn draw_rows(&self, painter: &egui::Painter, layout: &Layout) {
        let r = layout.notes_rect;
        for pitch in 0..=127u8 {
            let y = layout.y_top(pitch);
            if y > r.bottom() || y + layout.key_height < r.top() {
                continue;
            }
            let row = Rect::from_min_max(
                Pos2::new(r.left(), y),
                Pos2::new(r.right(), y + layout.key_height),
            );
            let color = if is_black(pitch) {
                theme::ROW_BLACK
            } else {
                theme::ROW_WHITE
            };
            painter.rect_filled(row, 0.0, color);
            if pitch % 12 == 0 {
                painter.hline(
                    r.x_range(),
                    row.bottom(),
                    Stroke::new(1.0, theme::OCTAVE_LINE),
                );
            }
        }
    }

    fn draw_bars(
        &self,
        painter: &egui::Painter,
        layout: &Layout,
        score: &Score,
        end: u64,
        rect: Rect,
    ) {
        let r = layout.notes_rect;
        let tpq = u64::from(score.ticks_per_quarter.max(1));
        let lines = score.bar_lines(end);
        let beat_px = layout.px_per_tick * tpq as f32;
        let ruler = Rect::from_min_max(
            Pos2::new(r.left(), rect.top()),
            Pos2::new(r.right(), r.top()),
        );
        painter.rect_filled(ruler, 0.0, Color32::from_rgb(24, 25, 29));
        for (index, pair) in lines.windows(2).enumerate() {
            let (start, stop) = (pair[0], pair[1]);
            let x = layout.x(start);
            if x > r.right() {
                break;
            }
            if layout.x(stop) < r.left() {
                continue;
            }
            if beat_px > 8.0 {
                let mut beat = start + tpq;
                while beat < stop {
                    painter.vline(
                        layout.x(beat),
                        r.y_range(),
                        Stroke::new(1.0, theme::BEAT_LINE),
                    );
                    beat += tpq;
                }
            }
            if x >= r.left() {
                painter.vline(
                    x,
                    rect.top()..=r.bottom(),
                    Stroke::new(1.0, theme::BAR_LINE),
                );
                let bar_px = layout.x(stop) - x;
                if bar_px > 18.0 || index % 4 == 0 {
                    painter.text(
                        Pos2::new(x + 3.0, rect.top() + 2.0),
                        Align2::LEFT_TOP,
                        (index + 1).to_string(),
                        FontId::proportional(11.0),
                        Color32::LIGHT_GRAY,
                    );
                }
            }
        }
    }

    /// Draws the notes; returns the note under the pointer, if any.
    fn draw_notes(
        &self,
        painter: &egui::Painter,
        layout: &Layout,
        score: &Score,
        pointer: Option<Pos2>,
    ) -> Option<(usize, Note)> {
        let r = layout.notes_rect;
        let mut hovered = None;
        for (index, track) in score.tracks.iter().enumerate() {
            let color = theme::track_color(index);
            for note in &track.notes {
                let rect = layout.note_rect(note);
                if !rect.intersects(r) {
                    continue;
                }
                let rect = rect.intersect(r);
                painter.rect_filled(rect, 2.0, color);
                painter.rect_stroke(
                    rect,
                    2.0,
                    Stroke::new(1.0, color.gamma_multiply(0.5)),
                    StrokeKind::Inside,
                );
                if pointer.is_some_and(|p| rect.contains(p)) {
                    hovered = Some((index, *note));
                }
            }
        }
        if let Some((_, note)) = hovered {
            let rect = layout.note_rect(&note).intersect(r);
            painter.rect_stroke(
                rect,
                2.0,
                Stroke::new(2.0, Color32::WHITE),
                StrokeKind::Outside,
            );
        }
        hovered
    }

    fn draw_keyboard(&self, painter: &egui::Painter, layout: &Layout, rect: Rect) {
        let r = layout.notes_rect;
        let keys = Rect::from_min_max(
            Pos2::new(rect.left(), r.top()),
            Pos2::new(r.left(), r.bottom()),
        );
        // Ivory background with a line under each white key, black keys on top at 60 % width.
        painter.rect_filled(keys, 0.0, Color32::from_rgb(228, 226, 218));
        let corner = Rect::from_min_max(rect.min, Pos2::new(r.left(), r.top()));
        painter.rect_filled(corner, 0.0, Color32::from_rgb(24, 25, 29));
        for pitch in 0..=127u8 {
            let y = layout.y_top(pitch);
            if y > r.bottom() || y + layout.key_height < r.top() {
                continue;
            }
            if is_black(pitch) {
                let key = Rect::from_min_size(
                    Pos2::new(keys.left(), y),
                    Vec2::new(keys.width() * 0.6, layout.key_height),
                )
                .intersect(keys);
                painter.rect_filled(key, 1.0, Color32::from_rgb(28, 28, 30));
                continue;
            }
            // E/F and B/C share an edge: draw it; other white keys meet behind a black key.
            if matches!(pitch % 12, 4 | 11) && y >= keys.top() {
                painter.hline(
                    keys.x_range(),
                    y,
                    Stroke::new(1.0, Color32::from_rgb(150, 150, 145)),
                );
            }
            let label = layout.key_height >= 11.0 || pitch % 12 == 0;
            if label && layout.key_height >= 7.0 {
                painter.text(
                    Pos2::new(keys.right() - 3.0, y + layout.key_height / 2.0),
                    Align2::RIGHT_CENTER,
                    pitch_name(pitch),
                    FontId::proportional((layout.key_height - 1.0).min(11.0)),
                    Color32::from_rgb(40, 40, 40),
                );
            }
        }
        painter.vline(
            keys.right(),
            keys.y_range(),
            Stroke::new(1.0, theme::BAR_LINE),
        );
    }
}

/// The 1-based bar number that contains `tick`.
pub fn bar_number(score: &Score, tick: u64) -> usize {
    score
        .bar_lines(tick)
        .iter()
        .filter(|&&line| line <= tick)
        .count()
        .max(1)
}
