//! The training engine: a run ([`RunConfig`]) trains on its own named thread, which owns the
//! model, optimiser and device, and reports [`TrainingEvent`]s through a bounded channel. Pause,
//! resume and stop are shared flags checked before every step.

pub mod checkpoint;
pub mod config;
pub mod shipped;
mod worker;

pub use checkpoint::{EpochRecord, History, RunSummary, StepRecord, list_all_runs, list_runs};
pub use config::{ModelConfig, RunConfig, Vocabulary};
pub use worker::{TrainingEvent, TrainingHandle, TrainingRequest, spawn};

use std::sync::Mutex;

use burn::tensor::Device;

use crate::models::Session;
use crate::music::Score;

/// burn's CPU backend draws initial weights and dropout masks from one process-wide generator.
/// A run holds this lock from seeding to its end, so that two runs never interleave their draws
/// and the same seed really gives the same run (runs in one process take turns).
pub static RNG_GUARD: Mutex<()> = Mutex::new(());

/// Builds the session of a run from its corpus, and records the vocabulary in the config.
pub fn build_session(
    config: &mut RunConfig,
    scores: &[Score],
    device: &Device,
) -> Result<Box<dyn Session>, String> {
    config.check()?;
    let (batch, lr) = (config.batch_size.max(1), config.learning_rate);
    config.held_out = crate::data::held_out_names(scores);
    // For the sessions without validation measures of their own (C-RNN-GAN, MidiNet): they
    // never see the held-out pieces, so that `muselab evaluate` compares them with unseen music.
    let training_only: Vec<Score> = scores
        .iter()
        .enumerate()
        .filter(|(i, _)| !crate::data::datasets::is_validation_piece(*i))
        .map(|(_, s)| s.clone())
        .collect();
    let training_only = if training_only.is_empty() {
        scores
    } else {
        &training_only
    };
    // A tuner copies its starting run; without one (the model card, the benchmark) its
    // networks start untrained, at the default sizes.
    if config.model == crate::models::ModelKind::RlTuner && config.from.is_some() {
        adopt_start(config)?;
    }
    let from_file = config
        .from
        .as_ref()
        .map(|run| run.join(checkpoint::MODEL_FILE));
    let args = crate::models::SessionArgs {
        scores,
        training_only,
        batch,
        learning_rate: lr,
        seed: config.seed,
        device,
        from: from_file.as_deref(),
    };
    let (session, vocabulary) = (config.model.info().session)(&config.hyperparameters, &args)?;
    config.vocabulary = vocabulary;
    Ok(session)
}

/// Copies into an RL-Tuner's settings what its starting `lstm` run was built with (layer
/// sizes, pitch range), so that the tuner's networks are copies of it.
fn adopt_start(config: &mut RunConfig) -> Result<(), String> {
    use crate::models::{ModelConfig, ModelKind};
    let Some(from) = config.from.clone() else {
        return Ok(());
    };
    let (start, _) = checkpoint::read(&from, None).map_err(|e| e.to_string())?;
    let (ModelKind::Lstm, ModelConfig::Lstm(lstm), Vocabulary::Melody(range)) =
        (start.model, &start.hyperparameters, start.vocabulary)
    else {
        return Err(format!(
            "{}: an rl-tuner run starts from an lstm run, not a {} run",
            from.display(),
            start.model.id()
        ));
    };
    let ModelConfig::RlTuner(c) = &mut config.hyperparameters else {
        return Err(crate::models::wrong_config("rl-tuner"));
    };
    c.hidden = lstm.hidden;
    c.layers = lstm.layers;
    c.embedding = lstm.embedding;
    c.low = usize::from(range.low);
    c.high = usize::from(range.high);
    Ok(())
}

/// The card of a model as `config` builds it on `scores` (the layers and parameter count come
/// from the networks the session builds, on the CPU).
pub fn model_card(
    config: &RunConfig,
    scores: &[Score],
) -> Result<crate::models::card::ModelCard, String> {
    let mut config = config.clone();
    let device = Device::flex().autodiff();
    let session = build_session(&mut config, scores, &device)?;
    Ok(crate::models::card::ModelCard::new(
        config.model,
        session.layers(),
    ))
}
