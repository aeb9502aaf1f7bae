//! The C-RBM learns (persistent CD lowers its held-out reconstruction error), and constrained
//! sampling meets its constraints — a template's self-similarity, a key, a meter — better than
//! the same chain without them.

mod common;

use burn::tensor::Device;
use muselab::models::ModelKind;
use muselab::models::crbm::{self, Constraints, Crbm};
use muselab::music::key::{Key, Mode};
use muselab::training::RunConfig;

fn measure(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {values:?}"))
        .1
}

#[test]
fn persistent_cd_lowers_the_held_out_reconstruction_error() {
    let mut config = RunConfig::new(ModelKind::Crbm);
    config.max_pieces = Some(100);
    config.batch_size = 16;
    config.hyperparameters.set("filters", "32").expect("valid");
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "bach")
    };
    let before = measure(&session.validate(), "held-out reconstruction cross-entropy");
    common::train_steps(session.as_mut(), 200);
    let after = measure(&session.validate(), "held-out reconstruction cross-entropy");
    eprintln!("reconstruction cross-entropy: {before:.1} → {after:.1}");
    assert!(
        after < before - 30.0,
        "reconstruction cross-entropy {before} → {after} nats a window"
    );
}

/// Steering toward a key and a meter keeps the corpus's note lengths (it once bought its
/// meter by breaking held notes into repeated ones), while a machine that learned nothing
/// writes lengths unlike the corpus's.
#[test]
fn steering_keeps_the_corpus_note_lengths() {
    let mut config = RunConfig::new(ModelKind::Crbm);
    config.max_pieces = Some(100);
    config.batch_size = 64;
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "bach")
    };
    let untrained = session.validate();
    common::train_steps(session.as_mut(), 300);
    let trained = session.validate();
    for (name, value) in &trained {
        eprintln!("{name}: {value:.3}");
    }
    let overlap = |values: &[(String, f64)], how: &str| {
        measure(values, &format!("note-length overlap with held-out, {how}"))
    };
    let (before, free, steered) = (
        overlap(&untrained, "free sampling"),
        overlap(&trained, "free sampling"),
        overlap(&trained, "constrained"),
    );
    eprintln!("note-length overlap: untrained {before:.3}, free {free:.3}, steered {steered:.3}");
    assert!(
        free > before + 0.1,
        "free sampling {free} against {before} untrained"
    );
    assert!(
        steered >= free - 0.1,
        "steered {steered} against free {free}"
    );
    for name in ["key", "meter"] {
        let (free, steered) = (
            measure(&trained, &format!("{name} cost, free sampling")),
            measure(&trained, &format!("{name} cost, constrained")),
        );
        assert!(
            steered < free,
            "{name}: {steered} constrained against {free} free"
        );
    }
}

#[test]
fn constrained_sampling_meets_the_constraints_better_than_free_sampling() {
    let device = Device::flex();
    device.seed(21);
    let (low, pitches, per_bar) = (40u8, 40usize, 8usize);
    let machine = Crbm::new(pitches, 16, 8, &device);
    let template = muselab::music::read_midi_file(&common::chorale()).expect("chorale");
    let similarity = crbm::template_similarity(&template, 2, per_bar);
    assert!(similarity.len() >= 8, "{} bars", similarity.len());
    let constraints = |weights| Constraints {
        self_similarity: Some(similarity.clone()),
        key: Some(
            Key {
                tonic: 0,
                mode: Mode::Major,
            }
            .scale_profile(),
        ),
        weights,
        beats: 4,
    };
    let run = |weights| {
        crbm::generate_frames(
            &machine,
            (low, pitches),
            8 * per_bar,
            per_bar,
            60,
            &constraints(weights),
            5,
            &device,
        )
    };
    // Without a template, only the key and the meter steer (no panic on the absent one).
    let no_template = Constraints {
        self_similarity: None,
        ..constraints([1.0, 1.0, 1.0])
    };
    let (frames, _) = crbm::generate_frames(
        &machine,
        (low, pitches),
        2 * per_bar,
        per_bar,
        5,
        &no_template,
        5,
        &device,
    );
    assert_eq!(frames.len(), 2 * per_bar);
    let (free_frames, free) = run([0.0, 0.0, 0.0]);
    let (steered_frames, steered) = run([1.0, 1.0, 1.0]);
    assert_eq!(free_frames.len(), 8 * per_bar);
    assert_ne!(free_frames, steered_frames);
    eprintln!("constraint costs free {free:?}, constrained {steered:?}");
    for (i, name) in ["self-similarity", "key", "meter"].iter().enumerate() {
        assert!(
            steered[i] < free[i],
            "{name}: {} constrained against {} free",
            steered[i],
            free[i]
        );
    }

    // In 3/4 (bars of 6 frames here) the meter constraint alone lowers the 3/4 meter cost.
    let waltz = |weights| Constraints {
        self_similarity: None,
        beats: 3,
        ..constraints(weights)
    };
    let three = |weights| {
        crbm::generate_frames(
            &machine,
            (low, pitches),
            8 * 6,
            6,
            60,
            &waltz(weights),
            5,
            &device,
        )
        .1[2]
    };
    let (free, steered) = (three([0.0, 0.0, 0.0]), three([0.0, 0.0, 1.0]));
    assert!(
        steered < free,
        "3/4 meter cost {steered} constrained against {free} free"
    );
}

#[test]
fn meter_profiles_weigh_the_downbeat_most() {
    assert_eq!(crbm::meter_profile(4, 4), vec![1.0, 0.5, 0.75, 0.5]);
    assert_eq!(
        crbm::meter_profile(6, 3),
        vec![1.0, 0.25, 0.5, 0.25, 0.5, 0.25]
    );
    assert_eq!(crbm::meter_profile(2, 2), vec![1.0, 0.5]);
    assert_eq!(crbm::parse_meter("3/4"), Some(3));
    assert_eq!(crbm::parse_meter("5/4"), None);
}
