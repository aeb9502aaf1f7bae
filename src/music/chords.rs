//! Chord labels: one triad (root + major/minor) per bar, found by matching the bar's
//! duration-weighted pitch classes against the 24 triads; parsing and printing chord names; the
//! 13-dimensional vector MidiNet is conditioned on (12 roots one-hot + a minor flag).

use super::Score;

const NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// A triad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chord {
    /// Pitch class of the root (0 = C).
    pub root: u8,
    /// Minor instead of major.
    pub minor: bool,
}

impl Chord {
    /// The name: "C", "F#m", "Bb".
    pub fn name(&self) -> String {
        format!(
            "{}{}",
            NAMES[usize::from(self.root % 12)],
            if self.minor { "m" } else { "" }
        )
    }

    /// Parses "C", "c#m", "Bb", "Ebm", "F#".
    pub fn parse(text: &str) -> Option<Self> {
        let (class, rest) = super::note_name_prefix(text.trim())?;
        let minor = match rest {
            "" => false,
            "m" | "min" => true,
            _ => return None,
        };
        Some(Self {
            root: class.rem_euclid(12) as u8,
            minor,
        })
    }

    /// Pitch classes of the triad: root, third, fifth.
    pub fn tones(&self) -> [u8; 3] {
        let third = if self.minor { 3 } else { 4 };
        [0, third, 7].map(|i| (self.root + i) % 12)
    }

    /// The chord of a condition vector made by [`Chord::vector`] (C major if no root is set).
    pub fn from_vector(vector: &[f32; 13]) -> Self {
        Self {
            root: vector[..12].iter().position(|&v| v > 0.5).unwrap_or(0) as u8,
            minor: vector[12] > 0.5,
        }
    }

    /// The 13-dimensional condition vector.
    pub fn vector(&self) -> [f32; 13] {
        let mut v = [0.0; 13];
        v[usize::from(self.root % 12)] = 1.0;
        v[12] = if self.minor { 1.0 } else { 0.0 };
        v
    }
}

/// Parses a progression like "C G Am F" (spaces or commas between chords).
pub fn parse_progression(text: &str) -> Result<Vec<Chord>, String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            Chord::parse(t)
                .ok_or_else(|| format!("'{t}' is not a chord (use names like C, F#m, Bb)"))
        })
        .collect()
}

/// The best triad for duration-weighted pitch classes (`None` when silent).
pub fn best_triad(profile: &[f64; 12]) -> Option<Chord> {
    if profile.iter().all(|&v| v == 0.0) {
        return None;
    }
    let mut best = (
        f64::NEG_INFINITY,
        Chord {
            root: 0,
            minor: false,
        },
    );
    for root in 0..12u8 {
        for minor in [false, true] {
            let tones = Chord { root, minor }.tones().map(usize::from);
            // Chord tones count, other tones cost half; the root counts a little extra.
            let inside: f64 =
                tones.iter().map(|&t| profile[t]).sum::<f64>() + 0.1 * profile[tones[0]];
            let outside: f64 =
                profile.iter().sum::<f64>() - tones.iter().map(|&t| profile[t]).sum::<f64>();
            let score = inside - 0.5 * outside;
            if score > best.0 {
                best = (score, Chord { root, minor });
            }
        }
    }
    Some(best.1)
}

/// One chord per bar of a score (the previous chord where a bar is silent).
pub fn chords_per_bar(score: &Score) -> Vec<Chord> {
    let end = score.end_tick();
    let lines = score.bar_lines(end);
    let mut chords = Vec::new();
    let mut previous = Chord {
        root: 0,
        minor: false,
    };
    for pair in lines.windows(2) {
        let (start, stop) = (pair[0], pair[1]);
        if start >= end {
            break;
        }
        let mut profile = [0.0f64; 12];
        for note in score.notes() {
            let overlap = note.end().min(stop).saturating_sub(note.start.max(start));
            profile[usize::from(note.pitch % 12)] += overlap as f64;
        }
        let chord = best_triad(&profile).unwrap_or(previous);
        chords.push(chord);
        previous = chord;
    }
    chords
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triad_tones_and_the_condition_vector_round_trip() {
        let a_minor = Chord {
            root: 9,
            minor: true,
        };
        assert_eq!(a_minor.tones(), [9, 0, 4]);
        assert_eq!(Chord::from_vector(&a_minor.vector()), a_minor);
    }
    use crate::music::{Note, Track};

    #[test]
    fn names_parse_and_print() {
        for name in ["C", "F#m", "Bb", "Ebm", "A"] {
            assert_eq!(Chord::parse(name).map(|c| c.name()), Some(name.to_string()));
        }
        assert_eq!(Chord::parse("Db"), Chord::parse("C#"));
        assert_eq!(parse_progression("C, G Am  F").map(|p| p.len()), Ok(4));
        assert!(parse_progression("C H").is_err());
        assert_eq!(
            Chord::parse("Am").map(|c| c.vector()[9] + c.vector()[12]),
            Some(2.0)
        );
    }

    #[test]
    fn triads_per_bar() {
        let note = |pitch, start| Note {
            pitch,
            start,
            duration: 16,
            velocity: 80,
        };
        // Bar 1: C E G; bar 2: A C E.
        let score = Score::new("c", 4).with_track(Track::new(
            "m",
            vec![
                note(60, 0),
                note(64, 0),
                note(67, 0),
                note(57, 16),
                note(60, 16),
                note(64, 16),
            ],
        ));
        let names: Vec<String> = chords_per_bar(&score).iter().map(Chord::name).collect();
        assert_eq!(names, ["C", "Am"]);
    }
}
