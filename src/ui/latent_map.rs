//! The latent map: every melody of the corpus as a dot at its latent mean (the latent itself for
//! a 2-D VAE, its first two principal components otherwise), click anywhere to hear what lives
//! there, drag to audition continuously, pick A and B to hear one tune morph into the other, and
//! a grid mode that draws the decoded melody of every cell — the classic VAE manifold picture.

use std::path::PathBuf;
use std::time::Duration;

use egui::{Color32, RichText, Ui};
use egui_plot::{Line, Plot, PlotPoint, Points};

use super::piano_roll::PianoRoll;
use super::theme;
use crate::latent_worker::{LatentReply, LatentRequest, LatentWorker, MapDot};
use crate::models::latent::Projection;
use crate::music::Score;
use crate::music::key::Mode;

/// How dots are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ColourBy {
    /// By corpus.
    #[default]
    Corpus,
    /// By estimated mode (major / minor).
    Mode,
}

/// What the map asks the app to do.
#[derive(Clone, Debug)]
pub enum MapAction {
    /// Play these samples now (a decoded point), showing the score.
    PlaySamples(Score, Vec<f32>),
    /// Play a score.
    Play(Score),
    /// Show a score in the main piano roll.
    Open(Score),
    /// Export a score as MIDI (through the file dialog).
    Export(Score),
    /// Write a score to a temporary MIDI file and copy its path (for a DAW).
    CopyMidi(Score),
}

/// Map settings kept between runs.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MapSettings {
    /// Dot colours.
    pub colour_by: ColourBy,
    /// Cells per side in grid mode.
    pub grid_size: usize,
    /// Points on an interpolation path.
    pub path_steps: usize,
    /// Spherical interpolation (for latents above 2-D).
    pub spherical: bool,
    /// Play each decoded point at once.
    pub play_on_click: bool,
}

impl Default for MapSettings {
    fn default() -> Self {
        Self {
            colour_by: ColourBy::Corpus,
            grid_size: 8,
            path_steps: 8,
            spherical: true,
            play_on_click: true,
        }
    }
}

/// The map view.
pub struct LatentMap {
    /// Settings.
    pub settings: MapSettings,
    worker: Option<LatentWorker>,
    /// The loaded checkpoint.
    pub loaded: Option<(PathBuf, usize)>,
    /// Corpus dots (with 2-D positions).
    pub dots: Vec<(MapDot, [f32; 2])>,
    projection: Option<Projection>,
    /// The point last decoded, in map coordinates.
    pub current: Option<[f32; 2]>,
    /// Its melody (or the piece of a clicked dot).
    pub current_score: Option<Score>,
    /// Label of what is shown.
    pub current_label: String,
    /// Interpolation ends.
    pub ends: [Option<[f32; 2]>; 2],
    /// The decoded path.
    pub path: Option<(Vec<Score>, Score)>,
    /// Grid mode on.
    pub grid: bool,
    /// When the corpus arrives, pick two far-apart melodies as A and B and decode the path
    /// between them (`muselab --latent-map DIR --map-demo`).
    pub demo: bool,
    grid_cells: Vec<([f64; 2], [f64; 2], Score)>,
    grid_bounds: Option<[f64; 4]>,
    /// Status line.
    pub status: String,
    /// Decode time of the last click, for the status line.
    pub last_millis: Option<f64>,
    next_id: u64,
    roll: PianoRoll,
    path_roll: PianoRoll,
    /// A checkpoint was asked for (by the user, the command line or the first visit).
    pub opened_any: bool,
}

impl Default for LatentMap {
    fn default() -> Self {
        Self::new(MapSettings::default())
    }
}

fn colour_for(dot: &MapDot, by: ColourBy) -> Color32 {
    match by {
        ColourBy::Corpus => theme::track_color(dot.corpus + 3),
        ColourBy::Mode => match dot.mode {
            Some(Mode::Major) => Color32::from_rgb(240, 180, 70),
            Some(Mode::Minor) => Color32::from_rgb(110, 150, 240),
            None => Color32::GRAY,
        },
    }
}

impl LatentMap {
    /// A map with no model yet.
    pub fn new(settings: MapSettings) -> Self {
        Self {
            settings,
            worker: None,
            loaded: None,
            dots: Vec::new(),
            projection: None,
            current: None,
            current_score: None,
            current_label: String::new(),
            ends: [None, None],
            path: None,
            grid: false,
            demo: false,
            grid_cells: Vec::new(),
            grid_bounds: None,
            status: "Load a vae or rnn-vae checkpoint (train one on the Training tab).".into(),
            last_millis: None,
            next_id: 0,
            roll: PianoRoll::compact(),
            path_roll: PianoRoll::compact(),
            opened_any: false,
        }
    }

    fn send(&mut self, ctx: &egui::Context, request: LatentRequest) {
        let worker = self.worker.get_or_insert_with(|| {
            let ctx = ctx.clone();
            LatentWorker::start(move || ctx.request_repaint())
        });
        worker.send(request);
    }

    /// Loads a checkpoint and encodes the corpora `dirs` onto the map.
    pub fn load(&mut self, ctx: &egui::Context, run: PathBuf, dirs: Vec<PathBuf>) {
        self.opened_any = true;
        self.dots.clear();
        self.path = None;
        self.grid_cells.clear();
        self.status = format!("loading {}…", run.display());
        self.send(ctx, LatentRequest::Load(run));
        self.send(ctx, LatentRequest::EncodeCorpora { dirs, limit: 800 });
    }

    fn lift(&self, point: [f32; 2]) -> Vec<f32> {
        match &self.projection {
            Some(p) => p.lift(point),
            None => point.to_vec(),
        }
    }

    /// True while the worker has requests to answer (the map animates its progress then, and
    /// asks for no repaint when idle).
    pub fn busy(&self) -> bool {
        self.worker.as_ref().is_some_and(|w| w.pending() > 0)
    }

    /// Decodes a map point (the newest request wins in the worker).
    pub fn decode_at(&mut self, ctx: &egui::Context, point: [f32; 2]) {
        self.next_id += 1;
        self.current = Some(point);
        let z = self.lift(point);
        self.send(
            ctx,
            LatentRequest::Decode {
                id: self.next_id,
                z,
            },
        );
    }

    /// Handles the worker's answers; returns what the app should do.
    pub fn poll(&mut self) -> Vec<MapAction> {
        let mut actions = Vec::new();
        let Some(worker) = &self.worker else {
            return actions;
        };
        let replies: Vec<LatentReply> = worker.replies.try_iter().collect();
        for reply in replies {
            match reply {
                LatentReply::Loaded { run, latent } => {
                    self.status = format!("{latent}-D latent · encoding the corpus…");
                    self.loaded = Some((run, latent));
                }
                LatentReply::Corpus(dots) => {
                    let latent = self.loaded.as_ref().map_or(2, |l| l.1);
                    let codes: Vec<Vec<f32>> = dots.iter().map(|d| d.code.clone()).collect();
                    let projection = Projection::fit(&codes, latent);
                    self.dots = dots
                        .into_iter()
                        .map(|d| {
                            let p = projection.project(&d.code);
                            (d, p)
                        })
                        .collect();
                    self.projection = Some(projection);
                    let how = if latent > 2 {
                        "first two principal components (nalgebra SVD)"
                    } else {
                        "the latent itself"
                    };
                    self.status = format!("{} melodies on the map · axes: {how}", self.dots.len());
                    if std::mem::take(&mut self.demo) {
                        self.start_demo();
                    }
                }
                LatentReply::Decoded {
                    id,
                    score,
                    samples,
                    millis,
                    ..
                } => {
                    if id == self.next_id {
                        self.last_millis = Some(millis);
                        self.current_label = "decoded point".into();
                        if self.settings.play_on_click {
                            actions.push(MapAction::PlaySamples(score.clone(), samples));
                        }
                        self.current_score = Some(score);
                    }
                }
                LatentReply::Grid { scores, .. } => {
                    if let Some([x0, y0, x1, y1]) = self.grid_bounds {
                        let n = self.settings.grid_size.max(1);
                        let (w, h) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
                        self.grid_cells = scores
                            .into_iter()
                            .enumerate()
                            .map(|(i, s)| {
                                let (col, row) = ((i % n) as f64, (i / n) as f64);
                                ([x0 + col * w, y0 + row * h], [w, h], s)
                            })
                            .collect();
                    }
                }
                LatentReply::Path {
                    steps, sequence, ..
                } => self.path = Some((steps, sequence)),
                LatentReply::Piece(score) => {
                    self.current_label = format!("{} (from the corpus)", score.name);
                    self.current_score = Some(score);
                }
                LatentReply::Error(e) => self.status = format!("error: {e}"),
            }
        }
        actions
    }

    /// A and B on two far-apart melodies, their path decoded, the midpoint clicked.
    fn start_demo(&mut self) {
        let Some((_, a)) = self.dots.first().cloned() else {
            return;
        };
        let distance = |p: &[f32; 2]| (p[0] - a[0]).hypot(p[1] - a[1]);
        let Some((_, b)) = self
            .dots
            .iter()
            .max_by(|x, y| distance(&x.1).total_cmp(&distance(&y.1)))
            .cloned()
        else {
            return;
        };
        self.ends = [Some(a), Some(b)];
        let latent = self.loaded.as_ref().map_or(2, |l| l.1);
        self.next_id += 1;
        let request = LatentRequest::Interpolate {
            id: self.next_id,
            a: self.lift(a),
            b: self.lift(b),
            steps: self.settings.path_steps,
            spherical: self.settings.spherical && latent > 2,
        };
        let middle = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        if let Some(worker) = &self.worker {
            worker.send(request);
            self.next_id += 1;
            self.current = Some(middle);
            worker.send(LatentRequest::Decode {
                id: self.next_id,
                z: self.lift(middle),
            });
        }
    }

    fn request_grid(&mut self, ctx: &egui::Context, bounds: [f64; 4]) {
        let n = self.settings.grid_size.clamp(2, 16);
        let [x0, y0, x1, y1] = bounds;
        let (w, h) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        let points = (0..n * n)
            .map(|i| {
                let (col, row) = ((i % n) as f64, (i / n) as f64);
                self.lift([(x0 + (col + 0.5) * w) as f32, (y0 + (row + 0.5) * h) as f32])
            })
            .collect();
        self.grid_bounds = Some(bounds);
        self.next_id += 1;
        self.send(
            ctx,
            LatentRequest::Grid {
                id: self.next_id,
                points,
            },
        );
    }

    /// Draws the map. `runs` are the latent checkpoints to choose from; `dirs` the corpora.
    pub fn ui(&mut self, ui: &mut Ui, runs: &[PathBuf], dirs: &[PathBuf]) -> Vec<MapAction> {
        let mut actions = self.poll();
        let ctx = ui.ctx().clone();
        if self.busy() {
            ctx.request_repaint_after(Duration::from_millis(30));
        }
        ui.horizontal_wrapped(|ui| {
            let current = self.loaded.as_ref().map(|l| l.0.clone());
            let label = current
                .as_ref()
                .map_or("choose a checkpoint".into(), |run| super::run_label(run));
            let mut chosen = None;
            egui::ComboBox::from_id_salt("latent-run")
                .selected_text(label)
                .width(260.0)
                .show_ui(ui, |ui| {
                    for run in runs {
                        let name = super::run_label(run);
                        if ui
                            .selectable_label(current.as_ref() == Some(run), name)
                            .clicked()
                        {
                            chosen = Some(run.clone());
                        }
                    }
                });
            if runs.is_empty() && self.loaded.is_none() {
                ui.label(RichText::new("no vae / rnn-vae checkpoints yet").weak());
            }
            if let Some(run) = &current
                && ui
                    .button("Reload")
                    .on_hover_text(
                        "Read the checkpoint again (a running training rewrites it every epoch)",
                    )
                    .clicked()
            {
                chosen = Some(run.clone());
            }
            if let Some(run) = chosen {
                self.load(&ctx, run, dirs.to_vec());
            }
            ui.separator();
            ui.label("colour");
            ui.selectable_value(&mut self.settings.colour_by, ColourBy::Corpus, "corpus");
            ui.selectable_value(&mut self.settings.colour_by, ColourBy::Mode, "mode")
                .on_hover_text(
                    "Major (amber) or minor (blue), estimated from the notes (Krumhansl–Kessler)",
                );
            let legend: &[(&str, Color32)] = match self.settings.colour_by {
                ColourBy::Corpus => &[
                    ("Bach sopranos", theme::track_color(3)),
                    ("Celtic tunes", theme::track_color(4)),
                ],
                ColourBy::Mode => &[
                    ("major", Color32::from_rgb(240, 180, 70)),
                    ("minor", Color32::from_rgb(110, 150, 240)),
                ],
            };
            for (name, colour) in legend {
                let (rect, _) =
                    ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                ui.painter().circle_filled(rect.center(), 4.0, *colour);
                ui.label(*name);
            }
            ui.separator();
            ui.checkbox(&mut self.grid, "grid").on_hover_text(
                "Decode a regular grid over the visible region and draw each cell's melody",
            );
            ui.add(
                egui::DragValue::new(&mut self.settings.grid_size)
                    .range(2..=16)
                    .suffix(" cells"),
            );
            ui.checkbox(&mut self.settings.play_on_click, "play on click");
        });
        ui.label(RichText::new(&self.status).weak());

        let side = 340.0f32.min(ui.available_width() * 0.4);
        ui.horizontal_top(|ui| {
            let map_width = (ui.available_width() - side - 8.0).max(200.0);
            ui.vertical(|ui| {
                ui.set_width(map_width);
                self.plot(ui, &ctx, map_width);
            });
            ui.vertical(|ui| {
                ui.set_width(side);
                actions.extend(self.side_panel(ui, &ctx));
            });
        });
        actions
    }

    fn plot(&mut self, ui: &mut Ui, ctx: &egui::Context, width: f32) {
        let height = (ui.available_height() - 8.0).max(240.0);
        let colour_by = self.settings.colour_by;
        let dots = &self.dots;
        let current = self.current;
        let ends = self.ends;
        let cells = &self.grid_cells;
        let response = Plot::new("latent-map")
            .width(width)
            .height(height)
            .data_aspect(1.0)
            .allow_drag(false)
            .allow_double_click_reset(true)
            .show(ui, |plot| {
                let mut groups: Vec<(Color32, Vec<[f64; 2]>)> = Vec::new();
                for (dot, p) in dots {
                    let colour = colour_for(dot, colour_by);
                    let point = [f64::from(p[0]), f64::from(p[1])];
                    match groups.iter_mut().find(|(c, _)| *c == colour) {
                        Some((_, points)) => points.push(point),
                        None => groups.push((colour, vec![point])),
                    }
                }
                for (i, (colour, points)) in groups.into_iter().enumerate() {
                    plot.points(
                        Points::new(format!("melodies {i}"), points)
                            .color(colour)
                            .radius(2.5),
                    );
                }
                for (origin, size, score) in cells {
                    draw_cell(plot, *origin, *size, score);
                }
                if let Some(p) = current {
                    plot.points(
                        Points::new("here", vec![[f64::from(p[0]), f64::from(p[1])]])
                            .color(Color32::WHITE)
                            .radius(6.0)
                            .filled(false),
                    );
                }
                for (label, end) in ["A", "B"].iter().zip(ends) {
                    if let Some(p) = end {
                        plot.text(egui_plot::Text::new(
                            *label,
                            PlotPoint::new(p[0], p[1]),
                            RichText::new(*label).strong().color(theme::PLAYHEAD),
                        ));
                    }
                }
                if let (Some(a), Some(b)) = (ends[0], ends[1]) {
                    plot.line(
                        Line::new(
                            "path",
                            vec![
                                [f64::from(a[0]), f64::from(a[1])],
                                [f64::from(b[0]), f64::from(b[1])],
                            ],
                        )
                        .color(theme::PLAYHEAD),
                    );
                }
                let bounds = plot.plot_bounds();
                let pointer = plot.pointer_coordinate();
                let r = plot.response();
                let clicked = r.clicked();
                let dragged = r.dragged();
                (bounds, pointer, clicked, dragged)
            });
        let (bounds, pointer, clicked, dragged) = response.inner;
        let (min, max) = (bounds.min(), bounds.max());
        let extent = (max[0] - min[0]).max(max[1] - min[1]).max(1e-9);
        // The dot under the pointer, if any (within 1.5 % of the view).
        let near = pointer.and_then(|p| {
            self.dots
                .iter()
                .map(|(d, q)| (d, (f64::from(q[0]) - p.x).hypot(f64::from(q[1]) - p.y)))
                .filter(|(_, dist)| *dist < extent * 0.015)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(d, _)| d.clone())
        });
        if let Some(dot) = &near {
            let mode = match dot.mode {
                Some(Mode::Major) => "major",
                Some(Mode::Minor) => "minor",
                None => "",
            };
            response
                .response
                .clone()
                .on_hover_text_at_pointer(format!("{} ({mode})\nclick to open", dot.name));
        }
        if let Some(p) = pointer {
            let point = [p.x as f32, p.y as f32];
            if clicked && let Some(dot) = near {
                self.current = Some(point);
                self.send(ctx, LatentRequest::OpenPiece(dot.path.clone()));
            } else if clicked || dragged {
                self.decode_at(ctx, point);
            }
        }
        if self.grid && !self.dots.is_empty() {
            let wanted = [min[0], min[1], max[0], max[1]];
            let changed = self.grid_bounds.is_none_or(|b| {
                b.iter()
                    .zip(&wanted)
                    .any(|(x, y)| (x - y).abs() > extent * 0.05)
            });
            if changed {
                self.request_grid(ctx, wanted);
            }
        } else if !self.grid {
            self.grid_cells.clear();
            self.grid_bounds = None;
        }
    }

    fn side_panel(&mut self, ui: &mut Ui, ctx: &egui::Context) -> Vec<MapAction> {
        let mut actions = Vec::new();
        ui.label(
            RichText::new(if self.current_label.is_empty() {
                "Click the map to hear a point"
            } else {
                &self.current_label
            })
            .strong(),
        );
        if let Some(ms) = self.last_millis {
            ui.label(RichText::new(format!("decode + synthesis: {ms:.1} ms")).weak());
        }
        if let Some(score) = self.current_score.clone() {
            ui.horizontal(|ui| {
                if ui.button("Play").clicked() {
                    actions.push(MapAction::Play(score.clone()));
                }
                if ui.button("Open in piano roll").clicked() {
                    actions.push(MapAction::Open(score.clone()));
                }
            });
            let size = egui::vec2(ui.available_width(), 140.0);
            ui.allocate_ui(size, |ui| {
                ui.set_min_size(size);
                self.roll.ui(ui, &score, None);
            });
        }
        ui.separator();
        ui.label(RichText::new("Interpolation").strong());
        ui.horizontal(|ui| {
            for (i, label) in ["Set A here", "Set B here"].iter().enumerate() {
                if ui
                    .add_enabled(self.current.is_some(), egui::Button::new(*label))
                    .on_hover_text("Use the last clicked point")
                    .clicked()
                {
                    self.ends[i] = self.current;
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("steps");
            ui.add(egui::DragValue::new(&mut self.settings.path_steps).range(2..=32));
            let latent = self.loaded.as_ref().map_or(2, |l| l.1);
            ui.add_enabled(latent > 2, egui::Checkbox::new(&mut self.settings.spherical, "spherical"))
                .on_hover_text("slerp follows the sphere where a high-dimensional Gaussian keeps its mass; on a 2-D latent the path is linear");
        });
        if let (Some(a), Some(b)) = (self.ends[0], self.ends[1])
            && ui.button("Decode path").clicked()
        {
            let latent = self.loaded.as_ref().map_or(2, |l| l.1);
            let (za, zb) = (self.lift(a), self.lift(b));
            self.next_id += 1;
            let id = self.next_id;
            let spherical = self.settings.spherical && latent > 2;
            self.send(
                ctx,
                LatentRequest::Interpolate {
                    id,
                    a: za,
                    b: zb,
                    steps: self.settings.path_steps,
                    spherical,
                },
            );
        }
        if let Some((steps, sequence)) = self.path.clone() {
            ui.horizontal(|ui| {
                if ui.button("Play path").clicked() {
                    actions.push(MapAction::Play(sequence.clone()));
                }
                if ui.button("Export path as MIDI…").clicked() {
                    actions.push(MapAction::Export(sequence.clone()));
                }
                if super::copy_midi_button(ui) {
                    actions.push(MapAction::CopyMidi(sequence.clone()));
                }
            });
            ui.label(RichText::new(format!("{} melodies, A to B", steps.len())).weak());
            let size = egui::vec2(ui.available_width(), 120.0);
            ui.allocate_ui(size, |ui| {
                ui.set_min_size(size);
                self.path_roll.ui(ui, &sequence, None);
            });
        }
        actions
    }
}

/// Draws a melody as short lines inside a grid cell of the plot.
fn draw_cell(plot: &mut egui_plot::PlotUi<'_>, origin: [f64; 2], size: [f64; 2], score: &Score) {
    let Some((lo, hi)) = score.pitch_range() else {
        return;
    };
    let end = score.end_tick().max(1) as f64;
    let span = f64::from(hi - lo).max(12.0);
    let (x0, y0) = (origin[0] + size[0] * 0.08, origin[1] + size[1] * 0.1);
    let (w, h) = (size[0] * 0.84, size[1] * 0.8);
    for note in score.notes() {
        let y = y0 + (f64::from(note.pitch - lo) / span) * h;
        let xa = x0 + note.start as f64 / end * w;
        let xb = x0 + note.end() as f64 / end * w;
        plot.line(
            Line::new("", vec![[xa, y], [xb, y]])
                .color(Color32::from_white_alpha(200))
                .width(1.5),
        );
    }
}
