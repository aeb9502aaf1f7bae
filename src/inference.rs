//! Using a trained model: load a checkpoint into its inference-only network (no autodiff) —
//! each model's file says how (`ModelInfo::load`) and what it then does (`models::Trained`):
//! harmonize a melody, decode random codes, write or continue a tune, write over chords.

use std::path::Path;

use burn::tensor::Device;

pub use crate::models::GenerateOptions;
use crate::models::latent::LatentModel;
use crate::models::{ModelKind, Trained};
use crate::music::Score;
use crate::training::RunConfig;
use crate::training::checkpoint::{self, MODEL_FILE};

/// A trained model ready to generate and to be measured.
pub struct LoadedModel(Box<dyn Trained>);

impl LoadedModel {
    /// Loads a checkpoint folder onto `device`; `expected` checks the model kind.
    pub fn load(
        dir: &Path,
        expected: Option<ModelKind>,
        device: &Device,
    ) -> Result<(Self, RunConfig), String> {
        Self::load_with(dir, expected, device, &[])
    }

    /// [`Self::load`] with hyperparameters changed first (`name=value`): those that act at
    /// generation time (a sampler's sweeps, temperatures or weights) — a changed layer size no
    /// longer fits the saved weights and fails to load.
    pub fn load_with(
        dir: &Path,
        expected: Option<ModelKind>,
        device: &Device,
        set: &[String],
    ) -> Result<(Self, RunConfig), String> {
        let (mut config, _) = checkpoint::read(dir, expected).map_err(|e| e.to_string())?;
        config.hyperparameters.set_all(set)?;
        // Sizes from a config.json are checked before a network of that size is built.
        config
            .hyperparameters
            .check()
            .map_err(|e| format!("{}: config.json: {e}", dir.display()))?;
        let load = config.model.info().load;
        let model = load(
            &config.hyperparameters,
            config.vocabulary,
            &dir.join(MODEL_FILE),
            device,
        )?;
        Ok((Self(model), config))
    }

    /// Harmonizes a melody with what was done to it, where the model is a harmonizer.
    pub fn harmonize(
        &self,
        melody: &Score,
        track: Option<&str>,
        seed: u64,
        device: &Device,
        progress: &mut dyn FnMut(f64),
    ) -> Option<Result<crate::models::minibach::Harmonized, String>> {
        self.0.harmonize(melody, track, seed, device, progress)
    }

    /// Rewrites part of a four-voice score, where the model can (DeepBach).
    pub fn reharmonize(
        &self,
        score: &Score,
        span: (u64, u64),
        rewrite: [bool; 4],
        seed: u64,
        device: &Device,
    ) -> Option<Result<Score, String>> {
        self.0.reharmonize(score, span, rewrite, seed, device)
    }

    /// The latent model, for the map and `encode`/`decode`/`interpolate`.
    pub fn latent(&self) -> Option<&dyn LatentModel> {
        self.0.latent()
    }

    /// Generates a piece. A panic inside the model becomes an error (the CLI and the app's
    /// jobs report it instead of dying).
    pub fn generate(&self, options: &GenerateOptions, device: &Device) -> Result<Score, String> {
        guarded("generation", || self.0.generate(options, device))
    }

    /// Measures the model on held-out pieces (see `evaluation`).
    pub fn evaluate(
        &self,
        data: &crate::measures::HeldOut<'_>,
        options: &crate::measures::EvaluateOptions,
        device: &Device,
        progress: crate::measures::Progress<'_>,
    ) -> Result<crate::measures::Evaluated, String> {
        guarded("evaluation", || {
            self.0.evaluate(data, options, device, progress)
        })
    }
}

/// Runs `work`, turning a panic into an error that says what stopped.
fn guarded<T>(what: &str, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        Err(format!(
            "{what} stopped by an internal error: {}",
            crate::util::panic_text(&panic)
        ))
    })
}
