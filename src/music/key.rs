//! Key estimation (Krumhansl–Kessler): correlate the duration-weighted pitch-class profile of a
//! score with the 24 major and minor key profiles and keep the best.

use super::Score;

/// Major or minor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Major key.
    Major,
    /// Minor key.
    Minor,
}

/// An estimated key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Key {
    /// Pitch class of the tonic (0 = C).
    pub tonic: u8,
    /// Major or minor.
    pub mode: Mode,
}

const MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

fn correlation(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let (ma, mb) = (a.iter().sum::<f64>() / 12.0, b.iter().sum::<f64>() / 12.0);
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    if da == 0.0 || db == 0.0 {
        0.0
    } else {
        num / (da * db).sqrt()
    }
}

/// The most likely key, or `None` for a score without notes.
pub fn estimate_key(score: &Score) -> Option<Key> {
    let mut profile = [0.0f64; 12];
    for note in score.notes() {
        profile[usize::from(note.pitch % 12)] += note.duration as f64;
    }
    key_of_profile(&profile)
}

/// The key whose Krumhansl–Kessler profile correlates best with a pitch-class `profile`
/// (durations or counts per pitch class, 0 = C); `None` for an empty profile.
pub fn key_of_profile(profile: &[f64; 12]) -> Option<Key> {
    if profile.iter().all(|&v| v == 0.0) {
        return None;
    }
    let mut best = (
        f64::NEG_INFINITY,
        Key {
            tonic: 0,
            mode: Mode::Major,
        },
    );
    for tonic in 0..12u8 {
        for (mode, template) in [(Mode::Major, &MAJOR), (Mode::Minor, &MINOR)] {
            let rotated: [f64; 12] =
                std::array::from_fn(|i| template[(i + 12 - usize::from(tonic)) % 12]);
            let r = correlation(profile, &rotated);
            if r > best.0 {
                best = (r, Key { tonic, mode });
            }
        }
    }
    Some(best.1)
}

impl Key {
    /// The Krumhansl–Kessler profile of this key: how well each pitch class (0 = C) fits it.
    pub fn profile(self) -> [f64; 12] {
        let template = match self.mode {
            Mode::Major => &MAJOR,
            Mode::Minor => &MINOR,
        };
        std::array::from_fn(|i| template[(i + 12 - usize::from(self.tonic % 12)) % 12])
    }

    /// The profile with the pitch classes outside the key's scale set to 0 (major; harmonic
    /// minor, its raised seventh included): a target for "in this key" that, unlike the full
    /// profile, asks for no chromatic notes.
    pub fn scale_profile(self) -> [f64; 12] {
        let steps: [usize; 7] = match self.mode {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 11],
        };
        let profile = self.profile();
        std::array::from_fn(|i| {
            let degree = (i + 12 - usize::from(self.tonic % 12)) % 12;
            if steps.contains(&degree) {
                profile[i]
            } else {
                0.0
            }
        })
    }

    /// Parses a key name, as chord names are written ("C", "F#m", "Bb", "am"): a minor chord's
    /// name is the minor key's.
    pub fn parse(name: &str) -> Option<Key> {
        super::chords::Chord::parse(name).map(|chord| Key {
            tonic: chord.root,
            mode: if chord.minor {
                Mode::Minor
            } else {
                Mode::Major
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{Note, Track};

    fn scale(pitches: &[u8]) -> Score {
        let notes = pitches
            .iter()
            .enumerate()
            .map(|(i, &p)| Note {
                pitch: p,
                start: i as u64 * 4,
                duration: if i == 0 { 16 } else { 4 },
                velocity: 80,
            })
            .collect();
        Score::new("s", 4).with_track(Track::new("m", notes))
    }

    #[test]
    fn key_names_parse_and_profiles_rotate() {
        let a_minor = Key::parse("Am").expect("parses");
        assert_eq!(
            a_minor,
            Key {
                tonic: 9,
                mode: Mode::Minor
            }
        );
        assert_eq!(Key::parse("F#").map(|k| k.tonic), Some(6));
        assert_eq!(Key::parse("Bb").map(|k| k.tonic), Some(10));
        assert_eq!(Key::parse("H"), None);
        // The tonic weighs most in its own profile.
        let profile = a_minor.profile();
        assert_eq!(profile[9], MINOR[0]);
    }

    #[test]
    fn finds_c_major_and_a_minor() {
        let c_major =
            estimate_key(&scale(&[60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])).expect("key");
        assert_eq!(
            c_major,
            Key {
                tonic: 0,
                mode: Mode::Major
            }
        );
        let a_minor =
            estimate_key(&scale(&[57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57])).expect("key");
        assert_eq!(
            a_minor,
            Key {
                tonic: 9,
                mode: Mode::Minor
            }
        );
        assert_eq!(estimate_key(&Score::new("e", 4)), None);
    }
}
