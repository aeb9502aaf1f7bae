//! The music-theory rules of RL-Tuner (Jaques et al. 2017, magenta's rl_tuner): how a melody of
//! 16th-note tokens is judged note by note — in the key, starting on the tonic, not repeating a
//! note excessively, motifs and repeated motifs, preferred intervals, leaps resolved, a unique
//! highest and lowest note, low autocorrelation — and the statistics of their Table 1 over many
//! compositions. The same judgement gives the reward r_MT a tuner is trained with and the
//! statistics `muselab evaluate` reports, so what is rewarded is what is measured.
//!
//! Our tokens map onto the reference's: rest ↔ note-off, hold ↔ no-event, pitch ↔ note-on.
//! Deviations: the key is each composition's own (estimated from its notes, Krumhansl–Kessler),
//! not always C major; "starts with the tonic" accepts the tonic in any octave.

use crate::data::PitchRange;
use crate::data::encoding::{HOLD, REST};
use crate::music::key::{Key, Mode};

/// Steps per bar in the motif rules (the reference's bar of 8 sixteenths).
pub const MOTIF_BAR: usize = 8;
/// Steps a composition has in the reference's statistics (two bars of 16ths).
pub const COMPOSITION_STEPS: usize = 32;
/// Steps that must pass before leaping back resolves a leap.
const STEPS_BETWEEN_LEAPS: usize = 6;

/// What a leap did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leap {
    /// No leap, or one not yet answered.
    None,
    /// A leap answered in the other direction (or gradually).
    Resolved,
    /// A second leap in the same direction.
    Doubled,
}

/// The melodic interval from the previous note, as the reference classifies it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interval {
    /// No previous note, or nothing worth judging.
    Nothing,
    /// A rest after a note (after the tonic or fifth: `true`).
    Rest(bool),
    /// A held note (after the tonic or fifth: `true`).
    Hold(bool),
    /// A step of this many semitones (0 = the same pitch again), and whether it is a third
    /// or fifth from the key's tonic (or third) degree.
    Semitones(u8, bool),
}

/// How one token was judged against what came before.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// A pitch outside the key (rests and holds are in key).
    pub out_of_key: bool,
    /// The first step, and it is the tonic.
    pub tonic_start: bool,
    /// The step is the first of the last bar (4 steps from the end in the reference) and it
    /// is the tonic.
    pub tonic_final: bool,
    /// The note repeats the ones before it excessively.
    pub excessive_repeat: bool,
    /// The last bar of 8 steps (this one included) holds a motif: distinct pitches in it (0 if
    /// fewer than 3).
    pub motif: usize,
    /// That motif occurred earlier, note for note: its distinct pitches (0 if not).
    pub repeated_motif: usize,
    /// The interval from the previous note.
    pub interval: Interval,
    /// What the step did to a leap.
    pub leap: Leap,
}

/// A melody being judged note by note (the reference's composition state).
#[derive(Clone, Debug)]
pub struct Composition {
    tokens: Vec<usize>,
    range: PitchRange,
    key: Key,
    length: usize,
    direction: i8,
    leapt_from: Option<usize>,
    steps_since_leap: usize,
}

impl Composition {
    /// An empty composition of `length` steps over `range`, judged in `key`.
    pub fn new(range: PitchRange, key: Key, length: usize) -> Self {
        Self {
            tokens: Vec::with_capacity(length),
            range,
            key,
            length,
            direction: 0,
            leapt_from: None,
            steps_since_leap: 0,
        }
    }

    /// The tokens so far.
    pub fn tokens(&self) -> &[usize] {
        &self.tokens
    }

    fn pitch_class(&self, token: usize) -> Option<u8> {
        self.range.pitch(token).map(|p| p % 12)
    }

    fn degree(&self, token: usize) -> Option<u8> {
        self.pitch_class(token)
            .map(|pc| (pc + 12 - self.key.tonic % 12) % 12)
    }

    /// Judges `token` as the next step, then appends it.
    pub fn push(&mut self, token: usize) -> Judgement {
        let step = self.tokens.len();
        let scale: [u8; 7] = match self.key.mode {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 11],
        };
        let degree = self.degree(token);
        let is_tonic = degree == Some(0);
        let final_bar = self.length.saturating_sub(4);
        let interval = self.interval(token);
        let judgement = Judgement {
            out_of_key: degree.is_some_and(|d| !scale.contains(&d)),
            tonic_start: step == 0 && is_tonic,
            tonic_final: step == final_bar && is_tonic,
            excessive_repeat: self.repeats(token),
            motif: self.motif(token),
            repeated_motif: self.repeated_motif(token),
            interval,
            leap: self.leap(token, interval),
        };
        self.tokens.push(token);
        judgement
    }

    /// The reference's `detect_repeating_notes`.
    fn repeats(&self, token: usize) -> bool {
        let (mut repeated, mut held, mut breaks) = (0, false, false);
        for &t in self.tokens.iter().rev() {
            if t == token {
                repeated += 1;
            } else if t == REST {
                breaks = true;
            } else if t == HOLD {
                held = true;
            } else {
                break;
            }
        }
        if token == REST && repeated > 1 {
            return true;
        }
        if !held && !breaks {
            repeated > 4
        } else {
            repeated > 6
        }
    }

    /// Distinct pitches of the last bar with `token` appended (0 if fewer than 3).
    fn motif(&self, token: usize) -> usize {
        let bar = self.last_bar(token);
        motif_notes(&bar)
    }

    fn last_bar(&self, token: usize) -> Vec<usize> {
        let mut all: Vec<usize> = self.tokens.clone();
        all.push(token);
        let from = all.len().saturating_sub(MOTIF_BAR);
        if all.len() < MOTIF_BAR {
            return Vec::new();
        }
        all[from..].to_vec()
    }

    /// The reference's `detect_repeated_motif`: the last bar's motif found earlier.
    fn repeated_motif(&self, token: usize) -> usize {
        let bar = self.last_bar(token);
        let notes = motif_notes(&bar);
        if notes == 0 {
            return 0;
        }
        let earlier = &self.tokens[..self.tokens.len().saturating_sub(MOTIF_BAR - 1)];
        if earlier.windows(MOTIF_BAR).any(|w| w == bar.as_slice()) {
            notes
        } else {
            0
        }
    }

    /// The reference's `detect_sequential_interval`.
    fn interval(&self, token: usize) -> Interval {
        let Some(&previous) = self.tokens.iter().rev().find(|&&t| t != REST && t != HOLD) else {
            return Interval::Nothing;
        };
        if self.tokens.is_empty() {
            return Interval::Nothing;
        }
        let anchor = matches!(self.degree(previous), Some(0) | Some(7));
        match token {
            HOLD => Interval::Hold(anchor),
            REST => Interval::Rest(anchor),
            _ => {
                let (Some(a), Some(b)) = (self.range.pitch(token), self.range.pitch(previous))
                else {
                    return Interval::Nothing;
                };
                let semitones = a.abs_diff(b);
                let from = self.degree(previous);
                let in_key = (semitones == 7 && matches!(from, Some(0) | Some(7)))
                    || (semitones == 4 && matches!(from, Some(0) | Some(4)));
                Interval::Semitones(semitones, in_key)
            }
        }
    }

    /// The reference's `detect_leap_up_back` (it keeps the leap's state).
    fn leap(&mut self, token: usize, interval: Interval) -> Leap {
        if self.tokens.is_empty() {
            return Leap::None;
        }
        let Interval::Semitones(semitones, _) = interval else {
            self.steps_since_leap += 1;
            return Leap::None;
        };
        let previous = self
            .tokens
            .iter()
            .rev()
            .find(|&&t| t != REST && t != HOLD)
            .copied()
            .unwrap_or(token);
        let mut outcome = Leap::None;
        if semitones >= 7 {
            let direction = if token > previous { 1 } else { -1 };
            if self.direction != 0 {
                if self.direction != direction {
                    if self.steps_since_leap > STEPS_BETWEEN_LEAPS {
                        outcome = Leap::Resolved;
                    }
                    self.direction = 0;
                    self.leapt_from = None;
                } else {
                    outcome = Leap::Doubled;
                }
            } else {
                self.direction = direction;
                self.leapt_from = Some(previous);
            }
            self.steps_since_leap = 0;
        } else {
            self.steps_since_leap += 1;
            if let Some(from) = self.leapt_from
                && ((self.direction == 1 && token <= from)
                    || (self.direction == -1 && token >= from))
            {
                outcome = Leap::Resolved;
                self.direction = 0;
                self.leapt_from = None;
            }
        }
        outcome
    }
}

/// Weights of the rules in the reward (1 = the reference's amounts, 0 = the rule is off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleWeights {
    /// Pitch outside the key: −1.
    pub key: f64,
    /// Tonic on the first step and the last bar's first step, then the final note held: +3.
    pub tonic: f64,
    /// Excessive repetition: −100.
    pub repetition: f64,
    /// Autocorrelation above 0.15 at lags 1–3: −3 · |coefficient| each.
    pub autocorrelation: f64,
    /// A motif in the last bar: +3 (+0.3 per pitch beyond 3).
    pub motif: f64,
    /// A repeated motif: +4 (+1 per pitch beyond 3).
    pub repeated_motif: f64,
    /// Preferred intervals (thirds and fifths in key, steps; sevenths and leaps over an
    /// octave punished): the reference's table × 5.
    pub intervals: f64,
    /// A leap resolved: +5; two leaps the same way: −5.
    pub leaps: f64,
    /// At the last step, a unique highest and a unique lowest note: +3 each.
    pub unique: f64,
}

impl Default for RuleWeights {
    fn default() -> Self {
        Self {
            key: 1.0,
            tonic: 1.0,
            repetition: 1.0,
            autocorrelation: 1.0,
            motif: 1.0,
            repeated_motif: 1.0,
            intervals: 1.0,
            leaps: 1.0,
            unique: 1.0,
        }
    }
}

/// The reference's r_MT for the step just judged: `composition` holds the tokens up to and
/// including it, `j` its judgement.
pub fn music_theory_reward(composition: &Composition, j: &Judgement, w: &RuleWeights) -> f64 {
    let tokens = composition.tokens();
    let step = tokens.len().saturating_sub(1);
    let token = tokens.last().copied().unwrap_or(REST);
    let final_bar = composition.length.saturating_sub(4);
    let mut reward = 0.0;
    if j.out_of_key {
        reward -= w.key;
    }
    let tonic = j.tonic_start
        || j.tonic_final
        || (step == final_bar + 1 && token == HOLD)
        || (step > final_bar + 1 && (token == HOLD || token == REST));
    if tonic {
        reward += 3.0 * w.tonic;
    }
    if j.excessive_repeat {
        reward -= 100.0 * w.repetition;
    }
    for lag in 1..=3 {
        let r = autocorrelation(tokens, lag);
        if r.is_finite() && r.abs() > 0.15 {
            reward -= 3.0 * r.abs() * w.autocorrelation;
        }
    }
    if j.motif > 0 {
        reward += (3.0 + ((j.motif as f64 - 3.0) * 0.3).max(0.0)) * w.motif;
    }
    if j.repeated_motif > 0 {
        reward += (4.0 + (j.repeated_motif as f64 - 3.0).max(0.0)) * w.repeated_motif;
    }
    let interval = match j.interval {
        Interval::Nothing => 0.0,
        Interval::Rest(false) => 0.05,
        Interval::Hold(false) => 0.075,
        Interval::Rest(true) => 0.15,
        Interval::Hold(true) => 0.3,
        Interval::Semitones(_, true) if matches!(j.interval, Interval::Semitones(7, _)) => 0.1,
        Interval::Semitones(_, true) => 0.15,
        Interval::Semitones(s, false) => match s {
            s if s > 12 => -1.0,
            11 => -0.3,
            4 => 0.09,
            2 => 0.08,
            5 => 0.07,
            9 => 0.05,
            7 => 0.02,
            _ => 0.0,
        },
    };
    reward += 5.0 * interval * w.intervals;
    reward += match j.leap {
        Leap::Resolved => 5.0 * w.leaps,
        Leap::Doubled => -5.0 * w.leaps,
        Leap::None => 0.0,
    };
    if tokens.len() == composition.length {
        let max = tokens.iter().max().copied().unwrap_or(0);
        if tokens.iter().filter(|&&t| t == max).count() == 1 {
            reward += 3.0 * w.unique;
        }
        if let Some(min) = tokens.iter().filter(|&&t| t != REST && t != HOLD).min()
            && tokens.iter().filter(|&t| t == min).count() == 1
        {
            reward += 3.0 * w.unique;
        }
    }
    reward
}

/// Distinct pitches among a bar's tokens, if at least 3 (else 0).
fn motif_notes(bar: &[usize]) -> usize {
    let mut pitches: Vec<usize> = bar
        .iter()
        .copied()
        .filter(|&t| t != REST && t != HOLD)
        .collect();
    pitches.sort_unstable();
    pitches.dedup();
    if pitches.len() >= 3 { pitches.len() } else { 0 }
}

/// The reference's autocorrelation coefficient of a token sequence at `lag` (NaN for a
/// constant sequence).
pub fn autocorrelation(tokens: &[usize], lag: usize) -> f64 {
    let n = tokens.len();
    if n <= lag {
        return f64::NAN;
    }
    let mean = tokens.iter().sum::<usize>() as f64 / n as f64;
    let x: Vec<f64> = tokens.iter().map(|&t| t as f64 - mean).collect();
    let variance = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
    let sum: f64 = (lag..n).map(|i| x[i] * x[i - lag]).sum();
    sum / n as f64 / variance
}

/// The key a melody's tokens are in (Krumhansl–Kessler on their sounding steps), C major if
/// they have no pitch.
pub fn key_of(tokens: &[usize], range: &PitchRange) -> Key {
    let mut profile = [0.0f64; 12];
    let mut current = None;
    for &t in tokens {
        match t {
            REST => current = None,
            HOLD => {}
            _ => current = range.pitch(t).map(|p| usize::from(p % 12)),
        }
        if let Some(pc) = current {
            profile[pc] += 1.0;
        }
    }
    crate::music::key::key_of_profile(&profile).unwrap_or(Key {
        tonic: 0,
        mode: Mode::Major,
    })
}

/// The statistics of the reference's Table 1 over many compositions, as fractions.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleStats {
    /// Compositions judged.
    pub compositions: usize,
    /// Steps judged.
    pub notes: usize,
    /// Share of steps repeating a note excessively.
    pub excessively_repeated: f64,
    /// Share of steps with a pitch outside the key.
    pub not_in_key: f64,
    /// Mean autocorrelation of the tokens at lag 1.
    pub autocorrelation_lag1: f64,
    /// The same at lag 2.
    pub autocorrelation_lag2: f64,
    /// The same at lag 3.
    pub autocorrelation_lag3: f64,
    /// Share of compositions whose first step is the tonic.
    pub starts_with_tonic: f64,
    /// Share of leaps resolved (of those resolved or doubled).
    pub leaps_resolved: f64,
    /// Share of compositions whose highest token occurs once.
    pub unique_max: f64,
    /// Share of compositions whose lowest pitch occurs once.
    pub unique_min: f64,
    /// Share of steps inside a motif.
    pub in_motif: f64,
    /// Share of steps inside a repeated motif.
    pub in_repeated_motif: f64,
    /// RL-Tuner: mean log p(a|s) per step of the tuned network's compositions under the
    /// network it started from (how much of the data it keeps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_p_start: Option<f64>,
    /// RL-Tuner: the same for the starting network's own compositions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_p_start_own: Option<f64>,
}

/// Judges each composition (tokens over `range`, in its own key) and sums Table 1.
pub fn rule_stats(compositions: &[Vec<usize>], range: &PitchRange) -> RuleStats {
    let mut stats = RuleStats::default();
    let (mut resolved, mut doubled) = (0usize, 0usize);
    let mut lags = [(0.0, 0usize); 3];
    let mut counts = [0usize; 4]; // repeated, out of key, motif, repeated motif
    let mut per_piece = [0usize; 3]; // tonic start, unique max, unique min
    for tokens in compositions.iter().filter(|t| !t.is_empty()) {
        let mut composition = Composition::new(*range, key_of(tokens, range), tokens.len());
        for &t in tokens {
            let j = composition.push(t);
            counts[0] += usize::from(j.excessive_repeat);
            counts[1] += usize::from(j.out_of_key);
            counts[2] += usize::from(j.motif > 0);
            counts[3] += usize::from(j.repeated_motif > 0);
            per_piece[0] += usize::from(j.tonic_start);
            match j.leap {
                Leap::Resolved => resolved += 1,
                Leap::Doubled => doubled += 1,
                Leap::None => {}
            }
        }
        for (lag, slot) in lags.iter_mut().enumerate() {
            let r = autocorrelation(tokens, lag + 1);
            if r.is_finite() {
                slot.0 += r;
                slot.1 += 1;
            }
        }
        let max = tokens.iter().max().copied().unwrap_or(0);
        per_piece[1] += usize::from(tokens.iter().filter(|&&t| t == max).count() == 1);
        if let Some(min) = tokens.iter().filter(|&&t| t != REST && t != HOLD).min() {
            per_piece[2] += usize::from(tokens.iter().filter(|&t| t == min).count() == 1);
        }
        stats.compositions += 1;
        stats.notes += tokens.len();
    }
    let share = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    stats.excessively_repeated = share(counts[0], stats.notes);
    stats.not_in_key = share(counts[1], stats.notes);
    stats.in_motif = share(counts[2], stats.notes);
    stats.in_repeated_motif = share(counts[3], stats.notes);
    stats.starts_with_tonic = share(per_piece[0], stats.compositions);
    stats.unique_max = share(per_piece[1], stats.compositions);
    stats.unique_min = share(per_piece[2], stats.compositions);
    stats.leaps_resolved = share(resolved, resolved + doubled);
    let mean = |(sum, n): (f64, usize)| if n == 0 { f64::NAN } else { sum / n as f64 };
    stats.autocorrelation_lag1 = mean(lags[0]);
    stats.autocorrelation_lag2 = mean(lags[1]);
    stats.autocorrelation_lag3 = mean(lags[2]);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: PitchRange = PitchRange { low: 60, high: 84 };
    const C: Key = Key {
        tonic: 0,
        mode: Mode::Major,
    };

    fn t(pitch: u8) -> usize {
        RANGE.token(pitch)
    }

    #[test]
    fn repeated_notes_motifs_and_keys_are_judged_as_the_reference_does() {
        let mut c = Composition::new(RANGE, C, 32);
        let j: Vec<Judgement> = [60, 60, 60, 60, 60, 60]
            .iter()
            .map(|&p| c.push(t(p)))
            .collect();
        // The sixth C in a row (five before it) repeats excessively; the fifth does not.
        assert!(!j[4].excessive_repeat && j[5].excessive_repeat);
        assert!(j[0].tonic_start && !j[1].tonic_start);
        let mut c = Composition::new(RANGE, C, 32);
        assert!(c.push(t(61)).out_of_key);
        assert!(!c.push(REST).out_of_key);
        // A bar of 8 steps with C E G: a motif of 3; played again later: a repeated motif.
        let bar = [t(60), HOLD, t(64), HOLD, t(67), HOLD, HOLD, REST];
        let mut c = Composition::new(RANGE, C, 32);
        let first: Vec<Judgement> = bar.iter().map(|&x| c.push(x)).collect();
        assert_eq!(first[7].motif, 3);
        assert_eq!(first[7].repeated_motif, 0);
        let second: Vec<Judgement> = bar.iter().map(|&x| c.push(x)).collect();
        assert_eq!(second[7].repeated_motif, 3);
    }

    #[test]
    fn a_leap_back_after_six_steps_is_resolved_and_two_leaps_up_are_doubled() {
        let mut c = Composition::new(RANGE, C, 32);
        c.push(t(60));
        assert_eq!(c.push(t(67)).leap, Leap::None); // a leap up starts
        for _ in 0..7 {
            c.push(HOLD);
        }
        assert_eq!(c.push(t(60)).leap, Leap::Resolved); // leapt back after more than 6 steps
        let mut c = Composition::new(RANGE, C, 32);
        c.push(t(60));
        c.push(t(67));
        assert_eq!(c.push(t(74)).leap, Leap::Doubled);
        // Gradual resolution: stepping back down to where the leap started.
        let mut c = Composition::new(RANGE, C, 32);
        c.push(t(62));
        c.push(t(69));
        c.push(t(67));
        c.push(t(65));
        assert_eq!(c.push(t(62)).leap, Leap::Resolved);
    }

    #[test]
    fn table_statistics_of_known_melodies() {
        let scale: Vec<usize> = [60, 62, 64, 65, 67, 69, 71, 72]
            .iter()
            .flat_map(|&p| [t(p), HOLD, HOLD, HOLD])
            .collect();
        let drone = vec![t(61); 32];
        let stats = rule_stats(std::slice::from_ref(&scale), &RANGE);
        assert_eq!((stats.compositions, stats.notes), (1, 32));
        assert_eq!(stats.not_in_key, 0.0);
        assert_eq!(stats.starts_with_tonic, 1.0);
        assert_eq!((stats.unique_max, stats.unique_min), (1.0, 1.0));
        assert_eq!(stats.excessively_repeated, 0.0);
        // The drone: every step after the fifth repeats excessively, its key is C# (in key).
        let stats = rule_stats(&[drone], &RANGE);
        assert_eq!(stats.excessively_repeated, 27.0 / 32.0);
        assert!(stats.autocorrelation_lag1.is_nan());
        assert!(autocorrelation(&scale, 4) > autocorrelation(&scale, 2));
    }
}
