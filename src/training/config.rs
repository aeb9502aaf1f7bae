//! What a training run is: the model and its hyperparameters, the corpus, the optimiser
//! settings, the seed — saved as `config.json` beside each checkpoint.

use std::path::{Path, PathBuf};

use crate::compute::DeviceChoice;
use crate::models::ModelKind;
use crate::models::gan_health::Remedy;
pub use crate::models::{ModelConfig, Vocabulary};

/// Version of the checkpoint layout; a checkpoint of another version is refused clearly.
pub const CHECKPOINT_FORMAT: u32 = 1;

/// One training run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunConfig {
    /// Checkpoint layout version.
    pub format: u32,
    /// Which model.
    pub model: ModelKind,
    /// Its hyperparameters.
    pub hyperparameters: ModelConfig,
    /// `bach`, `celtic` or a folder of MIDI files.
    pub corpus: String,
    /// Read at most this many pieces (for quick runs and tests).
    pub max_pieces: Option<usize>,
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of every random choice (initial weights, shuffling, sampling).
    pub seed: u64,
    /// Where to train.
    pub device: DeviceChoice,
    /// Stop each epoch after this many steps (for quick runs and tests).
    pub max_steps_per_epoch: Option<usize>,
    /// Token vocabularies, filled in from the data.
    pub vocabulary: Vocabulary,
    /// Names of the pieces held out from training (by `data::SPLIT_RULE`), filled in from the
    /// data: `muselab evaluate` measures the run on exactly these. Empty in older checkpoints,
    /// which are then evaluated on the pieces the rule picks.
    #[serde(default)]
    pub held_out: Vec<String>,
    /// The trained run a tuner starts from (RL-Tuner: an `lstm` run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<PathBuf>,
    /// Stop after this many epochs without a better held-out measure (the first loss,
    /// cross-entropy or accuracy the model validates, [`super::stopping_measure`]); 0: never.
    #[serde(default)]
    pub patience: usize,
}

impl RunConfig {
    /// Ok when every setting lies in its valid range (the model's hyperparameters, epochs 1 to
    /// 100 000, batch 1 to 65 536, a positive finite learning rate); else a message naming the
    /// first that does not. Checked before a run starts.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=100_000).contains(&self.epochs) {
            return Err(format!(
                "epochs must be between 1 and 100000 (it is {})",
                self.epochs
            ));
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return Err(format!(
                "the batch size must be between 1 and 65536 (it is {})",
                self.batch_size
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "the learning rate must be a positive number (it is {})",
                self.learning_rate
            ));
        }
        if self.max_steps_per_epoch == Some(0) {
            return Err("steps per epoch must be at least 1".into());
        }
        self.hyperparameters.check()
    }

    /// The settings a resumed run trains with: the run settings and hyperparameters of
    /// `requested` (the epochs are the total to reach) on the saved run's corpus and pieces.
    /// Refuses a different corpus or piece count (the held-out split would change under the
    /// trained network) and a total not above the `completed` epochs.
    pub fn resumed_with(&self, requested: &RunConfig, completed: usize) -> Result<Self, String> {
        if requested.corpus != self.corpus || requested.max_pieces != self.max_pieces {
            return Err(format!(
                "a resumed run keeps its corpus ({}, {} pieces): start a new run to train on other data",
                self.corpus,
                self.max_pieces
                    .map_or_else(|| "all".to_string(), |n| n.to_string())
            ));
        }
        if requested.epochs <= completed {
            return Err(format!(
                "the run has already trained {completed} epochs: ask for more than {completed} to resume it"
            ));
        }
        Ok(RunConfig {
            vocabulary: self.vocabulary,
            held_out: self.held_out.clone(),
            format: self.format,
            ..requested.clone()
        })
    }

    /// Applies a health check's remedy to these settings. Returns false, changing nothing, when
    /// the remedy has no setting in this model or is already in place — the dashboard offers
    /// only the remedies that return true.
    pub fn apply_remedy(&mut self, remedy: Remedy) -> bool {
        let before = self.clone();
        match (&mut self.hyperparameters, remedy) {
            (_, Remedy::LowerLearningRate) => self.learning_rate /= 2.0,
            (ModelConfig::Gan(c), Remedy::FeatureMatching) => c.feature_matching = 1,
            (ModelConfig::Gan(c), Remedy::FewerDiscriminatorSteps) => c.d_steps = 1,
            (ModelConfig::Gan(c), Remedy::LabelSmoothing) => c.real_label = c.real_label.min(0.9),
            (ModelConfig::Gan(c), Remedy::NonSaturatingLoss) => c.non_saturating = 1,
            (ModelConfig::CrnnGan(c), Remedy::FeatureMatching) => {
                c.feature_matching = c.feature_matching.max(1);
            }
            (ModelConfig::Midinet(c), Remedy::FeatureMatching) => {
                c.feature_matching = c.feature_matching.max(1.0);
            }
            (ModelConfig::Midinet(c), Remedy::LabelSmoothing) => {
                c.real_label = c.real_label.min(0.9);
            }
            _ => {}
        }
        *self != before
    }

    /// Sensible defaults for a model.
    pub fn new(model: ModelKind) -> Self {
        Self {
            format: CHECKPOINT_FORMAT,
            model,
            hyperparameters: ModelConfig::default_for(model),
            corpus: model.default_corpus().into(),
            max_pieces: None,
            epochs: 20,
            batch_size: 64,
            learning_rate: model.info().learning_rate,
            seed: 42,
            device: DeviceChoice::Auto,
            max_steps_per_epoch: None,
            vocabulary: Vocabulary::Unknown,
            held_out: Vec::new(),
            from: None,
            patience: 0,
        }
    }

    /// The corpus folder.
    pub fn corpus_dir(&self, assets: &Path) -> PathBuf {
        crate::corpus::resolve(assets, &self.corpus)
    }
}

/// Doc lines of the run-level settings, for the form's tooltips.
pub const RUN_FIELD_DOCS: [(&str, &str); 6] = [
    ("epochs", "Passes over the training data."),
    (
        "batch size",
        "Examples per optimisation step; larger batches suit the GPU.",
    ),
    (
        "learning rate",
        "Adam's step size; lower it if the loss jumps around or turns NaN.",
    ),
    (
        "seed",
        "Seed of every random choice: the same seed on the same device gives the same run.",
    ),
    (
        "max pieces",
        "Read at most this many pieces of the corpus (0 = all), for quick experiments.",
    ),
    (
        "patience",
        "Stop after this many epochs without a better held-out loss (or accuracy, where the model validates no loss); 0 = train every epoch.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedies_apply_only_where_the_model_has_the_setting() {
        let mut gan = RunConfig::new(ModelKind::Gan);
        assert!(gan.apply_remedy(Remedy::LabelSmoothing));
        assert!(
            !gan.apply_remedy(Remedy::LabelSmoothing),
            "already in place"
        );
        assert!(
            !gan.apply_remedy(Remedy::FewerDiscriminatorSteps),
            "d_steps is already 1"
        );
        let rate = gan.learning_rate;
        assert!(gan.apply_remedy(Remedy::LowerLearningRate));
        assert_eq!(gan.learning_rate, rate / 2.0);
        let mut midinet = RunConfig::new(ModelKind::Midinet);
        assert!(
            !midinet.apply_remedy(Remedy::NonSaturatingLoss),
            "no such setting"
        );
        assert!(
            !midinet.apply_remedy(Remedy::FeatureMatching),
            "on by default"
        );
    }
}
