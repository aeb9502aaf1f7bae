//! General MIDI sound from a SoundFont (`.sf2`) through rustysynth, a pure-Rust synthesiser.
//!
//! A score becomes the channel messages of [`crate::music::performance::timeline`] (a program
//! per track), which the synthesiser plays sample-accurately; the stereo output is mixed to mono
//! (the rest of muselab's audio path is mono) and then limited like the built-in synthesiser's,
//! so it never clips. Rendering is a pure function of the score and the bank: the same input
//! gives the same samples.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::synth::{SAMPLE_RATE, SynthOptions, limit, rendered_len};
use crate::music::Score;
use crate::music::performance::timeline;

/// A loaded SoundFont.
pub struct Bank {
    font: Arc<SoundFont>,
    /// The file it came from.
    pub path: PathBuf,
}

impl std::fmt::Debug for Bank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bank").field("path", &self.path).finish()
    }
}

/// Where General MIDI banks are installed: Debian's `timgm6mb-soundfont` and
/// `fluid-soundfont-gm` (and the `default-GM.sf2` alternative they provide), Fedora's and
/// Arch's, and the user's own folder on macOS.
pub fn system_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = [
        "/usr/share/sounds/sf2/default-GM.sf2",
        "/usr/share/sounds/sf2/TimGM6mb.sf2",
        "/usr/share/sounds/sf2/FluidR3_GM.sf2",
        "/usr/share/soundfonts/default.sf2",
        "/usr/share/soundfonts/FluidR3_GM.sf2",
        "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = dirs::home_dir() {
        candidates.push(home.join("Library/Audio/Sounds/Banks/default.sf2"));
    }
    candidates
}

/// The first General MIDI bank found: `$MUSELAB_SOUNDFONT` (empty: none), else a system one.
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MUSELAB_SOUNDFONT") {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    system_candidates().into_iter().find(|p| p.is_file())
}

impl Bank {
    /// Reads a SoundFont file; a missing or broken file is an error naming it.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut reader = std::io::BufReader::new(file);
        // The parser trusts sizes in the file; a panic on a hostile one is an error here.
        let font =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SoundFont::new(&mut reader)))
                .map_err(|_| {
                    format!(
                        "{}: not a usable SoundFont (unreadable structure)",
                        path.display()
                    )
                })?
                .map_err(|e| format!("{}: not a usable SoundFont ({e})", path.display()))?;
        if font.get_presets().is_empty() {
            return Err(format!(
                "{}: the SoundFont has no instruments",
                path.display()
            ));
        }
        Ok(Self {
            font: Arc::new(font),
            path: path.to_path_buf(),
        })
    }

    /// The file's name, for the status bar: of the file a link (Debian's `default-GM.sf2`)
    /// points to.
    pub fn name(&self) -> String {
        let path = self
            .path
            .canonicalize()
            .unwrap_or_else(|_| self.path.clone());
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn synthesizer(&self) -> Result<Synthesizer, String> {
        let mut settings = SynthesizerSettings::new(SAMPLE_RATE as i32);
        // Reverb and chorus off: a dry sound, cheaper to render, and the same in every player.
        settings.enable_reverb_and_chorus = false;
        settings.maximum_polyphony = 128;
        Synthesizer::new(&self.font, &settings).map_err(|e| e.to_string())
    }

    /// Renders a score to mono samples at [`SAMPLE_RATE`], as long as the built-in
    /// synthesiser's rendering (the notes plus the release time).
    pub fn render(&self, score: &Score, options: &SynthOptions) -> Result<Vec<f32>, String> {
        let mut synth = self.synthesizer()?;
        let scale = options.tempo_scale.max(1e-3);
        let total = rendered_len(score, options);
        let mut left = vec![0.0f32; total];
        let mut right = vec![0.0f32; total];
        let mut done = 0usize;
        for message in timeline(score) {
            let at = ((message.seconds / scale) * f64::from(SAMPLE_RATE)).round() as usize;
            let at = at.min(total);
            if at > done {
                synth.render(&mut left[done..at], &mut right[done..at]);
                done = at;
            }
            synth.process_midi_message(
                i32::from(message.channel),
                i32::from(message.command),
                i32::from(message.data1),
                i32::from(message.data2),
            );
        }
        if total > done {
            synth.render(&mut left[done..], &mut right[done..]);
        }
        Ok(mono_limited(&left, &right))
    }

    /// One note of `program` on its own (the piano roll plays it when clicked): a one-note
    /// score through [`Bank::render`].
    pub fn render_note(
        &self,
        pitch: u8,
        velocity: u8,
        seconds: f32,
        program: u8,
    ) -> Result<Vec<f32>, String> {
        // 480 ticks a quarter at the default 120 BPM: 960 ticks a second.
        let mut track = crate::music::Track::new(
            "note",
            vec![crate::music::Note {
                pitch,
                start: 0,
                duration: ((f64::from(seconds) * 960.0).round() as u64).max(1),
                velocity,
            }],
        );
        track.program = program;
        self.render(
            &Score::new("note", 480).with_track(track),
            &SynthOptions::default(),
        )
    }
}

/// The mono mix of a stereo rendering, faded out over its last 10 ms (an instrument still
/// sounding at the end would otherwise stop with a click) and limited to full scale.
fn mono_limited(left: &[f32], right: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = left.iter().zip(right).map(|(l, r)| 0.5 * (l + r)).collect();
    let fade = (SAMPLE_RATE as usize / 100).min(out.len());
    let start = out.len() - fade;
    for (i, s) in out[start..].iter_mut().enumerate() {
        *s *= 1.0 - (i + 1) as f32 / fade as f32;
    }
    limit(&mut out);
    out
}
