//! The RNN-RBM learns: held-out chorale frames are predicted from the frames before them
//! better than by independent pitches and than before training; frame t's prediction does not
//! see frame t (its RBM is conditioned on u_{t−1}); a seed gives the same piece, and priming
//! copies the opening.

mod common;

use burn::tensor::Device;
use muselab::models::ModelKind;
use muselab::models::rnn_rbm::{self, RnnRbm};
use muselab::training::RunConfig;

fn measure(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {values:?}"))
        .1
}

#[test]
fn an_rnn_rbm_predicts_chorale_frames_better_than_independent_pitches() {
    let mut config = RunConfig::new(ModelKind::RnnRbm);
    config.max_pieces = Some(100);
    config.batch_size = 16;
    config.learning_rate = 0.01;
    for (name, value) in [("hidden", "64"), ("recurrent", "32"), ("cd_steps", "5")] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "bach")
    };
    let before = session.validate();
    common::train_steps(session.as_mut(), 150);
    let after = session.validate();
    let (model, bernoulli) = (
        measure(&after, "frame accuracy"),
        measure(&after, "Bernoulli frame accuracy"),
    );
    assert!(
        model > bernoulli + 0.05,
        "frame accuracy {model} against the Bernoulli baseline's {bernoulli} (before training: {})",
        measure(&before, "frame accuracy")
    );
    assert!(model > measure(&before, "frame accuracy") + 0.05);
}

#[test]
fn frame_t_is_predicted_without_seeing_frame_t() {
    let device = Device::flex();
    device.seed(11);
    let model = RnnRbm::with_recurrent_scale(6, 5, 4, 0.5, &device);
    let frames: Vec<Vec<f32>> = (0..5)
        .map(|t| (0..6).map(|p| ((t + p) % 2) as f32).collect())
        .collect();
    let mut changed = frames.clone();
    changed[3] = vec![1.0; 6];
    let (a, b) = (
        model.predict_piece(&frames, &device),
        model.predict_piece(&changed, &device),
    );
    // Frames 0..=3 are predicted from the frames before them alone: changing frame 3 leaves
    // them as they were, and changes frame 4's.
    assert_eq!(a[..4], b[..4]);
    assert_ne!(a[4], b[4]);
}

#[test]
fn a_seed_gives_the_same_piece_and_priming_copies_the_opening() {
    let device = Device::flex();
    device.seed(12);
    let model = RnnRbm::with_recurrent_scale(8, 6, 5, 0.5, &device);
    let prime: Vec<Vec<f32>> = vec![vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]; 3];
    let a = rnn_rbm::generate_frames(&model, 5, 8, 10, &prime, 7, &device);
    let b = rnn_rbm::generate_frames(&model, 5, 8, 10, &prime, 7, &device);
    let c = rnn_rbm::generate_frames(&model, 5, 8, 10, &prime, 8, &device);
    assert_eq!(a.len(), 10);
    assert_eq!(a[..3], prime[..]);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// `muselab evaluate` measures an RNN-RBM run beside both of its baselines — independent
/// pitches and a plain RBM (no recurrence) trained as many epochs on the same pieces — on the
/// same held-out frames, and writes all three under "predictive" in its JSON.
#[test]
fn evaluation_sets_the_rnn_rbm_beside_independent_pitches_and_a_plain_rbm() {
    let models = common::temp_dir("rnn-rbm-evaluate");
    let mut config = RunConfig::new(ModelKind::RnnRbm);
    config.max_pieces = Some(100);
    config.epochs = 8;
    config.batch_size = 8;
    config.learning_rate = 0.01;
    config.device = muselab::compute::DeviceChoice::Cpu;
    for (name, value) in [
        ("hidden", "64"),
        ("recurrent", "32"),
        ("cd_steps", "5"),
        ("gibbs_steps", "5"),
    ] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let events = common::collect(&common::start_run(config, &models, None));
    assert!(matches!(
        events.last(),
        Some(muselab::training::TrainingEvent::Finished(Ok(_)))
    ));
    let run = muselab::training::list_runs(&models)[0].dir.clone();
    let report = common::evaluate(&run);
    let frames = |scores: Option<&muselab::measures::Scores>, who: &str| {
        scores
            .and_then(|s| s.frames)
            .unwrap_or_else(|| panic!("no frame measures of {who}"))
    };
    let model = frames(Some(&report.measures), "the model");
    let bernoulli = frames(report.baselines.bernoulli.as_ref(), "Bernoulli");
    let plain = frames(report.baselines.rbm.as_ref(), "the plain RBM");
    eprintln!(
        "frame accuracy: RNN-RBM {:.3}, Bernoulli {:.3}, plain RBM {:.3}",
        model.frame_accuracy, bernoulli.frame_accuracy, plain.frame_accuracy
    );
    assert!(model.frames > 100 && model.frames == plain.frames && model.frames == bernoulli.frames);
    assert!(
        model.frame_accuracy > bernoulli.frame_accuracy + 0.05,
        "{} against {}",
        model.frame_accuracy,
        bernoulli.frame_accuracy
    );
    assert!(plain.frame_accuracy > 0.0 && plain.frame_accuracy < 1.0);

    let json = serde_json::to_value(&report).expect("serialises");
    for who in [
        &json["predictive"],
        &json["baselines"]["bernoulli"]["predictive"],
        &json["baselines"]["rbm"]["predictive"],
    ] {
        assert!(who["frame_accuracy"].is_number(), "{who}");
        assert!(who.get("nll_per_frame").is_some(), "{who}");
    }
    let back: muselab::evaluation::Report = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, report);
    let _ = std::fs::remove_dir_all(&models);
}

/// Painted pins hold in every step of every new frame (a watcher sees them clamped), primed
/// frames are copied and reported once each, all units clamped, and a stop ends the chain.
#[test]
fn pinned_cells_hold_and_primed_frames_are_copied_while_watched() {
    let device = Device::flex();
    device.seed(13);
    let model = RnnRbm::with_recurrent_scale(8, 6, 5, 0.5, &device);
    let prime: Vec<Vec<f32>> = vec![vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]; 2];
    let mut pins = vec![vec![None; 8]; 6];
    for frame in &mut pins[2..] {
        frame[0] = Some(true);
        frame[7] = Some(false);
    }
    let mut seen = Vec::new();
    let mut watch = |step: muselab::models::rbm::ChainStep<'_>| {
        seen.push((
            step.frame,
            step.step,
            step.state.to_vec(),
            step.clamped.to_vec(),
        ));
        true
    };
    let frames = rnn_rbm::generate_watched(
        &model,
        (4, 1.5),
        8,
        (6, &prime, &pins),
        3,
        &device,
        Some(&mut watch),
    );
    assert_eq!(frames.len(), 6);
    assert_eq!(frames[..2], prime[..]);
    // 2 primed frames once each, 4 new frames 4 steps each.
    assert_eq!(seen.len(), 2 + 4 * 4);
    for (frame, step, state, clamped) in &seen {
        if *frame < 2 {
            assert_eq!((*step, state), (0, &prime[*frame]));
            assert!(clamped.iter().all(|&c| c));
        } else {
            assert_eq!(
                (state[0], state[7]),
                (1.0, 0.0),
                "frame {frame} step {step}"
            );
            assert_eq!(clamped.iter().filter(|&&c| c).count(), 2);
        }
    }
    let mut steps = 0;
    let mut stop_early = |_: muselab::models::rbm::ChainStep<'_>| {
        steps += 1;
        steps < 5
    };
    let stopped = rnn_rbm::generate_watched(
        &model,
        (4, 1.0),
        8,
        (6, &prime, &pins),
        3,
        &device,
        Some(&mut stop_early),
    );
    assert_eq!((steps, stopped.len()), (5, 2));
}
