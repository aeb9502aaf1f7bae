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
