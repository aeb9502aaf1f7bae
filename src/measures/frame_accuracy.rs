//! Frame-level measures of polyphonic prediction (the Boltzmann machines): each frame is the set
//! of pitches sounding at one grid step, predicted from the true frames before it.
//!
//! - Accuracy after Bay et al. (2009), as Boulanger-Lewandowski et al. (2012) report it:
//!   ACC = ΣTP / (ΣTP + ΣFP + ΣFN) over all frames (silent frames predicted silent add nothing).
//! - NLL per frame, where the model gives a likelihood.
//!
//! A model gives each pitch a probability; a pitch is predicted on above a threshold, chosen
//! on training frames for the model and the baseline alike (0.5 would let the independent
//! baseline, whose every pitch is rarer than not, predict silence forever and score 0).
//!
//! The baseline is the independent Bernoulli model: each pitch on with its frequency in the
//! training frames, whatever came before.

/// Frame-level measures of one model or baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameScores {
    /// Bay et al.'s accuracy ΣTP / (ΣTP + ΣFP + ΣFN) of the predicted frames.
    pub frame_accuracy: f64,
    /// Mean negative log-likelihood per frame, in nats (where the model gives one).
    pub nll_per_frame: Option<f64>,
    /// The threshold above which a pitch was predicted on.
    pub threshold: f64,
    /// Frames measured.
    pub frames: usize,
}

/// Thresholds tried when one is chosen.
const THRESHOLDS: [f64; 12] = [
    0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7,
];

/// Bay et al.'s accuracy of `probabilities` (per frame, per pitch) thresholded at `threshold`
/// against the true frames (1.0 = on).
pub fn accuracy(probabilities: &[Vec<f32>], truth: &[Vec<f32>], threshold: f64) -> f64 {
    let (mut tp, mut wrong) = (0usize, 0usize);
    for (p, t) in probabilities.iter().zip(truth) {
        for (&p, &t) in p.iter().zip(t) {
            match (f64::from(p) > threshold, t >= 0.5) {
                (true, true) => tp += 1,
                (true, false) | (false, true) => wrong += 1,
                (false, false) => {}
            }
        }
    }
    if tp + wrong == 0 {
        0.0
    } else {
        tp as f64 / (tp + wrong) as f64
    }
}

/// The threshold of [`THRESHOLDS`] with the best accuracy on these frames.
pub fn best_threshold(probabilities: &[Vec<f32>], truth: &[Vec<f32>]) -> f64 {
    THRESHOLDS
        .iter()
        .copied()
        .max_by(|&a, &b| {
            accuracy(probabilities, truth, a).total_cmp(&accuracy(probabilities, truth, b))
        })
        .unwrap_or(0.5)
}

/// The independent Bernoulli baseline: each pitch's frequency in the training frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Bernoulli {
    /// Probability of each pitch being on (kept within [1e-4, 1 − 1e-4]).
    pub on: Vec<f32>,
}

impl Bernoulli {
    /// Fits the frequencies of `frames`.
    pub fn fit(frames: &[Vec<f32>], pitches: usize) -> Self {
        let mut on = vec![0.0f64; pitches];
        for frame in frames {
            for (o, &v) in on.iter_mut().zip(frame) {
                *o += f64::from(v);
            }
        }
        let n = frames.len().max(1) as f64;
        Self {
            on: on
                .into_iter()
                .map(|c| (c / n).clamp(1e-4, 1.0 - 1e-4) as f32)
                .collect(),
        }
    }

    /// Negative log-likelihood of one frame, in nats.
    pub fn nll(&self, frame: &[f32]) -> f64 {
        frame_nll(&self.on, frame)
    }

    /// Measures the baseline on `held` frames, with its threshold chosen on `train` frames.
    pub fn scores(&self, train: &[Vec<f32>], held: &[Vec<f32>]) -> FrameScores {
        let repeat = |n: usize| vec![self.on.clone(); n];
        let threshold = best_threshold(&repeat(train.len()), train);
        FrameScores {
            frame_accuracy: accuracy(&repeat(held.len()), held, threshold),
            nll_per_frame: Some(
                held.iter().map(|f| self.nll(f)).sum::<f64>() / held.len().max(1) as f64,
            ),
            threshold,
            frames: held.len(),
        }
    }
}

/// Negative log-likelihood of a binary frame under independent probabilities.
pub fn frame_nll(probabilities: &[f32], frame: &[f32]) -> f64 {
    probabilities
        .iter()
        .zip(frame)
        .map(|(&p, &v)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            if v >= 0.5 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_true_positives_against_all_errors() {
        let truth = vec![vec![1.0, 0.0, 1.0], vec![0.0, 0.0, 0.0]];
        let probs = vec![vec![0.9, 0.8, 0.1], vec![0.1, 0.1, 0.1]];
        // One TP, one FP, one FN; the silent frame adds nothing.
        assert!((accuracy(&probs, &truth, 0.5) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(accuracy(&truth, &truth, 0.5), 1.0);
    }

    #[test]
    fn bernoulli_fits_frequencies_and_picks_a_useful_threshold() {
        let frames = vec![
            vec![1.0, 0.0],
            vec![1.0, 1.0],
            vec![1.0, 0.0],
            vec![0.0, 0.0],
        ];
        let model = Bernoulli::fit(&frames, 2);
        assert!((model.on[0] - 0.75).abs() < 1e-6 && (model.on[1] - 0.25).abs() < 1e-6);
        let scores = model.scores(&frames, &frames);
        // Predicting the common pitch always: 3 TP, 1 FP (last frame), 1 FN (second pitch).
        assert!((scores.frame_accuracy - 0.6).abs() < 1e-12, "{scores:?}");
        let nll = -(0.75f64.ln()) - (0.75f64.ln());
        assert!((model.nll(&[1.0, 0.0]) - nll).abs() < 1e-6);
    }
}
