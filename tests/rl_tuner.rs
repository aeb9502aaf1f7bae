//! RL-Tuner moves the rules' statistics the way its rewards push while keeping close to the
//! data, a seed gives the same run, and a run saves, loads and resumes.

mod common;

use muselab::compute::DeviceChoice;
use muselab::models::ModelKind;
use muselab::training::RunConfig;

fn measure(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {values:?}"))
        .1
}

/// A small LSTM trained briefly on Celtic tunes: the tuner's starting run.
fn small_lstm(models: &std::path::Path) -> std::path::PathBuf {
    let mut config = RunConfig::new(ModelKind::Lstm);
    config.max_pieces = Some(80);
    config.epochs = 1;
    config.batch_size = 16;
    config.max_steps_per_epoch = Some(60);
    config.learning_rate = 5e-3;
    config.device = DeviceChoice::Cpu;
    for (name, value) in [("hidden", "32"), ("layers", "1"), ("sequence", "32")] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let events = common::collect(&common::start_run(config, models, None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Ok(_)))
    ));
    muselab::training::list_runs(models)[0].dir.clone()
}

fn tuner(from: &std::path::Path) -> RunConfig {
    let mut config = RunConfig::new(ModelKind::RlTuner);
    config.max_pieces = Some(40);
    config.batch_size = 32;
    config.learning_rate = 1e-3;
    config.device = DeviceChoice::Cpu;
    config.from = Some(from.to_path_buf());
    for (name, value) in [("exploration_steps", "300"), ("steps_per_epoch", "100")] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    config
}

#[test]
fn tuning_moves_the_rules_statistics_and_keeps_near_the_data() {
    let models = common::temp_dir("rl-tuner");
    let lstm = small_lstm(&models.join("lstm"));
    let mut config = tuner(&lstm);
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "celtic")
    };
    common::train_steps(session.as_mut(), 900);
    let after = session.validate();
    let (reward, start_reward) = (
        measure(&after, "mean music-theory reward"),
        measure(&after, "mean music-theory reward (start)"),
    );
    let (log_p, start_log_p) = (
        measure(&after, "mean log p(a|s)"),
        measure(&after, "mean log p(a|s) (start)"),
    );
    let (repeated, start_repeated) = (
        measure(&after, "excessively repeated"),
        measure(&after, "excessively repeated (start)"),
    );
    eprintln!(
        "music-theory reward {start_reward:.3} → {reward:.3}; log p {start_log_p:.3} → {log_p:.3}; \
         excessively repeated {start_repeated:.3} → {repeated:.3}"
    );
    assert!(
        reward > start_reward + 1.0,
        "the rules' reward rose too little: {start_reward} → {reward}"
    );
    assert!(repeated <= start_repeated, "{start_repeated} → {repeated}");
    assert!(
        log_p > start_log_p - 2.0,
        "the tuner left the data too far: log p {start_log_p} → {log_p}"
    );
    let _ = std::fs::remove_dir_all(&models);
}

#[test]
fn a_tuner_run_is_reproducible_and_resumes() {
    let models = common::temp_dir("rl-tuner-runs");
    let lstm = small_lstm(&models.join("lstm"));
    let run = |dir: &std::path::Path, epochs: usize, resume: Option<std::path::PathBuf>| {
        let mut config = tuner(&lstm);
        config.epochs = epochs;
        config.max_steps_per_epoch = Some(20);
        let events = common::collect(&common::start_run(config, dir, resume));
        common::assert_finished(&events);
        events
    };
    let (a, b) = (models.join("a"), models.join("b"));
    let first = common::first_samples(&run(&a, 1, None));
    let second = common::first_samples(&run(&b, 1, None));
    assert_eq!(first, second, "same seed, same run");
    let tuned = muselab::training::list_runs(&a)[0].dir.clone();
    let resumed = run(&a, 2, Some(tuned.clone()));
    let (config, history) = muselab::training::checkpoint::read(&tuned, None).expect("reads");
    assert_eq!(history.epochs.len(), 2);
    // Exactly as a run of two epochs: the replay buffer, the composition in play (20 steps an
    // epoch stop it midway) and the target network come back with the checkpoint.
    let whole_dir = models.join("whole");
    let whole = run(&whole_dir, 2, None);
    let whole_run = muselab::training::list_runs(&whole_dir)[0].dir.clone();
    let (_, expected) = muselab::training::checkpoint::read(&whole_run, None).expect("reads");
    common::assert_same_history(&history, &expected, "RL-Tuner after resuming");
    assert_eq!(
        common::first_samples(&resumed).last(),
        common::first_samples(&whole).last(),
        "the resumed tuner's samples differ"
    );
    assert_eq!(config.from.as_deref(), Some(lstm.as_path()));
    // The tuned network loads as a melody model and writes.
    let (model, _) =
        muselab::inference::LoadedModel::load(&tuned, None, &burn::tensor::Device::flex())
            .expect("loads");
    let score = model
        .generate(
            &muselab::inference::GenerateOptions {
                seed: 3,
                temperature: 1.0,
                ..Default::default()
            },
            &burn::tensor::Device::flex(),
        )
        .expect("writes");
    assert!(score.notes().next().is_some());
    // Evaluated as a melody model, with its compositions scored by the network it started
    // from (kept in the tuned checkpoint).
    let report = common::evaluate(&tuned);
    let rules = report.measures.rules.expect("the rules' statistics");
    assert!(rules.log_p_start.is_some_and(f64::is_finite));
    assert!(rules.log_p_start_own.is_some_and(f64::is_finite));
    // Without a starting run (none picked, no lstm run beside it) a tuner does not train.
    let mut alone = tuner(&lstm);
    alone.from = None;
    let events = common::collect(&common::start_run(alone, &models.join("c"), None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Err(e))) if e.contains("train an lstm on celtic first")
    ));
    let _ = std::fs::remove_dir_all(&models);
}

/// A rule's weight steers its statistic: the same tuning with the motif rules weighted 0
/// leaves fewer notes in motifs than with them weighted 5 (same seed, same start; measured
/// 0.583 against 0.708 — at weight 1 this short run barely tells them apart, 0.583 against
/// 0.596). With weight 0 the statistic does not simply stay where the LSTM had it: the other
/// rules move the melody too (the default run: 0.557 at the start, 0.456 without the motif
/// rules, 0.667 with them).
#[test]
fn a_rules_weight_steers_its_statistic() {
    let models = common::temp_dir("rl-tuner-weights");
    let lstm = small_lstm(&models.join("lstm"));
    let in_motif = |weight: &str| {
        let mut config = tuner(&lstm);
        for name in ["w_motif", "w_repeated_motif"] {
            config.hyperparameters.set(name, weight).expect("valid");
        }
        let (mut session, _, _) = {
            let _rng = common::rng_lock();
            common::seeded_session(&mut config, "celtic")
        };
        common::train_steps(session.as_mut(), 900);
        measure(&session.validate(), "in motif")
    };
    let (with, without) = (in_motif("5"), in_motif("0"));
    eprintln!("notes in motifs: {with:.3} with the motif rules, {without:.3} without");
    assert!(
        with > without + 0.05,
        "{with} with against {without} without"
    );
    let _ = std::fs::remove_dir_all(&models);
}

/// Ψ-learning and G-learning (the reference's variants: a soft maximum over the next values;
/// log p(a|s) moved from the reward into the next state's value) raise the rules' reward too.
#[test]
fn psi_and_g_learning_raise_the_rules_reward() {
    let models = common::temp_dir("rl-tuner-variants");
    let lstm = small_lstm(&models.join("lstm"));
    for algorithm in ["1", "2"] {
        let mut config = tuner(&lstm);
        config
            .hyperparameters
            .set("algorithm", algorithm)
            .expect("valid");
        let (mut session, _, _) = {
            let _rng = common::rng_lock();
            common::seeded_session(&mut config, "celtic")
        };
        common::train_steps(session.as_mut(), 900);
        let after = session.validate();
        let (reward, start) = (
            measure(&after, "mean music-theory reward"),
            measure(&after, "mean music-theory reward (start)"),
        );
        eprintln!("algorithm {algorithm}: music-theory reward {start:.3} → {reward:.3}");
        assert!(
            reward > start + 1.0,
            "algorithm {algorithm}: {start} → {reward}"
        );
    }
    let _ = std::fs::remove_dir_all(&models);
}
