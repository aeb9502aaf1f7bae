//! Predictive measures on held-out music: negative log-likelihood per step, step accuracy, and
//! onset accuracy — accuracy on the steps whose true token starts a note, which a model that
//! always says HOLD cannot game (it scores 0 there).

use crate::data::{HOLD, REST};

/// Predictive measures of one model (or baseline) on one set of held-out steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Predictive {
    /// Mean negative log-likelihood of the true token, in nats per step.
    pub nll_per_step: f64,
    /// Share of steps whose most likely token is the true one.
    pub accuracy: f64,
    /// The same on steps whose true token is a pitch (starts a note).
    pub onset_accuracy: f64,
    /// Steps that start a note.
    pub onset_count: usize,
    /// Steps measured.
    pub steps: usize,
}

/// Sums the measures step by step.
#[derive(Clone, Debug, Default)]
pub struct PredictiveSum {
    nll: f64,
    correct: usize,
    onset_correct: usize,
    onsets: usize,
    steps: usize,
}

impl PredictiveSum {
    /// Adds one step: the model's log-probabilities (any normalisation: they are normalised
    /// here, so logits do) and the true token.
    pub fn add_logits(&mut self, logits: &[f32], target: usize) {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_total = f64::from(max)
            + logits
                .iter()
                .map(|&l| f64::from(l - max).exp())
                .sum::<f64>()
                .ln();
        let log_p = logits
            .get(target)
            .map_or(f64::NEG_INFINITY, |&l| f64::from(l) - log_total);
        self.add(log_p, crate::models::argmax(logits), target);
    }

    /// Adds one step given probabilities.
    pub fn add_probs(&mut self, probs: &[f64], target: usize) {
        let best = probs
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, &p)| {
                    if p > b.1 { (i, p) } else { b }
                },
            )
            .0;
        let p = probs.get(target).copied().unwrap_or(0.0);
        self.add(p.max(1e-300).ln(), best, target);
    }

    fn add(&mut self, log_p: f64, predicted: usize, target: usize) {
        // A probability of exactly zero would make the mean infinite; count it as 1e-30
        // (69 nats), which still ranks such a model far below any smoothed baseline.
        self.nll -= log_p.max(-69.0);
        self.steps += 1;
        let correct = predicted == target;
        self.correct += usize::from(correct);
        if is_onset(target) {
            self.onsets += 1;
            self.onset_correct += usize::from(correct);
        }
    }

    /// Adds another sum (a second voice, say).
    pub fn merge(&mut self, other: &Self) {
        self.nll += other.nll;
        self.correct += other.correct;
        self.onset_correct += other.onset_correct;
        self.onsets += other.onsets;
        self.steps += other.steps;
    }

    /// The means.
    pub fn finish(&self) -> Predictive {
        let per = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        Predictive {
            nll_per_step: if self.steps == 0 {
                0.0
            } else {
                self.nll / self.steps as f64
            },
            accuracy: per(self.correct, self.steps),
            onset_accuracy: per(self.onset_correct, self.onsets),
            onset_count: self.onsets,
            steps: self.steps,
        }
    }
}

/// True when a token starts a note (neither rest nor hold).
pub fn is_onset(token: usize) -> bool {
    token != REST && token != HOLD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_hold_scores_zero_on_onsets() {
        let truth = [5, HOLD, HOLD, HOLD, 7, HOLD, REST, HOLD];
        let mut sum = PredictiveSum::default();
        for &t in &truth {
            let mut logits = vec![0.0f32; 10];
            logits[HOLD] = 5.0;
            sum.add_logits(&logits, t);
        }
        let p = sum.finish();
        assert_eq!(p.accuracy, 5.0 / 8.0);
        assert_eq!(p.onset_accuracy, 0.0);
        assert_eq!(p.onset_count, 2);
        assert!(p.nll_per_step > 0.0);
    }

    #[test]
    fn logits_and_probabilities_agree() {
        let logits = [1.0f32, 2.0, 0.5];
        let total: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        let probs: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp() / total).collect();
        let (mut a, mut b) = (PredictiveSum::default(), PredictiveSum::default());
        a.add_logits(&logits, 2);
        b.add_probs(&probs, 2);
        assert!((a.finish().nll_per_step - b.finish().nll_per_step).abs() < 1e-6);
        assert!((a.finish().nll_per_step + probs[2].ln()).abs() < 1e-6);
    }
}
