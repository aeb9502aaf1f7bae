//! Evaluation off the UI thread: one named thread evaluates a list of runs in turn, reports
//! progress, saves each report beside its checkpoint and turns a panic into an error.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::{EvaluateOptions, Report};

/// What the evaluation thread reports.
#[derive(Debug)]
pub enum EvaluationEvent {
    /// Work on a run goes on.
    Progress {
        /// The run.
        run: PathBuf,
        /// Fraction of this run done.
        fraction: f32,
        /// What is being done.
        what: String,
    },
    /// A run is done (its report is saved beside it when it succeeded).
    Done {
        /// The run.
        run: PathBuf,
        /// Its report or why there is none (boxed: a report is large).
        result: Box<Result<Report, String>>,
    },
    /// Every run is done.
    Finished,
}

/// The running evaluation.
pub struct EvaluationHandle {
    /// Its events.
    pub events: Receiver<EvaluationEvent>,
}

/// Evaluates `runs` on the CPU on a thread named `evaluation`; `notify` is called after each
/// event (the UI asks for a repaint there).
pub fn spawn(
    runs: Vec<PathBuf>,
    options: EvaluateOptions,
    notify: Option<Box<dyn Fn() + Send>>,
) -> EvaluationHandle {
    let (sender, events) = channel();
    let work = move || {
        let send = |event: EvaluationEvent, sender: &Sender<EvaluationEvent>| {
            let _ = sender.send(event);
            if let Some(notify) = &notify {
                notify();
            }
        };
        let device = burn::tensor::Device::flex();
        for run in runs {
            let mut progress = |fraction: f32, what: &str| {
                send(
                    EvaluationEvent::Progress {
                        run: run.clone(),
                        fraction,
                        what: what.to_string(),
                    },
                    &sender,
                );
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                super::evaluate(&run, &options, &device, &mut progress)
            }))
            .unwrap_or_else(|panic| {
                Err(format!(
                    "evaluation stopped: {}",
                    crate::util::panic_text(&panic)
                ))
            })
            .and_then(|report| {
                // A shipped run is read-only: its report stays in memory.
                if crate::training::shipped::is_shipped(&run) {
                    Ok(report)
                } else {
                    super::save_report(&run, &report).map(|()| report)
                }
            });
            let result = Box::new(result);
            send(EvaluationEvent::Done { run, result }, &sender);
        }
        send(EvaluationEvent::Finished, &sender);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("evaluation".into())
        .spawn(work)
    {
        log::error!("cannot start the evaluation thread: {e}");
    }
    EvaluationHandle { events }
}
