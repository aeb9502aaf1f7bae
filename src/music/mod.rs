//! The music model: scores, tracks and notes in MIDI ticks, plus quantisation to a step grid.
//!
//! Nothing here knows about machine learning or the UI; MIDI files, the synthesiser, the metrics
//! and (later) the data encoders all go through these types.

pub mod chords;
pub mod harmony;
pub mod instruments;
pub mod key;
pub mod metrics;
pub mod midi;
pub mod performance;
pub mod quantize;

pub use midi::{MidiError, export_smf, import_smf, read_midi_file, write_midi_file};
pub use quantize::{Grid, GridNote, GridTrack};

/// Microseconds per quarter note at 120 beats per minute, MIDI's default tempo.
pub const DEFAULT_MICROS_PER_QUARTER: u32 = 500_000;

/// One note: a pitch sounding from `start` for `duration` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Note {
    /// MIDI pitch, 0..=127 (60 = middle C).
    pub pitch: u8,
    /// Onset in ticks from the start of the score.
    pub start: u64,
    /// Length in ticks (always at least 1).
    pub duration: u64,
    /// MIDI velocity, 1..=127.
    pub velocity: u8,
}

impl Note {
    /// The tick at which the note stops sounding.
    pub fn end(&self) -> u64 {
        self.start + self.duration
    }
}

/// One voice or instrument: a named list of notes sorted by onset.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Track {
    /// Track name as stored in the MIDI file ("Soprano", "Melody", ...).
    pub name: String,
    /// General MIDI program (instrument), 0..=127.
    pub program: u8,
    /// Notes sorted by (start, pitch).
    pub notes: Vec<Note>,
}

impl Track {
    /// A track with the given name and notes (sorted here).
    pub fn new(name: impl Into<String>, mut notes: Vec<Note>) -> Self {
        notes.sort_by_key(|n| (n.start, n.pitch, n.duration));
        Self {
            name: name.into(),
            program: 0,
            notes,
        }
    }
}

/// A tempo change: from `tick` on, a quarter note lasts `micros_per_quarter` microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TempoChange {
    /// Tick at which the tempo takes effect.
    pub tick: u64,
    /// Microseconds per quarter note (500 000 = 120 BPM).
    pub micros_per_quarter: u32,
}

impl TempoChange {
    /// The tempo in quarter notes per minute.
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.micros_per_quarter.max(1))
    }
}

/// A time-signature change, e.g. 3/4 from `tick` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeSignature {
    /// Tick at which the signature takes effect.
    pub tick: u64,
    /// Beats per bar (the upper number).
    pub numerator: u8,
    /// Beat unit (the lower number): 2, 4, 8, ...
    pub denominator: u8,
}

impl TimeSignature {
    /// Length of one bar in ticks at the given resolution.
    pub fn bar_ticks(&self, ticks_per_quarter: u16) -> u64 {
        let quarter = u64::from(ticks_per_quarter);
        (u64::from(self.numerator) * quarter * 4 / u64::from(self.denominator.max(1))).max(1)
    }
}

/// A piece of music: tracks of notes on a common tick clock with tempo and metre maps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    /// A display name, usually the file stem.
    pub name: String,
    /// Resolution: ticks per quarter note.
    pub ticks_per_quarter: u16,
    /// Tempo map sorted by tick; the first entry is at tick 0.
    pub tempos: Vec<TempoChange>,
    /// Time-signature map sorted by tick; the first entry is at tick 0.
    pub time_signatures: Vec<TimeSignature>,
    /// The voices.
    pub tracks: Vec<Track>,
    /// Set by the MIDI importer when the file was damaged (truncated, an unreadable event, a
    /// track without its end marker): what was read and where reading stopped, e.g. "damaged
    /// file: read 98 notes before byte 1234 (…)". The score holds what could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    /// The key signature the file gave (the first one), if any; export writes it, or the
    /// estimated key when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_signature: Option<KeySignature>,
}

/// A MIDI key signature: sharps (positive) or flats (negative), and major or minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeySignature {
    /// −7 (seven flats) ..= 7 (seven sharps).
    pub sharps: i8,
    /// A minor key.
    pub minor: bool,
}

impl KeySignature {
    /// The signature of a key: its tonic's place on the circle of fifths (minor keys by their
    /// relative major), spelled with at most six flats (F♯ major: six sharps).
    pub fn of(key: key::Key) -> Self {
        let minor = key.mode == key::Mode::Minor;
        let major_tonic = if minor {
            (key.tonic + 3) % 12
        } else {
            key.tonic % 12
        };
        // Fifths above C of each pitch class: C 0, G 1, D 2, … F −1, B♭ −2, …
        const FIFTHS: [i8; 12] = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5];
        Self {
            sharps: FIFTHS[usize::from(major_tonic)],
            minor,
        }
    }
}

impl Score {
    /// An empty score in 4/4 at 120 BPM.
    pub fn new(name: impl Into<String>, ticks_per_quarter: u16) -> Self {
        Self {
            name: name.into(),
            ticks_per_quarter: ticks_per_quarter.max(1),
            tempos: vec![TempoChange {
                tick: 0,
                micros_per_quarter: DEFAULT_MICROS_PER_QUARTER,
            }],
            time_signatures: vec![TimeSignature {
                tick: 0,
                numerator: 4,
                denominator: 4,
            }],
            tracks: Vec::new(),
            damage: None,
            key_signature: None,
        }
    }

    /// Adds a track and returns the score (builder style, handy in tests).
    pub fn with_track(mut self, track: Track) -> Self {
        self.tracks.push(track);
        self
    }

    /// Total number of notes over all tracks.
    pub fn note_count(&self) -> usize {
        self.tracks.iter().map(|t| t.notes.len()).sum()
    }

    /// All notes of all tracks, track by track.
    pub fn notes(&self) -> impl Iterator<Item = &Note> {
        self.tracks.iter().flat_map(|t| t.notes.iter())
    }

    /// The tick at which the last note ends (0 for an empty score).
    pub fn end_tick(&self) -> u64 {
        self.notes().map(Note::end).max().unwrap_or(0)
    }

    /// Lowest and highest pitch, or `None` for an empty score.
    pub fn pitch_range(&self) -> Option<(u8, u8)> {
        let lo = self.notes().map(|n| n.pitch).min()?;
        let hi = self.notes().map(|n| n.pitch).max()?;
        Some((lo, hi))
    }

    /// The tempo in effect at tick 0, in BPM.
    pub fn initial_bpm(&self) -> f64 {
        self.tempos.first().map_or(120.0, TempoChange::bpm)
    }

    /// Converts a tick position to seconds, following the tempo map.
    pub fn tick_to_seconds(&self, tick: u64) -> f64 {
        let tpq = f64::from(self.ticks_per_quarter.max(1));
        let mut seconds = 0.0;
        let mut last_tick = 0u64;
        let mut micros = f64::from(DEFAULT_MICROS_PER_QUARTER);
        for change in &self.tempos {
            if change.tick >= tick {
                break;
            }
            seconds += (change.tick - last_tick) as f64 / tpq * micros / 1e6;
            last_tick = change.tick;
            micros = f64::from(change.micros_per_quarter.max(1));
        }
        seconds + (tick - last_tick) as f64 / tpq * micros / 1e6
    }

    /// Converts seconds to the tick position sounding at that time (inverse of
    /// [`Score::tick_to_seconds`]).
    pub fn seconds_to_tick(&self, seconds: f64) -> u64 {
        let tpq = f64::from(self.ticks_per_quarter.max(1));
        let mut elapsed = 0.0;
        let mut last_tick = 0u64;
        let mut micros = f64::from(DEFAULT_MICROS_PER_QUARTER);
        for change in &self.tempos {
            let span = (change.tick - last_tick) as f64 / tpq * micros / 1e6;
            if elapsed + span > seconds {
                break;
            }
            elapsed += span;
            last_tick = change.tick;
            micros = f64::from(change.micros_per_quarter.max(1));
        }
        let rest = ((seconds - elapsed).max(0.0) * 1e6 / micros * tpq).round() as u64;
        last_tick + rest
    }

    /// Length of the music in seconds (up to the end of the last note).
    pub fn duration_seconds(&self) -> f64 {
        self.tick_to_seconds(self.end_tick())
    }

    /// Ticks at which bars start, from 0 up to and including the first bar line at or after
    /// `until`, following time-signature changes.
    pub fn bar_lines(&self, until: u64) -> Vec<u64> {
        let mut lines = Vec::new();
        let default = TimeSignature {
            tick: 0,
            numerator: 4,
            denominator: 4,
        };
        let mut sig = self.time_signatures.first().copied().unwrap_or(default);
        let mut next_sig = 1;
        let mut tick = 0u64;
        loop {
            lines.push(tick);
            if tick >= until || lines.len() > 100_000 {
                break;
            }
            tick += sig.bar_ticks(self.ticks_per_quarter);
            // A signature change restarts the bar grid where it takes effect.
            while let Some(change) = self.time_signatures.get(next_sig) {
                if change.tick <= tick {
                    if change.tick < tick && change.tick > *lines.last().unwrap_or(&0) {
                        tick = change.tick;
                    }
                    sig = *change;
                    next_sig += 1;
                } else {
                    break;
                }
            }
        }
        lines
    }
}

/// The name of a MIDI pitch in scientific notation: 60 → "C4", 61 → "C#4".
pub fn pitch_name(pitch: u8) -> String {
    const NAMES: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    let octave = i32::from(pitch / 12) - 1;
    format!("{}{}", NAMES[usize::from(pitch % 12)], octave)
}

/// Reads a pitch name in scientific notation ("C4" = 60, "F#5", "Bb3", "e-1") or a MIDI
/// number ("62"); `None` if it is neither or lies outside 0–127.
pub fn parse_pitch(text: &str) -> Option<u8> {
    let text = text.trim();
    if let Ok(number) = text.parse::<u8>() {
        return (number <= 127).then_some(number);
    }
    let (class, octave) = note_name_prefix(text)?;
    let octave: i32 = octave.parse().ok()?;
    u8::try_from((octave + 1) * 12 + class)
        .ok()
        .filter(|&p| p <= 127)
}

/// The letter and accidental a note or chord name starts with ("C", "f#", "Bb…"): semitones
/// above C (−1 for C♭ to 12 for B♯) and the rest of the text.
pub fn note_name_prefix(text: &str) -> Option<(i32, &str)> {
    let mut chars = text.chars();
    let base: i32 = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = chars.as_str();
    Some(match rest.chars().next() {
        Some('#') => (base + 1, &rest[1..]),
        Some('b') => (base - 1, &rest[1..]),
        _ => (base, rest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitch_names_read_back() {
        assert_eq!(parse_pitch("C4"), Some(60));
        assert_eq!(parse_pitch("D5"), Some(74));
        assert_eq!(parse_pitch("F#4"), Some(66));
        assert_eq!(parse_pitch("Bb3"), Some(58));
        assert_eq!(parse_pitch("62"), Some(62));
        assert_eq!(parse_pitch("C-1"), Some(0));
        for bad in ["H4", "C", "200", "G10", ""] {
            assert_eq!(parse_pitch(bad), None, "{bad}");
        }
        for pitch in 0..=127u8 {
            assert_eq!(parse_pitch(&pitch_name(pitch)), Some(pitch));
        }
    }

    #[test]
    fn pitch_names() {
        assert_eq!(pitch_name(60), "C4");
        assert_eq!(pitch_name(61), "C#4");
        assert_eq!(pitch_name(0), "C-1");
        assert_eq!(pitch_name(127), "G9");
    }

    #[test]
    fn tempo_map_converts_both_ways() {
        let mut score = Score::new("t", 480);
        // 120 BPM for 4 quarters (2 s), then 60 BPM.
        score.tempos.push(TempoChange {
            tick: 1920,
            micros_per_quarter: 1_000_000,
        });
        assert!((score.tick_to_seconds(960) - 1.0).abs() < 1e-9);
        assert!((score.tick_to_seconds(1920) - 2.0).abs() < 1e-9);
        assert!((score.tick_to_seconds(2400) - 3.0).abs() < 1e-9);
        assert_eq!(score.seconds_to_tick(3.0), 2400);
        assert_eq!(score.seconds_to_tick(1.0), 960);
    }

    #[test]
    fn bar_lines_follow_time_signature_changes() {
        let mut score = Score::new("t", 4);
        // Two bars of 4/4 (16 ticks each), then 3/4 (12 ticks).
        score.time_signatures.push(TimeSignature {
            tick: 32,
            numerator: 3,
            denominator: 4,
        });
        assert_eq!(score.bar_lines(50), vec![0, 16, 32, 44, 56]);
    }
}
