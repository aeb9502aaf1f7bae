//! Sound: a pure synthesiser (score → samples), playback through rodio, and WAV export.

pub mod player;
pub mod synth;
pub mod wav;

pub use player::{AudioCommand, AudioOutput, AudioStatus};
pub use synth::{SAMPLE_RATE, SynthOptions, render, render_note};
