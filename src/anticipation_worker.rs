//! The Anticipation-RNN off the UI thread: one thread keeps the chosen run's network loaded
//! and writes a melody around the pins each time it is asked (`models::anticipation::fill`),
//! so that "Fill" answers in a fraction of a second after the first load.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::tensor::Device;

use crate::data::PitchRange;
use crate::measures::constraints::Pins;
use crate::models::anticipation::{self, AnticipationRnn};
use crate::models::{ModelConfig, Vocabulary};
use crate::training::checkpoint;

/// What the view asks.
#[derive(Clone, Debug)]
pub enum FillRequest {
    /// Load a run (its range comes back as [`FillReply::Loaded`]).
    Load(PathBuf),
    /// Write a melody around `pins` (one per step) with the loaded run.
    Fill {
        /// One pin per step.
        pins: Pins,
        /// Each step's position in its bar.
        positions: Vec<usize>,
        /// Sampling temperature.
        temperature: f64,
        /// Force the pinned steps.
        clamp: bool,
        /// Seed of the sampling.
        seed: u64,
    },
    /// For tests: panics inside the worker.
    #[doc(hidden)]
    InjectPanic,
}

/// What the worker answers.
#[derive(Clone, Debug)]
pub enum FillReply {
    /// A run is loaded: its pitch range and, where the run was evaluated, its constraint
    /// measures (the anticipation curves the view draws).
    Loaded(
        PathBuf,
        PitchRange,
        Option<crate::measures::constraints::ConstraintScores>,
    ),
    /// A melody: its tokens and how long writing took.
    Written(Vec<usize>, Duration),
    /// Something went wrong (the worker serves on).
    Error(String),
}

/// The view's handle on the worker; dropping it ends the thread.
pub type FillWorker = crate::util::RequestWorker<FillRequest, FillReply>;

/// Starts the worker; `notify` wakes the UI after each reply.
pub fn start(notify: impl Fn() + Send + 'static) -> FillWorker {
    let device = Device::flex();
    FillWorker::start(
        "anticipation",
        None,
        move |loaded, request| serve(request, loaded, &device),
        |loaded, panic| {
            *loaded = None;
            FillReply::Error(format!(
                "the model stopped by an internal error: {panic}; choose the run again"
            ))
        },
        notify,
    )
}

fn serve(
    request: FillRequest,
    loaded: &mut Option<(AnticipationRnn, PitchRange)>,
    device: &Device,
) -> FillReply {
    match request {
        FillRequest::Load(run) => match load(&run, device) {
            Ok((model, range)) => {
                *loaded = Some((model, range));
                // The saved evaluation is read here, off the UI thread, with the model.
                let scores =
                    crate::evaluation::read_report(&run).and_then(|r| r.measures.constraints);
                FillReply::Loaded(run, range, scores)
            }
            Err(e) => FillReply::Error(e),
        },
        FillRequest::Fill {
            pins,
            positions,
            temperature,
            clamp,
            seed,
        } => {
            let Some((model, range)) = loaded.as_ref() else {
                return FillReply::Error("choose an anticipation-rnn run first".into());
            };
            let started = Instant::now();
            let written = anticipation::fill(
                model,
                range,
                (&[pins], &[positions]),
                (temperature, clamp),
                seed,
                device,
            );
            FillReply::Written(
                written.into_iter().next().unwrap_or_default(),
                started.elapsed(),
            )
        }
        FillRequest::InjectPanic => panic!("injected panic"),
    }
}

/// Loads the network of an Anticipation-RNN checkpoint.
fn load(run: &Path, device: &Device) -> Result<(AnticipationRnn, PitchRange), String> {
    let (config, _) = checkpoint::read(run, None).map_err(|e| e.to_string())?;
    config.check()?;
    let (ModelConfig::AnticipationRnn(c), Vocabulary::Melody(range)) =
        (config.hyperparameters, config.vocabulary)
    else {
        return Err(format!(
            "{}: a {} run cannot write around pins; choose an anticipation-rnn run",
            run.display(),
            config.model.id()
        ));
    };
    let model = crate::models::load_module(
        AnticipationRnn::new(&c, &range, device),
        &run.join(checkpoint::MODEL_FILE),
    )?;
    Ok((model, range))
}
