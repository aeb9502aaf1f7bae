//! The Restricted Boltzmann Machine learns: a toy distribution of three chords is recovered
//! (exact likelihood), held-out chorale frames are predicted better than by the independent
//! Bernoulli baseline, clamped units never change, and a seed gives the same sample.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use muselab::models::ModelKind;
use muselab::models::rbm::{self, Rbm, RbmConfig};
use muselab::music::{Note, Score, Track};
use muselab::training::RunConfig;
use rand::SeedableRng;

/// The value of a validation measure.
fn measure(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {values:?}"))
        .1
}

/// Twenty pieces of 24 quarter-note chords, each one of C, F or G major (root position, in
/// one octave), in a pseudo-random order: the data distribution is three frames, a third each.
fn three_chords() -> Vec<Score> {
    let chords: [[u8; 3]; 3] = [[60, 64, 67], [65, 69, 72], [67, 71, 74]];
    let mut state = 7u64;
    (0..20)
        .map(|i| {
            let mut notes = Vec::new();
            for step in 0..24u64 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let chord = chords[(state >> 33) as usize % 3];
                notes.extend(chord.iter().map(|&pitch| Note {
                    pitch,
                    start: step * 480,
                    duration: 480,
                    velocity: 80,
                }));
            }
            Score::new(format!("toy{i:02}"), 480).with_track(Track::new("chords", notes))
        })
        .collect()
}

#[test]
fn an_rbm_recovers_a_distribution_of_three_chords() {
    let _rng = common::rng_lock();
    let mut config = RunConfig::new(ModelKind::Rbm);
    config.batch_size = 16;
    config.learning_rate = 0.02;
    for (name, value) in [
        ("hidden", "8"),
        ("window", "1"),
        ("to_c", "0"),
        ("cd_steps", "5"),
    ] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let device = Device::flex();
    device.seed(3);
    let scores = three_chords();
    let mut session =
        muselab::training::build_session(&mut config, &scores, &device.clone().autodiff())
            .expect("session");
    let before = measure(&session.validate(), "held-out NLL per frame (exact)");
    common::train_steps(session.as_mut(), 600);
    let after = measure(&session.validate(), "held-out NLL per frame (exact)");
    // The data's entropy is ln 3 = 1.10 nats a frame. The untrained machine is the independent
    // model of the pitches' frequencies (its visible biases start there): ≈ 5 nats, since it
    // also gives mass to every mixture of the three chords' notes.
    assert!(before > 4.0, "untrained: {before}");
    assert!(after < 1.6, "trained: {after} nats a frame (ln 3 = 1.10)");
}

#[test]
fn an_rbm_predicts_chorale_frames_better_than_independent_pitches() {
    let mut config = RunConfig::new(ModelKind::Rbm);
    config.max_pieces = Some(100);
    config.batch_size = 32;
    config.learning_rate = 0.03;
    config.hyperparameters.set("hidden", "64").expect("valid");
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "bach")
    };
    let before = session.validate();
    common::train_steps(session.as_mut(), 330);
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
    assert!(
        measure(&after, "held-out reconstruction cross-entropy")
            < measure(&before, "held-out reconstruction cross-entropy") - 10.0
    );
}

#[test]
fn clamped_units_never_change_and_a_seed_gives_the_same_sample() {
    let device = Device::flex();
    device.seed(5);
    let machine = Rbm::new(24, 10, &device);
    let mask: Vec<f32> = (0..24)
        .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
        .collect();
    let values: Vec<f32> = (0..24)
        .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
        .collect();
    let as_tensor =
        |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 24]), &device);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for steps in [1, 7, 30] {
        let v = rbm::gibbs(
            &machine,
            as_tensor(&[0.5; 24]),
            steps,
            Some((&as_tensor(&mask), &as_tensor(&values))),
            &mut rng,
        );
        let out = muselab::models::rows(v).remove(0);
        for i in (0..24).filter(|i| mask[*i] > 0.0) {
            assert_eq!(out[i], values[i], "unit {i} after {steps} steps");
        }
    }
    let config = RbmConfig {
        window: 3,
        gibbs_steps: 5,
        ..RbmConfig::default()
    };
    let machine = Rbm::new(3 * 8, 10, &device);
    let a = rbm::generate_frames(&machine, &config, 8, 12, 42, &device);
    let b = rbm::generate_frames(&machine, &config, 8, 12, 42, &device);
    let c = rbm::generate_frames(&machine, &config, 8, 12, 43, &device);
    assert_eq!(a.len(), 12);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

/// Boltzmann harmonisation: under the clamped melody, the chain writes voices that never rise
/// above it, frame by frame, and the same seed writes the same voices.
#[test]
fn harmonised_voices_stay_below_the_clamped_melody() {
    let device = Device::flex();
    device.seed(9);
    let (low, pitches) = (48u8, 30usize);
    let config = RbmConfig {
        window: 3,
        gibbs_steps: 10,
        ..RbmConfig::default()
    };
    let machine = Rbm::new(3 * pitches, 20, &device);
    let melody: Vec<Option<u8>> = (0..24)
        .map(|t| {
            if t % 7 == 6 {
                None
            } else {
                Some(60 + (t % 5) as u8 * 2)
            }
        })
        .collect();
    let voices = rbm::harmonize_frames(&machine, &config, low, pitches, &melody, 4, &device);
    assert_eq!(voices.len(), melody.len());
    let mut notes = 0;
    for (frame, pitch) in voices.iter().zip(&melody) {
        if let Some(p) = pitch {
            let row = usize::from(p - low);
            assert!(
                frame[row..].iter().all(|&v| v == 0.0),
                "a voice at or above {p}"
            );
        }
        notes += frame.iter().filter(|&&v| v > 0.5).count();
    }
    assert!(notes > 0, "the chain wrote no voice at all");
    let again = rbm::harmonize_frames(&machine, &config, low, pitches, &melody, 4, &device);
    assert_eq!(voices, again);
}
