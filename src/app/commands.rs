//! What the user can ask for ([`AppCommand`]) and how the app carries it out; also how results
//! of background jobs change the state. All state changes of the app happen here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DialogPurpose, JobResult, MuseApp, Playback};
use crate::audio::{AudioCommand, SynthOptions, wav::write_wav_file};
use crate::corpus::CorpusListing;
use crate::music::{read_midi_file, write_midi_file};

/// A dialog that answers faster than this never appeared (no desktop portal).
const DIALOG_NEVER_SHOWN: Duration = Duration::from_millis(300);

/// An action requested by a widget, run once per frame after drawing.
#[derive(Clone, Debug, PartialEq)]
pub enum AppCommand {
    /// Read a MIDI file and show it.
    OpenPiece(PathBuf),
    /// Rewrite the ticked voices of the open piece between two ticks with a run (DeepBach),
    /// everything else kept; undoable.
    Reharmonize {
        /// The run's checkpoint folder.
        checkpoint: PathBuf,
        /// From and to, in ticks.
        span: (u64, u64),
        /// Soprano, alto, tenor, bass: which to rewrite.
        voices: [bool; 4],
        /// Seed of the sampler.
        seed: u64,
    },
    /// Put back the piece before the last model rewrite.
    Undo,
    /// Ask for a MIDI file with the system dialog.
    OpenFileDialog,
    /// Ask for a folder of MIDI files with the system dialog.
    OpenFolderDialog,
    /// List a folder in the browser.
    AddFolder(PathBuf),
    /// Play from the start.
    Play,
    /// Stop playback.
    Stop,
    /// Play when stopped, stop when playing (space bar).
    TogglePlay,
    /// Play one note (a click in the piano roll).
    PreviewNote {
        /// MIDI pitch.
        pitch: u8,
        /// MIDI velocity.
        velocity: u8,
        /// Length in seconds.
        seconds: f32,
        /// Track index, for its timbre (built-in synthesiser).
        track: usize,
        /// Its General MIDI program (SoundFont).
        program: u8,
    },
    /// Give a track of the open piece another General MIDI program.
    SetProgram {
        /// Track index.
        track: usize,
        /// The program, 0..=127.
        program: u8,
    },
    /// Ask for a SoundFont with the system dialog.
    OpenSoundFontDialog,
    /// Play with this SoundFont file, or with the built-in synthesiser (`None`).
    UseSound(Option<PathBuf>),
    /// Write the piece as a MIDI file in the temporary folder and put its path on the
    /// clipboard (paste it into a DAW's import dialog, or a file manager).
    CopyAsMidi,
    /// Ask where to export MIDI.
    ExportMidiDialog,
    /// Ask where to export WAV.
    ExportWavDialog,
    /// Write the piece as a MIDI file.
    ExportMidi(PathBuf),
    /// Write the piece as a WAV file.
    ExportWav(PathBuf),
    /// Remove a status-bar message.
    DismissMessage(usize),
    /// Show a score (a generated sample) in the piano roll.
    ShowScore(Arc<crate::music::Score>),
    /// Play a score (a generated sample).
    PlayScore(Arc<crate::music::Score>),
    /// Play samples rendered elsewhere (the latent map's worker) and show their score.
    PlaySamples(Arc<crate::music::Score>, Vec<f32>),
    /// Make a score the current piece without changing the view.
    SetScore(Arc<crate::music::Score>),
    /// Generate with a checkpoint, off the UI thread, and show the result.
    Generate {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// Harmonize / continue the open piece.
        from_open_piece: bool,
        /// Seed.
        seed: u64,
        /// Temperature.
        temperature: f64,
        /// Chord progression (MidiNet).
        chords: Option<String>,
    },
}

fn dialog(purpose: DialogPurpose, suggested: String) -> Option<PathBuf> {
    let midi = rfd::FileDialog::new().add_filter("MIDI", &["mid", "midi"]);
    match purpose {
        DialogPurpose::OpenFile => midi.pick_file(),
        DialogPurpose::OpenFolder => rfd::FileDialog::new().pick_folder(),
        DialogPurpose::ExportMidi => midi.set_file_name(format!("{suggested}.mid")).save_file(),
        DialogPurpose::OpenSoundFont => rfd::FileDialog::new()
            .add_filter("SoundFont", &["sf2"])
            .pick_file(),
        DialogPurpose::ExportWav => rfd::FileDialog::new()
            .add_filter("WAV", &["wav"])
            .set_file_name(format!("{suggested}.wav"))
            .save_file(),
    }
}

impl MuseApp {
    fn open_dialog(&mut self, purpose: DialogPurpose) {
        let suggested = self
            .score
            .as_ref()
            .map_or_else(|| "muselab".to_string(), |s| s.name.clone());
        self.jobs.spawn("file-dialog", move || {
            let started = Instant::now();
            let path = dialog(purpose, suggested);
            JobResult::Dialog {
                purpose,
                path,
                open_for: started.elapsed(),
            }
        });
    }

    /// Carries out one command.
    pub(super) fn execute(&mut self, command: AppCommand) {
        match command {
            AppCommand::OpenPiece(path) => {
                self.loading = Some(path.clone());
                self.jobs.spawn("load-piece", move || {
                    let result = read_midi_file(&path).map_err(|e| e.to_string());
                    JobResult::PieceLoaded { path, result }
                });
            }
            AppCommand::OpenFileDialog => self.open_dialog(DialogPurpose::OpenFile),
            AppCommand::OpenFolderDialog => self.open_dialog(DialogPurpose::OpenFolder),
            AppCommand::ExportMidiDialog => self.open_dialog(DialogPurpose::ExportMidi),
            AppCommand::ExportWavDialog => self.open_dialog(DialogPurpose::ExportWav),
            AppCommand::CopyAsMidi => self.copy_as_midi(),
            AppCommand::OpenSoundFontDialog => self.open_dialog(DialogPurpose::OpenSoundFont),
            AppCommand::UseSound(file) => self.choose_sound(file.as_deref(), file.is_none()),
            AppCommand::SetProgram { track, program } => {
                if let Some(score) = &self.score
                    && track < score.tracks.len()
                {
                    let mut changed = (**score).clone();
                    changed.tracks[track].program = program.min(127);
                    self.score = Some(Arc::new(changed));
                }
            }
            AppCommand::AddFolder(folder) => {
                self.jobs.spawn("list-folder", move || {
                    let title = crate::ui::corpus_browser::piece_name(&folder);
                    JobResult::FolderListed(
                        CorpusListing::read(title, &folder).map_err(|e| {
                            format!("{}: cannot list the folder: {e}", folder.display())
                        }),
                    )
                });
            }
            AppCommand::Play => {
                if let Some(score) = self.score.clone() {
                    self.play_score(score);
                } else {
                    self.error("Nothing to play: open a piece first");
                }
            }
            AppCommand::ShowScore(score) => {
                let score = with_instruments(score);
                self.stop();
                self.bpm = None;
                self.score = Some(score);
                self.piece_path = None;
                self.settings.view = super::View::PianoRoll;
            }
            AppCommand::SetScore(score) => {
                let score = with_instruments(score);
                self.stop();
                self.bpm = None;
                self.score = Some(score);
                self.piece_path = None;
            }
            AppCommand::PlaySamples(score, samples) => {
                let score = with_instruments(score);
                self.stop();
                self.bpm = None;
                self.score = Some(Arc::clone(&score));
                self.piece_path = None;
                if matches!(self.sound, crate::audio::Sound::Builtin) {
                    self.apply(JobResult::Rendered {
                        generation: self.play_generation,
                        samples,
                        from_seconds: 0.0,
                    });
                } else {
                    // The worker rendered with the built-in synthesiser; the instruments
                    // sound only when rendered again.
                    self.play_score(score);
                }
            }
            AppCommand::PlayScore(score) => {
                let score = with_instruments(score);
                self.stop();
                self.bpm = None;
                self.score = Some(Arc::clone(&score));
                self.piece_path = None;
                self.play_score(score);
            }
            AppCommand::Generate {
                checkpoint,
                from_open_piece,
                seed,
                temperature,
                chords,
            } => {
                let melody = if from_open_piece {
                    self.score.as_deref().cloned()
                } else {
                    None
                };
                self.generating = true;
                self.jobs.spawn("generate", move || {
                    let device = burn::tensor::Device::flex();
                    let result = crate::inference::LoadedModel::load(&checkpoint, None, &device)
                        .and_then(|(model, _)| {
                            let options = crate::inference::GenerateOptions {
                                seed,
                                temperature,
                                melody,
                                track: None,
                                prime_bars: 2,
                                chords,
                                ..Default::default()
                            };
                            model.generate(&options, &device)
                        });
                    JobResult::Generated(result)
                });
            }
            AppCommand::Reharmonize {
                checkpoint,
                span,
                voices,
                seed,
            } => {
                let Some(score) = self.score.clone() else {
                    return;
                };
                self.rewriting = true;
                self.jobs.spawn("rewrite", move || {
                    let device = burn::tensor::Device::flex();
                    let result = crate::inference::LoadedModel::load(&checkpoint, None, &device)
                        .and_then(|(model, config)| {
                            model
                                .reharmonize(&score, span, voices, seed, &device)
                                .unwrap_or_else(|| {
                                    Err(format!(
                                        "a {} run cannot rewrite a selection",
                                        config.model.id()
                                    ))
                                })
                        });
                    JobResult::Rewritten(result)
                });
            }
            AppCommand::Undo => match self.undo.pop() {
                Some(previous) => {
                    self.stop();
                    self.score = Some(previous);
                    self.info("Undone: the piece as it was before the last rewrite".to_string());
                }
                None => self.info("Nothing to undo".to_string()),
            },
            AppCommand::Stop => self.stop(),
            AppCommand::TogglePlay => {
                if self.playback.is_some() || self.rendering {
                    self.stop();
                } else if let Some(score) = self.score.clone() {
                    self.play_score(score);
                }
            }
            AppCommand::PreviewNote {
                pitch,
                velocity,
                seconds,
                track,
                program,
            } => {
                // One note renders in about a millisecond: no job needed.
                let samples = self.sound.render_note(
                    pitch,
                    velocity,
                    seconds.clamp(0.05, 2.0),
                    (track, program),
                );
                self.audio.send(AudioCommand::Preview(samples));
            }
            AppCommand::ExportMidi(path) => self.export(path, false),
            AppCommand::ExportWav(path) => self.export(path, true),
            AppCommand::DismissMessage(index) => {
                if index < self.messages.len() {
                    self.messages.remove(index);
                }
            }
        }
    }

    fn play_score(&mut self, score: Arc<crate::music::Score>) {
        self.play_generation += 1;
        let generation = self.play_generation;
        let options = SynthOptions {
            tempo_scale: self.tempo_scale(),
            ..SynthOptions::default()
        };
        if let Err(e) = crate::audio::check_render_length(&score, &options) {
            self.error(e);
            return;
        }
        self.rendering = true;
        let sound = self.sound.clone();
        self.jobs
            .spawn("render-audio", move || JobResult::Rendered {
                generation,
                samples: sound.render(&score, &options),
                from_seconds: 0.0,
            });
    }

    /// Reads a SoundFont (or finds the system's) off the UI thread; `builtin` chooses the
    /// built-in synthesiser. What plays now stays until the answer comes.
    pub(super) fn choose_sound(&mut self, file: Option<&std::path::Path>, builtin: bool) {
        let file = file.map(std::path::Path::to_path_buf);
        self.sound_pending = true;
        self.jobs.spawn("load-soundfont", move || {
            JobResult::SoundChosen(crate::audio::choose_sound(file.as_deref(), builtin))
        });
    }

    /// Writes the open piece to `<temp>/muselab/<name>.mid` and copies the path.
    fn copy_as_midi(&mut self) {
        let Some(score) = self.score.clone() else {
            self.error("Nothing to copy: open a piece first");
            return;
        };
        let dir = std::env::temp_dir().join("muselab");
        let name: String = score
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!(
            "{}.mid",
            if name.is_empty() {
                "muselab".into()
            } else {
                name
            }
        ));
        // Written off the UI thread; the path goes on the clipboard when it is there.
        self.jobs.spawn("copy-midi", move || {
            let written = std::fs::create_dir_all(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))
                .and_then(|()| write_midi_file(&score, &path).map_err(|e| e.to_string()));
            JobResult::CopiedMidi(written.map(|()| path))
        });
    }

    fn stop(&mut self) {
        self.play_generation += 1;
        self.rendering = false;
        self.playback = None;
        self.audio.send(AudioCommand::Stop);
        if let Some(midi) = &self.midi_out {
            midi.stop();
        }
    }

    fn export(&mut self, path: PathBuf, wav: bool) {
        let Some(score) = self.score.clone() else {
            self.error("Nothing to export: open a piece first");
            return;
        };
        let options = SynthOptions {
            tempo_scale: self.tempo_scale(),
            ..SynthOptions::default()
        };
        let sound = self.sound.clone();
        self.jobs.spawn("export", move || {
            let result = if wav {
                crate::audio::check_render_length(&score, &options).and_then(|()| {
                    write_wav_file(&sound.render(&score, &options), &path)
                        .map_err(|e| e.to_string())
                })
            } else {
                write_midi_file(&score, &path).map_err(|e| e.to_string())
            };
            JobResult::Exported(result.map(|()| format!("Exported {}", path.display())))
        });
    }

    /// Applies the result of a background job to the state.
    pub(super) fn apply(&mut self, result: JobResult) {
        match result {
            JobResult::CorporaListed(listings) => {
                for listing in listings {
                    match listing {
                        Ok(listing) => self.corpora.push(listing),
                        Err(e) => self.error(e),
                    }
                }
            }
            JobResult::FolderListed(Ok(listing)) => {
                if !self.settings.folders.contains(&listing.dir) {
                    self.settings.folders.push(listing.dir.clone());
                }
                self.corpora.retain(|c| c.dir != listing.dir);
                self.info(format!(
                    "{}: {} MIDI files",
                    listing.title,
                    listing.files.len()
                ));
                self.corpora.push(listing);
            }
            JobResult::FolderListed(Err(e)) => self.error(e),
            JobResult::PieceLoaded { path, result } => {
                if self.loading.as_ref() == Some(&path) {
                    self.loading = None;
                }
                match result {
                    Ok(score) => {
                        self.stop();
                        self.bpm = None;
                        // Undo goes back within one piece, never to another.
                        self.undo.clear();
                        if let Some(damage) = &score.damage {
                            // Shown as an error (it stays in the status bar), though the piece
                            // opens: what could be read is there, and the user must know it
                            // is not the whole file.
                            self.error(format!("{}: {damage}", path.display()));
                        }
                        // The bundled corpora's program 0 means "not chosen": they get organ
                        // (chorales) or flute (tunes); a user's file keeps its own programs.
                        let bundled = path.starts_with(self.assets.join("corpora"));
                        let score = if bundled {
                            crate::music::instruments::with_default_programs(score)
                        } else {
                            score
                        };
                        self.score = Some(Arc::new(score));
                        self.settings.last_piece = Some(path.clone());
                        self.piece_path = Some(path);
                        if let Some(command) = self.after_load.take() {
                            self.push(command);
                        }
                    }
                    Err(e) => {
                        self.after_load = None;
                        // A piece that no longer opens is not reopened at the next start.
                        if self.settings.last_piece.as_ref() == Some(&path) && self.score.is_none()
                        {
                            self.settings.last_piece = None;
                        }
                        self.error(e);
                    }
                }
            }
            JobResult::Rendered {
                generation,
                samples,
                from_seconds,
            } => {
                if generation != self.play_generation {
                    return;
                }
                self.rendering = false;
                let seconds = samples.len() as f64 / f64::from(crate::audio::SAMPLE_RATE);
                let tempo_scale = self.tempo_scale();
                let midi = self.midi_out.as_ref().filter(|m| m.is_connected());
                if let (Some(midi), Some(score)) = (midi, &self.score) {
                    // The port plays from the moment the sound card would.
                    midi.play(crate::music::performance::timeline(score), tempo_scale);
                    if !self.settings.midi_also_here {
                        self.audio.send(AudioCommand::Stop);
                    } else {
                        self.audio.send(AudioCommand::Play(samples));
                    }
                } else {
                    self.audio.send(AudioCommand::Play(samples));
                }
                self.playback = Some(Playback {
                    started: Instant::now(),
                    from_seconds,
                    until_seconds: from_seconds + seconds * tempo_scale,
                    tempo_scale,
                });
            }
            JobResult::Exported(Ok(message)) => self.info(message),
            JobResult::CopiedMidi(Ok(path)) => {
                self.clipboard = Some(path.display().to_string());
                self.info(format!(
                    "Copied the path of {} to the clipboard",
                    path.display()
                ));
                self.copied_midi = Some(path);
            }
            JobResult::CopiedMidi(Err(e)) => self.error(e),
            JobResult::Exported(Err(e)) => self.error(e),
            JobResult::Dialog {
                purpose,
                path,
                open_for,
            } => match path {
                Some(path) => self.push(match purpose {
                    DialogPurpose::OpenFile => AppCommand::OpenPiece(path),
                    DialogPurpose::OpenFolder => AppCommand::AddFolder(path),
                    DialogPurpose::ExportMidi => AppCommand::ExportMidi(path),
                    DialogPurpose::ExportWav => AppCommand::ExportWav(path),
                    DialogPurpose::OpenSoundFont => AppCommand::UseSound(Some(path)),
                }),
                None if open_for < DIALOG_NEVER_SHOWN => {
                    self.show_path_field = true;
                    self.error(
                        "No file dialog could be shown (no desktop portal?): type a path in the path field of the toolbar",
                    );
                }
                None => {}
            },
            JobResult::Rewritten(result) => {
                self.rewriting = false;
                match result {
                    Ok(score) => {
                        if let Some(old) = self.score.take() {
                            self.undo.push(old);
                        }
                        self.info("Re-harmonized the selection (Ctrl+Z undoes it)".to_string());
                        self.stop();
                        self.score = Some(Arc::new(score));
                    }
                    Err(e) => self.error(e),
                }
            }
            JobResult::Generated(result) => {
                self.generating = false;
                match result {
                    Ok(score) => {
                        self.info(format!(
                            "Generated {}: {} notes",
                            score.name,
                            score.note_count()
                        ));
                        self.push(AppCommand::ShowScore(Arc::new(score)));
                    }
                    Err(e) => self.error(e),
                }
            }
            JobResult::SoundChosen(Ok((sound, fallback))) => {
                self.sound_pending = false;
                self.sound = sound;
                self.sound_note = fallback;
            }
            JobResult::SoundChosen(Err(e)) => {
                self.sound_pending = false;
                self.error(e);
            }
            JobResult::DeviceProbed(device) => {
                log::info!("compute device: {}", device.label());
                self.compute = Some(device);
            }
            JobResult::Failed { job, message } => {
                if job == "generate" {
                    self.generating = false;
                }
                if job == "device-probe" {
                    self.compute = Some(crate::compute::ComputeDevice::cpu(format!(
                        "the GPU probe failed: {message}"
                    )));
                }
                self.error(format!("{job} stopped by an internal error: {message}"));
            }
        }
    }
}

/// A piece a model wrote (or a corpus piece a view shows), with the default instrument of each
/// track whose program was left at 0.
fn with_instruments(score: Arc<crate::music::Score>) -> Arc<crate::music::Score> {
    if score.tracks.iter().all(|t| t.program != 0) {
        return score;
    }
    Arc::new(crate::music::instruments::with_default_programs(
        (*score).clone(),
    ))
}
