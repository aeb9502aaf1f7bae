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

/// The held-out measure early stopping watches ([`RunConfig::patience`]): the first of a
/// model's validation measures that is a loss, a cross-entropy or an NLL (lower is better), or
/// else an accuracy (higher is better). Returns its name and a score where higher is better;
/// `None` for models that validate no such measure (the GANs' overlaps).
pub fn stopping_measure(validation: &[(String, f64)]) -> Option<(&str, f64)> {
    let lower = |n: &str| {
        let n = n.to_lowercase();
        n.ends_with("loss") || n.contains("cross-entropy") || n.contains("nll")
    };
    let is_accuracy = |n: &str| n.to_lowercase().contains("accuracy") && !n.contains("Bernoulli");
    validation
        .iter()
        .find(|(n, v)| lower(n) && v.is_finite())
        .map(|(n, v)| (n.as_str(), -v))
        .or_else(|| {
            validation
                .iter()
                .find(|(n, v)| is_accuracy(n) && v.is_finite())
                .map(|(n, v)| (n.as_str(), *v))
        })
}

/// Whether a run with this `patience` stops after the epochs of `history`: true when the
/// best [`stopping_measure`] lies `patience` or more epochs back. Returns the message then.
pub fn early_stop(epochs: &[EpochRecord], patience: usize) -> Option<String> {
    if patience == 0 {
        return None;
    }
    let scores: Vec<(usize, &str, f64)> = epochs
        .iter()
        .filter_map(|r| stopping_measure(&r.validation).map(|(n, s)| (r.epoch, n, s)))
        .collect();
    let &(last, _, _) = scores.last()?;
    let &(best_epoch, name, best) =
        scores
            .iter()
            .fold(None, |acc: Option<&(usize, &str, f64)>, x| match acc {
                Some(a) if a.2 >= x.2 => Some(a),
                _ => Some(x),
            })?;
    (last - best_epoch >= patience).then(|| {
        format!(
            "stopped early after epoch {last}: the {name} has not improved for {patience} epochs (best {:.4} at epoch {best_epoch})",
            best.abs()
        )
    })
}

#[cfg(test)]
mod stopping_tests {
    use super::*;

    fn epoch(epoch: usize, validation: &[(&str, f64)]) -> EpochRecord {
        EpochRecord {
            epoch,
            global_step: epoch * 10,
            train_losses: vec![1.0],
            validation: validation
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect(),
            sample_metrics: Vec::new(),
            seconds: epoch as f64,
        }
    }

    #[test]
    fn a_loss_is_watched_before_an_accuracy_and_a_gan_is_never_stopped() {
        let both = [
            ("frame accuracy".to_string(), 0.3),
            ("validation loss".to_string(), 2.0),
        ];
        assert_eq!(stopping_measure(&both), Some(("validation loss", -2.0)));
        let accuracy = [
            ("Bernoulli frame accuracy".to_string(), 0.2),
            ("frame accuracy".to_string(), 0.3),
        ];
        assert_eq!(stopping_measure(&accuracy), Some(("frame accuracy", 0.3)));
        let overlaps = [("pitch overlap".to_string(), 0.5)];
        assert_eq!(stopping_measure(&overlaps), None);
        let gan: Vec<EpochRecord> = (1..=9)
            .map(|e| epoch(e, &[("pitch overlap", 0.5)]))
            .collect();
        assert_eq!(early_stop(&gan, 2), None);
    }

    #[test]
    fn a_run_stops_once_its_best_loss_lies_patience_epochs_back() {
        let losses = [3.0, 2.0, 2.5, 2.4];
        let history: Vec<EpochRecord> = losses
            .iter()
            .enumerate()
            .map(|(i, &l)| epoch(i + 1, &[("validation loss", l)]))
            .collect();
        assert_eq!(
            early_stop(&history[..3], 2),
            None,
            "one epoch past the best"
        );
        let why = early_stop(&history, 2).expect("two epochs past the best");
        assert!(why.contains("best 2.0000 at epoch 2"), "{why}");
        assert_eq!(early_stop(&history, 0), None, "patience 0 never stops");
        assert_eq!(early_stop(&history, 3), None);
    }
}
