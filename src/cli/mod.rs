//! The command line: `muselab` alone opens the window; subcommands run the same engine headless.
//! This file holds the arguments and the small commands; training and generation, the latent
//! commands, evaluation and the model cards have a file each.

mod benchmark;
mod evaluate;
pub mod harmonize;
mod latent;
mod models;
mod train;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::audio::{SynthOptions, wav::write_wav_file};
use crate::compute::{self, DeviceChoice};
use crate::music::{metrics, read_midi_file};

/// muselab: train the classic deep-learning music generators, watch them learn, listen.
#[derive(Debug, Parser)]
#[command(name = "muselab", version, about)]
pub struct Cli {
    /// Compute device for models: auto (a real GPU if any, else CPU), cpu or gpu.
    #[arg(long, global = true, default_value = "auto")]
    pub device: DeviceChoice,
    /// What to do; without a subcommand the GUI opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A MIDI file to open in the GUI.
    pub file: Option<PathBuf>,
    /// Open the GUI on the training dashboard and start training this model at once.
    #[arg(long, value_name = "MODEL")]
    pub start_training: Option<String>,
    /// Open the GUI on the latent map with this vae / rnn-vae checkpoint.
    #[arg(long, value_name = "CHECKPOINT")]
    pub latent_map: Option<PathBuf>,
    /// With --latent-map: draw the decoded grid.
    #[arg(long)]
    pub map_grid: bool,
    /// With --latent-map: decode the path between two far-apart corpus melodies.
    #[arg(long)]
    pub map_demo: bool,
    /// Open the GUI on the Gibbs chain view with this rbm checkpoint and run the chain (with a
    /// FILE given, its melody is clamped: Boltzmann harmonisation).
    #[arg(long, value_name = "CHECKPOINT")]
    pub gibbs: Option<PathBuf>,
    /// Open the GUI on the Anticipation view with this anticipation-rnn checkpoint.
    #[arg(long, value_name = "CHECKPOINT")]
    pub anticipation: Option<PathBuf>,
    /// With --anticipation: pins to lay and fill around, "0:D5,16:A4,32:rest,63:D4".
    #[arg(long, value_name = "STEP:PITCH,...")]
    pub pins: Option<String>,
    /// Open the GUI on the Compare view with the runs of this corpus (bach or celtic).
    #[arg(long, value_name = "CORPUS")]
    pub compare: Option<String>,
    /// Play and render with this General MIDI SoundFont (.sf2) instead of the system's.
    #[arg(long, global = true, value_name = "FILE")]
    pub soundfont: Option<PathBuf>,
    /// Play and render with the built-in synthesiser, even where a SoundFont is installed.
    #[arg(long, global = true, conflicts_with = "soundfont")]
    pub builtin: bool,
}

impl Cli {
    /// What plays the notes, as the options say.
    pub fn sound(&self) -> crate::audio::SoundChoice {
        crate::audio::SoundChoice {
            soundfont: self.soundfont.clone(),
            builtin: self.builtin,
        }
    }
}

/// The sound choice of this process's command (set by [`run`]).
static SOUND_CHOICE: std::sync::OnceLock<crate::audio::SoundChoice> = std::sync::OnceLock::new();

/// Prints `line` above `bar`, or on stderr where the bar is hidden (output not a terminal: a
/// log file, CI), which would drop it.
pub fn say(bar: &indicatif::ProgressBar, line: impl Into<String>) {
    let line = line.into();
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// What WAV output is rendered with: the choice given to [`run`], read once; a fallback to the
/// built-in synthesiser is said on stderr.
pub fn output_sound() -> Result<crate::audio::Sound, String> {
    static SOUND: std::sync::OnceLock<Result<crate::audio::Sound, String>> =
        std::sync::OnceLock::new();
    SOUND
        .get_or_init(|| {
            let choice = SOUND_CHOICE.get().cloned().unwrap_or_default();
            let (sound, note) =
                crate::audio::choose_sound(choice.soundfont.as_deref(), choice.builtin)?;
            if let Some(note) = note {
                eprintln!("muselab: {note}");
            }
            Ok(sound)
        })
        .clone()
}

/// Renders `score` with [`output_sound`] and writes it as WAV.
pub fn write_wav(
    score: &crate::music::Score,
    options: &SynthOptions,
    out: &Path,
) -> Result<usize, String> {
    let samples = output_sound()?.render(score, options);
    write_wav_file(&samples, out).map_err(|e| e.to_string())?;
    Ok(samples.len())
}

/// Headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the metrics of MIDI files, one line per file.
    Eval {
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// MIDI files to read.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Synthesise a MIDI file to a WAV file.
    Render {
        /// The MIDI file.
        input: PathBuf,
        /// The WAV file to write.
        output: PathBuf,
        /// Playback speed (1.0 = the file's own tempo).
        #[arg(long, default_value_t = 1.0)]
        tempo_scale: f64,
    },
    /// Show the compute device that would be used and the audio output.
    Devices,
    /// Print every model's card: compound formula, reference, layers with their shapes and
    /// parameter count (from the networks built at the defaults), deviations and why.
    Models {
        /// One JSON object per model.
        #[arg(long)]
        json: bool,
    },
    /// Measure corpus loading, synthesis, map-click latency and every model's training speed
    /// (--model M: that model's training only).
    Bench {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Benchmark training of this model only.
        #[arg(long)]
        model: Option<String>,
        /// Examples per training step (a GPU pays off with larger batches).
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Measure reading this folder of MIDI files instead (parallel parse without the
        /// cache, then writing and reading the parse cache), with the memory the scores hold.
        #[arg(long, value_name = "DIR")]
        corpus: Option<PathBuf>,
        /// With --corpus: empty the system's file cache before each pass (Linux, as root), so
        /// that every pass reads from the disk as a first launch after a reboot does.
        #[arg(long, requires = "corpus")]
        cold: bool,
    },
    /// Train a model on a corpus and write checkpoints to models/<model>/<run>/.
    Train(TrainArgs),
    /// Train and measure a model on a standard polyphonic benchmark (JSB Chorales,
    /// Nottingham, MuseData, Piano-midi.de): test NLL per step and frame accuracy beside the
    /// published figures.
    Benchmark(benchmark::BenchmarkArgs),
    /// Print the table of the benchmark reports saved in a folder (`benchmark --save DIR`)
    /// beside the published figures; --readme FILE rewrites that file's table instead.
    BenchmarkTable(benchmark::TableArgs),
    /// Measure trained runs on the held-out pieces of their corpus, beside a unigram and a
    /// Markov baseline fitted on the same training pieces.
    Evaluate {
        /// Checkpoint folders (models/<model>/<run>).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// One JSON object per run instead of a table.
        #[arg(long)]
        json: bool,
        /// One markdown table, a row per run (the README's evaluation table).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Samples drawn from the model and from each baseline (1 to 2000).
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Seed of the samples.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also save the report into shipped (read-only) runs, as scripts/pretrain.sh does;
        /// otherwise their reports are only printed.
        #[arg(long)]
        save_shipped: bool,
        /// Change a generation-time hyperparameter for this evaluation (name=value, e.g.
        /// rule_weight=0 or sweeps=24; repeatable); the report is printed, not saved.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// Pack trained runs as shipped ones: no optimiser state, parameters in half precision,
    /// marked read-only (scripts/pretrain.sh fills the repository's models/ with it).
    Pack {
        /// Checkpoint folders (models/<model>/<run>).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The shipped folder to pack into (as <model>/<name>).
        #[arg(long, default_value = "models")]
        to: PathBuf,
        /// The packed run's folder name.
        #[arg(long, default_value = "shipped")]
        name: String,
        /// Keep 32-bit parameters.
        #[arg(long)]
        full: bool,
    },
    /// List the runs muselab sees: the user's (writable) and the shipped ones (read-only).
    Runs,
    /// Generate music with a trained checkpoint.
    Generate(GenerateArgs),
    /// Harmonize a melody in four voices (soprano = the melody, note for note) with the best
    /// harmonizer at hand (DeepBach, else mini-bach) or the run named.
    Harmonize(harmonize::HarmonizeArgs),
    /// Print the latent mean of each melody (JSON lines), with a vae or rnn-vae checkpoint.
    Encode {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// MIDI files (their first track with notes, opening bars).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decode a latent point into a melody.
    Decode {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// The point: comma-separated numbers (missing dimensions are 0).
        #[arg(long, allow_hyphen_values = true)]
        z: String,
        /// Output: .mid or .wav.
        #[arg(long)]
        out: PathBuf,
    },
    /// Decode the path between two melodies' latent means, as one piece.
    Interpolate {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// Start melody.
        a: PathBuf,
        /// End melody.
        b: PathBuf,
        /// Points on the path (ends included).
        #[arg(long, default_value_t = 8)]
        steps: usize,
        /// Linear instead of spherical interpolation.
        #[arg(long)]
        linear: bool,
        /// Output: .mid or .wav.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `muselab train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The model's id, as `muselab models` lists them (minibach, lstm, rnn-rbm, …; an unknown
    /// id is answered with the whole list).
    pub model: String,
    /// bach, celtic, a folder of MIDI files, or a polyphonic benchmark file (.pickle, .json,
    /// .mat: trains on its train split, holds out valid pieces) (default: the model's own corpus).
    #[arg(long)]
    pub corpus: Option<String>,
    /// Passes over the data.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam's learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Seed of every random choice.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read at most this many pieces.
    #[arg(long)]
    pub max_pieces: Option<usize>,
    /// Stop each epoch after this many steps.
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Stop after this many epochs without a better held-out loss (or accuracy, for the models
    /// that validate no loss); 0: train every epoch.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Folder of checkpoints (default: models/ beside assets/, or $MUSELAB_MODELS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this checkpoint folder, with its saved settings; `--epochs` is the
    /// total to reach, and the other options given (learning rate, batch size, seed, `--set`)
    /// change the saved ones. Resumed at an epoch's end with nothing changed, a run gives the
    /// same weights and history as one that was never interrupted.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// The trained run a tuner starts from (rl-tuner: an lstm run).
    #[arg(long, value_name = "RUN")]
    pub from: Option<PathBuf>,
    /// Set a model hyperparameter, e.g. `--set feature_matching=1` (repeatable; the names are
    /// those of the app's form).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

/// Arguments of `muselab generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A checkpoint folder (models/<model>/<run>).
    pub checkpoint: PathBuf,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Sampling temperature (0 = most likely token each step).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Melody to harmonize (mini-bach) or continue (LSTM).
    #[arg(long)]
    pub melody: Option<PathBuf>,
    /// Track of the melody file to use (default: the first with notes).
    #[arg(long)]
    pub track: Option<String>,
    /// Bars of the melody that prime the LSTM.
    #[arg(long, default_value_t = 2)]
    pub prime_bars: usize,
    /// Chord progression for MidiNet, one chord per bar: "C G Am F" (default: the chords of --melody).
    #[arg(long)]
    pub chords: Option<String>,
    /// Bars to write (the Boltzmann machines; default 16).
    #[arg(long)]
    pub bars: Option<usize>,
    /// Gibbs steps per generated frame (the Boltzmann machines; default: the run's setting).
    #[arg(long)]
    pub gibbs_steps: Option<usize>,
    /// The C-RBM's template piece: its bar-by-bar self-similarity is imposed.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// The key the C-RBM writes in (C, F#m, Bb…; default C).
    #[arg(long)]
    pub key: Option<String>,
    /// The C-RBM's constraint weights: self-similarity, key, meter (e.g. 1,1,1).
    #[arg(long, value_name = "S,K,M")]
    pub constraint_weights: Option<String>,
    /// The meter the C-RBM and the Anticipation-RNN write in: 4/4, 3/4 or 2/4 (default 4/4).
    #[arg(long)]
    pub meter: Option<String>,
    /// Pinned notes for the Anticipation-RNN: "0:D5,16:A4,32:rest,63:D4" (steps in 16th notes
    /// from the start; pitches by name with C4 = 60, MIDI numbers, rest or hold).
    #[arg(long)]
    pub constraints: Option<String>,
    /// Force the pinned steps (by default the Anticipation-RNN must reach them by itself).
    #[arg(long)]
    pub clamp: bool,
    /// Output: .mid or .wav.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs a headless subcommand and returns the process exit code. `sound` is what WAV output
/// is rendered with.
pub fn run(command: Command, device: DeviceChoice, sound: crate::audio::SoundChoice) -> i32 {
    let _ = SOUND_CHOICE.set(sound);
    match command {
        Command::Eval { json, files } => eval(&files, json),
        Command::Render {
            input,
            output,
            tempo_scale,
        } => match render_file(&input, &output, tempo_scale) {
            Ok(seconds) => {
                println!("wrote {} ({seconds:.1} s of audio)", output.display());
                0
            }
            Err(e) => {
                eprintln!("muselab render: {e}");
                1
            }
        },
        Command::Devices => devices(device),
        Command::Models { json } => models::models(json),
        Command::Bench {
            json,
            corpus: Some(dir),
            cold,
            ..
        } => crate::bench::corpus_scale(json, &dir, cold),
        Command::Bench {
            json, model, batch, ..
        } => {
            let foundation = if model.is_none() {
                crate::bench::run(json)
            } else {
                0
            };
            foundation.max(crate::bench::run_models(
                json,
                model.as_deref(),
                batch.max(1),
                device,
            ))
        }
        Command::Train(args) => train::train(args, device),
        Command::Benchmark(args) => benchmark::benchmark(args, device),
        Command::BenchmarkTable(args) => benchmark::table(&args),
        Command::Evaluate {
            runs,
            json,
            markdown,
            samples,
            seed,
            save_shipped,
            set,
        } => {
            let format = match (json, markdown) {
                (true, _) => evaluate::Format::Json,
                (_, true) => evaluate::Format::Markdown,
                _ => evaluate::Format::Table,
            };
            evaluate::evaluate(&runs, format, samples, seed, save_shipped, &set, device)
        }
        Command::Pack {
            runs,
            to,
            name,
            full,
        } => pack(&runs, &to, &name, !full),
        Command::Runs => list_runs(),
        Command::Generate(args) => train::generate(args, device),
        Command::Harmonize(args) => harmonize::harmonize(&args, device),
        Command::Encode { checkpoint, files } => latent::encode(&checkpoint, &files),
        Command::Decode { checkpoint, z, out } => latent::decode(&checkpoint, &z, &out),
        Command::Interpolate {
            checkpoint,
            a,
            b,
            steps,
            linear,
            out,
        } => latent::interpolate(&checkpoint, &a, &b, steps, !linear, &out),
    }
}

/// `muselab pack`: each run packed into `to`; exit code 1 when any failed.
fn pack(runs: &[PathBuf], to: &Path, name: &str, half: bool) -> i32 {
    let mut failed = false;
    for run in runs {
        let started = std::time::Instant::now();
        match crate::training::shipped::pack(run, to, name, half) {
            Ok(dir) => {
                let bytes = crate::training::shipped::info(&dir).map_or(0, |i| i.parameter_bytes);
                println!(
                    "{} -> {} ({:.1} MB of parameters, {:.1} s)",
                    run.display(),
                    dir.display(),
                    bytes as f64 / 1e6,
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("muselab pack: {e}");
                failed = true;
            }
        }
    }
    i32::from(failed)
}

/// `muselab runs`: the user's runs, then the shipped ones.
fn list_runs() -> i32 {
    let user = crate::corpus::models_dir();
    let shipped = crate::corpus::shipped_dir();
    println!("your runs: {}", user.display());
    match &shipped {
        Some(dir) => println!("shipped runs (read-only): {}", dir.display()),
        None => println!("shipped runs: none found"),
    }
    for run in crate::training::list_all_runs(&user, shipped.as_deref()) {
        println!(
            "{:<8} {:<20} {:<7} {:>3} epochs  {}",
            if run.shipped { "shipped" } else { "yours" },
            run.model.id(),
            run.corpus,
            run.epochs,
            run.dir.display()
        );
    }
    0
}

/// `muselab eval`: metrics per file; exit code 1 when any file could not be read.
pub fn eval(files: &[PathBuf], json: bool) -> i32 {
    let mut failed = false;
    for file in files {
        let name = file.display().to_string();
        match read_midi_file(file) {
            Ok(score) => {
                let m = metrics::compute(&score);
                if json {
                    let mut object = serde_json::Map::new();
                    object.insert("file".into(), name.into());
                    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&m) {
                        object.extend(fields);
                    }
                    let warnings: Vec<_> = score.damage.iter().cloned().collect();
                    object.insert("warnings".into(), warnings.into());
                    println!("{}", serde_json::Value::Object(object));
                } else {
                    println!("{name}: {}", describe(&m));
                    if let Some(damage) = &score.damage {
                        println!("{name}: warning: {damage}");
                    }
                }
            }
            Err(e) => {
                failed = true;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"file": name, "error": e.to_string()})
                    );
                } else {
                    println!("{name}: error: {e}");
                }
            }
        }
    }
    i32::from(failed)
}

/// One line of text for a metrics record.
pub fn describe(m: &metrics::Metrics) -> String {
    let range = match (m.lowest_pitch, m.highest_pitch) {
        (Some(lo), Some(hi)) => format!(
            "{}–{}",
            crate::music::pitch_name(lo),
            crate::music::pitch_name(hi)
        ),
        _ => "none".into(),
    };
    format!(
        "{} tracks, {} notes, {:.1} s, pitch {range} (span {}), polyphony {:.2}, pitch-class entropy {:.2}, \
         scale consistency {:.2}, pitch classes/bar {:.2}, empty bars {:.2}, qualified notes {:.2}, \
         repetitions {}/{}/{}",
        m.tracks,
        m.notes,
        m.duration_seconds,
        m.tone_span,
        m.polyphony_rate,
        m.pitch_class_entropy,
        m.scale_consistency,
        m.used_pitch_classes_per_bar,
        m.empty_bar_rate,
        m.qualified_note_rate,
        m.repetitions[0],
        m.repetitions[1],
        m.repetitions[2],
    )
}

/// `muselab render`: returns the length of the audio in seconds.
pub fn render_file(input: &Path, output: &Path, tempo_scale: f64) -> anyhow::Result<f64> {
    if !(tempo_scale > 0.1 && tempo_scale <= 10.0) {
        anyhow::bail!("--tempo-scale must be above 0.1 and at most 10 (it is {tempo_scale})");
    }
    let score = read_midi_file(input)?;
    let options = SynthOptions {
        tempo_scale,
        ..SynthOptions::default()
    };
    crate::audio::check_render_length(&score, &options).map_err(anyhow::Error::msg)?;
    // A file's program 0 is its own choice (piano): it is played as written.
    let samples = write_wav(&score, &options, output).map_err(anyhow::Error::msg)?;
    Ok(samples as f64 / f64::from(crate::audio::SAMPLE_RATE))
}

fn devices(choice: DeviceChoice) -> i32 {
    let adapters = compute::list_adapters();
    if adapters.is_empty() {
        println!("adapters: none (Vulkan, Metal, DirectX 12)");
    }
    for (report, kind, _) in &adapters {
        println!(
            "adapter: {} ({}, {:?}{})",
            report.name,
            report.api,
            kind,
            if report.software { ", software" } else { "" }
        );
    }
    let device = compute::probe_with_timeout(choice, compute::PROBE_LIMIT);
    println!("compute: {}", device.label());
    let audio = crate::audio::AudioOutput::start();
    let started = std::time::Instant::now();
    let status = loop {
        match audio.status() {
            crate::audio::AudioStatus::Starting
                if started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            status => break status,
        }
    };
    match status {
        crate::audio::AudioStatus::Ready => println!("audio: default output device"),
        crate::audio::AudioStatus::Starting => println!("audio: no answer from the device"),
        crate::audio::AudioStatus::Unavailable(reason) => {
            println!("audio: no audio output: {reason}");
        }
    }
    match output_sound() {
        Ok(sound) => println!("sound: {}", sound.label()),
        Err(e) => println!("sound: {e}"),
    }
    match crate::audio::midi_out::list_ports() {
        Ok(ports) if ports.is_empty() => println!("MIDI out: no MIDI ports"),
        Ok(ports) => println!("MIDI out: {}", ports.join(", ")),
        Err(reason) => println!("MIDI out: no MIDI ports: {reason}"),
    }
    0
}
