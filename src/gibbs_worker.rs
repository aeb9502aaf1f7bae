//! A trained Boltzmann machine's Gibbs chain off the UI thread, paced so that it can be
//! watched. The RBM (`models::rbm::chain`) and the RNN-RBM (`models::rnn_rbm::generate_watched`)
//! write frame after frame and every Gibbs step is reported — the units' probabilities, the
//! sampled frame, the clamped units and the free energy; the C-RBM samples its whole roll under
//! constraints (`models::crbm::generate_watched`) and every round is reported with its
//! temperature and the three constraint costs.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use crate::models::rbm::{self, Rbm};
use crate::models::{ModelConfig, ModelKind, Vocabulary};
use crate::music::Score;
use crate::training::{RunConfig, checkpoint};

/// Hidden units whose weights the view draws.
const FEATURES: usize = 12;

/// What to write.
#[derive(Clone, Debug)]
pub struct ChainOptions {
    /// Seed of the chain.
    pub seed: u64,
    /// Frames to write (without a melody).
    pub frames: usize,
    /// Gibbs steps per frame.
    pub steps: usize,
    /// Divides the energies: above 1 the chain wanders, below 1 it settles.
    pub temperature: f64,
    /// The open piece: for the RBM a melody to clamp (Boltzmann harmonisation: the chain
    /// writes as many frames as it has), for the RNN-RBM the opening to continue
    /// (`prime_bars` bars of it), for the C-RBM the template.
    pub melody: Option<Score>,
    /// Bars of the open piece that prime an RNN-RBM.
    pub prime_bars: usize,
    /// Cells painted on the roll: per frame, per pitch from the machine's lowest, pinned on,
    /// off, or free (the RBM and RNN-RBM hold them; over a melody's pins they win).
    pub pins: Vec<Vec<Option<bool>>>,
    /// Pace of the animation (the chain is faster than the eye).
    pub steps_per_second: f64,
    /// The C-RBM's key ("C", "Am"…).
    pub key: String,
    /// The C-RBM's constraint weights: self-similarity (to `melody` as template), key, meter.
    pub weights: [f64; 3],
    /// The C-RBM's meter: quarter-note beats a bar.
    pub beats: usize,
}

/// What the chain reports.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// The machine is loaded.
    Started {
        /// Lowest pitch of a frame.
        low: u8,
        /// Pitches per frame.
        pitches: usize,
        /// Frames the chain will write.
        frames: usize,
        /// The template's bar self-similarity (a C-RBM with a template).
        similarity: Option<Vec<Vec<f32>>>,
        /// What some hidden units detect: their weights, frame after frame (`pitches` values
        /// each) — the RBM's strongest units, the C-RBM's first filters.
        features: Vec<Vec<f32>>,
    },
    /// One round of a C-RBM's constrained chain (the whole roll).
    Constrained {
        /// Round (from 0).
        step: usize,
        /// Rounds in all.
        steps: usize,
        /// Annealing temperature.
        temperature: f64,
        /// The sampled roll, frame by frame.
        frames: Vec<Vec<f32>>,
        /// Self-similarity, key and meter costs.
        costs: [f64; 3],
    },
    /// One Gibbs step of the frame being written.
    Step {
        /// Frame (from 0).
        frame: usize,
        /// Step within the frame (from 0).
        step: usize,
        /// p(v = 1 | h) per pitch.
        probabilities: Vec<f32>,
        /// The sampled frame.
        state: Vec<f32>,
        /// Clamped pitches.
        clamped: Vec<bool>,
        /// Free energy of the sampled window.
        free_energy: f64,
    },
    /// A frame is written.
    Frame(Vec<f32>),
    /// The chain ended: the piece, or why not.
    Finished(Result<Score, String>),
}

/// The UI's handle on a running chain; dropping it stops the chain.
pub struct GibbsChain {
    /// Events, oldest first.
    pub events: Receiver<ChainEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GibbsChain {
    /// Starts the chain of the RBM in `run` on a thread; `notify` wakes the UI after each event.
    pub fn start(run: PathBuf, options: ChainOptions, notify: impl Fn() + Send + 'static) -> Self {
        let (sender, events) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("gibbs-chain".into())
            .spawn(move || {
                let send = |event: ChainEvent| {
                    let _ = sender.send(event);
                    notify();
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    write(&run, &options, &flag, &send)
                }))
                .unwrap_or_else(|panic| {
                    Err(format!(
                        "the chain stopped by an internal error: {}",
                        crate::util::panic_text(&panic)
                    ))
                });
                send(ChainEvent::Finished(result));
            })
            .ok();
        Self {
            events,
            stop,
            thread,
        }
    }

    /// Stops after the step under way.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// True when the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for GibbsChain {
    fn drop(&mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            crate::util::join_within(thread, Duration::from_millis(500));
        }
    }
}

/// Loads the RBM of a checkpoint whose settings are `config`: the machine, its
/// hyperparameters, lowest pitch and pitch count.
pub fn load_rbm(
    run: &std::path::Path,
    config: RunConfig,
    device: &Device,
) -> Result<(Rbm, rbm::RbmConfig, u8, usize), String> {
    let (ModelConfig::Rbm(c), Vocabulary::Roll { low, pitches, .. }) =
        (config.hyperparameters, config.vocabulary)
    else {
        return Err(format!(
            "{}: a {} run has no Gibbs chain to watch; choose an rbm, rnn-rbm or crbm run",
            run.display(),
            config.model.id()
        ));
    };
    let machine = crate::models::load_module(
        Rbm::new(c.window.max(1) * pitches, c.hidden, device),
        &run.join(checkpoint::MODEL_FILE),
    )?;
    Ok((machine, c, low, pitches))
}

fn write(
    run: &std::path::Path,
    options: &ChainOptions,
    stop: &AtomicBool,
    send: &dyn Fn(ChainEvent),
) -> Result<Score, String> {
    let (config, _) = checkpoint::read(run, None).map_err(|e| e.to_string())?;
    config.check()?;
    match config.model {
        ModelKind::Crbm => return write_constrained(run, config, options, stop, send),
        ModelKind::RnnRbm => return write_recurrent(run, config, options, stop, send),
        _ => {}
    }
    let device = Device::flex();
    let (machine, config, low, pitches) = load_rbm(run, config, &device)?;
    let grid = config.grid.clamp(1, 4);
    let (melody, shift) = match &options.melody {
        Some(score) => {
            let (frames, shift) = rbm::melody_in_model_key(score, None, &config)?;
            (Some(frames), shift)
        }
        None => (None, 0),
    };
    let frames = melody.as_ref().map_or(options.frames.max(1), Vec::len);
    let melody_pins = melody
        .as_deref()
        .map_or_else(Vec::new, |m| rbm::melody_pins(m, low, pitches));
    let pins = over(melody_pins, &options.pins);
    send(ChainEvent::Started {
        low,
        pitches,
        frames,
        similarity: None,
        features: machine.features(FEATURES),
    });
    let steps = options.steps.max(1);
    let mut watch = paced(options, stop, send, |_| steps);
    let mut written = rbm::chain(
        &machine,
        config.window,
        pitches,
        &pins,
        frames,
        (steps, options.temperature),
        options.seed,
        &device,
        Some(&mut watch),
    );
    Ok(match (&options.melody, &melody) {
        (Some(score), Some(frames)) => {
            rbm::strip_melody(&mut written, frames, low);
            rbm::harmony_score(score, None, &written, (low, shift), grid)
        }
        _ => rbm::frames_to_score("rbm chain", &written, low, grid),
    })
}

/// `painted` pins laid over `base` ones (a painted cell wins; frames of either kind kept).
fn over(mut base: Vec<Vec<Option<bool>>>, painted: &[Vec<Option<bool>>]) -> Vec<Vec<Option<bool>>> {
    if base.len() < painted.len() {
        base.resize(painted.len(), Vec::new());
    }
    for (row, paint) in base.iter_mut().zip(painted) {
        if row.len() < paint.len() {
            row.resize(paint.len(), None);
        }
        for (cell, &pin) in row.iter_mut().zip(paint) {
            if pin.is_some() {
                *cell = pin;
            }
        }
    }
    base
}

/// A watcher for a frame-by-frame chain: reports every step (and each frame once its last
/// step, `steps_of(frame)`, is done), sleeps to the chosen pace, and stops when asked.
fn paced<'a>(
    options: &ChainOptions,
    stop: &'a AtomicBool,
    send: &'a dyn Fn(ChainEvent),
    steps_of: impl Fn(usize) -> usize + 'a,
) -> impl FnMut(rbm::ChainStep<'_>) -> bool + 'a {
    let pause = Duration::from_secs_f64(1.0 / options.steps_per_second.clamp(1.0, 100_000.0));
    move |step: rbm::ChainStep<'_>| {
        let started = Instant::now();
        send(ChainEvent::Step {
            frame: step.frame,
            step: step.step,
            probabilities: step.probabilities.to_vec(),
            state: step.state.to_vec(),
            clamped: step.clamped.to_vec(),
            free_energy: step.free_energy,
        });
        if step.step + 1 == steps_of(step.frame) {
            send(ChainEvent::Frame(step.state.to_vec()));
        }
        std::thread::sleep(pause.saturating_sub(started.elapsed()));
        !stop.load(Ordering::SeqCst)
    }
}

/// The RNN-RBM's chain: the open piece's opening bars (if given) prime the recurrence, then
/// each new frame is sampled under the biases its predecessors set.
fn write_recurrent(
    run: &std::path::Path,
    config: RunConfig,
    options: &ChainOptions,
    stop: &AtomicBool,
    send: &dyn Fn(ChainEvent),
) -> Result<Score, String> {
    use crate::models::rnn_rbm::{self, RnnRbm};
    let device = Device::flex();
    let (ModelConfig::RnnRbm(c), Vocabulary::Roll { low, pitches, .. }) =
        (config.hyperparameters, config.vocabulary)
    else {
        return Err(crate::models::missing_vocabulary(run));
    };
    let machine = crate::models::load_module(
        RnnRbm::new(pitches, c.hidden, c.recurrent, &device),
        &run.join(checkpoint::MODEL_FILE),
    )?;
    let prime = options.melody.as_ref().map_or_else(Vec::new, |score| {
        rnn_rbm::prime_frames(score, &c, (low, pitches), options.prime_bars)
    });
    let frames = options.frames.max(prime.len() + 1);
    send(ChainEvent::Started {
        low,
        pitches,
        frames,
        similarity: None,
        features: machine.features(FEATURES),
    });
    let (steps, primed) = (options.steps.max(1), prime.len());
    let mut watch = paced(
        options,
        stop,
        send,
        |frame| {
            if frame < primed { 1 } else { steps }
        },
    );
    let written = rnn_rbm::generate_watched(
        &machine,
        (steps, options.temperature),
        pitches,
        (frames, &prime, &options.pins),
        options.seed,
        &device,
        Some(&mut watch),
    );
    Ok(rbm::frames_to_score(
        "rnn-rbm chain",
        &written,
        low,
        c.grid.clamp(1, 4),
    ))
}

/// The C-RBM's constrained chain over a whole roll: the open piece (if given) is the template,
/// as many bars as it has (else `frames`).
fn write_constrained(
    run: &std::path::Path,
    config: RunConfig,
    options: &ChainOptions,
    stop: &AtomicBool,
    send: &dyn Fn(ChainEvent),
) -> Result<Score, String> {
    use crate::models::crbm::{self, Constraints, Crbm, CrbmStep};
    let device = Device::flex();
    let (ModelConfig::Crbm(c), Vocabulary::Roll { low, pitches, .. }) =
        (config.hyperparameters, config.vocabulary)
    else {
        return Err(crate::models::missing_vocabulary(run));
    };
    let machine = crate::models::load_module(
        Crbm::new(pitches, c.filters, c.width.max(1), &device),
        &run.join(checkpoint::MODEL_FILE),
    )?;
    let grid = c.grid.clamp(1, 4);
    let per_bar = options.beats.clamp(1, 16) * grid;
    let key = crate::music::key::Key::parse(&options.key)
        .ok_or_else(|| format!("'{}' is not a key (write C, F#, Bb, Am…)", options.key))?;
    let similarity = options
        .melody
        .as_ref()
        .map(|t| crbm::template_similarity(t, grid, per_bar))
        .filter(|s| !s.is_empty());
    let frames = similarity
        .as_ref()
        .map_or(options.frames.max(per_bar), |s| s.len().min(32) * per_bar);
    let constraints = Constraints {
        self_similarity: similarity.clone(),
        key: Some(key.scale_profile()),
        weights: options.weights,
        beats: options.beats.clamp(1, 16),
    };
    send(ChainEvent::Started {
        low,
        pitches,
        frames,
        similarity,
        features: machine.features(FEATURES),
    });
    let pause = Duration::from_secs_f64(1.0 / options.steps_per_second.clamp(1.0, 100_000.0));
    let steps = options.steps.max(1);
    let mut watch = |step: CrbmStep<'_>| {
        let started = Instant::now();
        send(ChainEvent::Constrained {
            step: step.step,
            steps,
            temperature: step.temperature,
            frames: step.frames.to_vec(),
            costs: step.costs,
        });
        std::thread::sleep(pause.saturating_sub(started.elapsed()));
        !stop.load(Ordering::SeqCst)
    };
    let (written, _) = crbm::generate_watched(
        &machine,
        (low, pitches),
        frames,
        (per_bar, steps),
        &constraints,
        options.seed,
        &device,
        Some(&mut watch),
    );
    Ok(rbm::frames_to_score("crbm chain", &written, low, grid))
}
