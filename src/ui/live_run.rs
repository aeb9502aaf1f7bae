//! A training run as the dashboard sees it: the events of its thread turned into curves,
//! samples, progress and an ending.

use std::path::PathBuf;
use std::time::Instant;

use crate::models::{ModelKind, Sample};
use crate::training::{EpochRecord, StepRecord, TrainingEvent, TrainingHandle};

/// What the dashboard must do after an event.
#[derive(Debug)]
pub enum Applied {
    /// Nothing more.
    Nothing,
    /// A checkpoint was written: list the runs again.
    Checkpoint,
    /// The run ended (with its error, if any).
    Ended(Result<(), String>),
}

/// A run in progress or just finished.
pub struct LiveRun {
    pub(super) handle: Option<TrainingHandle>,
    /// The model.
    pub model: ModelKind,
    /// Where its checkpoints go.
    pub run_dir: Option<PathBuf>,
    /// Compute device label.
    pub device: String,
    /// Latest status line.
    pub status: String,
    /// Names of the step losses.
    pub loss_names: Vec<String>,
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    /// Newest samples.
    pub samples: Vec<Sample>,
    /// Corpus metric values.
    pub corpus_metrics: Vec<(String, f64)>,
    /// The networks' parameter tensors, read from the session (for the model card).
    pub layers: Vec<crate::models::card::LayerShape>,
    /// Current epoch and step within it.
    pub position: (usize, usize),
    /// Steps per epoch, first epoch, last epoch.
    pub plan: (usize, usize, usize),
    /// Recent steps per second.
    pub steps_per_second: f64,
    /// How the run ended.
    pub finished: Option<Result<String, String>>,
    pub(super) started: Instant,
}

impl LiveRun {
    /// Fraction of the run done.
    pub fn progress(&self) -> f32 {
        let (per_epoch, first, last) = self.plan;
        let total = (per_epoch * (last + 1).saturating_sub(first)).max(1);
        let done = self.position.0.saturating_sub(first) * per_epoch + self.position.1;
        if self.finished.is_some() {
            1.0
        } else {
            (done as f32 / total as f32).min(1.0)
        }
    }

    /// True while the training thread works.
    pub fn is_running(&self) -> bool {
        self.finished.is_none()
    }

    pub(super) fn paused(&self) -> bool {
        self.handle.as_ref().is_some_and(TrainingHandle::is_paused)
    }

    /// Takes in one event of the training thread; says what the dashboard must do about it.
    pub fn apply(&mut self, event: TrainingEvent) -> Applied {
        match event {
            TrainingEvent::Status(line) => self.status = line,
            TrainingEvent::Started {
                layers,
                run_dir,
                device,
                loss_names,
                steps_per_epoch,
                first_epoch,
                epochs,
                corpus_metrics,
            } => {
                self.run_dir = Some(run_dir);
                self.device = device;
                self.loss_names = loss_names;
                self.plan = (steps_per_epoch, first_epoch, epochs);
                self.position = (first_epoch, 0);
                self.corpus_metrics = corpus_metrics;
                self.layers = layers;
                self.status = "training".into();
            }
            TrainingEvent::Step {
                record,
                step,
                steps_per_second,
            } => {
                self.position = (record.epoch, step + 1);
                self.steps_per_second = steps_per_second;
                self.steps.push(record);
            }
            TrainingEvent::Epoch { record, samples } => {
                self.position = (record.epoch + 1, 0);
                self.epochs.push(record);
                if !samples.is_empty() {
                    self.samples = samples;
                }
            }
            TrainingEvent::Checkpoint(dir) => {
                self.status = format!("checkpoint written to {}", dir.display());
                return Applied::Checkpoint;
            }
            TrainingEvent::Finished(result) => {
                self.status = match &result {
                    Ok(message) => message.clone(),
                    Err(e) => format!("error: {e}"),
                };
                let ended = Applied::Ended(result.clone().map(|_| ()));
                self.finished = Some(result);
                return ended;
            }
        }
        Applied::Nothing
    }
}
