//! The panels of the main window: toolbar and transport on top, status bar at the bottom,
//! corpus browser on the left, piano roll in the centre. Widgets only push commands.

use std::path::PathBuf;

use egui::{RichText, Ui};

use super::{AppCommand, MuseApp};
use crate::audio::AudioStatus;
use crate::ui::corpus_browser::BrowserAction;
use crate::ui::piano_roll::PianoRollAction;
use crate::ui::theme;
use crate::ui::training_dashboard::DashboardAction;
use std::sync::Arc;

fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    format!("{}:{:02}", (seconds / 60.0) as u64, seconds as u64 % 60)
}

/// File buttons, transport (Play/Stop, tempo, position) and export buttons.
pub(super) fn top_bar(app: &mut MuseApp, ui: &mut Ui) {
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut app.settings.view, super::View::PianoRoll, "Piano roll");
            ui.selectable_value(&mut app.settings.view, super::View::Training, "Training");
            ui.selectable_value(&mut app.settings.view, super::View::LatentMap, "Latent map");
            ui.selectable_value(&mut app.settings.view, super::View::Gibbs, "Gibbs chain")
                .on_hover_text("A Boltzmann machine (rbm, crbm) writing, one Gibbs step at a time");
            ui.selectable_value(&mut app.settings.view, super::View::Anticipation, "Anticipation")
                .on_hover_text("Pin notes on a roll; the Anticipation-RNN writes a melody that leads to them");
            ui.selectable_value(&mut app.settings.view, super::View::CodeUnits, "Code units")
                .on_hover_text("What each unit of a (sparse) autoencoder's code stands for; switch units on and hear them");
            ui.selectable_value(&mut app.settings.view, super::View::Benchmarks, "Benchmarks")
                .on_hover_text("Train and measure on JSB Chorales, Nottingham and the other polyphonic benchmarks, beside the published figures");
            ui.selectable_value(&mut app.settings.view, super::View::Compare, "Compare")
                .on_hover_text("Every run of a corpus measured on held-out pieces, beside the baselines");
            ui.separator();
            if ui.button("Open file…").on_hover_text("Open a MIDI file").clicked() {
                app.push(AppCommand::OpenFileDialog);
            }
            if ui
                .button("Open folder…")
                .on_hover_text("List a folder of MIDI files in the browser")
                .clicked()
            {
                app.push(AppCommand::OpenFolderDialog);
            }
            ui.separator();

            let has_score = app.score.is_some();
            let playing = app.playback.is_some() || app.rendering;
            let (label, command) = if playing {
                ("Stop", AppCommand::Stop)
            } else {
                ("Play", AppCommand::Play)
            };
            if ui
                .add_enabled(has_score, egui::Button::new(label))
                .on_hover_text("Play or stop the piece (space bar)")
                .clicked()
            {
                app.push(command);
            }
            if app.rendering {
                ui.spinner();
            }
            if let Some(score) = app.score.clone() {
                let mut bpm = app.bpm.unwrap_or_else(|| score.initial_bpm());
                ui.label("Tempo");
                let response = ui
                    .add(egui::DragValue::new(&mut bpm).range(20.0..=400.0).suffix(" BPM").speed(0.5))
                    .on_hover_text("Playback tempo in quarter notes per minute; the file's own tempo map is scaled by it");
                if response.changed() {
                    app.bpm = Some(bpm);
                }
                let position = app.playback.map_or(0.0, |p| p.position());
                ui.label(format!("{} / {}", clock(position), clock(score.duration_seconds())));
            }
            ui.separator();
            if ui
                .add_enabled(has_score, egui::Button::new("Export MIDI…"))
                .on_hover_text("Save the piece as a type-1 MIDI file")
                .clicked()
            {
                app.push(AppCommand::ExportMidiDialog);
            }
            if ui
                .add_enabled(has_score, egui::Button::new("Export WAV…"))
                .on_hover_text("Render the piece with the built-in synthesiser and save it as WAV")
                .clicked()
            {
                app.push(AppCommand::ExportWavDialog);
            }
            if ui
                .add_enabled(has_score, egui::Button::new("Copy as MIDI file"))
                .on_hover_text("Write the piece as a .mid file in the temporary folder and copy its path: paste it into your DAW's import dialog or a file manager")
                .clicked()
            {
                app.push(AppCommand::CopyAsMidi);
            }
            sound_menu(app, ui);
            midi_out_menu(app, ui);
            ui.toggle_value(&mut app.show_path_field, "Path")
                .on_hover_text("Type a file or folder path instead of using the system dialog");
        });
        if app.show_path_field {
            path_row(app, ui);
        }
    });
}

/// A path field with open and save buttons, for systems without a file dialog.
fn path_row(app: &mut MuseApp, ui: &mut Ui) {
    ui.horizontal(|ui| {
        ui.label("Path");
        ui.add(
            egui::TextEdit::singleline(&mut app.path_field)
                .hint_text("/path/to/file.mid, folder, or output.wav")
                .desired_width(360.0),
        );
        let path = PathBuf::from(app.path_field.trim());
        let empty = app.path_field.trim().is_empty();
        if ui
            .add_enabled(!empty, egui::Button::new("Open path"))
            .clicked()
        {
            app.push(if path.is_dir() {
                AppCommand::AddFolder(path.clone())
            } else {
                AppCommand::OpenPiece(path.clone())
            });
        }
        let has_score = app.score.is_some();
        if ui
            .add_enabled(!empty && has_score, egui::Button::new("Save MIDI here"))
            .clicked()
        {
            app.push(AppCommand::ExportMidi(path.clone()));
        }
        if ui
            .add_enabled(!empty && has_score, egui::Button::new("Save WAV here"))
            .clicked()
        {
            app.push(AppCommand::ExportWav(path));
        }
    });
}

/// Compute device, audio output, the piece, and messages.
pub(super) fn status_bar(app: &mut MuseApp, ui: &mut Ui) {
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            match &app.compute {
                Some(device) => {
                    ui.label(device.label());
                }
                None => {
                    ui.spinner();
                    ui.label("probing compute device…");
                }
            }
            ui.separator();
            match app.audio_status() {
                AudioStatus::Starting => ui.label("opening audio output…"),
                AudioStatus::Ready => ui.label("audio: default output"),
                AudioStatus::Unavailable(reason) => {
                    ui.colored_label(theme::ERROR, format!("no audio output: {reason}"))
                }
            };
            ui.separator();
            if app.sound_pending {
                ui.spinner();
                ui.label("reading the SoundFont…");
            } else {
                let response = ui.label(format!("sound: {}", app.sound.label()));
                if let Some(note) = &app.sound_note {
                    response.on_hover_text(note.clone());
                    ui.label(RichText::new("(no SoundFont found)").weak());
                }
            }
            if let Some(score) = &app.score {
                ui.separator();
                ui.label(format!(
                    "{}: {} tracks, {} notes, {:.1} s",
                    score.name,
                    score.tracks.len(),
                    score.note_count(),
                    score.duration_seconds()
                ));
            }
            if let Some(index) = app.messages.len().checked_sub(1) {
                ui.separator();
                let message = &app.messages[index];
                let text = if message.is_error {
                    RichText::new(&message.text).color(theme::ERROR)
                } else {
                    RichText::new(&message.text)
                };
                ui.label(text);
                if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                    app.push(AppCommand::DismissMessage(index));
                }
                if index > 0 {
                    ui.label(format!("(+{} earlier)", index));
                }
            }
        });
    });
}

/// The corpus browser.
pub(super) fn browser_panel(app: &mut MuseApp, ui: &mut Ui) {
    egui::Panel::left("browser")
        .resizable(true)
        .default_size(240.0)
        .show(ui, |ui| {
            ui.heading("Corpora");
            let current = app.piece_path.clone();
            let action = app.settings.browser.ui(ui, &app.corpora, current.as_ref());
            if let Some(BrowserAction::Open(path)) = action {
                app.push(AppCommand::OpenPiece(path));
            }
        });
}

/// The piano roll, or a hint when nothing is open.
pub(super) fn central(app: &mut MuseApp, ui: &mut Ui) {
    egui::CentralPanel::default_margins().show(ui, |ui| {
        if let Some(path) = &app.loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Loading {}…", path.display()));
            });
        }
        let Some(score) = app.score.clone() else {
            ui.centered_and_justified(|ui| {
                ui.label("Pick a piece in the browser, use Open file…, or drop a .mid file on the window.");
            });
            return;
        };
        if let Some((track, program)) = app.settings.piano_roll.toolbar(ui, &score) {
            app.push(AppCommand::SetProgram { track, program });
        }
        selection_bar(app, ui, &score);
        let playhead = app.playhead_tick();
        if let Some(PianoRollAction::NoteClicked { track, note }) =
            app.settings.piano_roll.ui(ui, &score, playhead)
        {
            let seconds = (score.tick_to_seconds(note.end()) - score.tick_to_seconds(note.start)) as f32;
            app.push(AppCommand::PreviewNote {
                pitch: note.pitch,
                velocity: note.velocity,
                seconds,
                track,
                program: score.tracks.get(track).map_or(0, |t| t.program),
            });
        }
    });
}

/// Above the roll, once bars are selected (drag along the ruler): which voices to rewrite,
/// Re-harmonize with the newest DeepBach run, Undo.
fn selection_bar(app: &mut MuseApp, ui: &mut Ui, score: &crate::music::Score) {
    let Some((from, to)) = app.settings.piano_roll.selection else {
        if !app.undo.is_empty() {
            ui.horizontal(|ui| undo_button(app, ui));
        }
        return;
    };
    let deepbach = runs_of(app, &[crate::models::ModelKind::DeepBach])
        .into_iter()
        .next();
    ui.horizontal_wrapped(|ui| {
        let bars = (
            crate::ui::piano_roll::bar_number(score, from),
            crate::ui::piano_roll::bar_number(score, to.saturating_sub(1)),
        );
        ui.label(format!("Bars {}–{} selected", bars.0, bars.1))
            .on_hover_text("Drag along the ruler to select other bars; click the ruler to clear");
        for (v, name) in ["S", "A", "T", "B"].iter().enumerate() {
            ui.checkbox(&mut app.rewrite_voices[v], *name)
                .on_hover_text(format!("Rewrite the {} in the selection", crate::models::minibach::VOICES[v].to_lowercase()));
        }
        let four = score.tracks.len() == 4;
        let why = if !four {
            Some(format!("Re-harmonize rewrites four voices; this piece has {} tracks (harmonize its melody first)", score.tracks.len()))
        } else if deepbach.is_none() {
            Some("No DeepBach run: train one in the Training view".to_string())
        } else if app.rewriting {
            Some("Rewriting…".to_string())
        } else {
            None
        };
        let button = ui
            .add_enabled(why.is_none(), egui::Button::new("Re-harmonize"))
            .on_hover_text("DeepBach resamples the ticked voices in the selected bars; every other note stays as it is")
            .on_disabled_hover_text(why.clone().unwrap_or_default());
        if button.clicked()
            && let Some(checkpoint) = deepbach
        {
            app.push(AppCommand::Reharmonize {
                checkpoint,
                span: (from, to),
                voices: app.rewrite_voices,
                seed: app.dashboard.settings.generate_seed.wrapping_add(app.undo.len() as u64),
            });
        }
        if app.rewriting {
            ui.spinner();
        }
        undo_button(app, ui);
    });
}

fn undo_button(app: &mut MuseApp, ui: &mut Ui) {
    if ui
        .add_enabled(!app.undo.is_empty(), egui::Button::new("Undo"))
        .on_hover_text("Put back the piece as it was before the last rewrite (Ctrl+Z)")
        .clicked()
    {
        app.push(AppCommand::Undo);
    }
}

/// The training dashboard.
pub(super) fn training(app: &mut MuseApp, ui: &mut Ui) {
    let has_piece = app.score.is_some();
    let compute = app.compute.clone();
    if app.generating {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("generating…");
        });
    }
    let action = app.dashboard.ui(ui, compute.as_ref(), has_piece);
    match action {
        Some(DashboardAction::Open(score)) => app.push(AppCommand::ShowScore(Arc::new(score))),
        Some(DashboardAction::Play(score)) => app.push(AppCommand::PlayScore(Arc::new(score))),
        Some(DashboardAction::CopyMidi(score)) => copy_midi(app, score),
        Some(DashboardAction::Generate {
            checkpoint,
            from_open_piece,
            seed,
            temperature,
            chords,
        }) => app.push(AppCommand::Generate {
            checkpoint,
            from_open_piece,
            seed,
            temperature,
            chords,
        }),
        None => {}
    }
}

/// The Compare view.
pub(super) fn compare(app: &mut MuseApp, ui: &mut Ui) {
    use crate::ui::compare::CompareAction;
    let runs = app.dashboard.runs.clone();
    let action = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.compare.ui(ui, &runs))
        .inner;
    match action {
        Some(CompareAction::Play(score)) => app.push(AppCommand::PlayScore(Arc::new(score))),
        Some(CompareAction::Open(score)) => app.push(AppCommand::ShowScore(Arc::new(score))),
        None => {}
    }
}

pub(super) fn benchmarks(app: &mut MuseApp, ui: &mut Ui) {
    let start = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.benchmarks.ui(ui))
        .inner;
    if start {
        // The device the app probed; the CPU until the probe has answered.
        let compute = app.compute.clone().unwrap_or_else(|| {
            crate::compute::ComputeDevice::cpu("the GPU probe has not answered yet")
        });
        let ctx = ui.ctx().clone();
        app.benchmarks.start(&ctx, compute);
    }
}

/// The checkpoints of these models, from the runs list.
fn runs_of(app: &MuseApp, kinds: &[crate::models::ModelKind]) -> Vec<PathBuf> {
    app.dashboard
        .runs
        .iter()
        .filter(|r| kinds.contains(&r.model))
        .map(|r| r.dir.clone())
        .collect()
}

/// A piece a view wrote, as a temporary MIDI file whose path goes on the clipboard (it becomes
/// the current piece, as Export does).
fn copy_midi(app: &mut MuseApp, score: crate::music::Score) {
    app.push(AppCommand::SetScore(Arc::new(score)));
    app.push(AppCommand::CopyAsMidi);
}

/// Carries out what a view that writes music asked for.
fn score_actions(app: &mut MuseApp, actions: Vec<crate::ui::ScoreAction>) {
    use crate::ui::ScoreAction;
    for action in actions {
        match action {
            ScoreAction::Play(score) => app.push(AppCommand::PlayScore(Arc::new(score))),
            ScoreAction::Open(score) => app.push(AppCommand::ShowScore(Arc::new(score))),
            ScoreAction::CopyMidi(score) => copy_midi(app, score),
        }
    }
}

/// The Gibbs chain of a Boltzmann machine's run.
pub(super) fn gibbs(app: &mut MuseApp, ui: &mut Ui) {
    use crate::models::ModelKind;
    let runs = runs_of(app, &[ModelKind::Rbm, ModelKind::RnnRbm, ModelKind::Crbm]);
    let melody = app.score.clone();
    let actions = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.gibbs.ui(ui, &runs, melody.as_deref()))
        .inner;
    score_actions(app, actions);
}

/// Pinned notes and the Anticipation-RNN.
pub(super) fn anticipation(app: &mut MuseApp, ui: &mut Ui) {
    let runs = runs_of(app, &[crate::models::ModelKind::AnticipationRnn]);
    let actions = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.anticipation.ui(ui, &runs))
        .inner;
    score_actions(app, actions);
}

/// The code units of an autoencoder.
pub(super) fn code_units(app: &mut MuseApp, ui: &mut Ui) {
    use crate::models::ModelKind;
    let kinds = [
        ModelKind::SparseAutoencoder,
        ModelKind::Autoencoder,
        ModelKind::StackedAutoencoder,
    ];
    let runs = runs_of(app, &kinds);
    let actions = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.code_units.ui(ui, &runs))
        .inner;
    score_actions(app, actions);
}

/// The latent map.
pub(super) fn latent_map(app: &mut MuseApp, ui: &mut Ui) {
    use crate::ui::latent_map::MapAction;
    let runs: Vec<PathBuf> = app
        .dashboard
        .runs
        .iter()
        .filter(|r| r.model.has_latent())
        .map(|r| r.dir.clone())
        .collect();
    let assets = crate::corpus::assets_dir();
    let dirs: Vec<PathBuf> = crate::corpus::BUNDLED
        .iter()
        .map(|c| crate::corpus::bundled_dir(&assets, c))
        .collect();
    if !app.map.opened_any {
        // The first visit opens a map at once: the user's newest latent run, else the shipped
        // VAE, so that the first click already plays music.
        let first = app
            .dashboard
            .runs
            .iter()
            .filter(|r| r.model.has_latent())
            .min_by_key(|r| (r.shipped, r.model != crate::models::ModelKind::Vae))
            .map(|r| r.dir.clone());
        if let Some(run) = first {
            app.map.load(ui.ctx(), run, dirs.clone());
        }
    }
    let actions = egui::CentralPanel::default_margins()
        .show(ui, |ui| app.map.ui(ui, &runs, &dirs))
        .inner;
    for action in actions {
        match action {
            MapAction::PlaySamples(score, samples) => {
                app.push(AppCommand::PlaySamples(Arc::new(score), samples))
            }
            MapAction::Play(score) => app.push(AppCommand::PlayScore(Arc::new(score))),
            MapAction::Open(score) => app.push(AppCommand::ShowScore(Arc::new(score))),
            MapAction::Export(score) => {
                app.push(AppCommand::SetScore(Arc::new(score)));
                app.push(AppCommand::ExportMidiDialog);
            }
            MapAction::CopyMidi(score) => copy_midi(app, score),
        }
    }
}

/// The first file of a bundled corpus (`bach` or `celtic`), once the corpora are listed.
fn first_piece_of(app: &MuseApp, corpus: &str) -> Option<PathBuf> {
    let bundled = crate::corpus::BUNDLED.iter().find(|c| c.id == corpus)?;
    let dir = crate::corpus::bundled_dir(&app.assets, bundled);
    app.corpora
        .iter()
        .find(|listing| listing.dir == dir)
        .and_then(|listing| listing.files.first().cloned())
}

/// The "Start here" panel of a first launch.
pub(super) fn start_here(app: &mut MuseApp, ctx: &egui::Context) {
    use crate::ui::start_here::{StartAction, StartContext};
    // The runs list has the user's newest first, then the shipped ones.
    // DeepBach's run first where there is one: it writes better part-writing than mini-bach.
    let harmonizer = runs_of(app, &[crate::models::ModelKind::DeepBach])
        .into_iter()
        .chain(runs_of(app, &[crate::models::ModelKind::Minibach]))
        .next();
    let state = StartContext {
        has_piece: app.score.is_some(),
        can_harmonize: harmonizer.is_some() && first_piece_of(app, "celtic").is_some(),
        has_latent: app.dashboard.runs.iter().any(|r| r.model.has_latent()),
    };
    match crate::ui::start_here::show(ctx, state) {
        Some(StartAction::OpenChorale) => {
            if let Some(piece) = first_piece_of(app, "bach") {
                app.settings.view = super::View::PianoRoll;
                app.push(AppCommand::OpenPiece(piece));
            }
        }
        Some(StartAction::Play) => app.push(AppCommand::Play),
        Some(StartAction::Harmonize) => {
            if let (Some(piece), Some(checkpoint)) = (first_piece_of(app, "celtic"), harmonizer) {
                app.settings.view = super::View::PianoRoll;
                app.after_load = Some(AppCommand::Generate {
                    checkpoint,
                    from_open_piece: true,
                    seed: app.dashboard.settings.generate_seed,
                    temperature: app.dashboard.settings.temperature,
                    chords: None,
                });
                app.push(AppCommand::OpenPiece(piece));
            }
        }
        Some(StartAction::LatentMap) => app.settings.view = super::View::LatentMap,
        Some(StartAction::Train) => app.settings.view = super::View::Training,
        Some(StartAction::Dismiss) => app.settings.start_here_dismissed = true,
        None => {}
    }
}

/// What plays the notes: the system's SoundFont, one the user opens, or the built-in
/// synthesiser.
fn sound_menu(app: &mut MuseApp, ui: &mut Ui) {
    ui.menu_button("Sound", |ui| {
        ui.label(RichText::new(format!("now: {}", app.sound.label())).weak());
        if let Some(found) = crate::audio::soundfont::find()
            && ui
                .button(format!("General MIDI: {}", found.display()))
                .on_hover_text(
                    "Play each track with its General MIDI instrument from this SoundFont",
                )
                .clicked()
        {
            app.push(AppCommand::UseSound(Some(found)));
        }
        if ui
            .button("Open SoundFont…")
            .on_hover_text("Play with any .sf2 SoundFont file")
            .clicked()
        {
            app.push(AppCommand::OpenSoundFontDialog);
        }
        if ui
            .button("Built-in synthesiser")
            .on_hover_text(
                "A simple additive synthesiser with a timbre per track: clear for checking notes",
            )
            .clicked()
        {
            app.push(AppCommand::UseSound(None));
        }
    });
}

/// MIDI out: a port picker; "no MIDI ports" is a state, not an error.
fn midi_out_menu(app: &mut MuseApp, ui: &mut Ui) {
    use crate::audio::midi_out::MidiOutState;
    let Some(midi) = &app.midi_out else {
        return;
    };
    let state = midi.state();
    let title = match &state {
        MidiOutState::Connected(port) => format!("MIDI out: {port}"),
        _ => "MIDI out".to_string(),
    };
    let mut connect = None;
    let mut refresh = false;
    ui.menu_button(title, |ui| {
        match &state {
            MidiOutState::Unavailable(reason) => {
                ui.label(format!("no MIDI ports: {reason}"));
            }
            MidiOutState::Off(ports) if ports.is_empty() => {
                ui.label("no MIDI ports: start your DAW or synthesiser, then Refresh");
            }
            MidiOutState::Off(ports) => {
                ui.label(RichText::new("Send playback to:").weak());
                for port in ports {
                    if ui.button(port).clicked() {
                        connect = Some(Some(port.clone()));
                    }
                }
            }
            MidiOutState::Connected(port) => {
                ui.label(format!("sending playback to {port}"));
                ui.checkbox(&mut app.settings.midi_also_here, "also play here")
                    .on_hover_text(
                        "Play through the sound card too (a DAW usually plays it itself)",
                    );
                if ui.button("Disconnect").clicked() {
                    connect = Some(None);
                }
            }
        }
        if ui
            .button("Refresh")
            .on_hover_text("List the MIDI ports again")
            .clicked()
        {
            refresh = true;
        }
    });
    if let Some(midi) = &app.midi_out {
        if let Some(port) = connect {
            midi.connect(port);
        }
        if refresh {
            midi.refresh();
        }
    }
}
