//! Sound: a pure synthesiser (score → samples), playback through rodio, and WAV export.

pub mod midi_out;
pub mod player;
pub mod soundfont;
pub mod synth;
pub mod wav;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use player::{AudioCommand, AudioOutput, AudioStatus};
pub use synth::{
    MAX_RENDER_SECONDS, SAMPLE_RATE, SynthOptions, check_render_length, render, render_note,
};

/// What plays the notes: a General MIDI SoundFont, or the built-in additive synthesiser.
#[derive(Clone, Debug, Default)]
pub enum Sound {
    /// The built-in synthesiser: a timbre per track, no instruments.
    #[default]
    Builtin,
    /// A SoundFont: each track's General MIDI program.
    SoundFont(Arc<soundfont::Bank>),
}

impl Sound {
    /// Renders a score (see [`render`] and [`soundfont::Bank::render`]); a SoundFont that
    /// fails — or panics: a hostile file the parser let through — falls back to the built-in
    /// synthesiser.
    pub fn render(&self, score: &crate::music::Score, options: &SynthOptions) -> Vec<f32> {
        match self {
            Sound::Builtin => render(score, options),
            Sound::SoundFont(bank) => guarded(|| bank.render(score, options)).unwrap_or_else(|e| {
                log::warn!("{e}: rendered with the built-in synthesiser");
                render(score, options)
            }),
        }
    }

    /// One note, in the timbre of track `track` (built-in) or with `program` (SoundFont).
    pub fn render_note(
        &self,
        pitch: u8,
        velocity: u8,
        seconds: f32,
        (track, program): (usize, u8),
    ) -> Vec<f32> {
        match self {
            Sound::Builtin => render_note(pitch, velocity, seconds, track),
            Sound::SoundFont(bank) => {
                guarded(|| bank.render_note(pitch, velocity, seconds, program))
                    .unwrap_or_else(|_| render_note(pitch, velocity, seconds, track))
            }
        }
    }

    /// What plays, for the status bar: "SoundFont TimGM6mb.sf2" or "built-in synthesiser".
    pub fn label(&self) -> String {
        match self {
            Sound::Builtin => "built-in synthesiser".into(),
            Sound::SoundFont(bank) => format!("SoundFont {}", bank.name()),
        }
    }
}

/// Runs a SoundFont rendering, turning a panic into an error (a note preview renders on the UI
/// thread, which must not die of a bad file).
fn guarded(work: impl FnOnce() -> Result<Vec<f32>, String>) -> Result<Vec<f32>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        Err(format!(
            "the SoundFont synthesiser stopped: {}",
            crate::util::panic_text(&panic)
        ))
    })
}

/// Chooses what plays: the built-in synthesiser when `builtin`; the SoundFont `file` when given
/// (an error when it cannot be read); else the first General MIDI bank installed
/// ([`soundfont::find`]), or the built-in synthesiser with the reason why, for the status bar.
pub fn choose_sound(file: Option<&Path>, builtin: bool) -> Result<(Sound, Option<String>), String> {
    if builtin {
        return Ok((Sound::Builtin, None));
    }
    if let Some(file) = file {
        return soundfont::Bank::load(file).map(|bank| (Sound::SoundFont(Arc::new(bank)), None));
    }
    Ok(found_or_builtin(soundfont::find().as_deref()))
}

/// The SoundFont `found` on the system, or — when there is none or it cannot be read — the
/// built-in synthesiser with the reason, for the status bar.
pub fn found_or_builtin(found: Option<&Path>) -> (Sound, Option<String>) {
    match found {
        Some(path) => match soundfont::Bank::load(path) {
            Ok(bank) => (Sound::SoundFont(Arc::new(bank)), None),
            Err(e) => (
                Sound::Builtin,
                Some(format!("{e}: playing with the built-in synthesiser")),
            ),
        },
        None => (
            Sound::Builtin,
            Some(
                "no General MIDI SoundFont found (install timgm6mb-soundfont, or open a .sf2): playing with the built-in synthesiser"
                    .into(),
            ),
        ),
    }
}

/// What the user asked to play the notes with (`--soundfont FILE`, `--builtin`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoundChoice {
    /// A SoundFont file.
    pub soundfont: Option<PathBuf>,
    /// The built-in synthesiser, even where a SoundFont is installed.
    pub builtin: bool,
}

impl SoundChoice {
    /// The built-in synthesiser (tests: no dependence on what the machine has installed).
    pub fn builtin() -> Self {
        Self {
            soundfont: None,
            builtin: true,
        }
    }
}
