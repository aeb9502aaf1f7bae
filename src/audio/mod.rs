//! Sound: a pure synthesiser (score → samples), playback through rodio, and WAV export.

pub mod player;
pub mod synth;
pub mod wav;

pub use player::{AudioCommand, AudioOutput, AudioStatus};
pub use synth::{
    MAX_RENDER_SECONDS, SAMPLE_RATE, SynthOptions, check_render_length, render, render_note,
};
