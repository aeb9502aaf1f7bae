//! The training thread: events, stop within one step, pause and resume, checkpoints that load
//! again, resuming a run, reproducibility and divergence.

mod common;

use std::time::{Duration, Instant};

use muselab::compute::DeviceChoice;
use muselab::models::ModelKind;
use muselab::training::{ModelConfig, RunConfig, TrainingEvent, TrainingHandle};

fn quick(kind: ModelKind) -> RunConfig {
    let mut config = RunConfig::new(kind);
    config.max_pieces = Some(20);
    config.epochs = 2;
    config.batch_size = 16;
    config.max_steps_per_epoch = Some(15);
    config.device = DeviceChoice::Cpu;
    if let ModelConfig::Minibach(c) = &mut config.hyperparameters {
        c.hidden = 64;
    }
    config
}

use common::{collect, start_run as start};

fn finished(events: &[TrainingEvent]) -> &Result<String, String> {
    match events.last() {
        Some(TrainingEvent::Finished(result)) => result,
        other => panic!("no Finished event, last: {other:?}"),
    }
}

#[test]
fn a_run_reports_steps_epochs_and_checkpoints_and_is_reproducible() {
    let models = common::temp_dir("engine-run");
    let events = collect(&start(quick(ModelKind::Minibach), &models, None));
    assert!(finished(&events).is_ok(), "{:?}", finished(&events));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, TrainingEvent::Started { .. }))
    );
    let per_epoch = events
        .iter()
        .find_map(|e| match e {
            TrainingEvent::Started {
                steps_per_epoch, ..
            } => Some(*steps_per_epoch),
            _ => None,
        })
        .expect("started");
    assert!(per_epoch > 0 && per_epoch <= 15);
    let steps = events
        .iter()
        .filter(|e| matches!(e, TrainingEvent::Step { .. }))
        .count();
    assert_eq!(steps, 2 * per_epoch);
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainingEvent::Epoch { record, .. } => Some(record.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(epochs.len(), 2);
    assert!(
        epochs[1]
            .validation
            .iter()
            .any(|(n, _)| n == "alto accuracy")
    );
    assert!(!epochs[1].sample_metrics.is_empty());
    let runs = muselab::training::list_runs(&models);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].epochs, 2);

    // The same seed on the same device gives the same samples.
    let again = collect(&start(quick(ModelKind::Minibach), &models, None));
    assert_eq!(
        common::first_samples(&events),
        common::first_samples(&again)
    );
}

#[test]
fn stop_takes_effect_within_one_step_and_leaves_a_checkpoint() {
    let models = common::temp_dir("engine-stop");
    let mut config = quick(ModelKind::Lstm);
    config.max_steps_per_epoch = Some(10_000);
    let handle = start(config, &models, None);
    // Wait for the first step, then pause, check no step arrives, resume, stop.
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "no step");
        if let Ok(TrainingEvent::Step { .. }) = handle.events.recv_timeout(Duration::from_secs(60))
        {
            break;
        }
    }
    handle.pause();
    let steps = |handle: &TrainingHandle| {
        std::iter::from_fn(|| handle.events.try_recv().ok())
            .filter(|e| matches!(e, TrainingEvent::Step { .. }))
            .count()
    };
    // The step under way when Pause was pressed may finish; no further one starts.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        steps(&handle) <= 1,
        "at most the step under way finishes after pause"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(steps(&handle), 0, "no step while paused");
    handle.resume();
    assert!(matches!(
        handle.events.recv_timeout(Duration::from_secs(30)),
        Ok(TrainingEvent::Step { .. })
    ));
    handle.stop();
    let rest = collect(&handle);
    let late_steps = rest
        .iter()
        .filter(|e| matches!(e, TrainingEvent::Step { .. }))
        .count();
    assert!(late_steps <= 1, "{late_steps} steps after stop");
    let message = finished(&rest).clone().expect("stopped cleanly");
    assert!(message.contains("stopped"), "{message}");
    assert_eq!(muselab::training::list_runs(&models).len(), 1);
}

#[test]
fn a_run_resumes_from_its_checkpoint() {
    let models = common::temp_dir("engine-resume");
    let mut config = quick(ModelKind::Autoencoder);
    config.epochs = 1;
    assert!(finished(&collect(&start(config.clone(), &models, None))).is_ok());
    let run = muselab::training::list_runs(&models)[0].dir.clone();
    config.epochs = 3;
    let events = collect(&start(config, &models, Some(run.clone())));
    assert!(finished(&events).is_ok(), "{:?}", finished(&events));
    let epochs: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TrainingEvent::Epoch { record, .. } => Some(record.epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, vec![2, 3]);
    let (_, history) = muselab::training::checkpoint::read(&run, None).expect("reads");
    assert_eq!(history.epochs.len(), 3);
}

#[test]
fn divergence_stops_the_run_with_a_message() {
    let models = common::temp_dir("engine-nan");
    let mut config = quick(ModelKind::Autoencoder);
    // A learning rate of 1e30 blows the weights up to infinities, and the loss to NaN, within
    // a few updates (a NaN rate is refused before the run starts: see the next test).
    config.learning_rate = 1e30;
    config.max_steps_per_epoch = Some(200);
    let events = collect(&start(config, &models, None));
    let error = finished(&events).clone().expect_err("diverges");
    assert!(error.contains("diverged"), "{error}");
}

#[test]
fn an_out_of_range_setting_is_refused_before_the_run_starts() {
    let models = common::temp_dir("engine-range");
    let mut config = quick(ModelKind::Minibach);
    if let ModelConfig::Minibach(c) = &mut config.hyperparameters {
        c.dropout = 1.0;
    }
    let events = collect(&start(config.clone(), &models, None));
    let error = finished(&events).clone().expect_err("refused");
    assert!(
        error.contains("dropout must be between 0 and 0.95"),
        "{error}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TrainingEvent::Step { .. })),
        "no step ran"
    );
    config.hyperparameters = (ModelKind::Minibach.info().default_config)();
    config.learning_rate = f64::NAN;
    let error = finished(&collect(&start(config, &models, None)))
        .clone()
        .expect_err("refused");
    assert!(error.contains("learning rate"), "{error}");
}

/// A models folder that cannot be written (here: its path runs through a regular file, which
/// fails even for root) is refused before any training step, with a message naming it.
#[test]
fn an_unwritable_models_folder_is_refused_before_training() {
    let dir = common::temp_dir("engine-unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").expect("write");
    let models = file.join("models");
    let events = collect(&start(quick(ModelKind::Minibach), &models, None));
    let error = finished(&events).clone().expect_err("refused");
    assert!(
        error.contains("cannot be written") && error.contains("a-file"),
        "{error}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, TrainingEvent::Step { .. })),
        "no step ran"
    );
}

/// A process killed between the two renames of a checkpoint write leaves the run folder
/// missing, with the old folder aside and the complete new one beside it. Listing the runs
/// (or reading that run) puts the new one back; with only the old one, the old one comes back.
#[test]
fn a_run_folder_left_missing_by_an_interrupted_write_is_recovered() {
    let models = common::temp_dir("engine-recover");
    let mut config = quick(ModelKind::Minibach);
    config.epochs = 1;
    let events = collect(&start(config, &models, None));
    finished(&events).clone().expect("trains");
    let run = muselab::training::checkpoint::list_runs(&models)
        .first()
        .expect("one run")
        .dir
        .clone();
    let parent = run.parent().expect("parent").to_path_buf();
    let name = run
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    // A PID that no process has (Linux caps PIDs at 2^22).
    let old = parent.join(format!(".{name}.old9999999"));
    let tmp = parent.join(format!(".{name}.tmp9999999"));
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("list").flatten() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    };
    // Both aside: the new (complete) folder wins.
    copy(&run, &tmp);
    std::fs::rename(&run, &old).expect("aside");
    assert!(!run.exists());
    let runs = muselab::training::checkpoint::list_runs(&models);
    assert_eq!(runs.len(), 1, "the run is listed again");
    assert!(run.join("model.bpk").is_file() && !old.exists() && !tmp.exists());
    // Only the old one aside: it comes back when the run is read.
    std::fs::rename(&run, &old).expect("aside");
    muselab::training::checkpoint::read(&run, None).expect("reads after recovery");
    assert!(!old.exists());
}

#[test]
fn a_missing_corpus_is_a_clear_error() {
    let models = common::temp_dir("engine-missing");
    let mut config = quick(ModelKind::Minibach);
    config.corpus = "/no/such/corpus".into();
    let error = finished(&collect(&start(config, &models, None)))
        .clone()
        .expect_err("fails");
    assert!(error.contains("/no/such/corpus"), "{error}");
}

/// Resuming restores Adam's moment estimates as well as the weights: a resumed session's
/// second step matches the original's exactly, and one that lost the optimiser state does not.
#[test]
fn a_resumed_session_continues_with_its_optimiser_state() {
    use burn::tensor::Device;
    use muselab::data::load_scores;
    use muselab::models::Session;
    use muselab::training::build_session;
    use rand::SeedableRng;
    let _rng = common::rng_lock();
    let mut config = quick(ModelKind::Autoencoder);
    let dir = muselab::corpus::resolve(&common::assets(), "bach");
    let scores = load_scores(&dir, config.max_pieces).expect("corpus").0;
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    let mut session = |seed: u64| {
        device.seed(seed);
        let mut s = build_session(&mut config, &scores, &autodiff).expect("session");
        s.start_epoch(&mut rand::rngs::StdRng::seed_from_u64(1));
        s
    };
    let path = common::temp_dir("optimiser").join(muselab::training::checkpoint::MODEL_FILE);
    let mut original = session(3);
    for step in 0..10 {
        original.train_step(step);
    }
    original.save(&path).expect("saves");
    let two_more = |s: &mut Box<dyn Session>| {
        s.train_step(10);
        s.train_step(11).read()[0]
    };
    let expected = two_more(&mut original);

    let mut resumed = session(4);
    resumed.load(&path).expect("loads");
    assert_eq!(two_more(&mut resumed), expected);

    std::fs::remove_file(path.with_extension("adam.bpk")).expect("optimiser file");
    let mut forgetful = session(4);
    forgetful
        .load(&path)
        .expect("loads without optimiser state");
    let without = two_more(&mut forgetful);
    assert!(
        (without - expected).abs() > 1e-6,
        "a fresh optimiser should step differently: {without} vs {expected}"
    );
}

/// A panic inside the training thread ends the run with an error event instead of leaving it
/// "running" with no further event. The panic is injected through the UI's wake-up callback,
/// which the training thread calls after each event it sends: the sixth call panics once.
#[test]
fn a_panic_in_the_training_thread_ends_the_run_with_an_error() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let models = common::temp_dir("engine-panic");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let handle = muselab::training::spawn(muselab::training::TrainingRequest {
        config: quick(ModelKind::Minibach),
        assets: common::assets(),
        models_dir: models.to_path_buf(),
        shipped_dir: None,
        resume_from: None,
        compute: Some(muselab::compute::ComputeDevice::cpu("test")),
        notify: Some(Box::new(move || {
            if counter.fetch_add(1, Ordering::SeqCst) == 5 {
                panic!("injected fault");
            }
        })),
    });
    let events = collect(&handle);
    let error = finished(&events).clone().expect_err("fails");
    assert!(
        error.contains("internal error") && error.contains("injected fault"),
        "{error}"
    );
    assert!(calls.load(Ordering::SeqCst) > 5, "the fault was injected");
}

/// Small settings of `kind` for the exact-resume test: every schedule that counts steps
/// crosses the epoch boundary (β annealing) or carries state over it (C-RNN-GAN pretrains for
/// two steps, so its freezing rule reads the third step's losses at the fourth).
fn tiny(kind: ModelKind) -> RunConfig {
    let mut config = quick(kind);
    config.max_pieces = Some(12);
    config.batch_size = 8;
    config.max_steps_per_epoch = Some(3);
    let sets: &[(&str, &str)] = match kind {
        ModelKind::Minibach => &[("hidden", "32")],
        ModelKind::DeepBach => &[
            ("hidden", "8"),
            ("embedding", "4"),
            ("context", "4"),
            ("sweeps", "1"),
        ],
        ModelKind::Autoencoder | ModelKind::StackedAutoencoder => &[("hidden", "32")],
        ModelKind::SparseAutoencoder => &[("code", "64")],
        ModelKind::Vrae => &[("hidden", "16")],
        ModelKind::RlTuner => &[("steps_per_epoch", "3"), ("composition", "8")],
        ModelKind::Lstm => &[("hidden", "16"), ("layers", "1"), ("sequence", "16")],
        ModelKind::Vae => &[("hidden", "32"), ("anneal_steps", "5")],
        ModelKind::RnnVae => &[
            ("encoder_hidden", "16"),
            ("decoder_hidden", "16"),
            ("bars", "1"),
            ("anneal_steps", "5"),
            ("sampling_rate", "0.5"),
        ],
        ModelKind::Gan => &[("hidden", "32"), ("noise", "8")],
        ModelKind::CrnnGan => &[("hidden", "16"), ("sequence", "8"), ("pretrain_steps", "2")],
        ModelKind::Midinet => &[("channels", "8"), ("noise", "8")],
        ModelKind::Rbm => &[("hidden", "16"), ("persistent", "1"), ("gibbs_steps", "2")],
        ModelKind::Crbm => &[("filters", "8"), ("window", "16"), ("gibbs_steps", "3")],
        ModelKind::AnticipationRnn => &[
            ("hidden", "16"),
            ("layers", "1"),
            ("sequence", "16"),
            ("generate_steps", "16"),
        ],
        ModelKind::RnnRbm => &[
            ("hidden", "8"),
            ("recurrent", "8"),
            ("cd_steps", "2"),
            ("sequence", "8"),
            ("gibbs_steps", "2"),
        ],
    };
    for (name, value) in sets {
        config
            .hyperparameters
            .set(name, value)
            .expect("valid setting");
    }
    config
}

/// For every model, "train 2 epochs" and "train 1 epoch, resume for 1" give the same weights
/// and the same history: the optimiser state, the step count of the schedules and every random
/// stream (shuffles, dropout, noise) continue where they were.
#[test]
fn resuming_at_an_epoch_gives_the_same_weights_and_history_for_every_model() {
    use muselab::training::checkpoint::read;
    // RL-Tuner needs a starting LSTM run: tests/rl_tuner.rs checks that it resumes exactly.
    for kind in ModelKind::ALL
        .into_iter()
        .filter(|&k| k != ModelKind::RlTuner)
    {
        let models = common::temp_dir(&format!("engine-exact-{}", kind.id()));
        let whole = models.join("whole");
        let parts = models.join("parts");
        let whole_events = collect(&start(tiny(kind), &whole, None));
        assert!(
            finished(&whole_events).is_ok(),
            "{kind:?}: {:?}",
            finished(&whole_events)
        );
        let mut first = tiny(kind);
        first.epochs = 1;
        assert!(finished(&collect(&start(first, &parts, None))).is_ok());
        let run = muselab::training::list_runs(&parts)[0].dir.clone();
        let events = collect(&start(tiny(kind), &parts, Some(run.clone())));
        assert!(
            finished(&events).is_ok(),
            "{kind:?}: {:?}",
            finished(&events)
        );

        let whole_run = muselab::training::list_runs(&whole)[0].dir.clone();
        let (_, expected) = read(&whole_run, None).expect("reads");
        let (_, resumed) = read(&run, None).expect("reads");
        common::assert_same_history(&resumed, &expected, &format!("{kind:?}"));
        assert_eq!(resumed.epochs.len(), 2);
        // The weights, through what they compute: the second epoch's validation above and its
        // samples here (the saved files differ in burn's parameter ids, not in values).
        assert_eq!(
            common::first_samples(&events).last(),
            common::first_samples(&whole_events).last(),
            "{kind:?}: the resumed run's samples differ"
        );
    }
}

/// A UI that stops reading events (a minimised window is not repainted) neither stalls the
/// run nor loses its epochs: they wait in order until read; only step events are dropped.
#[test]
fn training_does_not_wait_for_a_ui_that_does_not_read() {
    let models = common::temp_dir("engine-unread");
    let mut config = tiny(ModelKind::Minibach);
    config.max_steps_per_epoch = Some(1);
    config.epochs = 300;
    let handle = start(config, &models, None);
    let started = Instant::now();
    // The run gets to its end (its last checkpoint) without anyone reading its events; only
    // its final event waits to be read.
    while muselab::training::list_runs(&models)
        .first()
        .is_none_or(|r| r.epochs < 300)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run stalled while its events were not read"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = collect(&handle);
    let epochs: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TrainingEvent::Epoch { record, .. } => Some(record.epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, (1..=300).collect::<Vec<_>>());
    assert!(finished(&events).is_ok(), "{:?}", finished(&events));
}
