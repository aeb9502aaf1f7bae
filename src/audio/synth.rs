//! A small additive synthesiser: [`Score`] → mono `f32` samples at 44.1 kHz.
//!
//! It is a pure function of the score, so playback, WAV export and tests share it. Each track
//! gets its own timbre (a wavetable of a few harmonics), each note an ADSR envelope (no clicks at
//! onsets or ends), loudness follows velocity, and the mix is scaled down whenever it would
//! exceed full scale, so the output never clips.

use std::sync::OnceLock;

use crate::music::{Note, Score};

/// Output sample rate in Hz.
pub const SAMPLE_RATE: u32 = 44_100;
/// Samples in one wavetable period.
const TABLE_SIZE: usize = 2048;
/// Envelope attack time in seconds.
const ATTACK: f32 = 0.012;
/// Envelope decay time in seconds (attack peak → sustain level).
const DECAY: f32 = 0.15;
/// Sustain level relative to the attack peak.
const SUSTAIN: f32 = 0.65;
/// Largest peak the mix may reach.
const PEAK_LIMIT: f32 = 0.95;
/// Amplitude of one note at full velocity, before the limiter.
const NOTE_GAIN: f32 = 0.22;

/// Rendering options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthOptions {
    /// Playback speed: 1.0 plays the score's own tempo, 2.0 twice as fast.
    pub tempo_scale: f64,
    /// Release time in seconds: how long a note fades out after it ends.
    pub release_seconds: f32,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            tempo_scale: 1.0,
            release_seconds: 0.15,
        }
    }
}

impl SynthOptions {
    /// Release time in whole samples.
    pub fn release_samples(&self) -> usize {
        (self.release_seconds.max(0.0) * SAMPLE_RATE as f32).round() as usize
    }
}

/// Harmonic amplitudes of the timbres, one per track (cycled): a soft organ, a reed, a bowed
/// string and a flute, so that four voices of a chorale can be told apart by ear.
const TIMBRES: [&[f32]; 4] = [
    &[1.0, 0.5, 0.25, 0.12, 0.06],
    &[1.0, 0.0, 0.45, 0.0, 0.25, 0.0, 0.12],
    &[1.0, 0.5, 0.33, 0.25, 0.2, 0.16, 0.14, 0.12],
    &[1.0, 0.15, 0.05],
];

/// Wavetables for [`TIMBRES`], built once, each normalised to a peak of 1.
fn wavetables() -> &'static [Vec<f32>; 4] {
    static TABLES: OnceLock<[Vec<f32>; 4]> = OnceLock::new();
    TABLES.get_or_init(|| {
        TIMBRES.map(|harmonics| {
            let mut table: Vec<f32> = (0..TABLE_SIZE)
                .map(|i| {
                    let phase = i as f32 / TABLE_SIZE as f32 * std::f32::consts::TAU;
                    harmonics
                        .iter()
                        .enumerate()
                        .map(|(h, a)| a * (phase * (h + 1) as f32).sin())
                        .sum()
                })
                .collect();
            let peak = table.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
            table.iter_mut().for_each(|s| *s /= peak);
            table
        })
    })
}

/// Frequency in Hz of a MIDI pitch (A4 = 69 = 440 Hz).
pub fn frequency(pitch: u8) -> f32 {
    440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0)
}

/// Envelope level `t` seconds after onset of a note that is held for `held` seconds.
fn envelope(t: f32, held: f32, release: f32) -> f32 {
    let ads = |t: f32| {
        if t < ATTACK {
            t / ATTACK
        } else if t < ATTACK + DECAY {
            1.0 - (1.0 - SUSTAIN) * (t - ATTACK) / DECAY
        } else {
            SUSTAIN
        }
    };
    if t < held {
        ads(t)
    } else if release > 0.0 {
        (ads(held) * (1.0 - (t - held) / release)).max(0.0)
    } else {
        0.0
    }
}

/// Adds one note into `out`, starting at sample `offset`.
fn add_note(out: &mut [f32], offset: usize, note: &Note, held: f32, timbre: usize, release: f32) {
    let table = &wavetables()[timbre % TIMBRES.len()];
    let velocity = f32::from(note.velocity.clamp(1, 127)) / 127.0;
    let gain = NOTE_GAIN * velocity.powf(1.5);
    let step = frequency(note.pitch) * TABLE_SIZE as f32 / SAMPLE_RATE as f32;
    let length = ((held + release) * SAMPLE_RATE as f32).ceil() as usize;
    let mut phase = 0.0f32;
    for (i, sample) in out.iter_mut().skip(offset).take(length).enumerate() {
        let t = i as f32 / SAMPLE_RATE as f32;
        *sample += gain * envelope(t, held, release) * table[phase as usize % TABLE_SIZE];
        phase += step;
        if phase >= TABLE_SIZE as f32 {
            phase -= TABLE_SIZE as f32;
        }
    }
}

/// Scales the buffer down so its peak is at most [`PEAK_LIMIT`].
pub fn limit(samples: &mut [f32]) {
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > PEAK_LIMIT {
        let scale = PEAK_LIMIT / peak;
        samples.iter_mut().for_each(|s| *s *= scale);
    }
}

/// The longest audio muselab renders, in seconds (2 hours, 1.3 GB of samples): the importer's
/// limit on a piece's length, which a slowed-down tempo must not get around.
pub const MAX_RENDER_SECONDS: f64 = 7200.0;

/// Number of samples [`render`] returns: the end of the last note plus the release, at most
/// [`MAX_RENDER_SECONDS`].
pub fn rendered_len(score: &Score, options: &SynthOptions) -> usize {
    let end = (score.duration_seconds() / options.tempo_scale.max(1e-3)).min(MAX_RENDER_SECONDS);
    (end * f64::from(SAMPLE_RATE)).round() as usize + options.release_samples()
}

/// Ok when `score` at these options lasts at most [`MAX_RENDER_SECONDS`]; else a message
/// saying how long it would be. Play, WAV export and `muselab render` check it first ([`render`]
/// itself cuts longer audio at the limit).
pub fn check_render_length(score: &Score, options: &SynthOptions) -> Result<(), String> {
    let seconds = score.duration_seconds() / options.tempo_scale.max(1e-3);
    if seconds.is_finite() && seconds <= MAX_RENDER_SECONDS {
        Ok(())
    } else {
        Err(format!(
            "{}: the audio would last {:.1} hours at this tempo; muselab renders at most 2 hours",
            score.name,
            seconds / 3600.0
        ))
    }
}

/// Renders a score to mono samples at [`SAMPLE_RATE`]. An empty score gives silence lasting the
/// release time.
pub fn render(score: &Score, options: &SynthOptions) -> Vec<f32> {
    let scale = options.tempo_scale.max(1e-3);
    let release = options.release_samples() as f32 / SAMPLE_RATE as f32;
    let mut out = vec![0.0f32; rendered_len(score, options)];
    for (index, track) in score.tracks.iter().enumerate() {
        for note in &track.notes {
            let start = score.tick_to_seconds(note.start) / scale;
            let end = score.tick_to_seconds(note.end()) / scale;
            let offset = (start * f64::from(SAMPLE_RATE)).round() as usize;
            add_note(&mut out, offset, note, (end - start) as f32, index, release);
        }
    }
    limit(&mut out);
    out
}

/// Renders one note on its own (the piano roll plays it when clicked).
pub fn render_note(pitch: u8, velocity: u8, seconds: f32, track_index: usize) -> Vec<f32> {
    let options = SynthOptions::default();
    let release = options.release_seconds;
    let len = ((seconds + release) * SAMPLE_RATE as f32).ceil() as usize;
    let mut out = vec![0.0; len];
    let note = Note {
        pitch,
        start: 0,
        duration: 1,
        velocity,
    };
    add_note(&mut out, 0, &note, seconds, track_index, release);
    limit(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_starts_and_ends_at_zero() {
        assert_eq!(envelope(0.0, 1.0, 0.1), 0.0);
        assert!((envelope(ATTACK, 1.0, 0.1) - 1.0).abs() < 1e-6);
        assert!((envelope(0.5, 1.0, 0.1) - SUSTAIN).abs() < 1e-6);
        assert!(envelope(1.1, 1.0, 0.1).abs() < 1e-6);
    }

    #[test]
    fn a4_is_440_hz() {
        assert!((frequency(69) - 440.0).abs() < 1e-3);
        assert!((frequency(81) - 880.0).abs() < 1e-2);
    }
}
