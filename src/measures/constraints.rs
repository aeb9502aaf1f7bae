//! Positional constraints on a melody (the Anticipation-RNN): which steps are pinned to which
//! token, the constraint sets `muselab evaluate` draws from held-out tunes, and how well a
//! written melody meets them.
//!
//! - **random**: each step pinned with probability p, p drawn per tune from U(0, 0.5) — as in
//!   training;
//! - **downbeats**: every bar's first step pinned to the tune's own token there;
//! - **cadence**: the last [`CADENCE_STEPS`] steps pinned (how the tune ends).
//!
//! A model that reads the pins can aim at them; one that does not (the baseline) meets them
//! only as often as its music happens to.

use std::collections::BTreeMap;

use rand::Rng;

use super::predictive::Predictive;

/// One pin per step: the token it must be, or free.
pub type Pins = Vec<Option<usize>>;

/// Steps pinned at a tune's end by the cadence set.
pub const CADENCE_STEPS: usize = 4;

/// Steps before a pin over which the anticipation curve is measured.
pub const ANTICIPATION_STEPS: usize = 8;

/// The constraint sets, by name.
pub const SETS: [&str; 3] = ["random", "downbeats", "cadence"];

/// Each step pinned to its own token with probability `p`.
pub fn random_pins(tokens: &[usize], p: f64, rng: &mut impl Rng) -> Pins {
    tokens
        .iter()
        .map(|&t| rng.random_bool(p.clamp(0.0, 1.0)).then_some(t))
        .collect()
}

/// The pins of the constraint set `name` on a tune (`positions`: each step's place in its bar).
pub fn pins_of(name: &str, tokens: &[usize], positions: &[usize], rng: &mut impl Rng) -> Pins {
    match name {
        "downbeats" => tokens
            .iter()
            .zip(positions)
            .map(|(&t, &position)| (position == 0).then_some(t))
            .collect(),
        "cadence" => {
            let from = tokens.len().saturating_sub(CADENCE_STEPS);
            tokens
                .iter()
                .enumerate()
                .map(|(i, &t)| (i >= from).then_some(t))
                .collect()
        }
        _ => {
            let p = rng.random_range(0.0..0.5);
            random_pins(tokens, p, rng)
        }
    }
}

/// (pins met, pins) of a written melody.
pub fn met(written: &[usize], pins: &Pins) -> (usize, usize) {
    pins.iter()
        .zip(written)
        .filter_map(|(pin, &w)| pin.map(|p| p == w))
        .fold((0, 0), |(met, all), ok| (met + usize::from(ok), all + 1))
}

/// How well one writer meets the pins.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Satisfaction {
    /// Share of pins met, per constraint set ([`SETS`]).
    pub rates: BTreeMap<String, f64>,
    /// Pins counted, per constraint set.
    pub pins: BTreeMap<String, usize>,
    /// Mean probability of a pinned pitch at the steps before its pin, from
    /// [`ANTICIPATION_STEPS`] steps before (first) to the pin itself (last), the tune's own
    /// notes fed in: a model that anticipates raises it before the pin.
    pub anticipation: Vec<f64>,
}

impl Satisfaction {
    /// Adds a set's count.
    pub fn add(&mut self, set: &str, (met, pins): (usize, usize)) {
        let (old_met, old_pins) = (
            self.rates.get(set).copied().unwrap_or(0.0)
                * self.pins.get(set).copied().unwrap_or(0) as f64,
            self.pins.get(set).copied().unwrap_or(0),
        );
        let all = old_pins + pins;
        self.pins.insert(set.into(), all);
        self.rates.insert(
            set.into(),
            if all == 0 {
                0.0
            } else {
                (old_met + met as f64) / all as f64
            },
        );
    }
}

/// The constraint measures of a melody model: for the Anticipation-RNN beside the same network
/// with the pins hidden from it; for the LSTM (which cannot read pins) its own free samples
/// judged against the same pins.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConstraintScores {
    /// The model, sampling freely (pins not forced).
    pub model: Satisfaction,
    /// The same network with every pin hidden (it reads "no constraint" everywhere): what the
    /// music meets by chance, the baseline that does not anticipate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blind: Option<Satisfaction>,
    /// Share of pins met with hard clamping (1 by construction; measured all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamped: Option<f64>,
    /// Next-token measures with the random pins shown (the steps' own tokens fed in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constrained_predictive: Option<Predictive>,
}

/// Steps of each held-out tune a writer writes when pins are measured.
pub const CUT: usize = 64;
/// Most held-out tunes measured.
pub const TUNES: usize = 64;

/// A tune: its tokens and each step's position in its bar.
pub type Tune = (Vec<usize>, Vec<usize>);

/// Pins met by a writer on the first [`CUT`] steps of (up to [`TUNES`]) held-out tunes under
/// each constraint set. `write(pins, positions, seed)` writes one melody per row. The pins are
/// drawn from `seed` alone, so two writers measured with one seed face the same pins.
pub fn measure(
    held: &[Tune],
    seed: u64,
    mut write: impl FnMut(&[Pins], &[Vec<usize>], u64) -> Vec<Vec<usize>>,
) -> Satisfaction {
    let tunes: Vec<&Tune> = held
        .iter()
        .filter(|(t, _)| t.len() >= CUT)
        .take(TUNES)
        .collect();
    let mut satisfaction = Satisfaction::default();
    for (k, set) in SETS.iter().enumerate() {
        let mut rng =
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed ^ (k as u64 + 1));
        let positions: Vec<Vec<usize>> = tunes.iter().map(|(_, p)| p[..CUT].to_vec()).collect();
        let pins: Vec<Pins> = tunes
            .iter()
            .zip(&positions)
            .map(|((t, _), p)| pins_of(set, &t[..CUT], p, &mut rng))
            .collect();
        let written = write(&pins, &positions, seed.wrapping_add(k as u64));
        for (w, p) in written.iter().zip(&pins) {
            satisfaction.add(set, met(w, p));
        }
    }
    satisfaction
}

/// Sums, per step before a pin, the probability a writer gave the pinned token.
#[derive(Clone, Debug, Default)]
pub struct AnticipationSum {
    sums: Vec<f64>,
    count: usize,
}

impl AnticipationSum {
    /// Adds the probabilities `probs[step][token]` of one tune under its `pins` (only pins of
    /// pitches, at least [`ANTICIPATION_STEPS`] steps in, and `is_pitch` says which tokens
    /// are pitches).
    pub fn add(&mut self, probs: &[Vec<f32>], pins: &Pins, is_pitch: impl Fn(usize) -> bool) {
        if self.sums.is_empty() {
            self.sums = vec![0.0; ANTICIPATION_STEPS + 1];
        }
        for (step, pin) in pins.iter().enumerate() {
            let Some(token) = pin.filter(|&t| is_pitch(t)) else {
                continue;
            };
            if step < ANTICIPATION_STEPS || step >= probs.len() {
                continue;
            }
            for k in 0..=ANTICIPATION_STEPS {
                let at = step - ANTICIPATION_STEPS + k;
                self.sums[k] += f64::from(probs[at].get(token).copied().unwrap_or(0.0));
            }
            self.count += 1;
        }
    }

    /// The mean curve.
    pub fn finish(&self) -> Vec<f64> {
        self.sums
            .iter()
            .map(|s| s / self.count.max(1) as f64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn constraint_sets_pin_what_they_say() {
        let tokens = vec![5, 1, 0, 7, 6, 1, 1, 9];
        let positions = vec![0, 1, 2, 3, 0, 1, 2, 3];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let down = pins_of("downbeats", &tokens, &positions, &mut rng);
        assert_eq!(
            down,
            vec![Some(5), None, None, None, Some(6), None, None, None]
        );
        let cadence = pins_of("cadence", &tokens, &positions, &mut rng);
        assert_eq!(cadence[..4], [None; 4]);
        assert_eq!(cadence[4..], [Some(6), Some(1), Some(1), Some(9)]);
        assert_eq!(met(&tokens, &cadence), (4, 4));
        assert_eq!(met(&[0; 8], &cadence), (0, 4));
        let all = random_pins(&tokens, 1.0, &mut rng);
        assert_eq!(met(&tokens, &all), (8, 8));
        let mut s = Satisfaction::default();
        s.add("random", (1, 4));
        s.add("random", (3, 4));
        assert_eq!((s.rates["random"], s.pins["random"]), (0.5, 8));
    }
}
