//! Part-writing measures of four-voice music (soprano, alto, tenor, bass) on the 16th grid,
//! taken on every beat (quarter note): the share of beats whose voices form a recognised chord,
//! parallel fifths and octaves, voice crossings, and notes outside each voice's usual range.
//! These are what a musician checks first in a chorale harmonization.

use super::GridNote;

/// Steps per beat (quarter note) on the 16th grid.
const BEAT: usize = 4;

/// Usual ranges of soprano, alto, tenor and bass (MIDI pitches, as in harmony textbooks:
/// C4–G5, G3–D5, C3–G4, E2–C4).
pub const VOICE_RANGES: [(u8, u8); 4] = [(60, 79), (55, 74), (48, 67), (40, 60)];

/// Triads (major, minor, diminished, augmented) and sevenths (dominant, major, minor,
/// half-diminished, diminished) as intervals above the root.
const CHORDS: [&[u8]; 9] = [
    &[0, 4, 7],
    &[0, 3, 7],
    &[0, 3, 6],
    &[0, 4, 8],
    &[0, 4, 7, 10],
    &[0, 4, 7, 11],
    &[0, 3, 7, 10],
    &[0, 3, 6, 10],
    &[0, 3, 6, 9],
];

/// The measures of a set of four-voice excerpts.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Harmony {
    /// Beats where all four voices sound.
    pub beats: usize,
    /// Share of those beats whose pitch classes form a triad or seventh chord (at least three
    /// of its tones, or root and third alone).
    pub chord_rate: f64,
    /// Parallel fifths per 100 beats (two voices a fifth apart on consecutive beats, both moving).
    pub parallel_fifths: f64,
    /// Parallel octaves and unisons per 100 beats.
    pub parallel_octaves: f64,
    /// Voice crossings per 100 beats (a lower voice above the one over it).
    pub crossings: f64,
    /// Share of notes outside their voice's usual range.
    pub out_of_range: f64,
    /// The measures of the issue-24 check, on the 8th-note grid: slices (every 8th note)
    /// where all four voices sound.
    #[serde(default)]
    pub slices: usize,
    /// Share of those slices that are triads or seventh chords ([`is_chord`]).
    #[serde(default)]
    pub slice_chord_rate: f64,
    /// Parallel fifths and octaves (and unisons) per 100 pairs of voices that both move from
    /// one full slice to the next.
    #[serde(default)]
    pub parallels_per_100_moving: f64,
    /// Share of slices with a voice crossing (a lower voice above the one over it).
    #[serde(default)]
    pub crossing_share: f64,
    /// Share of slices with soprano–alto or alto–tenor more than an octave apart.
    #[serde(default)]
    pub spacing_share: f64,
    /// Hidden (direct) fifths and octaves into the outer voices per 100 slice changes where
    /// soprano and bass both move: the two move the same way into a fifth or an octave they
    /// did not already form, and the soprano leaps (more than a whole tone) to get there —
    /// the textbook rule, which lets a soprano step into one.
    #[serde(default)]
    pub hidden_per_100_outer: f64,
    /// Per voice (S, A, T, B): lowest and highest pitch written.
    #[serde(default)]
    pub ranges: [(u8, u8); 4],
    /// Per voice: share of notes that repeat the pitch of the note before (a repeated note,
    /// not a held one: a hold is one note).
    #[serde(default)]
    pub repeated_share: [f64; 4],
    /// Per voice: share of moves from one note to the next larger than an octave.
    #[serde(default)]
    pub wide_leap_share: [f64; 4],
}

/// True when the pitch classes form (part of) a recognised chord.
pub fn is_chord(pitches: &[u8]) -> bool {
    let mut classes: Vec<u8> = pitches.iter().map(|p| p % 12).collect();
    classes.sort_unstable();
    classes.dedup();
    (0..12u8).any(|root| {
        CHORDS.iter().any(|chord| {
            let tones: Vec<u8> = chord.iter().map(|i| (root + i) % 12).collect();
            let inside = classes.iter().all(|c| tones.contains(c));
            let third = tones[1];
            inside && (classes.len() >= 3 || (classes.contains(&root) && classes.contains(&third)))
        })
    })
}

/// The pitch each voice sounds at `step`, if any.
fn sounding(voice: &[GridNote], step: usize) -> Option<u8> {
    voice
        .iter()
        .find(|n| (n.start as usize..n.start as usize + n.duration as usize).contains(&step))
        .map(|n| n.pitch)
}

/// Adds up the measures over excerpts of four voices (S, A, T, B), each `steps` long.
pub fn measure<'a>(excerpts: impl IntoIterator<Item = (&'a [Vec<GridNote>; 4], usize)>) -> Harmony {
    let excerpts_for_slices: Vec<(&[Vec<GridNote>; 4], usize)> = excerpts.into_iter().collect();
    let excerpts = excerpts_for_slices.iter().copied();
    let (mut beats, mut chords, mut fifths, mut octaves, mut crossings) = (0, 0, 0, 0, 0);
    let (mut notes, mut outside) = (0usize, 0usize);
    for (voices, steps) in excerpts {
        for (v, voice) in voices.iter().enumerate() {
            let (low, high) = VOICE_RANGES[v];
            notes += voice.len();
            outside += voice
                .iter()
                .filter(|n| n.pitch < low || n.pitch > high)
                .count();
        }
        let mut previous: Option<[u8; 4]> = None;
        for step in (0..steps).step_by(BEAT) {
            let pitches: Vec<Option<u8>> = voices.iter().map(|v| sounding(v, step)).collect();
            let Some(now) = pitches.iter().copied().collect::<Option<Vec<u8>>>() else {
                previous = None;
                continue;
            };
            let now = [now[0], now[1], now[2], now[3]];
            beats += 1;
            chords += usize::from(is_chord(&now));
            crossings += (0..3).filter(|&v| now[v + 1] > now[v]).count();
            if let Some(before) = previous {
                for upper in 0..4 {
                    for lower in upper + 1..4 {
                        let moved = now[upper] != before[upper] && now[lower] != before[lower];
                        let interval =
                            |p: [u8; 4]| (i16::from(p[upper]) - i16::from(p[lower])).rem_euclid(12);
                        if moved && interval(now) == interval(before) {
                            match interval(now) {
                                7 => fifths += 1,
                                0 => octaves += 1,
                                _ => {}
                            }
                        }
                    }
                }
            }
            previous = Some(now);
        }
    }
    let slices = slice_measures(excerpts_for_slices.iter().map(|(v, n)| (*v, *n)));
    let lines = line_measures(excerpts_for_slices.iter().map(|(v, _)| *v));
    let per_100 = |n: usize| {
        if beats == 0 {
            0.0
        } else {
            100.0 * n as f64 / beats as f64
        }
    };
    Harmony {
        beats,
        chord_rate: if beats == 0 {
            0.0
        } else {
            chords as f64 / beats as f64
        },
        parallel_fifths: per_100(fifths),
        parallel_octaves: per_100(octaves),
        crossings: per_100(crossings),
        out_of_range: if notes == 0 {
            0.0
        } else {
            outside as f64 / notes as f64
        },
        ranges: lines.ranges,
        repeated_share: lines.repeated_share,
        wide_leap_share: lines.wide_leap_share,
        ..slices
    }
}

/// The per-voice measures of [`Harmony`] (ranges, repeated notes, leaps over an octave), read
/// from each voice's notes in order; its other fields left at zero.
fn line_measures<'a>(excerpts: impl IntoIterator<Item = &'a [Vec<GridNote>; 4]>) -> Harmony {
    let mut ranges = [(u8::MAX, 0u8); 4];
    let (mut moves, mut repeated, mut wide) = ([0usize; 4], [0usize; 4], [0usize; 4]);
    for voices in excerpts {
        for (v, voice) in voices.iter().enumerate() {
            for n in voice {
                ranges[v] = (ranges[v].0.min(n.pitch), ranges[v].1.max(n.pitch));
            }
            let mut ordered: Vec<&GridNote> = voice.iter().collect();
            ordered.sort_by_key(|n| n.start);
            for pair in ordered.windows(2) {
                let step = (i16::from(pair[1].pitch) - i16::from(pair[0].pitch)).abs();
                moves[v] += 1;
                repeated[v] += usize::from(step == 0);
                wide[v] += usize::from(step > 12);
            }
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    Harmony {
        ranges: ranges.map(|(low, high)| if low > high { (0, 0) } else { (low, high) }),
        repeated_share: std::array::from_fn(|v| share(repeated[v], moves[v])),
        wide_leap_share: std::array::from_fn(|v| share(wide[v], moves[v])),
        ..Harmony::default()
    }
}

/// Steps of the 16th grid per 8th-note slice.
pub const SLICE: usize = 2;

/// True when voices `upper` and `lower` (upper above) both move from `before` to `now` and
/// form the same fifth or octave (or unison) at both: parallel or consecutive perfect
/// intervals, as the slice measures count them.
pub fn parallel_perfect(before: [u8; 4], now: [u8; 4], upper: usize, lower: usize) -> bool {
    let moved = now[upper] != before[upper] && now[lower] != before[lower];
    let interval = |p: [u8; 4]| (i16::from(p[upper]) - i16::from(p[lower])).rem_euclid(12);
    moved && matches!(interval(now), 0 | 7) && interval(now) == interval(before)
}

/// True when voice `upper` (soprano 0, alto 1) lies more than an octave above the voice
/// under it: a spacing fault.
pub fn spaced_too_wide(now: [u8; 4], upper: usize) -> bool {
    now[upper] > now[upper + 1] + 12
}

/// The slice measures of [`Harmony`] (its other fields left at zero).
fn slice_measures<'a>(
    excerpts: impl IntoIterator<Item = (&'a [Vec<GridNote>; 4], usize)>,
) -> Harmony {
    let (mut slices, mut chords, mut crossing, mut spacing) = (0usize, 0usize, 0usize, 0usize);
    let (mut moving_pairs, mut parallels) = (0usize, 0usize);
    let (mut outer_moves, mut hidden) = (0usize, 0usize);
    for (voices, steps) in excerpts {
        let mut previous: Option<[u8; 4]> = None;
        for step in (0..steps).step_by(SLICE) {
            let pitches: Option<Vec<u8>> = voices.iter().map(|v| sounding(v, step)).collect();
            let Some(now) = pitches else {
                previous = None;
                continue;
            };
            let now = [now[0], now[1], now[2], now[3]];
            slices += 1;
            chords += usize::from(is_chord(&now));
            crossing += usize::from((0..3).any(|v| now[v + 1] > now[v]));
            spacing += usize::from(spaced_too_wide(now, 0) || spaced_too_wide(now, 1));
            if let Some(before) = previous {
                for upper in 0..4 {
                    for lower in upper + 1..4 {
                        if now[upper] == before[upper] || now[lower] == before[lower] {
                            continue;
                        }
                        moving_pairs += 1;
                        parallels += usize::from(parallel_perfect(before, now, upper, lower));
                    }
                }
                let (soprano, bass) = (
                    i16::from(now[0]) - i16::from(before[0]),
                    i16::from(now[3]) - i16::from(before[3]),
                );
                if soprano != 0 && bass != 0 {
                    outer_moves += 1;
                    let interval = |p: [u8; 4]| (i16::from(p[0]) - i16::from(p[3])).rem_euclid(12);
                    let into_perfect = matches!(interval(now), 0 | 7);
                    let similar = soprano.signum() == bass.signum();
                    hidden += usize::from(
                        into_perfect
                            && similar
                            && interval(before) != interval(now)
                            && soprano.abs() > 2,
                    );
                }
            }
            previous = Some(now);
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    Harmony {
        slices,
        slice_chord_rate: share(chords, slices),
        parallels_per_100_moving: 100.0 * share(parallels, moving_pairs),
        crossing_share: share(crossing, slices),
        spacing_share: share(spacing, slices),
        hidden_per_100_outer: 100.0 * share(hidden, outer_moves),
        ..Harmony::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(pitches: &[u8]) -> Vec<GridNote> {
        pitches
            .iter()
            .enumerate()
            .map(|(i, &pitch)| GridNote {
                pitch,
                start: (i * BEAT) as u32,
                duration: BEAT as u32,
                velocity: 80,
            })
            .collect()
    }

    #[test]
    fn chords_are_recognised() {
        assert!(is_chord(&[72, 64, 55, 48])); // C major
        assert!(is_chord(&[71, 65, 62, 55])); // G7
        assert!(is_chord(&[64, 60, 60, 48])); // C–E: root and third
        assert!(!is_chord(&[60, 61, 62, 48])); // a cluster
        assert!(!is_chord(&[67, 60, 60, 48])); // C–G: no third
    }

    #[test]
    fn parallels_and_crossings_are_counted() {
        // Soprano and bass move in parallel fifths (G/C → A/D); the alto crosses the soprano.
        let voices = [
            voice(&[67, 69]),
            voice(&[64, 72]),
            voice(&[60, 58]),
            voice(&[48, 50]),
        ];
        let h = measure([(&voices, 8)]);
        assert_eq!(h.beats, 2);
        assert_eq!(h.parallel_fifths, 50.0);
        assert_eq!(h.crossings, 50.0);
        assert_eq!(h.chord_rate, 0.5); // C major, then A–C–Bb–D is no chord
        assert_eq!(h.out_of_range, 0.0);
    }

    /// A hand-written progression whose answers are known: I–IV–V–I in C in quarter notes
    /// (eight 8th-note slices), with exactly one pair of parallel fifths (soprano and bass,
    /// C5/F3 → D5/G3, written on purpose) and the tenor above the alto on the last beat.
    #[test]
    fn the_slice_measures_count_what_was_written() {
        let voices = [
            voice(&[72, 72, 74, 72]), // soprano: C5 C5 D5 C5
            voice(&[64, 69, 67, 64]), // alto:    E4 A4 G4 E4
            voice(&[55, 57, 59, 67]), // tenor:   G3 A3 B3 G4 (above the alto at the end)
            voice(&[48, 53, 55, 48]), // bass:    C3 F3 G3 C3
        ];
        let h = measure([(&voices, 16)]);
        assert_eq!(h.slices, 8);
        assert_eq!(h.slice_chord_rate, 1.0, "I, IV, V, I");
        // Moving pairs: 3 (the soprano holds) + 6 + 6; one of them in parallel fifths.
        assert!(
            (h.parallels_per_100_moving - 100.0 / 15.0).abs() < 1e-9,
            "{h:?}"
        );
        assert!(
            (h.crossing_share - 2.0 / 8.0).abs() < 1e-9,
            "the last beat's two slices"
        );
        assert_eq!(
            h.spacing_share, 0.0,
            "alto–tenor A4/A3 is an octave, not more"
        );
    }

    /// Soprano E5 → G5 (a leap of a third) over bass C3 → C3 … G2: the outer voices move up
    /// together into an octave G5/G3 they did not form: one hidden octave. The same arrival
    /// by step (F5 → G5) is allowed and not counted.
    #[test]
    fn a_hidden_octave_reached_by_a_leap_is_counted_and_one_by_step_is_not() {
        let voices = |soprano: [u8; 2]| {
            [
                voice(&soprano),
                voice(&[67, 71]),
                voice(&[60, 62]),
                voice(&[48, 55]),
            ]
        };
        let leap = measure([(&voices([76, 79]), 8)]);
        assert_eq!(leap.hidden_per_100_outer, 100.0, "{leap:?}");
        let by_step = measure([(&voices([77, 79]), 8)]);
        assert_eq!(by_step.hidden_per_100_outer, 0.0, "{by_step:?}");
    }

    #[test]
    fn ranges_repeated_notes_and_wide_leaps_are_counted_per_voice() {
        let voices = [
            voice(&[72, 72, 74, 72]), // one repeat in three moves
            voice(&[64, 65, 67, 64]),
            voice(&[55, 57, 59, 55]),
            voice(&[48, 62, 48, 50]), // two leaps over an octave (14) in three moves
        ];
        let h = measure([(&voices, 16)]);
        assert_eq!(h.ranges, [(72, 74), (64, 67), (55, 59), (48, 62)]);
        assert!((h.repeated_share[0] - 1.0 / 3.0).abs() < 1e-9, "{h:?}");
        assert_eq!(h.repeated_share[1..], [0.0; 3]);
        assert!((h.wide_leap_share[3] - 2.0 / 3.0).abs() < 1e-9, "{h:?}");
        assert_eq!(h.wide_leap_share[..3], [0.0; 3]);
    }

    #[test]
    fn a_wide_gap_between_soprano_and_alto_is_a_spacing_fault() {
        let voices = [voice(&[79]), voice(&[60]), voice(&[55]), voice(&[48])];
        let h = measure([(&voices, 4)]);
        assert_eq!((h.slices, h.spacing_share, h.crossing_share), (2, 1.0, 0.0));
    }
}
