//! The training thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::SeedableRng;

use super::checkpoint::{self, EpochRecord, History, StepRecord};
use super::{RunConfig, build_session};
use crate::compute::{ComputeDevice, DeviceChoice};
use crate::models::{Sample, StepLosses, read_steps};
use crate::music::metrics;

/// On a GPU, the trainer reads step losses back after this many steps…
const READ_BATCH: usize = 16;
/// …or after this long, whichever comes first, so the dashboard still moves smoothly.
const READ_INTERVAL: Duration = Duration::from_millis(250);

/// What the training thread reports.
#[derive(Clone, Debug)]
pub enum TrainingEvent {
    /// A line of progress before training starts ("reading the corpus…").
    Status(String),
    /// Training started.
    Started {
        /// The networks' parameter tensors (for the model card).
        layers: Vec<crate::models::card::LayerShape>,
        /// Where checkpoints go.
        run_dir: PathBuf,
        /// The compute device, as the status bar shows it.
        device: String,
        /// Names of the step losses.
        loss_names: Vec<String>,
        /// Steps per epoch.
        steps_per_epoch: usize,
        /// First epoch of this session (above 1 when resuming).
        first_epoch: usize,
        /// Epochs in all.
        epochs: usize,
        /// The corpus's metric values.
        corpus_metrics: Vec<(String, f64)>,
    },
    /// One step done.
    Step {
        /// The step's record.
        record: StepRecord,
        /// Step within the epoch (from 0).
        step: usize,
        /// Recent throughput.
        steps_per_second: f64,
    },
    /// One epoch done, with its samples.
    Epoch {
        /// The epoch's record.
        record: EpochRecord,
        /// Generated samples.
        samples: Vec<Sample>,
    },
    /// A checkpoint was written.
    Checkpoint(PathBuf),
    /// The run ended: a message, or the error that stopped it.
    Finished(Result<String, String>),
}

/// What to train and where.
pub struct TrainingRequest {
    /// The run.
    pub config: RunConfig,
    /// Where `bach` and `celtic` live.
    pub assets: PathBuf,
    /// Where checkpoints go (`models/`).
    pub models_dir: PathBuf,
    /// The shipped runs (read-only): an rl-tuner may start from their lstm.
    pub shipped_dir: Option<PathBuf>,
    /// Resume from this checkpoint instead of starting fresh (a shipped one: a copy of it in
    /// `models_dir`).
    pub resume_from: Option<PathBuf>,
    /// The probed compute device (probed again when absent).
    pub compute: Option<ComputeDevice>,
    /// Called after each event is sent (the UI's repaint).
    pub notify: Option<Box<dyn Fn() + Send>>,
}

/// The UI's handle on a running job.
pub struct TrainingHandle {
    /// Events, oldest first.
    pub events: Receiver<TrainingEvent>,
    stop: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TrainingHandle {
    /// Pauses before the next step.
    pub fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
    }
    /// Resumes a paused run.
    pub fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
    }
    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.pause.load(Ordering::SeqCst)
    }
    /// Stops before the next step (a checkpoint of the current state is written).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    /// True when the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

/// How long dropping a handle (closing the app) waits for the run to stop and write its
/// checkpoint before leaving the thread to end with the process.
const CLOSE_LIMIT: Duration = Duration::from_millis(1500);

impl Drop for TrainingHandle {
    fn drop(&mut self) {
        self.stop();
        // The receiver goes first: a thread blocked sending to a full channel (a minimised
        // window stops draining it) is released at once, its send failing.
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.events, closed));
        if let Some(thread) = self.thread.take() {
            crate::util::join_within(thread, CLOSE_LIMIT);
        }
    }
}

/// Starts a run on a thread named `training`.
pub fn spawn(request: TrainingRequest) -> TrainingHandle {
    let (sender, events) = sync_channel(512);
    let stop = Arc::new(AtomicBool::new(false));
    let pause = Arc::new(AtomicBool::new(false));
    let flags = (Arc::clone(&stop), Arc::clone(&pause));
    let thread = std::thread::Builder::new()
        .name("training".into())
        .spawn(move || {
            // Training gives way to the UI thread (see `compute::lower_thread_priority`).
            crate::compute::lower_thread_priority();
            let reporter = Reporter::new(sender, request.notify);
            // A panic anywhere in the run (a bad setting deep in burn, an allocation failure)
            // ends the run with an error the UI shows, instead of leaving it "running" forever.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(
                    request.config,
                    &request.assets,
                    (&request.models_dir, request.shipped_dir.as_deref()),
                    request.resume_from,
                    request.compute,
                    &flags.0,
                    &flags.1,
                    &reporter,
                )
            }))
            .unwrap_or_else(|panic| {
                Err(format!(
                    "training stopped by an internal error: {}; the checkpoint of the last completed epoch, if any, is kept",
                    crate::util::panic_text(&panic)
                ))
            });
            reporter.finish(TrainingEvent::Finished(result));
        });
    let thread = match thread {
        Ok(t) => Some(t),
        Err(e) => {
            log::error!("cannot start the training thread: {e}");
            None
        }
    };
    TrainingHandle {
        events,
        stop,
        pause,
        thread,
    }
}

/// The training thread's side of the event channel. Training never waits for the UI: a
/// minimised window stops draining the channel, and a run that blocked on a full channel
/// stalled until the window came back (and could not be stopped on close). Events that must
/// arrive wait in a backlog instead, in order; step events are dropped while the UI is behind.
/// Reads the corpus (through the parse cache) on a helper thread while this one reports
/// "reading …: n of N files" a few times a second: the reporter is not shared with the parsing
/// threads.
fn read_corpus(
    corpus: &std::path::Path,
    limit: Option<usize>,
    reporter: &Reporter,
) -> Result<(Vec<crate::music::Score>, usize), String> {
    use std::sync::atomic::AtomicUsize;
    reporter.send(TrainingEvent::Status(format!(
        "reading {}…",
        corpus.display()
    )));
    let (done, total) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let cache = crate::data::cache::default_cache_dir();
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            crate::data::load_scores_with(corpus, limit, cache.as_deref(), &|d, t| {
                done.fetch_max(d, Ordering::Relaxed);
                total.store(t, Ordering::Relaxed);
            })
            .map(|loaded| (loaded.scores, loaded.skipped))
        });
        let mut shown = 0;
        while !reading.is_finished() {
            std::thread::sleep(Duration::from_millis(200));
            let d = done.load(Ordering::Relaxed);
            if d != shown {
                shown = d;
                reporter.send(TrainingEvent::Status(format!(
                    "reading {}: {d} of {} files",
                    corpus.display(),
                    total.load(Ordering::Relaxed)
                )));
            }
        }
        reading
            .join()
            .unwrap_or_else(|_| Err("reading the corpus failed".into()))
    })
}

struct Reporter {
    sender: SyncSender<TrainingEvent>,
    notify: Option<Box<dyn Fn() + Send>>,
    backlog: std::cell::RefCell<std::collections::VecDeque<TrainingEvent>>,
}

impl Reporter {
    fn new(sender: SyncSender<TrainingEvent>, notify: Option<Box<dyn Fn() + Send>>) -> Self {
        Self {
            sender,
            notify,
            backlog: std::cell::RefCell::default(),
        }
    }
    /// Sends what waits in the backlog, as far as the channel takes it; true when empty.
    fn flush(&self) -> bool {
        let mut backlog = self.backlog.borrow_mut();
        while let Some(event) = backlog.pop_front() {
            match self.sender.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    backlog.push_front(event);
                    return false;
                }
                Err(TrySendError::Disconnected(_)) => backlog.clear(),
            }
        }
        true
    }
    /// Sends an event that must arrive (kept in order in the backlog while the channel is
    /// full).
    fn send(&self, event: TrainingEvent) {
        self.backlog.borrow_mut().push_back(event);
        self.flush();
        self.wake();
    }
    /// Sends the last event: waits until the backlog and it are delivered, or the UI is gone.
    fn finish(&self, event: TrainingEvent) {
        let backlog: Vec<_> = self.backlog.borrow_mut().drain(..).collect();
        for event in backlog.into_iter().chain([event]) {
            if self.sender.send(event).is_err() {
                return;
            }
        }
        self.wake();
    }
    /// Sends a step event, dropped when the UI is behind.
    fn offer(&self, event: TrainingEvent) {
        if !self.flush() {
            return;
        }
        match self.sender.try_send(event) {
            Ok(()) | Err(TrySendError::Full(_)) => self.wake(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
    fn wake(&self) {
        if let Some(notify) = &self.notify {
            notify();
        }
    }
}

fn choose_device(choice: DeviceChoice, probed: Option<ComputeDevice>) -> ComputeDevice {
    match (choice, probed) {
        (DeviceChoice::Cpu, _) => ComputeDevice::cpu("forced by the user"),
        (DeviceChoice::Auto, Some(device)) => device,
        (DeviceChoice::Gpu, Some(device)) if device.is_gpu() => device,
        (choice, _) => crate::compute::probe_with_timeout(choice, crate::compute::PROBE_LIMIT),
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    mut config: RunConfig,
    assets: &std::path::Path,
    (models_dir, shipped_dir): (&std::path::Path, Option<&std::path::Path>),
    mut resume_from: Option<PathBuf>,
    compute: Option<ComputeDevice>,
    stop: &AtomicBool,
    pause: &AtomicBool,
    reporter: &Reporter,
) -> Result<String, String> {
    // Settings out of range are refused before the corpus is read (build_session checks again,
    // after a resume has merged the saved settings).
    config.check()?;
    if config.model == crate::models::ModelKind::RlTuner
        && config.from.is_none()
        && resume_from.is_none()
    {
        // The newest lstm run on the same corpus, when none was picked.
        let newest = checkpoint::list_all_runs(models_dir, shipped_dir)
            .into_iter()
            .find(|r| r.model == crate::models::ModelKind::Lstm && r.corpus == config.corpus);
        let Some(start) = newest else {
            return Err(format!(
                "an rl-tuner run starts from a trained lstm run: give it with --from RUN, pick one in the form, or train an lstm on {} first",
                config.corpus
            ));
        };
        reporter.send(TrainingEvent::Status(format!(
            "tuning the newest lstm run on {}: {}",
            config.corpus,
            start.dir.display()
        )));
        config.from = Some(start.dir);
    }
    if let Some(dir) = resume_from
        .as_ref()
        .filter(|d| super::shipped::is_shipped(d))
    {
        let copy = super::shipped::copy_to_user(dir, models_dir)?;
        reporter.send(TrainingEvent::Status(format!(
            "a shipped run is read-only: training goes on in a copy, {}",
            copy.display()
        )));
        resume_from = Some(copy);
    }
    let started = Instant::now();
    let mut history = History::default();
    let mut first_epoch = 1;
    if let Some(dir) = &resume_from {
        let (saved, saved_history) =
            checkpoint::read(dir, Some(config.model)).map_err(|e| e.to_string())?;
        config = saved.resumed_with(&config, saved_history.epochs.len())?;
        first_epoch = saved_history.epochs.len() + 1;
        history = saved_history;
    }

    let device = choose_device(config.device, compute);
    let label = device.label();
    let _rng_guard = super::RNG_GUARD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.device().seed(config.seed);
    let autodiff = device.device().clone().autodiff();

    let corpus = config.corpus_dir(assets);
    let (scores, skipped) = read_corpus(&corpus, config.max_pieces, reporter)?;
    if skipped > 0 {
        reporter.send(TrainingEvent::Status(format!(
            "{skipped} unreadable files skipped"
        )));
    }
    let mut session = build_session(&mut config, &scores, &autodiff)?;
    let run_dir = match &resume_from {
        Some(dir) => {
            session.load(&dir.join(checkpoint::MODEL_FILE))?;
            // The steps of the completed epochs (a run stopped within an epoch resumes at
            // that epoch's start: its partial steps stay in the weights and the history).
            session.restore(
                history.steps.last().map_or(0, |s| s.global_step),
                &history.resume_state,
            );
            dir.clone()
        }
        None => checkpoint::new_run_dir(models_dir, &config),
    };
    checkpoint::check_writable(&run_dir).map_err(|e| e.to_string())?;
    history.loss_names = session.loss_names();
    history.corpus_metrics = metrics::mean_summary(scores.iter().take(100));

    let per_epoch = session
        .steps_per_epoch()
        .min(config.max_steps_per_epoch.unwrap_or(usize::MAX))
        .max(1);
    reporter.send(TrainingEvent::Started {
        layers: session.layers(),
        run_dir: run_dir.clone(),
        device: label,
        loss_names: history.loss_names.clone(),
        steps_per_epoch: per_epoch,
        first_epoch,
        epochs: config.epochs,
        corpus_metrics: history.corpus_metrics.clone(),
    });
    if device.is_gpu() {
        reporter.send(TrainingEvent::Status(
            "compiling GPU kernels (first steps are slow)…".into(),
        ));
    }

    // One generator for the whole run: shuffles depend on the seed and the epoch only.
    let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
    for _ in 1..first_epoch {
        session.start_epoch(&mut rng);
    }
    let mut global_step = history.steps.last().map_or(0, |s| s.global_step);
    let mut window = (Instant::now(), 0usize);
    let mut saved_any = resume_from.is_some();
    for epoch in first_epoch..=config.epochs {
        session.start_epoch(&mut rng);
        // burn's generator (dropout masks, VAE noise) restarts from the seed and the epoch, so
        // that a run resumed at this epoch draws what the uninterrupted run draws.
        device.device().seed(epoch_seed(config.seed, epoch));
        let mut sums = vec![0.0; history.loss_names.len()];
        let mut done = 0;
        // Steps whose losses are still on the device (see `StepLosses`): read every step on
        // the CPU, where it is free, and in batches on a GPU, where each read waits for the
        // queue to drain.
        let mut pending: Vec<(usize, StepLosses)> = Vec::new();
        let mut last_read = Instant::now();
        let mut step = 0;
        loop {
            while pause.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let stopping = stop.load(Ordering::SeqCst);
            if !stopping {
                pending.push((step, session.train_step(step)));
                step += 1;
            }
            let due = !device.is_gpu()
                || pending.len() >= READ_BATCH
                || last_read.elapsed() >= READ_INTERVAL;
            if stopping || step == per_epoch || due {
                let (steps, losses): (Vec<usize>, Vec<StepLosses>) = pending.drain(..).unzip();
                last_read = Instant::now();
                for (at, losses) in steps.into_iter().zip(read_steps(losses)) {
                    if let Some(bad) = losses.iter().find(|l| !l.is_finite()) {
                        let kept = if saved_any {
                            format!("the last good checkpoint is kept in {}", run_dir.display())
                        } else {
                            "no checkpoint was written".to_string()
                        };
                        return Err(format!(
                            "training diverged: the loss became {bad} at epoch {epoch}, step {}; {kept}. Try a lower learning rate.",
                            at + 1
                        ));
                    }
                    global_step += 1;
                    done += 1;
                    for (s, l) in sums.iter_mut().zip(&losses) {
                        *s += l;
                    }
                    window.1 += 1;
                    let elapsed = window.0.elapsed().as_secs_f64().max(1e-9);
                    let record = StepRecord {
                        global_step,
                        epoch,
                        losses,
                    };
                    history.steps.push(record.clone());
                    reporter.offer(TrainingEvent::Step {
                        record,
                        step: at,
                        steps_per_second: window.1 as f64 / elapsed,
                    });
                    if elapsed > 2.0 {
                        window = (Instant::now(), 0);
                    }
                }
            }
            if stopping {
                if done > 0 || !saved_any {
                    save(&run_dir, &config, &mut history, session.as_ref())?;
                    reporter.send(TrainingEvent::Checkpoint(run_dir.clone()));
                }
                return Ok(format!(
                    "stopped in epoch {epoch}; checkpoint in {}",
                    run_dir.display()
                ));
            }
            if step == per_epoch {
                break;
            }
        }
        let validation = session.validate();
        let samples = session.samples(config.seed.wrapping_add(epoch as u64));
        let sample_metrics = samples
            .first()
            .map(|s| metrics::summary(&metrics::compute(&s.score)))
            .unwrap_or_default();
        let record = EpochRecord {
            epoch,
            global_step,
            train_losses: sums.iter().map(|s| s / done.max(1) as f64).collect(),
            validation,
            sample_metrics,
            seconds: started.elapsed().as_secs_f64(),
        };
        history.epochs.push(record.clone());
        save(&run_dir, &config, &mut history, session.as_ref())?;
        saved_any = true;
        reporter.send(TrainingEvent::Checkpoint(run_dir.clone()));
        reporter.send(TrainingEvent::Epoch { record, samples });
        if let Some(why) = super::early_stop(&history.epochs, config.patience) {
            return Ok(format!(
                "{why}, in {:.1} s; checkpoint (epoch {epoch}) in {}",
                started.elapsed().as_secs_f64(),
                run_dir.display()
            ));
        }
    }
    Ok(format!(
        "finished {} epochs in {:.1} s; checkpoint in {}",
        config.epochs,
        started.elapsed().as_secs_f64(),
        run_dir.display()
    ))
}

/// Writes a checkpoint with the session's resume state.
fn save(
    run_dir: &std::path::Path,
    config: &RunConfig,
    history: &mut History,
    session: &dyn crate::models::Session,
) -> Result<(), String> {
    history.resume_state = session.resume_state();
    checkpoint::write(run_dir, config, history, session).map_err(|e| e.to_string())
}

/// The seed of burn's generator for one epoch of a run (SplitMix64 of the run's seed and the
/// epoch, so that neighbouring epochs and seeds give unrelated streams).
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
