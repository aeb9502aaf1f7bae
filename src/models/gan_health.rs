//! Signs that an adversarial run is failing, in plain language, with a remedy the form can
//! apply: a discriminator that wins outright, a generator that collapses to one output, and
//! generator gradients that vanish.

/// A remedy the dashboard can apply to the next run's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remedy {
    /// Train G against D's features instead of its verdict.
    FeatureMatching,
    /// One D step per G step.
    FewerDiscriminatorSteps,
    /// Real labels of 0.9 instead of 1.
    LabelSmoothing,
    /// Halve the learning rate.
    LowerLearningRate,
    /// Use the non-saturating generator loss.
    NonSaturatingLoss,
}

impl Remedy {
    /// The button text.
    pub fn label(self) -> &'static str {
        match self {
            Self::FeatureMatching => "use feature matching",
            Self::FewerDiscriminatorSteps => "1 D step per G step",
            Self::LabelSmoothing => "smooth real labels to 0.9",
            Self::LowerLearningRate => "halve the learning rate",
            Self::NonSaturatingLoss => "use the non-saturating G loss",
        }
    }
}

/// One warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// Short title.
    pub title: &'static str,
    /// What is happening, in plain words.
    pub explanation: String,
    /// What would help.
    pub remedies: Vec<Remedy>,
}

/// Mean pairwise Hamming distance between binary rolls (cells ≥ 0.5 are on), as a fraction of
/// the cells: 0 when all rolls are the same.
pub fn diversity(rolls: &[Vec<f32>]) -> f64 {
    mean_pairwise(rolls, |a, b| {
        a.iter()
            .zip(b)
            .filter(|(x, y)| (**x >= 0.5) != (**y >= 0.5))
            .count() as f64
    })
}

/// Mean pairwise distance between real-valued sequences (mean absolute difference per value):
/// the diversity of continuous outputs such as C-RNN-GAN's note events, where thresholding
/// each value (as [`diversity`] does) would hide differences that keep their sign.
pub fn spread(rows: &[Vec<f32>]) -> f64 {
    mean_pairwise(rows, |a, b| {
        a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum()
    })
}

/// The mean over all pairs of rows of `total(a, b) / a.len()` (0 for fewer than two rows).
fn mean_pairwise(rows: &[Vec<f32>], total: impl Fn(&[f32], &[f32]) -> f64) -> f64 {
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            sum += total(&rows[i], &rows[j]) / rows[i].len().max(1) as f64;
            pairs += 1;
        }
    }
    if pairs == 0 { 0.0 } else { sum / pairs as f64 }
}

/// Mode collapse: the samples' diversity below 30 % of the corpus's.
pub fn collapse_warning(sample_diversity: f64, corpus_diversity: f64) -> Option<Warning> {
    (corpus_diversity > 0.0 && sample_diversity < 0.3 * corpus_diversity).then(|| Warning {
        title: "mode collapse",
        explanation: format!(
            "The generator's samples differ from each other by {:.1} % of their cells, the corpus's bars by {:.1} %: \
             it makes (nearly) the same bar whatever the noise.",
            sample_diversity * 100.0,
            corpus_diversity * 100.0
        ),
        remedies: vec![Remedy::FeatureMatching, Remedy::LowerLearningRate],
    })
}

/// The discriminator wins outright: D(G(z)) near 0 for the last `window` steps.
pub fn discriminator_warning(d_fake: &[f64], window: usize) -> Option<Warning> {
    let recent: Vec<f64> = d_fake.iter().rev().take(window).copied().collect();
    if recent.len() < window {
        return None;
    }
    let mean = recent.iter().sum::<f64>() / recent.len() as f64;
    if mean >= 0.05 {
        return None;
    }
    Some(Warning {
        title: "discriminator too strong",
        explanation: format!(
            "For the last {window} steps the discriminator called the generator's bars real with probability {mean:.3}: \
             it wins every round and the generator learns little from it."
        ),
        remedies: vec![
            Remedy::FewerDiscriminatorSteps,
            Remedy::LabelSmoothing,
            Remedy::FeatureMatching,
        ],
    })
}

/// Vanishing generator gradients, measured: the mean norm of G's output-layer gradient over the
/// last `window` steps has fallen below 1 % of the highest such mean earlier in the run. With
/// the minimax loss the first remedy is the non-saturating loss, which is steep exactly where
/// log(1 − D(G(z))) is flat.
pub fn gradient_warning(g_gradient: &[f64], window: usize, minimax: bool) -> Option<Warning> {
    if window == 0 || g_gradient.len() < 2 * window {
        return None;
    }
    let means: Vec<f64> = g_gradient
        .windows(window)
        .step_by(window / 2 + 1)
        .map(|w| w.iter().sum::<f64>() / window as f64)
        .collect();
    let peak = means.iter().copied().fold(0.0, f64::max);
    let recent = g_gradient[g_gradient.len() - window..].iter().sum::<f64>() / window as f64;
    if peak <= 0.0 || recent >= 0.01 * peak {
        return None;
    }
    let mut remedies = vec![Remedy::FeatureMatching, Remedy::LowerLearningRate];
    if minimax {
        remedies.insert(0, Remedy::NonSaturatingLoss);
    }
    Some(Warning {
        title: "vanishing generator gradients",
        explanation: format!(
            "The gradient reaching the generator's output layer averaged {recent:.2e} over the last {window} steps, \
             down from {peak:.2e}: the discriminator's verdict no longer tells the generator how to change, so it has \
             stopped learning."
        ),
        remedies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_identical_and_different_sequences() {
        assert_eq!(spread(&[vec![0.2, 0.4], vec![0.2, 0.4]]), 0.0);
        // Same signs, different values: a thresholded diversity would call these equal.
        assert!((spread(&[vec![0.2, 0.4], vec![0.6, 0.8]]) - 0.4).abs() < 1e-6);
    }

    #[test]
    fn diversity_of_identical_and_different_rolls() {
        assert_eq!(diversity(&[vec![1.0, 0.0], vec![1.0, 0.0]]), 0.0);
        assert_eq!(diversity(&[vec![1.0, 0.0], vec![0.0, 1.0]]), 1.0);
        assert!(collapse_warning(0.0, 0.2).is_some());
        assert!(collapse_warning(0.19, 0.2).is_none());
    }

    #[test]
    fn discriminator_warning_needs_a_full_window() {
        assert!(discriminator_warning(&[0.01; 10], 50).is_none());
        assert!(discriminator_warning(&[0.01; 60], 50).is_some());
        assert!(discriminator_warning(&[0.4; 60], 50).is_none());
    }

    #[test]
    fn gradient_warning_fires_when_the_gradient_dies() {
        let healthy = vec![0.3; 200];
        assert!(gradient_warning(&healthy, 50, false).is_none());
        // The measured shape of a run in which G stopped learning: 0.3, then 0.
        let dying: Vec<f64> = (0..300).map(|i| if i < 200 { 0.3 } else { 0.0 }).collect();
        let warning = gradient_warning(&dying, 50, true).expect("fires");
        assert_eq!(warning.remedies[0], Remedy::NonSaturatingLoss);
        assert!(
            gradient_warning(&dying, 50, false)
                .is_some_and(|w| w.remedies[0] == Remedy::FeatureMatching)
        );
        assert!(
            gradient_warning(&dying[..60], 50, false).is_none(),
            "too short to judge"
        );
        // Small but steady gradients are not a warning.
        assert!(gradient_warning(&[1e-4; 300], 50, false).is_none());
    }
}
