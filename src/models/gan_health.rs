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
    let mut total = 0.0;
    let mut pairs = 0usize;
    for i in 0..rolls.len() {
        for j in i + 1..rolls.len() {
            let (a, b) = (&rolls[i], &rolls[j]);
            let differ = a
                .iter()
                .zip(b)
                .filter(|(x, y)| (**x >= 0.5) != (**y >= 0.5))
                .count();
            total += differ as f64 / a.len().max(1) as f64;
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        total / pairs as f64
    }
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
pub fn discriminator_warning(d_fake: &[f64], window: usize, minimax: bool) -> Vec<Warning> {
    let recent: Vec<f64> = d_fake.iter().rev().take(window).copied().collect();
    if recent.len() < window {
        return Vec::new();
    }
    let mean = recent.iter().sum::<f64>() / recent.len() as f64;
    if mean >= 0.05 {
        return Vec::new();
    }
    let mut warnings = vec![Warning {
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
    }];
    if minimax {
        warnings.push(Warning {
            title: "vanishing generator gradients",
            explanation: "With the minimax loss log(1 − D(G(z))) and D(G(z)) near 0, the loss is flat: the generator's \
                          gradients vanish. The non-saturating loss −log D(G(z)) is steep exactly there."
                .into(),
            remedies: vec![Remedy::NonSaturatingLoss],
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diversity_of_identical_and_different_rolls() {
        assert_eq!(diversity(&[vec![1.0, 0.0], vec![1.0, 0.0]]), 0.0);
        assert_eq!(diversity(&[vec![1.0, 0.0], vec![0.0, 1.0]]), 1.0);
        assert!(collapse_warning(0.0, 0.2).is_some());
        assert!(collapse_warning(0.19, 0.2).is_none());
    }

    #[test]
    fn discriminator_warning_needs_a_full_window() {
        assert!(discriminator_warning(&[0.01; 10], 50, true).is_empty());
        let warnings = discriminator_warning(&[0.01; 60], 50, true);
        assert_eq!(warnings.len(), 2);
        assert_eq!(discriminator_warning(&[0.01; 60], 50, false).len(), 1);
        assert!(discriminator_warning(&[0.4; 60], 50, true).is_empty());
    }
}
