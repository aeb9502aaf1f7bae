//! What the benchmark measures, exactly:
//!
//! - **NLL per time step** (nats): −(1/T) Σ_t log p(v_t | v_<t) over every step of every test
//!   piece, each step weighted equally (pieces are not averaged first). The first step of a
//!   piece is scored too, from the model's state before any frame (u_{−1} = 0): the model's
//!   own distribution of opening frames. [`Tally::nll_after_first`] gives the figure without
//!   the first steps, as the TCN code reports it.
//! - **Frame accuracy** (Bay, Ehmann & Downie 2009): Σ TP / Σ (TP + FP + FN) summed over all
//!   test steps, each frame predicted from the true frames before it. The prediction is the
//!   model's most likely frame as far as it can be found in one pass: keys whose probability
//!   is at least ½ for the factorised models (Bernoulli); for the RBM and RNN-RBM, of the
//!   step's RBM's mean-field fixed points from its biases and from the true frame before
//!   (both thresholded at ½) and that frame itself, the one of lowest free energy (the
//!   frame-independent RBM starts from silence instead of the past); the NADE's greedy
//!   key-by-key mode from the lowest key (RNN-NADE). A step that is silent and predicted
//!   silent counts nothing.

use serde::{Deserialize, Serialize};

/// Sums over test steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Steps scored.
    pub steps: usize,
    /// Σ −log p over all steps.
    pub nll_sum: f64,
    /// Σ −log p over the first step of each piece.
    pub first_nll_sum: f64,
    /// Pieces (first steps).
    pub pieces: usize,
    /// True positives, false positives, false negatives over all keys of all steps.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
}

impl Tally {
    /// Adds one piece: its per-step −log p, its predicted and its true frames.
    pub fn add_piece(&mut self, nll: &[f64], predicted: &[Vec<f32>], truth: &[Vec<f32>]) {
        if nll.is_empty() {
            return;
        }
        self.pieces += 1;
        self.steps += nll.len();
        self.nll_sum += nll.iter().sum::<f64>();
        self.first_nll_sum += nll[0];
        for (p, t) in predicted.iter().zip(truth) {
            for (&p, &t) in p.iter().zip(t) {
                match (p >= 0.5, t >= 0.5) {
                    (true, true) => self.tp += 1,
                    (true, false) => self.fp += 1,
                    (false, true) => self.fn_ += 1,
                    (false, false) => {}
                }
            }
        }
    }

    /// NLL per step, every step counted.
    pub fn nll(&self) -> f64 {
        self.nll_sum / self.steps.max(1) as f64
    }

    /// NLL per step without the first step of each piece.
    pub fn nll_after_first(&self) -> f64 {
        (self.nll_sum - self.first_nll_sum) / (self.steps - self.pieces).max(1) as f64
    }

    /// Frame accuracy Σ TP / Σ (TP + FP + FN).
    pub fn accuracy(&self) -> f64 {
        let all = self.tp + self.fp + self.fn_;
        if all == 0 {
            0.0
        } else {
            self.tp as f64 / all as f64
        }
    }
}

/// A published figure: model, dataset, test NLL, test accuracy where given, source.
pub struct Published {
    /// The model's row (our model id where we have it).
    pub model: &'static str,
    /// The dataset (file stem).
    pub dataset: &'static str,
    /// Test NLL per step, nats.
    pub nll: f64,
    /// Frame accuracy (0–1) where the paper gives it.
    pub accuracy: Option<f64>,
    /// Where it is from.
    pub source: &'static str,
}

/// The figures of `../shared/data/benchmarks/README.md` (BL2012 Table 1, Bai et al. 2018).
pub const PUBLISHED: &[Published] = &[
    Published {
        model: "bernoulli",
        dataset: "JSB Chorales",
        nll: 11.06,
        accuracy: None,
        source: "per-key Bernoulli fitted on train, measured on these files (data README)",
    },
    Published {
        model: "bernoulli",
        dataset: "Nottingham",
        nll: 10.25,
        accuracy: None,
        source: "per-key Bernoulli fitted on train, measured on these files (data README)",
    },
    Published {
        model: "nade",
        dataset: "JSB Chorales",
        nll: 7.19,
        accuracy: None,
        source: "BL2012, quoted by Huang et al. 2017",
    },
    Published {
        model: "rnn-rbm",
        dataset: "JSB Chorales",
        nll: 6.27,
        accuracy: None,
        source: "BL2012 Table 1",
    },
    Published {
        model: "rnn-rbm",
        dataset: "Nottingham",
        nll: 2.39,
        accuracy: Some(0.754),
        source: "BL2012 Table 1",
    },
    Published {
        model: "rnn-nade",
        dataset: "JSB Chorales",
        nll: 5.56,
        accuracy: None,
        source: "BL2012 Table 1 (Hessian-free)",
    },
    Published {
        model: "rnn-nade",
        dataset: "Nottingham",
        nll: 2.31,
        accuracy: Some(0.715),
        source: "BL2012 Table 1 (Hessian-free)",
    },
    Published {
        model: "lstm",
        dataset: "JSB Chorales",
        nll: 8.45,
        accuracy: None,
        source: "Bai et al. 2018 (TCN) Table 1",
    },
    Published {
        model: "lstm",
        dataset: "Nottingham",
        nll: 3.29,
        accuracy: None,
        source: "Bai et al. 2018 (TCN) Table 1",
    },
];

/// The published figure for `model` on `dataset` (matched on the file stem, case and `_`
/// ignored), if any.
pub fn published(model: &str, dataset: &str) -> Option<&'static Published> {
    let norm = |s: &str| s.to_lowercase().replace(['_', ' '], "");
    PUBLISHED
        .iter()
        .find(|p| p.model == model && norm(p.dataset) == norm(dataset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_nll_count_every_step() {
        let mut t = Tally::default();
        t.add_piece(
            &[2.0, 1.0],
            &[vec![1.0, 0.0], vec![1.0, 1.0]],
            &[vec![1.0, 1.0], vec![0.0, 1.0]],
        );
        t.add_piece(&[4.0], &[vec![0.0, 0.0]], &[vec![0.0, 0.0]]);
        assert_eq!((t.tp, t.fp, t.fn_), (2, 1, 1));
        assert_eq!(t.accuracy(), 0.5);
        assert!((t.nll() - 7.0 / 3.0).abs() < 1e-12);
        assert!((t.nll_after_first() - 1.0).abs() < 1e-12);
        assert_eq!(published("rnn-rbm", "JSB_Chorales").unwrap().nll, 6.27);
    }
}
