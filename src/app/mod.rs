//! The eframe application: state, panels, and the loop that turns user actions into commands
//! and background results into state. Only this module and `ui` know about egui.

mod commands;
mod jobs;
mod panels;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use commands::AppCommand;
pub use jobs::{DialogPurpose, JobResult, Jobs};

use crate::audio::AudioOutput;
use crate::compute::{ComputeDevice, DeviceChoice};
use crate::corpus::CorpusListing;
use crate::music::Score;
use crate::ui::corpus_browser::CorpusBrowser;
use crate::ui::piano_roll::PianoRoll;
use crate::ui::training_dashboard::{DashboardSettings, TrainingDashboard};

/// The main views.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum View {
    /// The piece in the piano roll.
    #[default]
    PianoRoll,
    /// The training dashboard.
    Training,
    /// The latent map.
    LatentMap,
    /// Runs side by side with the baselines.
    Compare,
    /// A Boltzmann machine's Gibbs chain, animated.
    Gibbs,
    /// Pinned notes and the Anticipation-RNN writing around them.
    Anticipation,
    /// What each unit of an autoencoder's code stands for.
    CodeUnits,
    /// The polyphonic benchmarks beside the published figures.
    Benchmarks,
}

/// What is remembered between runs (eframe persistence).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The piece open when the app was closed.
    pub last_piece: Option<PathBuf>,
    /// Folders the user opened, listed again at start.
    pub folders: Vec<PathBuf>,
    /// Piano-roll zoom.
    pub piano_roll: PianoRoll,
    /// Browser search and collapsed lists.
    pub browser: CorpusBrowser,
    /// Compute device choice.
    pub device: DeviceChoice,
    /// The view shown.
    pub view: View,
    /// Training dashboard settings.
    pub dashboard: DashboardSettings,
    /// Latent map settings.
    pub map: crate::ui::latent_map::MapSettings,
    /// Compare view settings.
    pub compare: crate::ui::compare::CompareSettings,
    /// Benchmarks view settings.
    pub benchmarks: crate::ui::benchmarks_view::BenchmarkSettings,
    /// The "Start here" panel was closed for good.
    pub start_here_dismissed: bool,
    /// With a MIDI port connected, play through the sound card too.
    pub midi_also_here: bool,
}

/// A message in the status bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Errors are red and stay until dismissed.
    pub is_error: bool,
}

/// Playback in progress: the clock starts when the rendered audio is handed to the device.
#[derive(Clone, Copy, Debug)]
pub struct Playback {
    /// When the audio started.
    pub started: Instant,
    /// Score time (seconds) at which playback started.
    pub from_seconds: f64,
    /// Score time (seconds) at which playback ends.
    pub until_seconds: f64,
    /// Playback speed.
    pub tempo_scale: f64,
}

impl Playback {
    /// Current score time in seconds.
    pub fn position(&self) -> f64 {
        self.from_seconds + self.started.elapsed().as_secs_f64() * self.tempo_scale
    }
}

/// How the app starts.
pub struct AppConfig {
    /// The `assets/` folder with the bundled corpora.
    pub assets: PathBuf,
    /// Saved settings.
    pub settings: Settings,
    /// The audio output (a disabled one in tests).
    pub audio: AudioOutput,
    /// Probe for a GPU at start (off in UI tests, which need no device).
    pub probe_device: bool,
    /// A file to open at start (overrides the last piece).
    pub open: Option<PathBuf>,
    /// Where the user's checkpoints live.
    pub models_dir: PathBuf,
    /// The shipped, read-only runs (`models/` of the repository or install).
    pub shipped_dir: Option<PathBuf>,
    /// Start training this model at once (on the dashboard).
    pub start_training: Option<crate::models::ModelKind>,
    /// Open the latent map on this checkpoint: (checkpoint, grid mode, demo path).
    pub latent_map: Option<(PathBuf, bool, bool)>,
    /// Open the Gibbs chain view on this RBM checkpoint and run the chain.
    pub gibbs: Option<PathBuf>,
    /// Open the Anticipation view on this checkpoint, with these pins ("0:D5,16:A4"), and fill.
    pub anticipation: Option<(PathBuf, Option<String>)>,
    /// What plays the notes: a SoundFont file, the built-in synthesiser, or (neither) the
    /// system's General MIDI bank when one is installed.
    pub sound: crate::audio::SoundChoice,
}

/// Command-line options of the GUI.
#[derive(Clone, Debug, Default)]
pub struct GuiOptions {
    /// Compute device choice.
    pub device: DeviceChoice,
    /// A MIDI file to open.
    pub open: Option<PathBuf>,
    /// A model to start training.
    pub start_training: Option<String>,
    /// A latent checkpoint to open on the map.
    pub latent_map: Option<PathBuf>,
    /// Grid mode on the map.
    pub map_grid: bool,
    /// Demo path on the map.
    pub map_demo: bool,
    /// Open on the Compare view with this corpus's runs.
    pub compare: Option<String>,
    /// An RBM checkpoint to open on the Gibbs chain view.
    pub gibbs: Option<PathBuf>,
    /// An Anticipation-RNN checkpoint to open on its view.
    pub anticipation: Option<PathBuf>,
    /// Pins for it ("0:D5,16:A4").
    pub pins: Option<String>,
    /// What plays the notes.
    pub sound: crate::audio::SoundChoice,
}

/// The whole application state.
pub struct MuseApp {
    /// Persisted settings.
    pub settings: Settings,
    /// Bundled corpora and opened folders.
    pub corpora: Vec<CorpusListing>,
    /// The open piece.
    pub score: Option<Arc<Score>>,
    /// Its file.
    pub piece_path: Option<PathBuf>,
    /// A piece being loaded.
    pub loading: Option<PathBuf>,
    /// Playback state; `None` when stopped.
    pub playback: Option<Playback>,
    /// Waiting for audio to render.
    pub rendering: bool,
    /// Playback tempo in BPM (None: the score's own).
    pub bpm: Option<f64>,
    /// Compute device, once probed.
    pub compute: Option<ComputeDevice>,
    /// Status-bar messages, newest last.
    pub messages: Vec<Message>,
    /// Path typed by the user when no file dialog is available.
    pub path_field: String,
    /// Show the path field (set when a dialog could not open).
    pub show_path_field: bool,
    /// The training dashboard.
    pub dashboard: TrainingDashboard,
    /// The latent map.
    pub map: crate::ui::latent_map::LatentMap,
    /// The Compare view.
    pub compare: crate::ui::compare::CompareView,
    /// The Gibbs chain view.
    pub gibbs: crate::ui::gibbs_view::GibbsView,
    /// The Anticipation view.
    pub anticipation: crate::ui::anticipation_view::AnticipationView,
    /// The Code units view.
    pub code_units: crate::ui::code_units_view::CodeUnitsView,
    /// The Benchmarks view.
    pub benchmarks: crate::ui::benchmarks_view::BenchmarksView,
    /// A generation job is running.
    pub generating: bool,
    /// What plays the notes.
    pub sound: crate::audio::Sound,
    /// Why the built-in synthesiser plays although a SoundFont was looked for.
    pub sound_note: Option<String>,
    /// A SoundFont is being read.
    pub sound_pending: bool,
    /// The last MIDI file written by "Copy as MIDI file".
    pub copied_midi: Option<PathBuf>,
    /// Text to put on the clipboard at the end of the frame.
    clipboard: Option<String>,
    /// MIDI out to a DAW or synthesiser (started on the first frame).
    pub midi_out: Option<crate::audio::midi_out::MidiOut>,
    sound_choice: Option<crate::audio::SoundChoice>,
    audio: AudioOutput,
    jobs: Jobs,
    commands: Vec<AppCommand>,
    play_generation: u64,
    started: bool,
    config_open: Option<PathBuf>,
    probe_device: bool,
    start_training: Option<crate::models::ModelKind>,
    latent_map: Option<(PathBuf, bool, bool)>,
    /// A chain to start once the piece to clamp (if any) has loaded.
    pending_gibbs: Option<PathBuf>,
    /// A run (and pins) to open on the Anticipation view at the first frame.
    pending_anticipation: Option<(PathBuf, Option<String>)>,
    /// What to do once the piece being opened has loaded (harmonize it, from "Start here").
    pub(crate) after_load: Option<AppCommand>,
    /// Earlier versions of the open piece, newest last: each model rewrite pushes the piece it
    /// replaced, Undo (Ctrl+Z) takes it back.
    pub undo: Vec<Arc<Score>>,
    /// The voices (soprano, alto, tenor, bass) Re-harmonize rewrites.
    pub rewrite_voices: [bool; 4],
    /// A rewrite of the selection is running.
    pub rewriting: bool,
    assets: PathBuf,
}

impl MuseApp {
    /// Creates the app; background work starts on the first frame.
    pub fn new(config: AppConfig) -> Self {
        let benchmarks = crate::ui::benchmarks_view::BenchmarksView::new(
            config.settings.benchmarks.clone(),
            &config.models_dir,
            config.shipped_dir.as_deref(),
            &config.assets,
        );
        let dashboard = TrainingDashboard::new(
            config.settings.dashboard.clone(),
            config.models_dir,
            config.shipped_dir,
            config.assets.clone(),
        );
        Self {
            dashboard,
            map: crate::ui::latent_map::LatentMap::new(config.settings.map.clone()),
            compare: crate::ui::compare::CompareView::new(config.settings.compare.clone()),
            gibbs: crate::ui::gibbs_view::GibbsView::default(),
            anticipation: crate::ui::anticipation_view::AnticipationView::default(),
            code_units: crate::ui::code_units_view::CodeUnitsView::default(),
            benchmarks,
            generating: false,
            sound: crate::audio::Sound::Builtin,
            sound_note: None,
            sound_pending: false,
            midi_out: None,
            copied_midi: None,
            clipboard: None,
            sound_choice: Some(config.sound),
            settings: config.settings,
            corpora: Vec::new(),
            score: None,
            piece_path: None,
            loading: None,
            playback: None,
            rendering: false,
            bpm: None,
            compute: None,
            messages: Vec::new(),
            path_field: String::new(),
            show_path_field: false,
            audio: config.audio,
            jobs: Jobs::default(),
            commands: Vec::new(),
            play_generation: 0,
            started: false,
            config_open: config.open,
            probe_device: config.probe_device,
            start_training: config.start_training,
            latent_map: config.latent_map,
            pending_gibbs: config.gibbs,
            pending_anticipation: config.anticipation,
            after_load: None,
            undo: Vec::new(),
            rewrite_voices: [false, true, true, true],
            rewriting: false,
            assets: config.assets,
        }
    }

    /// Queues a command; it runs after this frame's drawing.
    pub fn push(&mut self, command: AppCommand) {
        self.commands.push(command);
    }

    /// Jobs still running (tests wait for them).
    pub fn busy(&self) -> bool {
        self.jobs.running() > 0
    }

    /// The audio output's status line.
    pub fn audio_status(&self) -> crate::audio::AudioStatus {
        self.audio.status()
    }

    /// Shows an error in the status bar (and logs it).
    pub fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        log::warn!("{text}");
        self.messages.push(Message {
            text,
            is_error: true,
        });
    }

    /// Shows information in the status bar.
    pub fn info(&mut self, text: impl Into<String>) {
        self.messages.push(Message {
            text: text.into(),
            is_error: false,
        });
    }

    fn start_background_work(&mut self, ctx: &egui::Context) {
        self.jobs.set_context(ctx);
        self.started = true;
        let assets = self.assets.clone();
        let folders = self.settings.folders.clone();
        self.jobs.spawn("list-corpora", move || {
            let mut listings = crate::corpus::list_bundled(&assets);
            for folder in folders {
                let title = crate::ui::corpus_browser::piece_name(&folder);
                listings.push(
                    CorpusListing::read(title, &folder)
                        .map_err(|e| format!("{}: cannot list the folder: {e}", folder.display())),
                );
            }
            JobResult::CorporaListed(listings)
        });
        if let Some(choice) = self.sound_choice.take()
            && !(choice.builtin && choice.soundfont.is_none())
        {
            self.choose_sound(choice.soundfont.as_deref(), choice.builtin);
        }
        self.midi_out = Some(crate::audio::midi_out::MidiOut::start());
        if self.probe_device {
            let choice = self.settings.device;
            self.jobs.spawn("device-probe", move || {
                JobResult::DeviceProbed(crate::compute::probe_with_timeout(
                    choice,
                    crate::compute::PROBE_LIMIT,
                ))
            });
        }
        if let Some((run, grid, demo)) = self.latent_map.take() {
            self.settings.view = View::LatentMap;
            self.map.grid = grid;
            self.map.demo = demo;
            let dirs = crate::corpus::BUNDLED
                .iter()
                .map(|c| crate::corpus::bundled_dir(&self.assets, c))
                .collect();
            self.map.load(ctx, run, dirs);
        }
        if let Some(kind) = self.start_training.take() {
            self.settings.view = View::Training;
            self.dashboard.settings.model = kind;
            self.dashboard.start(self.compute.as_ref(), ctx);
        }
        if let Some(path) = self
            .config_open
            .take()
            .or_else(|| self.settings.last_piece.clone())
        {
            self.push(AppCommand::OpenPiece(path));
        }
    }

    /// Draws one frame into `ui` and runs what the user asked for. This is the whole app: the
    /// eframe shell and the UI tests both call it.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.started {
            self.start_background_work(&ctx);
        }
        for result in self.jobs.drain(Duration::from_millis(10)) {
            self.apply(result);
        }
        self.dashboard.poll(Duration::from_millis(10));
        self.compare.poll();
        self.benchmarks.poll();
        self.handle_global_input(&ctx);

        self.start_pending_chain(&ctx);
        if let Some((run, pins)) = self.pending_anticipation.take() {
            self.settings.view = View::Anticipation;
            self.anticipation.open(&ctx, run, pins);
        }
        panels::top_bar(self, ui);
        panels::status_bar(self, ui);
        panels::browser_panel(self, ui);
        match self.settings.view {
            View::PianoRoll => panels::central(self, ui),
            View::Training => panels::training(self, ui),
            View::LatentMap => panels::latent_map(self, ui),
            View::Compare => panels::compare(self, ui),
            View::Gibbs => panels::gibbs(self, ui),
            View::Anticipation => panels::anticipation(self, ui),
            View::CodeUnits => panels::code_units(self, ui),
            View::Benchmarks => panels::benchmarks(self, ui),
        }
        if !self.settings.start_here_dismissed {
            panels::start_here(self, &ctx);
        }

        for command in std::mem::take(&mut self.commands) {
            self.execute(command);
        }
        if let Some(text) = self.clipboard.take() {
            ctx.copy_text(text);
        }
        if let Some(playback) = self.playback
            && playback.position() >= playback.until_seconds
        {
            self.playback = None;
        }
        let training = self.dashboard.run.as_ref().is_some_and(|r| r.is_running())
            || self.compare.is_evaluating()
            || self.benchmarks.is_running()
            || self.gibbs.is_running();
        if self.playback.is_some() || self.rendering || self.busy() || training {
            ctx.request_repaint_after(Duration::from_millis(16));
        }
    }

    /// Starts the chain asked for on the command line, once the piece to clamp has loaded.
    fn start_pending_chain(&mut self, ctx: &egui::Context) {
        let opening = self.loading.is_some()
            || self
                .commands
                .iter()
                .any(|c| matches!(c, AppCommand::OpenPiece(_)));
        if self.pending_gibbs.is_none() || opening {
            return;
        }
        if let Some(run) = self.pending_gibbs.take() {
            self.settings.view = View::Gibbs;
            self.gibbs.settings.clamp_melody = self.score.is_some();
            // An RNN-RBM's conditional probabilities, frame by frame, are what its chain shows.
            self.gibbs.settings.heat_map =
                crate::ui::gibbs_view::kind_of(&run) == crate::models::ModelKind::RnnRbm;
            self.gibbs.selected = Some(run);
            let melody = self.score.clone();
            self.gibbs.start(ctx, melody.as_deref());
        }
    }

    fn handle_global_input(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            if path.is_dir() {
                self.push(AppCommand::AddFolder(path));
            } else if crate::corpus::is_midi_path(&path) {
                self.push(AppCommand::OpenPiece(path));
            } else {
                self.error(format!(
                    "{}: not a MIDI file (.mid or .midi)",
                    path.display()
                ));
            }
        }
        let undo =
            ctx.input(|i| i.modifiers.command && !i.modifiers.shift && i.key_pressed(egui::Key::Z));
        if undo && !ctx.egui_wants_keyboard_input() {
            self.push(AppCommand::Undo);
        }
        let space = ctx.input(|i| i.key_pressed(egui::Key::Space));
        if space && !ctx.egui_wants_keyboard_input() {
            self.push(AppCommand::TogglePlay);
        }
    }

    /// The tick under the playhead, when playing.
    pub fn playhead_tick(&self) -> Option<u64> {
        let playback = self.playback?;
        let score = self.score.as_ref()?;
        Some(score.seconds_to_tick(playback.position()))
    }

    /// Playback speed relative to the score's own tempo.
    pub fn tempo_scale(&self) -> f64 {
        match (&self.score, self.bpm) {
            (Some(score), Some(bpm)) => (bpm / score.initial_bpm()).clamp(0.1, 10.0),
            _ => 1.0,
        }
    }
}

impl eframe::App for MuseApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.settings.dashboard = self.dashboard.settings.clone();
        self.settings.map = self.map.settings.clone();
        self.settings.compare = self.compare.settings.clone();
        self.settings.benchmarks = self.benchmarks.settings.clone();
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

/// True when a window can be opened (a display server is reachable by name).
fn display_available() -> Result<(), String> {
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err("neither DISPLAY nor WAYLAND_DISPLAY is set".into());
    }
    Ok(())
}

/// Opens the window; returns the process exit code.
pub fn run_gui(gui: GuiOptions) -> i32 {
    let GuiOptions {
        device,
        open,
        start_training,
        latent_map,
        map_grid,
        map_demo,
        compare,
        gibbs,
        anticipation,
        pins,
        sound,
    } = gui;
    if let Some(corpus) = &compare
        && !crate::corpus::BUNDLED.iter().any(|c| c.id == corpus)
    {
        eprintln!("muselab: --compare takes bach or celtic, not '{corpus}'");
        return 2;
    }
    crate::compute::background_compute_pool();
    let latent_map = latent_map.map(|run| (run, map_grid, map_demo));
    let headless_hint = "the headless subcommands still work: muselab eval | render | devices | bench (see muselab --help)";
    if let Err(reason) = display_available() {
        eprintln!("muselab: cannot open a window ({reason}); {headless_hint}");
        return 1;
    }
    let start_training = match start_training
        .as_deref()
        .map(|id| (id, crate::models::ModelKind::from_id(id)))
    {
        Some((_, Some(kind))) => Some(kind),
        Some((id, None)) => {
            eprintln!("muselab: unknown model '{id}'");
            return 2;
        }
        None => None,
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("muselab")
            .with_inner_size([1280.0, 800.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let result = eframe::run_native(
        "muselab",
        options,
        Box::new(move |cc| {
            let mut settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            if device != DeviceChoice::Auto {
                settings.device = device;
            }
            // Screenshots of other views start from a fresh state without the panel.
            if std::env::var_os("MUSELAB_NO_START_HERE").is_some() {
                settings.start_here_dismissed = true;
            }
            if let Some(corpus) = compare {
                settings.view = View::Compare;
                settings.compare.corpus = corpus;
            }
            Ok(Box::new(MuseApp::new(AppConfig {
                assets: crate::corpus::assets_dir(),
                settings,
                audio: AudioOutput::start(),
                probe_device: true,
                open,
                models_dir: crate::corpus::models_dir(),
                shipped_dir: crate::corpus::shipped_dir(),
                start_training,
                latent_map,
                gibbs,
                anticipation: anticipation.map(|run| (run, pins)),
                sound,
            })))
        }),
    );
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("muselab: cannot open a window ({e}); {headless_hint}");
            1
        }
    }
}
