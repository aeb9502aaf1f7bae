//! Part-writing faults a candidate note would make, for samplers that weigh them: parallel
//! (or consecutive) fifths and octaves between any two voices, voice crossings between
//! neighbouring voices, and soprano–alto or alto–tenor more than an octave apart.
//!
//! The faults are counted exactly as [`crate::music::harmony`] measures them — on the 8th-note
//! slices of a 16th grid, a pair of voices "moving" when both change pitch from one slice to
//! the next — so that a sampler penalising them aims at the figures it is judged by.

use crate::data::{HOLD, PitchRange, REST};
use crate::music::harmony::{SLICE, parallel_perfect, spaced_too_wide};
/// Steps past a note's start after which a held note is no longer checked: a long note's
/// later slices are the next onset's business.
const REACH: usize = 16;

/// The pitch voice `tokens` sounds at step `t` (holds resolved back to their note).
fn sounding(tokens: &[usize], range: &PitchRange, t: usize) -> Option<u8> {
    let mut s = t;
    loop {
        match tokens[s] {
            HOLD if s > 0 => s -= 1,
            HOLD | REST => return None,
            token => return range.pitch(token),
        }
    }
}

/// Faults among four sounding pitches (soprano first) of one slice and its predecessor that
/// involve voice `v`.
fn faults_at(v: usize, before: Option<[u8; 4]>, now: [u8; 4]) -> u32 {
    let mut faults = 0;
    // A crossing with the voice above or below.
    if v > 0 && now[v] > now[v - 1] {
        faults += 1;
    }
    if v < 3 && now[v + 1] > now[v] {
        faults += 1;
    }
    // Spacing: soprano–alto and alto–tenor within an octave.
    for upper in [0, 1] {
        if (upper == v || upper + 1 == v) && spaced_too_wide(now, upper) {
            faults += 1;
        }
    }
    if let Some(before) = before {
        for w in (0..4).filter(|&w| w != v) {
            faults += u32::from(parallel_perfect(before, now, v.min(w), v.max(w)));
        }
    }
    faults
}

/// For each token of voice `v`'s vocabulary, the part-writing faults voice `v` would make with
/// the other voices on the slices around step `t` if its cell `t` held that token (the other
/// cells as they are in `voices`). Only differences between tokens matter to a sampler: faults
/// that no choice at `t` can change are counted for every token alike.
pub fn faults_by_token(
    voices: &[Vec<usize>; 4],
    ranges: &[PitchRange; 4],
    v: usize,
    t: usize,
) -> Vec<u32> {
    let steps = voices[v].len();
    // The slices a token at t can change: from the one before t to the one after the note
    // (or rest) that starts at t ends, within REACH.
    let next_onset = (t + 1..steps.min(t + REACH))
        .find(|&s| voices[v][s] != HOLD)
        .unwrap_or(steps.min(t + REACH));
    let first = (t / SLICE).saturating_sub(1) * SLICE;
    let last = (next_onset + SLICE).min(steps);
    let slices: Vec<usize> = (first..last).step_by(SLICE).collect();
    let others: Vec<[Option<u8>; 4]> = slices
        .iter()
        .map(|&s| std::array::from_fn(|w| sounding(&voices[w], &ranges[w], s)))
        .collect();
    let previous = t
        .checked_sub(1)
        .and_then(|p| sounding(&voices[v], &ranges[v], p));
    let vocab = ranges[v].vocab_size();
    (0..vocab)
        .map(|token| {
            // The pitch voice v sounds from t up to its next onset with this token at t.
            let from_t = match token {
                HOLD => previous,
                REST => None,
                _ => ranges[v].pitch(token),
            };
            let mut before: Option<[u8; 4]> = None;
            let mut faults = 0;
            for (&s, around) in slices.iter().zip(&others) {
                let mut pitches = *around;
                if (t..next_onset).contains(&s) {
                    pitches[v] = from_t;
                }
                match pitches {
                    [Some(soprano), Some(alto), Some(tenor), Some(bass)] => {
                        let now = [soprano, alto, tenor, bass];
                        faults += faults_at(v, before, now);
                        before = Some(now);
                    }
                    _ => before = None,
                }
            }
            faults
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges() -> [PitchRange; 4] {
        [
            PitchRange { low: 60, high: 81 },
            PitchRange { low: 53, high: 74 },
            PitchRange { low: 48, high: 69 },
            PitchRange { low: 36, high: 62 },
        ]
    }

    /// Tokens of whole-8th notes (two 16th steps each) at these pitches.
    fn voice(range: &PitchRange, pitches: &[u8]) -> Vec<usize> {
        pitches
            .iter()
            .flat_map(|&p| [range.token(p), HOLD])
            .collect()
    }

    #[test]
    fn a_parallel_fifth_costs_the_note_that_makes_it() {
        let r = ranges();
        // C major to D minor, the upper voices moving up a step: soprano C5→D5, alto G4→A4,
        // tenor E4→F4; the bass chooses its second note.
        let voices = [
            voice(&r[0], &[72, 74]),
            voice(&r[1], &[67, 69]),
            voice(&r[2], &[64, 65]),
            voice(&r[3], &[48, 50]),
        ];
        let faults = faults_by_token(&voices, &r, 3, 2);
        let token = |p: u8| r[3].token(p);
        // D3: octave with the soprano (C/C → D/D) and fifth with the alto (C/G → D/A).
        assert_eq!(faults[token(50)], 2);
        // F3 (contrary to nothing, a third under the alto's A): no fault.
        assert_eq!(faults[token(53)], 0);
        // Holding C3 under the moving voices: no parallel.
        assert_eq!(faults[HOLD], 0);
    }

    #[test]
    fn a_crossing_and_a_wide_gap_are_counted() {
        let r = ranges();
        let voices = [
            voice(&r[0], &[72, 72]),
            voice(&r[1], &[67, 67]),
            voice(&r[2], &[64, 64]),
            voice(&r[3], &[48, 48]),
        ];
        let token = |p: u8| r[1].token(p);
        let faults = faults_by_token(&voices, &r, 1, 2);
        // The alto on D5, above the soprano's C5: one crossing.
        assert_eq!(faults[token(74)], 1);
        // The alto on F3: under the tenor's E4, and more than an octave under the soprano.
        assert_eq!(faults[token(53)], 2);
        // The alto on E4, in unison with the tenor: no fault.
        assert_eq!(faults[token(64)], 0);
    }
}
